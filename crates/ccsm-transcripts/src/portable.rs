//! Portability: bundles to take sessions to another machine, relocation when a
//! project folder moves, and clones into another folder.
//!
//! ## Bundle format (version 1; may grow)
//!
//! A zstd-compressed tar archive:
//! - `manifest.json`: `{"format":"ccsm-bundle","version":1,"created":..,
//!   "cliVersion":..,"redacted":bool,"sessions":[{"sessionId":..,"projectPath":..,
//!   "projectDir":..,"title":..,"tag":..,"files":[{"path":..,"sha256":..,"size":..}]}]}`
//! - `sessions/<id>/<id>.jsonl`: the transcript;
//! - `sessions/<id>/<id>/...`: its sidecar dir (subagents, tool results).
//!
//! Import refuses, before writing anything, a bundle whose files fail their
//! checksums, that holds a file the manifest does not name, an absolute path, a
//! `..`, or anything but regular files and directories.

use std::collections::HashMap;
use std::io::{Read, Seek as _, Write};
use std::path::{Component, Path, PathBuf};

use ccsm_core::SessionId;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::{encode_project_dir, write_atomic, ClaudeDir, Error, Result};

pub const FORMAT: &str = "ccsm-bundle";
pub const VERSION: u32 = 1;

/// One file in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// One session in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSession {
    pub session_id: String,
    pub project_path: Option<String>,
    pub project_dir: String,
    pub title: Option<String>,
    pub tag: Option<String>,
    pub files: Vec<BundleFile>,
    /// ccsm's own metadata when a catalog had some: `{"description", "notes",
    /// "tags": [..], "names": [{"name", "seq"}]}` (`seq`: the session's place in
    /// the name's chain).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub ccsm: serde_json::Value,
}

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub created: String,
    pub cli_version: Option<String>,
    /// The layout the files came from (`projects/<encoded cwd>/<id>.jsonl`).
    pub layout: String,
    pub redacted: bool,
    pub sessions: Vec<BundleSession>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let ft = e.file_type().map_err(|source| Error::Io {
            path: e.path(),
            source,
        })?;
        if ft.is_dir() {
            files_under(&e.path(), base, out)?;
        } else if ft.is_file() {
            let rel = e
                .path()
                .strip_prefix(base)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((e.path(), rel));
        }
    }
    Ok(())
}

