//! Keeps the catalog in step with the CLI's config dir.
//!
//! - A new file is read whole; a file that grew is read from the byte after its last
//!   complete line; a file whose first bytes changed, or that shrank, was rewritten and
//!   is read again from the start; an unchanged file (same size and mtime) is not
//!   opened at all.
//! - Large files are read and written in segments (at most [`SEGMENT`] bytes of lines
//!   each, each segment its own transaction), so memory stays bounded and a crash
//!   loses at most one segment's progress.
//! - A transcript gone from the CLI's dir (deleted, or Claude Code's 30-day cleanup)
//!   stays in the catalog, marked gone, searchable and restorable from the archive.
//! - The archive keeps one compressed bundle per session version, keyed by the file's
//!   fingerprint, so an unchanged file is never stored twice.

mod live;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ccsm_store::{CallRecord, FileState, Ingest, SessionRecord, Store, TextChunk};
use ccsm_transcripts::pricing::PricingTable;
use ccsm_transcripts::{ClaudeDir, SessionFile};
use rayon::prelude::*;
use serde_json::Value;
use sha2::Digest as _;

/// Bytes of lines read and written per step.
pub const SEGMENT: u64 = 8 << 20;
/// Searchable text kept per message.
const MAX_TEXT: usize = 16 * 1024;
const HEAD: usize = 4096;
/// Bytes read in one sync after which the full-text index is merged.
const OPTIMIZE_AFTER: u64 = 64 << 20;
/// Transcript bytes whose first segments are written in one transaction.
const TX_BYTES: u64 = 48 << 20;
/// Bytes of transcripts parsed together (one parallel step), at most
/// [`CHUNK_FILES`] files: big enough that the parsers do not wait on one slow file.
const CHUNK_BYTES: u64 = 16 << 20;
const CHUNK_FILES: usize = 64;
/// Parsed chunks waiting for the writer.
const PARSED_AHEAD: usize = 3;

