//! Read and write Claude Code's own session files, in step with the official Agent
//! SDK (`@anthropic-ai/claude-agent-sdk`), which is the oracle: where both read the
//! same directory they must agree (the differential tests check it).
//!
//! - [`ClaudeDir`]: a config dir (`$CLAUDE_CONFIG_DIR`, else `~/.claude`).
//! - [`ClaudeDir::list_sessions`], [`ClaudeDir::info`]: the SDK's `SDKSessionInfo`,
//!   from a head and a tail read of each file (64 KiB each), never the whole file.
//! - [`ClaudeDir::messages`]: the conversation chain from the leaf through
//!   `parentUuid`, read in two passes so a file of any size stays in bounded memory.
//! - Changes the CLI accepts: rename, tag, archive, delete, fork.
//! - [`usage`]: tokens and cost, deduplicated as ccusage does.

mod chain;
pub mod portable;
pub mod pricing;
mod quiet;
pub use quiet::Quiet;
pub mod registry;
pub mod relocate;
pub mod scan;
pub mod tally;
pub mod usage;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use ccsm_core::SessionId;
use serde::Deserialize;
use serde_json::Value;

/// What went wrong reading or changing session files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("no Claude Code config dir at {0} (set CLAUDE_CONFIG_DIR or --config-dir)")]
    ConfigDirMissing(PathBuf),
    #[error("session {0} not found")]
    NotFound(String),
    #[error(transparent)]
    InvalidId(#[from] ccsm_core::InvalidSessionId),
    #[error("message {0} is not in the session's conversation")]
    MessageNotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ccsm_core::HasKind for Error {
    fn kind(&self) -> ccsm_core::ErrorKind {
        use ccsm_core::ErrorKind as K;
        match self {
            Self::ConfigDirMissing(_) | Self::NotFound(_) | Self::MessageNotFound(_) => K::NotFound,
            Self::InvalidId(_) | Self::Invalid(_) => K::InvalidInput,
            Self::Io { source, .. } => ccsm_core::error::io_kind(source),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The CLI's encoding of a working directory into a project dir name. Names over
/// 200 characters are cut there (the CLI adds a hash; matching by prefix finds them).
pub fn encode_project_dir(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

pub use ccsm_core::views::{ProjectInfo, SessionInfo, SessionMessage};

/// A session file found on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionFile {
    pub id: String,
    pub path: PathBuf,
    pub mtime_ms: i64,
    pub size: u64,
}

/// A subagent's transcript and the id of the session it belongs to.
pub type SubagentFile = (String, SessionFile);

impl SessionFile {
    /// The sidecar dir (`<project>/<id>/`: subagents, tool results, archive mark).
    pub fn sidecar_dir(&self) -> PathBuf {
        self.path.with_extension("")
    }
}

/// Options of [`ClaudeDir::messages`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageOptions {
    pub limit: Option<usize>,
    pub offset: usize,
    pub include_system: bool,
}

/// Modification time in milliseconds, computed and rounded as Node's `stat.mtime`
/// is (the SDK's `lastModified` comes from it): `sec * 1e3 + nsec / 1e6` in
/// doubles, then `Math.round`. Exact integer rounding differs from it when the
/// sub-millisecond part is within a double's step (~0.2 us) of a half.
fn mtime_ms(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| {
            let ms = d.as_secs() as f64 * 1e3 + f64::from(d.subsec_nanos()) / 1e6;
            (ms + 0.5).floor() as i64
        })
}

/// Reads up to [`scan::HEAD_TAIL`] bytes from each end (as text, invalid UTF-8
/// replaced, as Node decodes it). `None` for an empty file.
fn head_tail(path: &Path) -> std::io::Result<Option<(String, String, u64, i64)>> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let size = meta.len();
    let mut buf = vec![0u8; scan::HEAD_TAIL];
    let n = read_full(&mut f, &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    let head = lossy(&buf[..n]);
    let tail = if size > scan::HEAD_TAIL as u64 {
        f.seek(SeekFrom::Start(size - scan::HEAD_TAIL as u64))?;
        let n = read_full(&mut f, &mut buf)?;
        lossy(&buf[..n])
    } else {
        head.clone()
    };
    Ok(Some((head, tail, size, mtime_ms(&meta))))
}

/// `String::from_utf8_lossy`, with std's fast validation first (the lossy path
/// walks the bytes chunk by chunk even when they are all valid).
pub(crate) fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[derive(Deserialize)]
struct ArchiveMark {
    archived: bool,
    at: String,
}

/// A user prompt in `text` newer than `at_ms` (SDK: a new prompt un-archives).
fn prompted_after(text: &str, at_ms: i64) -> bool {
    text.split('\n').any(|line| {
        if !(line.contains("\"user\"") || line.contains("\"queued_command\""))
            || line.contains("\"tool_result\"")
        {
            return false;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        let mut fb = String::new();
        let is_prompt = scan::prompt_of_entry(&v, &mut fb).is_some();
        let ts = v
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        is_prompt && ts.is_some_and(|t| t > at_ms)
    })
}

/// Custom titles kept beside the transcript (`<id>/custom-title.json`).
fn sidecar_title(sidecar: &Path) -> Option<String> {
    let text = std::fs::read_to_string(sidecar.join("custom-title.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let t = v.get("customTitle")?.as_str()?;
    let cleaned: String = t
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .take(200)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Builds the SDK's session info from a file's head and tail (SDK `Na`).
fn info_from(file: &SessionFile, head: &str, tail: &str) -> Option<SessionInfo> {
    let first_line = head.split('\n').next().unwrap_or("");
    if first_line.contains("\"isSidechain\":true") || first_line.contains("\"isSidechain\": true") {
        return None;
    }
    let sidecar = file.sidecar_dir();
    let tail_title = scan::last_meta(tail, "custom-title");
    let custom_title = tail_title
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| {
            if tail_title.is_none() {
                sidecar_title(&sidecar)
            } else {
                None
            }
        })
        .or_else(|| scan::last_meta(head, "custom-title").filter(|t| !t.is_empty()))
        .or_else(|| scan::last_meta(tail, "ai-title").filter(|t| !t.is_empty()))
        .or_else(|| scan::last_meta(head, "ai-title").filter(|t| !t.is_empty()));
    let first_prompt = Some(scan::first_prompt(head)).filter(|p| !p.is_empty());
    let created_at = scan::first_string(head, "timestamp")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.timestamp_millis());
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let summary = custom_title
        .clone()
        .or_else(|| nonempty(scan::last_line_value(tail, "lastPrompt", None, false)))
        .or_else(|| nonempty(scan::last_line_value(tail, "summary", None, false)))
        .or_else(|| first_prompt.clone())
        .or_else(|| Some(scan::attachment_prompt(head).to_owned()).filter(|s| !s.is_empty()))?;
    let git_branch = nonempty(scan::last_string(tail, "gitBranch"))
        .or_else(|| nonempty(scan::first_string(head, "gitBranch")));
    let cwd = nonempty(scan::last_line_value(
        tail,
        "relocatedCwd",
        Some("relocated"),
        false,
    ))
    .or_else(|| nonempty(scan::first_string(head, "cwd")));
    let tag = nonempty(scan::last_meta(tail, "tag"));
    let archived = std::fs::read_to_string(sidecar.join("archived.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<ArchiveMark>(&t).ok())
        .map(|m| {
            if !m.archived {
                return false;
            }
            let at = chrono::DateTime::parse_from_rfc3339(&m.at)
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MAX);
            !(prompted_after(tail, at) || (head != tail && prompted_after(head, at)))
        });
    Some(SessionInfo {
        session_id: file.id.clone(),
        summary,
        last_modified: file.mtime_ms,
        file_size: file.size,
        custom_title,
        first_prompt,
        git_branch,
        cwd,
        tag,
        created_at,
        archived,
    })
}

/// A subagent transcript of the old layout (`<project>/agent-<id>.jsonl`, CLI 2.0
/// and before) and the session it belongs to: the first `sessionId` inside.
fn legacy_agent(stem: &str, path: &Path) -> Option<SubagentFile> {
    stem.strip_prefix("agent-")?;
    let meta = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)?;
    let (head, _, _, _) = head_tail(path).ok()??;
    let parent = scan::first_string(&head, "sessionId").filter(|s| is_uuid_name(s))?;
    Some((
        parent,
        SessionFile {
            id: stem.to_owned(),
            path: path.to_owned(),
            mtime_ms: mtime_ms(&meta),
            size: meta.len(),
        },
    ))
}

pub(crate) fn is_uuid_name(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// A Claude Code config dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeDir {
    pub root: PathBuf,
}

impl ClaudeDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`, as the CLI decides.
    pub fn from_env() -> Self {
        if let Some(d) = std::env::var_os("CLAUDE_CONFIG_DIR") {
            return Self::new(d);
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self::new(home.join(".claude"))
    }

    pub fn projects_dir(&self) -> PathBuf {
        self.root.join("projects")
    }

    /// Checks that the config dir exists (a missing one is an error, an empty one is not).
    pub fn check(&self) -> Result<()> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(Error::ConfigDirMissing(self.root.clone()))
        }
    }

    /// Project dirs under `projects/` (all, or those for `path`).
    pub fn project_dirs(&self, path: Option<&Path>) -> Result<Vec<PathBuf>> {
        self.check()?;
        let pd = self.projects_dir();
        let Ok(rd) = std::fs::read_dir(&pd) else {
            return Ok(Vec::new());
        };
        let want = path.map(|p| {
            let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            encode_project_dir(&p.to_string_lossy())
        });
        let mut out: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                match &want {
                    None => true,
                    Some(w) if w.len() <= 200 => name == *w,
                    Some(w) => name.starts_with(&w[..200]),
                }
            })
            .map(|e| e.path())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Session files of the given project dirs (by name: `<uuid>.jsonl`); dirs are
    /// read in parallel (at 10k sessions, the stat calls are most of a listing).
    pub fn session_files(&self, dirs: &[PathBuf]) -> Vec<SessionFile> {
        use rayon::prelude::*;
        dirs.par_iter()
            .flat_map_iter(|d| Self::session_files_of(d))
            .collect()
    }

    /// Session files and every session's subagent transcripts
    /// (`<project>/<id>/subagents/*.jsonl`, with the id of their session) in one pass
    /// over the project dirs (a sync of 10k sessions reads each dir once).
    pub fn transcript_files(&self, dirs: &[PathBuf]) -> (Vec<SessionFile>, Vec<SubagentFile>) {
        use rayon::prelude::*;
        let per_dir: Vec<(Vec<SessionFile>, Vec<SubagentFile>)> = dirs
            .par_iter()
            .map(|d| {
                let mut subs = Vec::new();
                let files = Self::scan_project_dir(d, Some(&mut subs));
                (files, subs)
            })
            .collect();
        let mut files = Vec::new();
        let mut subs = Vec::new();
        for (f, s) in per_dir {
            files.extend(f);
            subs.extend(s);
        }
        (files, subs)
    }

    fn subagents_of(id: &str, dir: &Path, out: &mut Vec<(String, SessionFile)>) {
        let Ok(sub) = std::fs::read_dir(dir.join("subagents")) else {
            return;
        };
        for f in sub.flatten() {
            let fname = f.file_name();
            let Some(stem) = fname.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
                continue;
            };
            let Ok(meta) = f.metadata() else { continue };
            if meta.is_file() {
                out.push((
                    id.to_owned(),
                    SessionFile {
                        id: stem.to_owned(),
                        path: f.path(),
                        mtime_ms: mtime_ms(&meta),
                        size: meta.len(),
                    },
                ));
            }
        }
    }

    fn session_files_of(d: &Path) -> Vec<SessionFile> {
        Self::scan_project_dir(d, None)
    }

    /// A project dir's session files; with `subs`, also its subagent transcripts.
    fn scan_project_dir(
        d: &Path,
        mut subs: Option<&mut Vec<(String, SessionFile)>>,
    ) -> Vec<SessionFile> {
        let mut out = Vec::new();
        {
            let Ok(rd) = std::fs::read_dir(d) else {
                return out;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                let Some(stem) = name.strip_suffix(".jsonl") else {
                    if let Some(subs) = subs.as_deref_mut() {
                        if is_uuid_name(name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                            Self::subagents_of(name, &e.path(), subs);
                        }
                    }
                    continue;
                };
                if !is_uuid_name(stem) {
                    // CLIs before 2.1 wrote subagent transcripts beside the sessions.
                    if let (Some(subs), Some(agent)) =
                        (subs.as_deref_mut(), legacy_agent(stem, &e.path()))
                    {
                        subs.push(agent);
                    }
                    continue;
                }
                let Ok(meta) = e.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                out.push(SessionFile {
                    id: stem.to_owned(),
                    path: e.path(),
                    mtime_ms: mtime_ms(&meta),
                    size: meta.len(),
                });
            }
        }
        out
    }

    /// Sessions newest first, as the SDK's `listSessions({dir, limit, offset})`:
    /// files are taken newest first and read (head and tail only) until `limit` are
    /// found, so a page of 50 out of 10,000 reads about 50 files.
    pub fn list_sessions(
        &self,
        dir: Option<&Path>,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<Vec<SessionInfo>> {
        let dirs = self.project_dirs(dir)?;
        let mut files = self.session_files(&dirs);
        files.sort_by(|a, b| b.mtime_ms.cmp(&a.mtime_ms).then(b.id.cmp(&a.id)));
        let want = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut out: Vec<SessionInfo> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut skipped = 0;
        use rayon::prelude::*;
        for batch in files.chunks(64) {
            let infos: Vec<Option<SessionInfo>> =
                batch.par_iter().map(|f| self.info_of(f)).collect();
            for info in infos.into_iter().flatten() {
                if !seen.insert(info.session_id.clone()) {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                out.push(info);
                if out.len() >= want {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// The session info of one file, or `None` when the SDK would not list it.
    pub fn info_of(&self, f: &SessionFile) -> Option<SessionInfo> {
        let (head, tail, _, _) = head_tail(&f.path).ok()??;
        info_from(f, &head, &tail)
    }

    /// Finds a session's file in any project dir.
    pub fn find(&self, id: &str) -> Result<SessionFile> {
        let id: SessionId = id.parse()?;
        let id = id.to_string();
        let dirs = self.project_dirs(None)?;
        let mut best: Option<SessionFile> = None;
        for d in dirs {
            let p = d.join(format!("{id}.jsonl"));
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if !meta.is_file() || meta.len() == 0 {
                continue;
            }
            let f = SessionFile {
                id: id.clone(),
                path: p,
                mtime_ms: mtime_ms(&meta),
                size: meta.len(),
            };
            if best.as_ref().is_none_or(|b| f.mtime_ms > b.mtime_ms) {
                best = Some(f);
            }
        }
        best.ok_or(Error::NotFound(id))
    }

    /// The SDK's `getSessionInfo(id)`.
    pub fn info(&self, id: &str) -> Result<SessionInfo> {
        let f = self.find(id)?;
        self.info_of(&f)
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Every project dir with its real path, session count, size and last activity.
    pub fn projects(&self) -> Result<Vec<ProjectInfo>> {
        let dirs = self.project_dirs(None)?;
        let mut out = Vec::new();
        for d in dirs {
            let files = self.session_files(std::slice::from_ref(&d));
            let newest = files.iter().max_by_key(|f| f.mtime_ms);
            // The real path is what the entries say, never a decoding of the name.
            let path = files.iter().filter(|f| f.size > 0).find_map(|f| {
                head_tail(&f.path)
                    .ok()
                    .flatten()
                    .and_then(|(h, _, _, _)| scan::first_string(&h, "cwd"))
            });
            out.push(ProjectInfo {
                path,
                dir_name: d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sessions: files.iter().filter(|f| f.size > 0).count(),
                size: files.iter().map(|f| f.size).sum(),
                last_modified: newest.map_or(0, |f| f.mtime_ms),
            });
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.last_modified));
        Ok(out)
    }

    /// The conversation: the chain from the last leaf through `parentUuid`, user and
    /// assistant messages (and system ones if asked), as the SDK's
    /// `getSessionMessages`. Garbage and torn lines are skipped.
    pub fn messages(&self, id: &str, opts: MessageOptions) -> Result<Vec<SessionMessage>> {
        let f = self.find(id)?;
        read_chain_messages(&f.path, opts)
    }

    /// Subagent ids of a session (`<id>/subagents/agent-<agent>.jsonl`).
    pub fn subagents(&self, id: &str) -> Result<Vec<String>> {
        let f = self.find(id)?;
        let dir = f.sidecar_dir().join("subagents");
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_prefix("agent-")?
                    .strip_suffix(".jsonl")
                    .map(str::to_owned)
            })
            .collect();
        // The old layout's subagents of this session (beside it, `sessionId` inside).
        ids.extend(
            self.legacy_agents_of(&f)
                .into_iter()
                .filter_map(|a| a.id.strip_prefix("agent-").map(str::to_owned)),
        );
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// `agent-*.jsonl` files beside a session that belong to it (CLI 2.0 layout).
    fn legacy_agents_of(&self, f: &SessionFile) -> Vec<SessionFile> {
        let Some(project) = f.path.parent() else {
            return Vec::new();
        };
        std::fs::read_dir(project)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let stem = name.to_str()?.strip_suffix(".jsonl")?.to_owned();
                let (parent, file) = legacy_agent(&stem, &e.path())?;
                (parent == f.id).then_some(file)
            })
            .collect()
    }

    /// A subagent's messages, read as a conversation of its own.
    pub fn subagent_messages(
        &self,
        id: &str,
        agent: &str,
        opts: MessageOptions,
    ) -> Result<Vec<SessionMessage>> {
        if agent.is_empty()
            || !agent
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::Invalid(format!("not an agent id: {agent:?}")));
        }
        let f = self.find(id)?;
        let mut p = f
            .sidecar_dir()
            .join("subagents")
            .join(format!("agent-{agent}.jsonl"));
        if !p.is_file() {
            let stem = format!("agent-{agent}");
            match self.legacy_agents_of(&f).into_iter().find(|a| a.id == stem) {
                Some(a) => p = a.path,
                None => return Err(Error::NotFound(format!("{id}/agent-{agent}"))),
            }
        }
        let mut msgs = read_chain_messages_any(&p, opts, true)?;
        for m in &mut msgs {
            m.parent_agent_id = Some(agent.to_owned());
        }
        Ok(msgs)
    }
}

/// First pass: one small record per entry; second pass: only the chain's lines.
fn read_chain_messages(path: &Path, opts: MessageOptions) -> Result<Vec<SessionMessage>> {
    read_chain_messages_any(path, opts, false)
}

fn read_chain_messages_any(
    path: &Path,
    opts: MessageOptions,
    sidechain_ok: bool,
) -> Result<Vec<SessionMessage>> {
    let entries = chain::index_entries(path)?;
    let wanted: Vec<&chain::EntryRef> = chain::conversation(&entries)
        .into_iter()
        .filter(|e| {
            !e.meta
                && (sidechain_ok || (!e.sidechain && !e.team))
                && (e.kind == chain::KIND_USER
                    || e.kind == chain::KIND_ASSISTANT
                    || (opts.include_system && e.kind == chain::KIND_SYSTEM))
        })
        .collect();
    let page: Vec<&chain::EntryRef> = match opts.limit.filter(|l| *l > 0) {
        Some(l) => wanted.into_iter().skip(opts.offset).take(l).collect(),
        None => wanted.into_iter().skip(opts.offset).collect(),
    };
    let mut f = File::open(path).map_err(io(path))?;
    let mut out = Vec::with_capacity(page.len());
    let mut buf = Vec::new();
    for e in page {
        buf.resize(e.len as usize, 0);
        f.seek(SeekFrom::Start(e.offset)).map_err(io(path))?;
        f.read_exact(&mut buf).map_err(io(path))?;
        // A line that does not parse as it is: as JavaScript would read it; one
        // that does not parse at all is skipped, never the whole session.
        let Ok(v) = serde_json::from_slice::<Value>(&buf)
            .or_else(|_| serde_json::from_str::<Value>(&chain::js_compatible(&buf)))
        else {
            continue;
        };
        out.push(SessionMessage {
            kind: v["type"].as_str().unwrap_or_default().to_owned(),
            uuid: e.uuid.clone(),
            session_id: v["sessionId"].as_str().map(str::to_owned),
            message: v.get("message").cloned().unwrap_or(Value::Null),
            parent_tool_use_id: None,
            parent_agent_id: None,
            is_compact_summary: v["isCompactSummary"] == true,
            is_meta: v["isMeta"] == true
                || v["isCompactSummary"] == true
                || v["isVisibleInTranscriptOnly"] == true,
            timestamp: v["timestamp"].as_str().map(str::to_owned),
        });
    }
    Ok(out)
}

// ------------------------------------------------------------------ changes

/// Appends whole lines to a transcript (safe while the CLI has it open: the CLI
/// appends too, and the last metadata line wins).
fn append_line(path: &Path, v: &Value) -> Result<()> {
    let mut line = serde_json::to_vec(v).map_err(|e| Error::Invalid(e.to_string()))?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    // A last line without its newline (a torn write) would swallow ours, and ours
    // would hide it: start a line of our own.
    let len = f.metadata().map_err(io(path))?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1)).map_err(io(path))?;
        f.read_exact(&mut last).map_err(io(path))?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    f.write_all(&line).map_err(io(path))?;
    // An append moves no folder's mtime: move it, so that a quiet signature
    // ([`ClaudeDir::quiet_signature`]) taken before it differs (the line is
    // written whatever comes of this: at worst `ccsm index` reads it).
    if let Some(dir) = path.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.set_modified(std::time::SystemTime::now()));
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

impl ClaudeDir {
    /// Renames a session (appends a `custom-title` line, as the SDK and the CLI do).
    pub fn rename(&self, id: &str, title: &str) -> Result<()> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::Invalid("the title must not be empty".into()));
        }
        let f = self.find(id)?;
        append_line(
            &f.path,
            &serde_json::json!({"type": "custom-title", "customTitle": title, "sessionId": f.id}),
        )
    }

    /// Tags a session, or clears its tag with `None` (appends a `tag` line).
    pub fn tag(&self, id: &str, tag: Option<&str>) -> Result<()> {
        let tag = match tag {
            Some(t) => {
                let t: String = t.chars().filter(|c| !c.is_control()).collect();
                let t = t.trim().to_owned();
                if t.is_empty() {
                    return Err(Error::Invalid(
                        "the tag must not be empty (clear it instead)".into(),
                    ));
                }
                t
            }
            None => String::new(),
        };
        let f = self.find(id)?;
        append_line(
            &f.path,
            &serde_json::json!({"type": "tag", "tag": tag, "sessionId": f.id}),
        )
    }

    /// Archives or unarchives (`<id>/archived.json`, as the SDK writes it). A new
    /// prompt in the session after archiving shows it as not archived again.
    pub fn set_archived(&self, id: &str, archived: bool) -> Result<()> {
        let f = self.find(id)?;
        let mark = serde_json::json!({
            "archived": archived,
            "by": "ccsm",
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        write_atomic(
            &f.sidecar_dir().join("archived.json"),
            mark.to_string().as_bytes(),
        )
    }

    /// Deletes a session: its transcript and its sidecar dir.
    pub fn delete(&self, id: &str) -> Result<PathBuf> {
        let f = self.find(id)?;
        std::fs::remove_file(&f.path).map_err(io(&f.path))?;
        let side = f.sidecar_dir();
        if side.is_dir() {
            std::fs::remove_dir_all(&side).map_err(io(&side))?;
        }
        Ok(f.path)
    }

    /// Forks a session into a new one in the same project: every entry of the
    /// conversation chain (up to and including `up_to` if given) with a new uuid,
    /// the parent chain kept, the new session id, and the title "<title> (fork)".
    /// Written with create-new semantics and mode 0600. Returns the new id.
    pub fn fork(&self, id: &str, up_to: Option<&str>, title: Option<&str>) -> Result<String> {
        let f = self.find(id)?;
        let entries = chain::index_entries(&f.path)?;
        let mut chain = chain::conversation(&entries);
        if let Some(cut) = up_to {
            let i = chain
                .iter()
                .position(|e| e.uuid == cut)
                .ok_or_else(|| Error::MessageNotFound(cut.to_owned()))?;
            chain.truncate(i + 1);
        }
        if chain.is_empty() {
            return Err(Error::Invalid(format!(
                "session {id} has no conversation to fork"
            )));
        }
        let new_id = SessionId::new_v4().to_string();
        let mut map = std::collections::HashMap::new();
        for e in &chain {
            map.insert(e.uuid.clone(), uuid::Uuid::new_v4().to_string());
        }
        let mut src = File::open(&f.path).map_err(io(&f.path))?;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for e in &chain {
            buf.resize(e.len as usize, 0);
            src.seek(SeekFrom::Start(e.offset)).map_err(io(&f.path))?;
            src.read_exact(&mut buf).map_err(io(&f.path))?;
            let mut v: Value =
                serde_json::from_slice(&buf).map_err(|e| Error::Invalid(e.to_string()))?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("uuid".into(), Value::String(map[&e.uuid].clone()));
                let parent = e
                    .parent
                    .as_ref()
                    .and_then(|p| map.get(p))
                    .map_or(Value::Null, |p| Value::String(p.clone()));
                obj.insert("parentUuid".into(), parent);
                obj.insert("sessionId".into(), Value::String(new_id.clone()));
                obj.insert(
                    "forkedFrom".into(),
                    serde_json::json!({"sessionId": f.id, "messageUuid": e.uuid}),
                );
            }
            serde_json::to_writer(&mut out, &v).map_err(|e| Error::Invalid(e.to_string()))?;
            out.push(b'\n');
        }
        let base = match title {
            Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => self
                .info_of(&f)
                .map(|i| i.custom_title.unwrap_or(i.summary))
                .unwrap_or_else(|| "Forked session".into()),
        };
        let title_line = serde_json::json!({"type": "custom-title",
            "customTitle": format!("{base} (fork)"), "sessionId": new_id});
        serde_json::to_writer(&mut out, &title_line).map_err(|e| Error::Invalid(e.to_string()))?;
        out.push(b'\n');
        let dest = f.path.with_file_name(format!("{new_id}.jsonl"));
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&dest)
            .map_err(io(&dest))?;
        w.write_all(&out).map_err(io(&dest))?;
        Ok(new_id)
    }
}