/// Masks what looks like a secret: Anthropic and other API keys, bearer tokens,
/// GitHub and AWS tokens, `password=...`.
pub fn redact(text: &str) -> String {
    static PATTERNS: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    let pats = PATTERNS.get_or_init(|| {
        [
            r"sk-ant-[A-Za-z0-9_\-]{8,}",
            r"sk-[A-Za-z0-9]{20,}",
            r"gh[pousr]_[A-Za-z0-9]{20,}",
            r"github_pat_[A-Za-z0-9_]{20,}",
            r"AKIA[0-9A-Z]{16}",
            r"xox[baprs]-[A-Za-z0-9-]{10,}",
            r"(?i)bearer\s+[A-Za-z0-9._\-]{16,}",
            r#"(?i)(password|passwd|secret|token|api[_-]?key)(\\?["']?\s*[:=]\s*\\?["']?)[^\s"'\\,}]{6,}"#,
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect()
    });
    let mut out = text.to_owned();
    for (i, re) in pats.iter().enumerate() {
        out = if i == pats.len() - 1 {
            re.replace_all(&out, "${1}${2}[REDACTED]").into_owned()
        } else {
            re.replace_all(&out, "[REDACTED]").into_owned()
        };
    }
    out
}

impl ClaudeDir {
    /// Writes one bundle with `ids` (all sessions of `project` if `ids` is empty).
    pub fn export(
        &self,
        ids: &[String],
        project: Option<&Path>,
        redacted: bool,
        out: impl Write,
    ) -> Result<Manifest> {
        self.export_with(ids, project, redacted, &|_| serde_json::Value::Null, out)
    }

    /// [`ClaudeDir::export`], with what `meta(session id)` gives as each session's
    /// `ccsm` metadata (a catalog's tags, description, notes, names).
    pub fn export_with(
        &self,
        ids: &[String],
        project: Option<&Path>,
        redacted: bool,
        meta: &dyn Fn(&str) -> serde_json::Value,
        out: impl Write,
    ) -> Result<Manifest> {
        let ids: Vec<String> = if ids.is_empty() {
            let dirs = self.project_dirs(project)?;
            let mut files = self.session_files(&dirs);
            files.sort_by(|a, b| a.id.cmp(&b.id));
            files.into_iter().map(|f| f.id).collect()
        } else {
            ids.to_vec()
        };
        let files = ids
            .iter()
            .map(|id| self.find(id))
            .collect::<Result<Vec<_>>>()?;
        self.export_located(&files, redacted, meta, out)
    }

    /// [`ClaudeDir::export`] of sessions already located (the indexer archives
    /// thousands: it does not look for each one in every project dir again).
    pub fn export_files(
        &self,
        files: &[crate::SessionFile],
        redacted: bool,
        out: impl Write,
    ) -> Result<Manifest> {
        self.export_located(files, redacted, &|_| serde_json::Value::Null, out)
    }

    fn export_located(
        &self,
        files: &[crate::SessionFile],
        redacted: bool,
        meta: &dyn Fn(&str) -> serde_json::Value,
        out: impl Write,
    ) -> Result<Manifest> {
        if files.is_empty() {
            return Err(bad("nothing to export"));
        }
        let sources = files
            .iter()
            .map(|f| Source {
                file: f,
                info: self.info_of(f),
                bytes: None,
                ccsm: meta(&f.id),
            })
            .collect();
        self.write_bundle(sources, redacted, 3, out)
    }

    /// A bundle of one session whose transcript the caller has read already
    /// (`bytes`: the file's first `f.size` bytes) and whose info it has: the
    /// indexer's archive, which must not read each file twice. A faster
    /// compression level (1: about 1.3x the speed of 3 for 3% more bytes).
    pub fn archive_read(
        &self,
        f: &crate::SessionFile,
        info: Option<crate::SessionInfo>,
        bytes: &[u8],
        out: impl Write,
    ) -> Result<Manifest> {
        let source = Source {
            file: f,
            info,
            bytes: Some(bytes),
            ccsm: serde_json::Value::Null,
        };
        self.write_bundle(vec![source], false, 1, out)
    }

    fn write_bundle(
        &self,
        sources: Vec<Source<'_>>,
        redacted: bool,
        level: i32,
        out: impl Write,
    ) -> Result<Manifest> {
        let enc = zstd::Encoder::new(out, level).map_err(|e| bad(e.to_string()))?;
        let mut tar = tar::Builder::new(enc);
        let mut sessions = Vec::new();
        let mut cli_version = None;
        let add = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8]| -> Result<BundleFile> {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            tar.append_data(&mut h, path, bytes)
                .map_err(|e| bad(format!("writing the bundle: {e}")))?;
            Ok(BundleFile {
                path: path.to_owned(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
            })
        };
        for Source {
            file: f,
            info,
            bytes,
            ccsm,
        } in sources
        {
            let read = |p: &Path| -> Result<Vec<u8>> {
                let b = std::fs::read(p).map_err(|source| Error::Io {
                    path: p.to_path_buf(),
                    source,
                })?;
                Ok(if redacted {
                    redact(&String::from_utf8_lossy(&b)).into_bytes()
                } else {
                    b
                })
            };
            let name = format!("sessions/{}/{}.jsonl", f.id, f.id);
            let version_in = |head: &[u8]| {
                crate::scan::first_string(
                    &crate::lossy(&head[..head.len().min(1 << 16)]),
                    "version",
                )
            };
            let entry = match bytes {
                Some(b) if !redacted => {
                    cli_version = cli_version.or_else(|| version_in(b));
                    add(&mut tar, &name, b)?
                }
                _ if redacted => {
                    let b = read(&f.path)?;
                    cli_version = cli_version.or_else(|| version_in(&b));
                    add(&mut tar, &name, &b)?
                }
                // Streamed: a transcript can be hundreds of megabytes.
                _ => {
                    let io = |source| Error::Io {
                        path: f.path.clone(),
                        source,
                    };
                    let file = std::fs::File::open(&f.path).map_err(io)?;
                    let size = file.metadata().map_err(io)?.len();
                    if cli_version.is_none() {
                        let mut head = Vec::new();
                        (&file).take(1 << 16).read_to_end(&mut head).map_err(io)?;
                        (&file).seek(std::io::SeekFrom::Start(0)).map_err(io)?;
                        cli_version = version_in(&head);
                    }
                    add_stream(&mut tar, &name, file.take(size), size)?
                }
            };
            let mut files = vec![entry];
            let side = f.sidecar_dir();
            let mut extra = Vec::new();
            files_under(&side, &side, &mut extra)?;
            extra.sort();
            for (abs, rel) in extra {
                let b = read(&abs)?;
                files.push(add(
                    &mut tar,
                    &format!("sessions/{}/{}/{rel}", f.id, f.id),
                    &b,
                )?);
            }
            sessions.push(BundleSession {
                session_id: f.id.clone(),
                project_path: info.as_ref().and_then(|i| i.cwd.clone()),
                project_dir: f
                    .path
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                title: info.as_ref().and_then(|i| i.custom_title.clone()),
                tag: info.as_ref().and_then(|i| i.tag.clone()),
                files,
                ccsm,
            });
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created: chrono::Utc::now().to_rfc3339(),
            cli_version,
            layout: "projects/<encoded cwd>/<id>.jsonl + <id>/".into(),
            redacted,
            sessions,
        };
        let mjson = serde_json::to_vec_pretty(&manifest).map_err(|e| bad(e.to_string()))?;
        add(&mut tar, "manifest.json", &mjson)?;
        let enc = tar.into_inner().map_err(|e| bad(e.to_string()))?;
        enc.finish().map_err(|e| bad(e.to_string()))?;
        Ok(manifest)
    }
}

/// Appends `size` bytes from `data` as `path`, hashing them on the way.
fn add_stream<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: impl Read,
    size: u64,
) -> Result<BundleFile> {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_cksum();
    let mut hashed = Hashing {
        inner: data,
        hash: sha2::Sha256::new(),
        n: 0,
    };
    tar.append_data(&mut h, path, &mut hashed)
        .map_err(|e| bad(format!("writing the bundle: {e}")))?;
    if hashed.n != size {
        // The file shrank while it was read: the entry would not match its header.
        return Err(bad(format!(
            "{path} changed while it was read ({} of {size} bytes); try again",
            hashed.n
        )));
    }
    Ok(BundleFile {
        path: path.to_owned(),
        sha256: hex(&hashed.hash.finalize()),
        size,
    })
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: sha2::Sha256,
    n: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hash.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

/// One session going into a bundle.
struct Source<'a> {
    file: &'a crate::SessionFile,
    info: Option<crate::SessionInfo>,
    /// The transcript as the caller read it; `None`: read here.
    bytes: Option<&'a [u8]>,
    ccsm: serde_json::Value,
}