/// `plans` cut, in order, into chunks of at most [`CHUNK_FILES`] files and about
/// [`CHUNK_BYTES`] bytes to read (a bigger file is a chunk of its own).
fn chunk_plans(plans: &[Plan]) -> Vec<&[Plan]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, p) in plans.iter().enumerate() {
        let size = p.file.size.saturating_sub(p.from).min(SEGMENT);
        if i > start && (bytes + size > CHUNK_BYTES || i - start >= CHUNK_FILES) {
            chunks.push(&plans[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < plans.len() {
        chunks.push(&plans[start..]);
    }
    chunks
}

/// The threads that parse transcripts for the writer, made once per process:
/// one short of the machine's cores when the writer works in this process, so
/// that it keeps a core of its own (on 2 cores, two parsers beside SQLite's
/// writer built 1 GiB in 13.2 s, one in 11.5 s); one per core when a database
/// server does the writing (the writer thread waits on it: on 2 cores, one
/// parser built the wide corpus into PostgreSQL in 37.0 s, two in 29.3 s).
/// `None` when they cannot be started: rayon's global pool does it.
fn parse_pool(server_writes: bool) -> Option<&'static rayon::ThreadPool> {
    static POOLS: [std::sync::OnceLock<Option<rayon::ThreadPool>>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    POOLS[usize::from(server_writes)]
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let writer = usize::from(!server_writes);
            rayon::ThreadPoolBuilder::new()
                .num_threads(cores.saturating_sub(writer).max(1))
                .thread_name(|i| format!("ccsm-parse-{i}"))
                .build()
                .map_err(|e| tracing::warn!("parse threads: {e}; using the global pool"))
                .ok()
        })
        .as_ref()
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Store(#[from] ccsm_store::Error),
    #[error(transparent)]
    Transcripts(#[from] ccsm_transcripts::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("session {0} has no archived copy")]
    NotArchived(String),
    #[error("session {0} exists in the CLI's dir; use force to overwrite it")]
    Exists(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ccsm_core::HasKind for Error {
    fn kind(&self) -> ccsm_core::ErrorKind {
        use ccsm_core::ErrorKind as K;
        match self {
            Self::Store(e) => e.kind(),
            Self::Transcripts(e) => e.kind(),
            Self::Io { source, .. } => ccsm_core::error::io_kind(source),
            Self::NotArchived(_) => K::NotFound,
            Self::Exists(_) => K::Conflict,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub files: usize,
    pub new: usize,
    pub appended: usize,
    pub rewritten: usize,
    pub unchanged: usize,
    pub gone: usize,
    pub archived: usize,
    /// Subagent transcripts read (new or changed).
    pub subagent_files: usize,
    pub bytes_read: u64,
    /// Every transcript opened for reading.
    pub read_files: Vec<PathBuf>,
    /// Whether the sync changed anything a reader of the catalog sees (rows,
    /// prices, gone marks, archives): a read made while it ran is stale.
    #[serde(skip)]
    pub wrote: bool,
}

/// What the last complete sync kept: the walk's digest (empty after a sync of
/// the running sessions' files alone), and the quiet signature it was taken under.
#[derive(Default)]
struct Kept<'a> {
    digest: &'a str,
    quiet: Option<KeptQuiet>,
}

/// A quiet signature, the settings it holds for, and what a sync that trusts it
/// reports (files, unchanged).
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptQuiet {
    quiet: ccsm_transcripts::Quiet,
    settings: String,
    files: usize,
    unchanged: usize,
}

impl<'a> Kept<'a> {
    fn parse(s: &'a str) -> Self {
        let (digest, rest) = s.split_once('\n').unwrap_or((s, ""));
        Self {
            digest,
            // Not readable (an older ccsm's): as if none were kept.
            quiet: serde_json::from_str(rest).ok(),
        }
    }

    fn record(digest: &str, quiet: Option<KeptQuiet>) -> String {
        match quiet.and_then(|q| serde_json::to_string(&q).ok()) {
            Some(q) => format!("{digest}\n{q}"),
            None => digest.to_owned(),
        }
    }
}

/// Indexing settings.
#[derive(Debug, Clone)]
pub struct Indexer {
    pub dir: ClaudeDir,
    /// Where archived copies go (`None`: no archive): a dir of this config dir's
    /// own, so that config dirs sharing one data dir never replace each other's.
    pub archive: Option<PathBuf>,
    /// The archive every config dir shared before (`<data>/archive`), read as a
    /// fallback and migrated from (its files are linked into `archive`).
    pub shared_archive: Option<PathBuf>,
    pub pricing: PricingTable,
    /// Also make tool outputs searchable (bigger index).
    pub tool_output: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Up to this size, the whole of what was read is hashed (below, an append is
/// told from any change at all); above it, the last 4 KiB.
const WHOLE_HASH_UP_TO: u64 = 16 << 20;

/// The hash of what a sync had read of a file, `[0, end)` (or, for a big file, the
/// 4 KiB that end at `end`): what the next sync checks to tell an append, as Claude
/// Code writes, from a change inside what it had read.
fn tail_hash(path: &Path, end: u64) -> Result<String> {
    tail_hash_of(path, end, None)
}

/// [`tail_hash`], from `read` when it holds the file's `[0, end)` already.
fn tail_hash_of(path: &Path, end: u64, read: Option<&[u8]>) -> Result<String> {
    let start = if end <= WHOLE_HASH_UP_TO {
        0
    } else {
        end - HEAD as u64
    };
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let n = match read.filter(|r| start == 0 && r.len() as u64 == end) {
        Some(bytes) => {
            h.update(bytes);
            end
        }
        None => {
            let mut f = std::fs::File::open(path).map_err(io(path))?;
            f.seek(SeekFrom::Start(start)).map_err(io(path))?;
            let mut r = f.take(end - start);
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0u64;
            loop {
                let k = r.read(&mut buf).map_err(io(path))?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
                n += k as u64;
            }
            n
        }
    };
    Ok(format!("{start}:{n}:{:032x}", h.digest128()))
}

fn head_hash(bytes: &[u8]) -> String {
    let d = sha2::Sha256::digest(bytes);
    let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}:{hex}", bytes.len())
}

fn ts_ms(v: &Value) -> Option<i64> {
    v.get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_owned();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// What reading some lines of a transcript found.
#[derive(Default)]
struct Found {
    text: Vec<TextChunk>,
    calls: Vec<CallRecord>,
    touched: Vec<String>,
    messages: u64,
    turns: u64,
    tool_calls: u64,
    models: Vec<String>,
    tools: Vec<String>,
    first: Option<i64>,
    last: Option<i64>,
    cli_cost: Option<f64>,
}

impl Found {
    fn line(&mut self, v: &Value, tool_output: bool) {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "cost-state" {
            self.cli_cost = v["totalCostUSD"].as_f64().or(self.cli_cost);
            return;
        }
        if kind != "user" && kind != "assistant" {
            return;
        }
        let uuid = v
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let ts = ts_ms(v);
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        let ts = ts.unwrap_or(0);
        self.messages += 1;
        let msg = &v["message"];
        let content = &msg["content"];
        let mut push = |kind: &str, text: String| {
            if !text.trim().is_empty() {
                self.text.push(TextChunk {
                    uuid: uuid.clone(),
                    kind: kind.to_owned(),
                    ts,
                    text: cut(&text),
                });
            }
        };
        if kind == "user" {
            let meta = v.get("isMeta") == Some(&Value::Bool(true));
            match content {
                Value::String(s) => {
                    if !meta {
                        self.turns += 1;
                    }
                    push("user", s.clone());
                }
                Value::Array(blocks) => {
                    let mut prompt = false;
                    for b in blocks {
                        match b["type"].as_str() {
                            Some("text") => {
                                prompt = true;
                                push("user", b["text"].as_str().unwrap_or("").to_owned());
                            }
                            Some("tool_result") if tool_output => {
                                let t = match &b["content"] {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                };
                                push("tool_result", t);
                            }
                            _ => {}
                        }
                    }
                    if prompt && !meta {
                        self.turns += 1;
                    }
                }
                _ => {}
            }
            return;
        }
        // assistant
        if let Some(model) = msg["model"].as_str() {
            if !model.starts_with('<') && !self.models.iter().any(|m| m == model) {
                self.models.push(model.to_owned());
            }
        }
        if let Some(blocks) = content.as_array() {
            for b in blocks {
                match b["type"].as_str() {
                    Some("text") => push("assistant", b["text"].as_str().unwrap_or("").to_owned()),
                    Some("tool_use") => {
                        let name = b["name"].as_str().unwrap_or("").to_owned();
                        self.tool_calls += 1;
                        if !name.is_empty() && !self.tools.contains(&name) {
                            self.tools.push(name.clone());
                        }
                        let input = &b["input"];
                        for k in ["file_path", "path", "notebook_path"] {
                            if let Some(p) = input[k].as_str() {
                                self.touched.push(p.to_owned());
                            }
                        }
                        push("tool", format!("{name} {input}"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// A line's model call, by the files' report's rule and scanner: catalog and
    /// files agree, whatever else the line holds (or whether it parses as a whole).
    fn usage(&mut self, raw: &[u8], pricing: &PricingTable) {
        if let ccsm_transcripts::usage::LineUsage::Call(call) =
            ccsm_transcripts::usage::usage_call(raw)
        {
            let t = call.tokens;
            let model = call.model.unwrap_or_else(|| "unknown".to_owned());
            let cost = pricing.price(&model).map(|p| p.cost_of(&t));
            self.calls.push(CallRecord {
                key: call.key,
                ts: call.ts_ms,
                model,
                input: t.input_tokens,
                output: t.output_tokens,
                cache_5m: t.cache_creation_5m,
                cache_1h: t.cache_creation_1h,
                cache_read: t.cache_read_tokens,
                cost,
            });
        }
    }
}

/// What one read of a file gave.
struct Segment {
    ingest: Ingest,
    /// The offset after the last complete line read.
    next: u64,
    /// The bytes read (complete lines and any torn end).
    bytes: Vec<u8>,
    info: Option<ccsm_transcripts::SessionInfo>,
}

/// One planned read of a file.
struct Plan {
    file: SessionFile,
    /// A subagent transcript of this session: only its calls are read.
    parent: Option<String>,
    from: u64,
    full: bool,
    kind: Kind,
    head_hash: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    New,
    Appended,
    Rewritten,
}

fn read_head(path: &Path, len: usize) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0; len];
    let mut n = 0;
    while n < len {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(buf)
}

impl Indexer {
    pub fn new(dir: ClaudeDir) -> Self {
        Self {
            dir,
            archive: None,
            shared_archive: None,
            pricing: PricingTable::builtin(),
            tool_output: false,
        }
    }

    fn plan(&self, prev: Option<&FileState>, f: &SessionFile) -> Result<Option<Plan>> {
        // Unchanged (same size and mtime): not even opened.
        if prev.is_some_and(|p| p.size == f.size && p.mtime == f.mtime_ms) {
            return Ok(None);
        }
        let f = f.clone();
        let head = read_head(&f.path, HEAD).map_err(io(&f.path))?;
        let hh = head_hash(&head);
        let Some(prev) = prev else {
            return Ok(Some(Plan {
                file: f,
                parent: None,
                from: 0,
                full: true,
                kind: Kind::New,
                head_hash: hh,
            }));
        };
        // Appended, as Claude Code writes: the file grew, and its head and the bytes
        // just before the end last read are the same. Anything else (same size with
        // a new mtime, shorter, or a change that shifted what was read) is read again
        // whole.
        let (head_part, tail_part) = prev
            .head_hash
            .split_once('|')
            .map_or((prev.head_hash.as_str(), None), |(h, t)| (h, Some(t)));
        let (len, _) = head_part.split_once(':').unwrap_or(("0", ""));
        let len: usize = len.parse().unwrap_or(0);
        let same_head = head.len() >= len && head_hash(&head[..len]) == head_part;
        let same_tail = match tail_part {
            None => true, // a catalog from before tails were kept
            Some(t) => tail_hash(&f.path, prev.offset)? == t,
        };
        if f.size > prev.size && f.size >= prev.offset && same_head && same_tail {
            Ok(Some(Plan {
                file: f,
                parent: None,
                from: prev.offset,
                full: false,
                kind: Kind::Appended,
                head_hash: head_part.to_owned(),
            }))
        } else {
            Ok(Some(Plan {
                file: f,
                parent: None,
                from: 0,
                full: true,
                kind: Kind::Rewritten,
                head_hash: hh,
            }))
        }
    }

    /// Reads one segment of a planned file; returns the batch and the next offset.
    fn read_segment(&self, p: &Plan, from: u64, first: bool) -> Result<Segment> {
        let mut f = std::fs::File::open(&p.file.path).map_err(io(&p.file.path))?;
        f.seek(SeekFrom::Start(from)).map_err(io(&p.file.path))?;
        let want = (p.file.size.saturating_sub(from)).min(SEGMENT + (1 << 20));
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want)
            .read_to_end(&mut buf)
            .map_err(io(&p.file.path))?;
        // Only complete lines: a torn last line is read next time, whole.
        let end = if from + buf.len() as u64 >= p.file.size && buf.ends_with(b"\n") {
            buf.len()
        } else {
            let limit = buf.len().min(SEGMENT as usize);
            buf[..limit]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        };
        // A line longer than a segment (a pasted image of many MiB): streamed past
        // without holding it, so what follows it is still read. (Its own text and
        // calls are not indexed.)
        let end = if end == 0 && from + (buf.len() as u64) < p.file.size {
            match end_of_line(&p.file.path, from + buf.len() as u64)? {
                Some(after) => {
                    tracing::warn!(
                        "{}: skipped a line of {} bytes at offset {from}",
                        p.file.path.display(),
                        after - from
                    );
                    buf.clear();
                    (after - from) as usize
                }
                None => 0,
            }
        } else {
            end
        };
        let mut found = Found::default();
        for line in buf[..end.min(buf.len())].split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            // Cheap checks: only conversation lines, the CLI's cost and usage matter.
            if contains(line, b"\"usage\"") {
                found.usage(line, &self.pricing);
            }
            if !(contains(line, b"\"user\"")
                || contains(line, b"\"assistant\"")
                || contains(line, b"\"cost-state\""))
            {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                found.line(&v, self.tool_output);
            }
        }
        let next = from + end as u64;
        let file = FileState {
            path: p.file.path.display().to_string(),
            session_id: p.parent.clone().unwrap_or_else(|| p.file.id.clone()),
            // Until the last segment is in, a re-run must not think it is done.
            size: if next >= p.file.size { p.file.size } else { 0 },
            mtime: p.file.mtime_ms,
            offset: next,
            head_hash: format!(
                "{}|{}",
                p.head_hash,
                // The bytes just read, when they are all of [0, next).
                tail_hash_of(
                    &p.file.path,
                    next,
                    (from == 0).then_some(&buf[..end.min(buf.len())])
                )?
            ),
        };
        if let Some(parent) = &p.parent {
            // The project dir holding the subagent transcript, in either layout
            // (`<project>/<id>/subagents/` or `<project>/agent-*.jsonl`): a session
            // whose own transcript is gone gets its row from it.
            let projects = self.dir.projects_dir();
            let project_dir = p
                .file
                .path
                .ancestors()
                .find(|a| a.parent() == Some(projects.as_path()))
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let batch = Ingest {
                session: SessionRecord {
                    id: parent.clone(),
                    project_dir,
                    ..Default::default()
                },
                full: p.full && first,
                text: found.text,
                calls: found.calls,
                files_touched: found.touched,
                file,
                subagent: true,
                archive_key: None,
                vectors: Vec::new(),
            };
            return Ok(Segment {
                ingest: batch,
                next,
                bytes: buf,
                info: None,
            });
        }
        let info = self.dir.info_of(&p.file);
        let project_dir = p
            .file
            .path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let session = SessionRecord {
            id: p.file.id.clone(),
            project_dir,
            project_path: info.as_ref().and_then(|i| i.cwd.clone()),
            file_path: p.file.path.display().to_string(),
            summary: info.as_ref().map(|i| i.summary.clone()).unwrap_or_default(),
            custom_title: info.as_ref().and_then(|i| i.custom_title.clone()),
            first_prompt: info.as_ref().and_then(|i| i.first_prompt.clone()),
            git_branch: info.as_ref().and_then(|i| i.git_branch.clone()),
            cwd: info.as_ref().and_then(|i| i.cwd.clone()),
            native_tag: info.as_ref().and_then(|i| i.tag.clone()),
            created_at: info.as_ref().and_then(|i| i.created_at),
            last_modified: p.file.mtime_ms,
            file_size: p.file.size,
            archived: info.as_ref().and_then(|i| i.archived),
            messages: found.messages,
            user_turns: found.turns,
            tool_calls: found.tool_calls,
            models: found.models,
            tools: found.tools,
            first_activity: found.first,
            last_activity: found.last,
            cli_cost_usd: found.cli_cost,
            ..Default::default()
        };
        let batch = Ingest {
            session,
            full: p.full && first,
            text: found.text,
            calls: found.calls,
            files_touched: found.touched,
            file,
            subagent: false,
            archive_key: None,
            vectors: Vec::new(),
        };
        Ok(Segment {
            ingest: batch,
            next,
            bytes: buf,
            info,
        })
    }

    /// Parses `plans` in parallel and writes them in order; the sessions whose
    /// transcript this archived.
    fn write_plans(
        &self,
        store: &dyn Store,
        plans: &[Plan],
        done: &std::sync::atomic::AtomicU64,
        total: u64,
        report: &mut SyncReport,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<std::collections::HashSet<String>> {
        // Parse in parallel, write in order: SQLite has one writer.
        // Parse (and compress archives) for the next chunk while the writer commits
        // this one: SQLite has one writer, the parsing uses the other cores.
        type Parsed = Vec<Result<(Ingest, Option<String>)>>;
        // A few chunks ahead, so that the writer never waits on the slowest file
        // of a chunk (measured on 2 cores: 16-file chunks, one ahead, left the
        // writer idle 7 s of a 19 s build).
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Parsed)>(PARSED_AHEAD);
        let chunks = chunk_plans(plans);
        let pool = parse_pool(store.written_by_a_server());
        // Sessions whose transcript was archived by this sync.
        let mut archived_now = std::collections::HashSet::new();
        let result: Result<()> = std::thread::scope(|scope| {
            let producer = scope.spawn(|| {
                // Owned here: when the producer ends, the channel closes.
                let tx = tx;
                for (i, chunk) in chunks.iter().enumerate() {
                    let parse = || {
                        chunk
                            .par_iter()
                            .map(|p| {
                                // The first segment of each file; the rest of a big file
                                // is read after this one is written (bounded memory).
                                let mut seg = self.read_segment(p, p.from, true)?;
                                store.prepare(&mut seg.ingest);
                                done.fetch_add(
                                    seg.next - p.from,
                                    std::sync::atomic::Ordering::Relaxed,
                                );
                                let archived = match &self.archive {
                                    Some(a) if p.parent.is_none() => {
                                        // The bytes just read, when they are the whole file.
                                        let whole =
                                            p.from == 0 && seg.bytes.len() as u64 == p.file.size;
                                        let read =
                                            whole.then(|| (&seg.bytes[..], seg.info.clone()));
                                        self.archive_one(store, a, &p.file, read, None)?
                                    }
                                    _ => None,
                                };
                                Ok((seg.ingest, archived))
                            })
                            .collect()
                    };
                    let parsed: Parsed = match pool {
                        Some(pool) => pool.install(parse),
                        None => parse(),
                    };
                    if tx.send((i, parsed)).is_err() {
                        break; // the writer stopped on an error
                    }
                }
            });
            // First segments go in together, several chunks to a transaction: a
            // commit writes every page it touched (random keys touch many), and the
            // checkpoint copies them again.
            let mut batch: Vec<(Ingest, &Plan)> = Vec::new();
            let mut batch_bytes = 0u64;
            let mut commit =
                |batch: &mut Vec<(Ingest, &Plan)>, report: &mut SyncReport| -> Result<()> {
                    if batch.is_empty() {
                        return Ok(());
                    }
                    let firsts: Vec<Ingest> =
                        batch.iter_mut().map(|(b, _)| std::mem::take(b)).collect();
                    store.ingest_many(&firsts)?;
                    for ((_, p), first) in batch.iter().zip(&firsts) {
                        let mut from = first.file.offset;
                        // The rest of a big file, segment by segment.
                        while from < p.file.size {
                            let before = from;
                            let Segment {
                                ingest: b, next, ..
                            } = self.read_segment(p, from, false)?;
                            store.ingest(&b)?;
                            done.fetch_add(next - from, std::sync::atomic::Ordering::Relaxed);
                            from = next;
                            if from == before {
                                break; // a torn last line: read it when it is complete
                            }
                        }
                        report.bytes_read += p.file.size - p.from;
                        report.read_files.push(p.file.path.clone());
                        if p.parent.is_some() {
                            report.subagent_files += 1;
                            continue;
                        }
                        match p.kind {
                            Kind::New => report.new += 1,
                            Kind::Appended => report.appended += 1,
                            Kind::Rewritten => report.rewritten += 1,
                        }
                        if first.archive_key.is_some() {
                            report.archived += 1;
                            archived_now.insert(p.file.id.clone());
                        }
                    }
                    batch.clear();
                    progress(done.load(std::sync::atomic::Ordering::Relaxed), total);
                    Ok(())
                };
            for (i, parsed) in rx {
                for (p, item) in chunks[i].iter().zip(parsed) {
                    let (mut first, archived) = item?;
                    first.archive_key = archived;
                    batch_bytes += first.file.offset - p.from;
                    let more = first.file.offset < p.file.size;
                    batch.push((first, p));
                    // A big file's other segments follow its first at once.
                    if more || batch_bytes >= TX_BYTES {
                        commit(&mut batch, report)?;
                        batch_bytes = 0;
                    }
                }
            }
            commit(&mut batch, report)?;
            let _ = producer.join();
            Ok(())
        });
        result?;
        Ok(archived_now)
    }

    /// Brings `store` in step with the config dir, every transcript looked at.
    /// `progress(done, total)` is called with bytes to read.
    pub fn sync(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<SyncReport> {
        self.dir.check()?;
        let quiet = self.dir.quiet_signature();
        self.sync_with(store, progress, false, quiet)
    }

    /// [`Indexer::sync`], done at once when the config dir's quiet signature
    /// ([`ClaudeDir::quiet_signature`]) is the one the last complete sync kept:
    /// then no transcript was written since, and no file is looked at (what every
    /// command does first; its cost does not grow with the number of sessions).
    pub fn sync_quick(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<SyncReport> {
        self.dir.check()?;
        let quiet = self.dir.quiet_signature();
        self.sync_with(store, progress, true, quiet)
    }

    /// [`Indexer::sync_quick`] with the quiet signature `quiet` the caller took
    /// (from [`ClaudeDir::quiet_signature`], before any transcript was looked at):
    /// what a caller does to read the catalog while the signature is taken.
    pub fn sync_quick_since(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
        quiet: Option<ccsm_transcripts::Quiet>,
    ) -> Result<SyncReport> {
        self.dir.check()?;
        self.sync_with(store, progress, true, quiet)
    }

    /// `quiet`: the config dir's quiet signature, taken before any file is
    /// looked at (whatever is written after it moves it).
    fn sync_with(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
        quick: bool,
        quiet: Option<ccsm_transcripts::Quiet>,
    ) -> Result<SyncReport> {
        let (known, priced) = store.sync_marks()?;
        let kept = known.as_deref().map(Kept::parse).unwrap_or_default();
        // Calls already in were priced with the table of their time: a new table
        // (imported, updated) applies to every view at once.
        let prices = self.pricing.fingerprint();
        let repriced = priced.as_deref() != Some(prices.as_str());
        if repriced {
            let table = &self.pricing;
            let price = |m: &str| {
                table.price(m).map(|p| {
                    [
                        p.input,
                        p.output,
                        p.cache_write_5m,
                        p.cache_write_1h,
                        p.cache_read,
                    ]
                })
            };
            store.reprice(&price, &prices)?;
        }
        if let (true, Some(q), Some(k)) = (quick, &quiet, &kept.quiet) {
            if q.layout == k.quiet.layout && k.settings == self.settings() {
                let mut report = self.sync_live(store, progress, q, k)?;
                report.wrote |= repriced;
                return Ok(report);
            }
        }
        let dirs = self.dir.project_dirs(None)?;
        let (files, subagents) = self.dir.transcript_files(&dirs);
        // What the next sync compares: the walk's digest, and the quiet signature
        // with what a sync that trusts it reports.
        let digest = self.digest(&files, &subagents);
        let unchanged = files.iter().filter(|f| f.size > 0).count();
        let record = Kept::record(
            &digest,
            quiet.map(|quiet| KeptQuiet {
                quiet,
                settings: self.settings(),
                files: files.len(),
                unchanged,
            }),
        );
        // Nothing changed since a complete sync (every command syncs first): done
        // without reading the catalog's state of each file.
        if kept.digest == digest {
            if known.as_deref() != Some(record.as_str()) {
                store.set_sync_digest(&record)?;
            }
            return Ok(SyncReport {
                files: files.len(),
                unchanged,
                wrote: repriced,
                ..Default::default()
            });
        }
        // Something changed, so this sync may archive: first the half-written
        // archive files of killed processes go (a walk of the archive's shards,
        // which a sync with nothing to do does not pay for).
        self.remove_stale_partials();
        // Keyed by the path moved out of the state (10k fewer copies).
        let states: std::collections::HashMap<String, FileState> = store
            .file_states()?
            .into_iter()
            .map(|mut s| (std::mem::take(&mut s.path), s))
            .collect();
        let mut report = SyncReport {
            files: files.len(),
            wrote: repriced,
            ..Default::default()
        };
        // A session is present while any transcript of it is: its own, or a
        // subagent's whose folder outlived it (its calls still count).
        let present: std::collections::HashSet<String> = files
            .iter()
            .filter(|f| f.size > 0)
            .map(|f| f.id.clone())
            .chain(
                subagents
                    .iter()
                    .filter(|(_, f)| f.size > 0)
                    .map(|(p, _)| p.clone()),
            )
            .collect();
        let present_nonempty = present.len();
        let mut plans = Vec::new();
        for f in &files {
            if f.size == 0 {
                continue;
            }
            let prev = states.get(&*f.path.to_string_lossy());
            match self.plan(prev, f)? {
                Some(p) => plans.push(p),
                None => report.unchanged += 1,
            }
        }
        // Subagent transcripts: their calls count to their session.
        for (parent, f) in subagents {
            if f.size == 0 {
                continue;
            }
            let prev = states.get(&*f.path.to_string_lossy());
            if let Some(mut p) = self.plan(prev, &f)? {
                p.parent = Some(parent);
                plans.push(p);
            }
        }
        self.apply(store, progress, plans, &files, &mut report)?;
        // Every present file is in the catalog now. If as many sessions are present
        // in the catalog as files on disk, none went missing: skip the full scan.
        if store.count_present()? != present_nonempty {
            for (id, _, gone) in store.known_files()? {
                if !gone && !present.contains(id.as_str()) {
                    store.mark_gone(&id, true)?;
                    report.gone += 1;
                    report.wrote = true;
                }
            }
        }
        // All of it is in: until something changes, the next sync has nothing to do.
        store.set_sync_digest(&record)?;
        Ok(report)
    }

    /// Reads what `plans` say into `store`, oldest first, then archives the
    /// sessions whose subagents alone changed (`files`: the session transcripts
    /// to find them in) and tidies the index after the work.
    fn apply(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
        mut plans: Vec<Plan>,
        files: &[SessionFile],
        report: &mut SyncReport,
    ) -> Result<()> {
        // Oldest first: newer text gets higher rowids, which newest-first search walks.
        plans.sort_by_key(|p| (p.file.mtime_ms, p.file.id.clone()));
        report.wrote |= !plans.is_empty();
        let total: u64 = plans.iter().map(|p| p.file.size - p.from).sum();
        let done = std::sync::atomic::AtomicU64::new(0);
        progress(0, total);
        let bulk = if plans.is_empty() {
            false
        } else {
            store.begin_bulk(total >= OPTIMIZE_AFTER)?
        };
        let written = self.write_plans(store, &plans, &done, total, report, progress);
        // What a bulk load dropped is built again, whatever happened to it.
        let rebuilt = if bulk { store.end_bulk() } else { Ok(()) };
        let archived_now = written?;
        rebuilt?;
        // A session whose subagent transcripts changed while its own did not: its
        // archive must hold them too (a bundle carries the session's sidecar dir).
        if let Some(root) = &self.archive {
            let mut newest: std::collections::HashMap<&str, i64> = Default::default();
            for p in &plans {
                if let Some(parent) = &p.parent {
                    let m = newest.entry(parent.as_str()).or_insert(p.file.mtime_ms);
                    *m = (*m).max(p.file.mtime_ms);
                }
            }
            newest.retain(|id, _| !archived_now.contains(*id));
            if !newest.is_empty() {
                for f in files.iter().filter(|f| f.size > 0) {
                    let Some(sub_mtime) = newest.remove(f.id.as_str()) else {
                        continue;
                    };
                    let key = format!("{}-{}-{}-{sub_mtime}", f.id, f.size, f.mtime_ms);
                    if let Some(key) = self.archive_one(store, root, f, None, Some(key))? {
                        store.set_archive(&f.id, &key)?;
                        report.archived += 1;
                        report.wrote = true;
                    }
                }
            }
        }
        // After bulk work, one merge of the full-text index keeps searches fast
        // (about 0.8 s per GiB of transcripts; small syncs leave it to automerge).
        if report.bytes_read >= OPTIMIZE_AFTER {
            store.optimize()?;
        } else if report.bytes_read > 0 {
            store.tidy()?;
        }
        Ok(())
    }

    /// Where a session version's bundle goes: one dir per first two characters of
    /// the id (a dir per session cost an inode per session on the first build).
    fn archive_path(root: &Path, id: &str, key: &str) -> PathBuf {
        root.join(shard(id)).join(format!("{key}.ccsm"))
    }

    /// What a sync depends on, in one string: every transcript's path, size and
    /// mtime (subagents' with their session), and the settings that change what is
    /// indexed. Equal digests: nothing to read.
    fn digest(&self, files: &[SessionFile], subagents: &[(String, SessionFile)]) -> String {
        use std::hash::{Hash as _, Hasher as _};
        // Order-free: a sum of per-file hashes (SipHash with fixed keys), 128 bits.
        let (mut a, mut b) = (0u64, 0u64);
        let mut add = |f: &SessionFile, parent: Option<&str>| {
            for (seed, acc) in [(1u8, &mut a), (2u8, &mut b)] {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (seed, &f.path, f.size, f.mtime_ms, parent).hash(&mut h);
                *acc = acc.wrapping_add(h.finish());
            }
        };
        for f in files {
            add(f, None);
        }
        for (parent, f) in subagents {
            add(f, Some(parent));
        }
        format!(
            "v1 {} {} {} {a:016x}{b:016x}",
            files.len(),
            subagents.len(),
            self.settings()
        )
    }

    /// The settings that change what a sync writes.
    fn settings(&self) -> String {
        format!("{:?} {}", self.archive, self.tool_output)
    }

    /// Archives one session version unless this version is archived already;
    /// returns its archive key either way (a sync interrupted after the archive
    /// was written, before its key was, records it the next time). `read`: the transcript's bytes and info as the
    /// indexer read them (the whole file), to not read it again; `key`: the
    /// version's name (default: id, size and mtime of the transcript).
    fn archive_one(
        &self,
        store: &dyn Store,
        root: &Path,
        f: &SessionFile,
        read: Option<(&[u8], Option<ccsm_transcripts::SessionInfo>)>,
        key: Option<String>,
    ) -> Result<Option<String>> {
        let key = key.unwrap_or_else(|| format!("{}-{}-{}", f.id, f.size, f.mtime_ms));
        let dest = Self::archive_path(root, &f.id, &key);
        if dest.exists() {
            Self::share_archive(store, &dest, &f.id, &key)?;
            return Ok(Some(key));
        }
        let dir = root.join(shard(&f.id));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        // Another process may archive the same version at once: temp names differ,
        // and whoever renames last wins with identical content.
        let tmp = dir.join(format!(".{key}.{}.partial", std::process::id()));
        let out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
        let written = match read {
            Some((bytes, info)) => self.dir.archive_read(f, info, bytes, out),
            None => self.dir.export_files(std::slice::from_ref(f), false, out),
        };
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_file(&tmp);
            if !dest.exists() {
                return Err(io(&dest)(e));
            }
        }
        // Only the newest version of a session is kept.
        let prefix = format!("{}-", f.id);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&prefix) && name.ends_with(".ccsm") && e.path() != dest {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // The first layout: a dir per session.
        let legacy = root.join(&f.id);
        if legacy.is_dir() {
            let _ = std::fs::remove_dir_all(&legacy);
        }
        Self::share_archive(store, &dest, &f.id, &key)?;
        Ok(Some(key))
    }

    /// A catalog that keeps archives (a shared one) gets the version too, so that
    /// another host can restore it (a version it has already is not sent again).
    fn share_archive(store: &dyn Store, bundle: &Path, id: &str, key: &str) -> Result<()> {
        if !store.keeps_archives() {
            return Ok(());
        }
        let mut f = std::fs::File::open(bundle).map_err(io(bundle))?;
        store.put_archive(key, id, &mut f)?;
        Ok(())
    }

    /// Removes archive files a killed process left half written
    /// (`.<key>.<pid>.partial`, whose process is gone).
    fn remove_stale_partials(&self) {
        let Some(root) = &self.archive else { return };
        for shard in std::fs::read_dir(root).into_iter().flatten().flatten() {
            for e in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".partial"))
                    .and_then(|n| n.rsplit_once('.'))
                    .and_then(|(_, pid)| pid.parse::<u32>().ok())
                else {
                    continue;
                };
                let alive =
                    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
                if !alive {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Links the copies this catalog's sessions have in the shared archive of
    /// earlier versions into this config dir's own archive (once: linked copies
    /// are found there after). The shared files stay: another config dir's catalog
    /// may name them too. Returns how many were linked.
    pub fn migrate_shared_archive(&self, store: &dyn Store) -> Result<usize> {
        let (Some(root), Some(shared)) = (&self.archive, &self.shared_archive) else {
            return Ok(0);
        };
        if !shared.is_dir() {
            return Ok(0);
        }
        let mut linked = 0;
        for (id, key) in store.archive_keys()? {
            if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') || key.contains('/')
            {
                continue;
            }
            let dest = Self::archive_path(root, &id, &key);
            if dest.exists() {
                continue;
            }
            let from = [
                Self::archive_path(shared, &id, &key),
                shared.join(&id).join(format!("{key}.ccsm")),
            ];
            let Some(src) = from.iter().find(|p| p.is_file()) else {
                continue;
            };
            let dir = root.join(shard(&id));
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            if std::fs::hard_link(src, &dest).is_err() {
                std::fs::copy(src, &dest).map_err(io(&dest))?;
            }
            linked += 1;
        }
        Ok(linked)
    }

    /// The file of an archived session version, if this config dir's archive (or
    /// the shared one of earlier versions) has it.
    pub fn bundle_file(&self, id: &str, key: &str) -> Option<PathBuf> {
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') || key.contains('/') {
            return None;
        }
        let mut candidates = Vec::new();
        for root in self.archive.iter().chain(&self.shared_archive) {
            candidates.push(Self::archive_path(root, id, key));
            candidates.push(root.join(id).join(format!("{key}.ccsm")));
        }
        candidates.into_iter().find(|p| p.is_file())
    }

    /// Keeps a session version read from `bundle` in this config dir's archive
    /// (written whole under a temp name first); its file.
    pub fn keep_bundle(
        &self,
        id: &str,
        key: &str,
        write: impl FnOnce(&mut std::fs::File) -> Result<bool>,
    ) -> Result<Option<PathBuf>> {
        let Some(root) = &self.archive else {
            return Ok(None);
        };
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') || key.contains('/') {
            return Ok(None);
        }
        let dest = Self::archive_path(root, id, key);
        if dest.is_file() {
            return Ok(Some(dest));
        }
        let dir = root.join(shard(id));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tmp = dir.join(format!(".{key}.{}.partial", std::process::id()));
        let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let found = write(&mut out);
        drop(out);
        match found {
            Ok(true) => {
                std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
                Ok(Some(dest))
            }
            other => {
                let _ = std::fs::remove_file(&tmp);
                other.map(|_| None)
            }
        }
    }

    /// Removes every archived version of a session (both layouts).
    pub fn forget_archive(&self, id: &str) -> Result<()> {
        let Some(root) = &self.archive else {
            return Ok(());
        };
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(Error::NotArchived(id.to_owned()));
        }
        let prefix = format!("{id}-");
        let dir = root.join(shard(id));
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with(&prefix) {
                    std::fs::remove_file(e.path()).map_err(io(&e.path()))?;
                }
            }
        }
        let legacy = root.join(id);
        if legacy.is_dir() {
            std::fs::remove_dir_all(&legacy).map_err(io(&legacy))?;
        }
        Ok(())
    }

    /// Writes an archived session back where the CLI looks for it; `to`: under
    /// this project folder instead of the one it ran in (a session recorded on
    /// another host, whose folder is elsewhere here).
    pub fn restore(
        &self,
        store: &dyn Store,
        id: &str,
        force: bool,
        to: Option<&Path>,
    ) -> Result<PathBuf> {
        let s = store
            .session(id)?
            .ok_or_else(|| ccsm_store::Error::NotFound(id.to_owned()))?;
        let root = self
            .archive
            .clone()
            .ok_or_else(|| Error::NotArchived(id.to_owned()))?;
        let key = s
            .archive_key
            .clone()
            .ok_or_else(|| Error::NotArchived(id.to_owned()))?;
        // This config dir's archive, else the shared one of earlier versions (both
        // of its layouts).
        let mut candidates = vec![
            Self::archive_path(&root, &s.id, &key),
            root.join(&s.id).join(format!("{key}.ccsm")),
        ];
        if let Some(shared) = &self.shared_archive {
            candidates.push(Self::archive_path(shared, &s.id, &key));
            candidates.push(shared.join(&s.id).join(format!("{key}.ccsm")));
        }
        let local = candidates.iter().find_map(|p| std::fs::File::open(p).ok());
        if self.dir.find(id).is_ok() && !force {
            return Err(Error::Exists(id.to_owned()));
        }
        let f = match local {
            Some(f) => f,
            // Recorded on another host: its copy in the shared catalog, fetched
            // into this host's archive first (a partial file until complete).
            None if store.keeps_archives() => {
                let fetched =
                    self.keep_bundle(&s.id, &key, |out| Ok(store.read_archive(&key, out)?))?;
                let dest = fetched.ok_or_else(|| Error::NotArchived(id.to_owned()))?;
                std::fs::File::open(&dest).map_err(io(&dest))?
            }
            None => return Err(Error::NotArchived(id.to_owned())),
        };
        let done = self.dir.import(
            std::io::BufReader::new(f),
            &ccsm_transcripts::portable::ImportOptions {
                to: to.map(Path::to_path_buf),
                new_ids: false,
                force: true,
            },
        )?;
        store.mark_gone(id, false)?;
        Ok(done.into_iter().next().map(|d| d.path).unwrap_or_default())
    }
}

/// The offset just after the next newline at or after `from`, reading 1 MiB at a
/// time; `None` if the file ends first (a line still being written).
fn end_of_line(path: &Path, from: u64) -> Result<Option<u64>> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    f.seek(SeekFrom::Start(from)).map_err(io(path))?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut at = from;
    loop {
        let n = f.read(&mut chunk).map_err(io(path))?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &chunk[..n]) {
            return Ok(Some(at + i as u64 + 1));
        }
        at += n as u64;
    }
}

/// The archive's dir for a session id: its first two characters.
fn shard(id: &str) -> &str {
    id.get(..2).unwrap_or("_")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Which sessions a usage report counts.
#[derive(Debug)]
pub struct UsageScope<'a> {
    pub filter: &'a ccsm_transcripts::usage::UsageFilter,
    /// Also sessions whose transcript is gone (the files' report cannot see them).
    pub include_gone: bool,
    /// Only this host's (a catalog shared by many hosts; a host's own catalog
    /// has no host on its rows: they are kept).
    pub host: Option<&'a str>,
    /// Only reports per day, week or month will be made of it (not per session):
    /// sessions are not told apart, and the store's sums by day serve when no
    /// filter but dates is given.
    pub periods: bool,
    /// Only these project folders, as `(host, folder name under projects/)`
    /// (the host `None`: this host's own catalog): a project that many hosts'
    /// folders were mapped into. In place of the filter's project.
    pub folders: Option<&'a [(Option<String>, String)]>,
}

/// A usage report from the catalog's rollup (per session, model and local day),
/// rolling up first what changed since the last report.
pub fn usage_report(
    store: &dyn Store,
    dir: &ClaudeDir,
    scope: &UsageScope<'_>,
    pricing: PricingTable,
) -> Result<ccsm_transcripts::usage::UsageData> {
    let (filter, include_gone) = (scope.filter, scope.include_gone);
    use ccsm_transcripts::usage::{local_day, local_day_fingerprint, DayUsage, Tokens};
    store.refresh_usage(&local_day_fingerprint(), &local_day)?;
    let dirs: Option<Vec<String>> = match (scope.folders, &filter.project) {
        (Some(folders), _) => Some(folders.iter().map(|(_, d)| d.clone()).collect()),
        (None, Some(p)) => Some(
            dir.project_dirs(Some(p))?
                .iter()
                .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
        ),
        (None, None) => None,
    };
    let by_day = if scope.periods && dirs.is_none() && !include_gone && scope.host.is_none() {
        store.usage_days()?
    } else {
        None
    };
    let rows = match by_day {
        Some(days) => days
            .into_iter()
            .map(|mut r| {
                // A time on that local day names its day, week and month.
                r.first_ts = ccsm_transcripts::usage::local_noon_ms(&r.day).unwrap_or(0);
                r.last_ts = r.first_ts;
                r
            })
            .collect(),
        None => store.usage_rows(dirs.as_deref(), include_gone)?,
    };
    let rows = rows
        .into_iter()
        .filter(|r| {
            scope
                .host
                .is_none_or(|h| r.host.as_deref().is_none_or(|mine| mine == h))
        })
        // A folder name is one host's: another host's of that name is not it.
        .filter(|r| {
            scope.folders.is_none_or(|f| {
                f.iter().any(|(host, dir)| {
                    *dir == r.project_dir
                        && host
                            .as_deref()
                            .is_none_or(|h| r.host.as_deref().is_none_or(|mine| mine == h))
                })
            })
        })
        .map(|r| DayUsage {
            session_id: r.session_id,
            project_dir: r.project_dir,
            model: r.model,
            day: r.day,
            first_ms: r.first_ts,
            last_ms: r.last_ts,
            tokens: Tokens {
                input_tokens: r.input,
                output_tokens: r.output,
                cache_creation_tokens: r.cache_5m + r.cache_1h,
                cache_creation_5m: r.cache_5m,
                cache_creation_1h: r.cache_1h,
                cache_read_tokens: r.cache_read,
            },
            cli_cost_usd: r.cli_cost_usd,
        })
        .collect();
    Ok(ccsm_transcripts::usage::UsageData::from_days(
        rows, filter, pricing,
    ))
}