/// Options of [`ClaudeDir::import`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Put the sessions under this project path (rewrites the entries' `cwd`).
    pub to: Option<PathBuf>,
    /// Give every session and message a new id (as a fork does).
    pub new_ids: bool,
    /// Overwrite sessions that exist.
    pub force: bool,
}

/// A session written by an import.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub original_id: String,
    pub session_id: String,
    pub project_path: Option<String>,
    pub path: PathBuf,
    /// ccsm's metadata the bundle carried for the session (see [`BundleSession`]).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub ccsm: serde_json::Value,
}

/// A path inside a bundle: relative, no `..`, no root, no prefix.
fn safe_rel(p: &Path) -> Result<()> {
    if p.as_os_str().is_empty() {
        return Err(bad("a bundle entry has an empty path"));
    }
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(bad(format!(
                    "the bundle holds an unsafe path {:?}: refused, nothing was written",
                    p.display()
                )))
            }
        }
    }
    Ok(())
}

/// Reads a bundle fully checked: every entry a regular file or dir at a safe path,
/// named in the manifest, with the manifest's checksum. Nothing is written here.
pub fn read_bundle(input: impl Read) -> Result<(Manifest, HashMap<String, Vec<u8>>)> {
    let dec = zstd::Decoder::new(input).map_err(|e| bad(format!("not a ccsm bundle: {e}")))?;
    let mut ar = tar::Archive::new(dec);
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("not a ccsm bundle: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| bad(format!("the bundle is damaged: {e}")))?;
        let path = e
            .path()
            .map_err(|e| bad(format!("the bundle is damaged: {e}")))?
            .into_owned();
        safe_rel(&path)?;
        let kind = e.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(bad(format!(
                "the bundle holds {:?}, which is not a regular file: refused",
                path.display()
            )));
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf)
            .map_err(|e| bad(format!("the bundle is damaged: {e}")))?;
        files.insert(path.to_string_lossy().into_owned(), buf);
    }
    let m = files
        .remove("manifest.json")
        .ok_or_else(|| bad("the bundle has no manifest.json"))?;
    let manifest: Manifest =
        serde_json::from_slice(&m).map_err(|e| bad(format!("the manifest is not valid: {e}")))?;
    if manifest.format != FORMAT || manifest.version > VERSION {
        return Err(bad(format!(
            "unsupported bundle {} version {}",
            manifest.format, manifest.version
        )));
    }
    let mut named = std::collections::HashSet::new();
    for s in &manifest.sessions {
        s.session_id.parse::<SessionId>()?;
        for f in &s.files {
            safe_rel(Path::new(&f.path))?;
            let Some(bytes) = files.get(&f.path) else {
                return Err(bad(format!("the bundle lacks {}", f.path)));
            };
            if sha256_hex(bytes) != f.sha256 {
                return Err(bad(format!(
                    "{} fails its checksum: the bundle is damaged, nothing was written",
                    f.path
                )));
            }
            named.insert(f.path.clone());
        }
    }
    if let Some(extra) = files.keys().find(|k| !named.contains(*k)) {
        return Err(bad(format!(
            "the bundle holds {extra}, which its manifest does not name"
        )));
    }
    Ok((manifest, files))
}

/// JSON-escapes a string's body (what sits between the quotes in a line).
fn json_body(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q[1..q.len().saturating_sub(1)].to_owned()
}

/// Rewrites `"cwd":"<old>…"` to `"cwd":"<new>…"` (both spacings), byte for byte
/// elsewhere. Returns how many values changed.
pub fn rewrite_cwd(text: &str, old: &str, new: &str) -> (String, usize) {
    let (o, n) = (json_body(old), json_body(new));
    let mut count = 0;
    let mut out = text.to_owned();
    for key in ["\"cwd\":\"", "\"cwd\": \""] {
        // Exact value, or a sub-directory of it.
        for end in ["\"", "/"] {
            let from = format!("{key}{o}{end}");
            let to = format!("{key}{n}{end}");
            count += out.matches(&from).count();
            out = out.replace(&from, &to);
        }
    }
    (out, count)
}

/// Replaces every UUID in `text` that `map` names.
fn remap_uuids(text: &str, map: &HashMap<String, String>) -> String {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = RE
        .get_or_init(|| {
            regex::Regex::new(
                r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            )
            .ok()
        })
        .as_ref()
    else {
        return text.to_owned();
    };
    re.replace_all(text, |c: &regex::Captures<'_>| {
        map.get(&c[0]).cloned().unwrap_or_else(|| c[0].to_owned())
    })
    .into_owned()
}

/// The uuids of every entry in a transcript (`"uuid":"…"`), the ones an import with
/// new ids remaps.
fn entry_uuids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for pat in ["\"uuid\":\"", "\"uuid\": \""] {
        let mut from = 0;
        while let Some(i) = text[from..].find(pat) {
            let start = from + i + pat.len();
            if let Some(u) = text.get(start..start + 36) {
                if uuid::Uuid::parse_str(u).is_ok() {
                    out.push(u.to_owned());
                }
            }
            from = start;
        }
    }
    out
}

impl ClaudeDir {
    /// Imports a bundle (see [`ImportOptions`]). Checked whole before anything is
    /// written; files are written through temp files and renames.
    pub fn import(&self, input: impl Read, opts: &ImportOptions) -> Result<Vec<Imported>> {
        let (manifest, files) = read_bundle(input)?;
        std::fs::create_dir_all(self.projects_dir()).map_err(|source| Error::Io {
            path: self.projects_dir(),
            source,
        })?;
        let to = match &opts.to {
            Some(t) => {
                if !t.is_absolute() {
                    return Err(bad(format!(
                        "--to must be an absolute path: {}",
                        t.display()
                    )));
                }
                Some(
                    t.canonicalize()
                        .unwrap_or_else(|_| t.clone())
                        .to_string_lossy()
                        .into_owned(),
                )
            }
            None => None,
        };
        // Plan everything first: a conflict refuses the whole import.
        let mut plan: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let mut done = Vec::new();
        for s in &manifest.sessions {
            let old_path = s.project_path.clone();
            let new_path = to.clone().or_else(|| old_path.clone());
            let project_dir = match &new_path {
                Some(p) if to.is_some() => encode_project_dir(p),
                _ => s.project_dir.clone(),
            };
            safe_rel(Path::new(&project_dir))?;
            let mut map = HashMap::new();
            let new_id = if opts.new_ids {
                SessionId::new_v4().to_string()
            } else {
                s.session_id.clone()
            };
            if opts.new_ids {
                map.insert(s.session_id.clone(), new_id.clone());
                for f in &s.files {
                    if f.path.ends_with(".jsonl") {
                        let text = String::from_utf8_lossy(&files[&f.path]);
                        for u in entry_uuids(&text) {
                            map.entry(u)
                                .or_insert_with(|| uuid::Uuid::new_v4().to_string());
                        }
                    }
                }
            }
            let dest_dir = self.projects_dir().join(&project_dir);
            let transcript = dest_dir.join(format!("{new_id}.jsonl"));
            let exists = transcript.exists() || self.find(&new_id).is_ok();
            if exists && !opts.force && !opts.new_ids {
                return Err(Error::Invalid(format!(
                    "session {new_id} already exists: use --new-ids to import a copy, or --force to overwrite; nothing was written"
                )));
            }
            let prefix = format!("sessions/{}/", s.session_id);
            for f in &s.files {
                let rel = f
                    .path
                    .strip_prefix(&prefix)
                    .ok_or_else(|| bad(format!("{} is outside its session", f.path)))?;
                let rel = rel.replacen(&s.session_id, &new_id, 1);
                safe_rel(Path::new(&rel))?;
                let mut bytes = files[&f.path].clone();
                if f.path.ends_with(".jsonl") || f.path.ends_with(".json") {
                    let mut text = String::from_utf8_lossy(&bytes).into_owned();
                    if let (Some(o), Some(n)) = (&old_path, &new_path) {
                        if o != n {
                            text = rewrite_cwd(&text, o, n).0;
                        }
                    }
                    if opts.new_ids {
                        text = remap_uuids(&text, &map);
                    }
                    bytes = text.into_bytes();
                }
                plan.push((dest_dir.join(rel), bytes));
            }
            done.push(Imported {
                original_id: s.session_id.clone(),
                session_id: new_id,
                project_path: new_path,
                path: transcript,
                ccsm: s.ccsm.clone(),
            });
        }
        for (path, bytes) in &plan {
            write_atomic(path, bytes)?;
        }
        Ok(done)
    }

    /// A fork of a session into another (or the same) project path, with new ids;
    /// the original is not touched. Returns the new session.
    pub fn clone_session(&self, id: &str, to: Option<&Path>) -> Result<Imported> {
        let mut bundle = Vec::new();
        self.export(&[id.to_owned()], None, false, &mut bundle)?;
        let opts = ImportOptions {
            to: to.map(Path::to_path_buf),
            new_ids: true,
            force: false,
        };
        self.import(&bundle[..], &opts)?
            .pop()
            .ok_or_else(|| bad("the clone wrote nothing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwd_rewrite_is_exact_and_keeps_bytes() {
        let t = r#"{"cwd":"/a/b","x":"/a/b"}
{"cwd": "/a/b/sub","y":1}
{"cwd":"/a/bc"}"#;
        let (out, n) = rewrite_cwd(t, "/a/b", "/new place");
        assert_eq!(n, 2);
        assert_eq!(
            out,
            r#"{"cwd":"/new place","x":"/a/b"}
{"cwd": "/new place/sub","y":1}
{"cwd":"/a/bc"}"#
        );
    }

    #[test]
    fn secrets_are_masked() {
        let t = r#"key sk-ant-api03-abcdefghijklmnop and "password": "hunter22x" ghp_abcdefghijklmnopqrstuvwx"#;
        let r = redact(t);
        assert!(!r.contains("abcdefghijklmnop"), "{r}");
        assert!(!r.contains("hunter22x"), "{r}");
        assert!(r.contains("[REDACTED]"));
        assert_eq!(redact("nothing to hide here"), "nothing to hide here");
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(safe_rel(Path::new(p)).is_err(), "{p}");
        }
        assert!(safe_rel(Path::new("sessions/a/b.jsonl")).is_ok());
    }
}
