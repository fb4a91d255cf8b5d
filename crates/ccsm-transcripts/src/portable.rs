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
//! checksums or sizes, that holds a file the manifest does not name (or names
//! twice, or outside its session), an absolute path, a `..`, anything but regular
//! files and directories, more than [`MAX_ENTRIES`] entries or [`MAX_BUNDLE_BYTES`].
//! It is read in two passes and staged on disk (bounded memory), and put in place
//! through a journal (an interrupted import is completed by the next).

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

/// A session moved by [`ClaudeDir::move_session`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MovedSession {
    pub session_id: String,
    pub from_cwd: String,
    pub to_cwd: String,
    /// Where its transcript is now.
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub lines_rewritten: usize,
}

/// Every regular file under `dir` (links are not followed).
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            collect_files(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// A session written by an import.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub original_id: String,
    pub session_id: String,
    pub project_path: Option<String>,
    #[schema(value_type = String)]
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

/// The most entries a bundle may hold, and the most bytes its files may add up to
/// (a bundle that claims more is refused before its files are read).
pub const MAX_ENTRIES: usize = 100_000;
pub const MAX_BUNDLE_BYTES: u64 = 32 << 30;
/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

fn damaged(e: impl std::fmt::Display) -> Error {
    bad(format!("the bundle is damaged: {e}"))
}

/// Pass one: the manifest (the exporter writes it last, after the checksums),
/// found by walking the entries without keeping their bytes, within the limits.
fn find_manifest(input: impl Read) -> Result<Manifest> {
    let dec = zstd::Decoder::new(input).map_err(|e| bad(format!("not a ccsm bundle: {e}")))?;
    let mut ar = tar::Archive::new(dec);
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("not a ccsm bundle: {e}")))?;
    let (mut count, mut total) = (0usize, 0u64);
    let mut manifest = None;
    for e in entries {
        let mut e = e.map_err(damaged)?;
        count += 1;
        total = total.saturating_add(e.header().size().map_err(damaged)?);
        if count > MAX_ENTRIES || total > MAX_BUNDLE_BYTES {
            return Err(bad(format!(
                "the bundle holds more than {MAX_ENTRIES} entries or {} GiB: refused, nothing was written",
                MAX_BUNDLE_BYTES >> 30
            )));
        }
        let path = e.path().map_err(damaged)?.into_owned();
        safe_rel(&path)?;
        if path == Path::new("manifest.json") {
            if manifest.is_some() {
                return Err(bad("the bundle holds two manifests: refused"));
            }
            if e.header().size().map_err(damaged)? > MAX_MANIFEST_BYTES {
                return Err(bad("the bundle's manifest is too large: refused"));
            }
            let mut m = Vec::new();
            (&mut e)
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut m)
                .map_err(damaged)?;
            manifest = Some(
                serde_json::from_slice::<Manifest>(&m)
                    .map_err(|e| bad(format!("the manifest is not valid: {e}")))?,
            );
        }
    }
    manifest.ok_or_else(|| bad("the bundle has no manifest.json"))
}

/// A manifest checked whole: format and version, one entry per session id, a
/// project dir that is one plain folder name, every file under its own session
/// (`sessions/<id>/<id>.jsonl` or `sessions/<id>/<id>/...`) and named once, sizes
/// within the limits, ccsm's metadata well formed. Returns each file's session.
fn check_manifest(m: &Manifest) -> Result<HashMap<String, (usize, BundleFile)>> {
    if m.format != FORMAT || m.version > VERSION {
        return Err(bad(format!(
            "unsupported bundle {} version {}",
            m.format, m.version
        )));
    }
    let mut ids = std::collections::HashSet::new();
    let mut files = HashMap::new();
    let mut total = 0u64;
    for (i, s) in m.sessions.iter().enumerate() {
        let id: SessionId = s.session_id.parse()?;
        if id.to_string() != s.session_id {
            return Err(bad(format!(
                "session id {:?} is not in its usual form",
                s.session_id
            )));
        }
        if !ids.insert(s.session_id.clone()) {
            return Err(bad(format!(
                "the manifest names session {} twice: refused",
                s.session_id
            )));
        }
        let mut parts = Path::new(&s.project_dir).components();
        let plain = matches!(parts.next(), Some(Component::Normal(_)))
            && parts.next().is_none()
            && !s.project_dir.starts_with('.');
        if !plain {
            return Err(bad(format!(
                "session {} has the project dir {:?}, which is not one folder name: refused",
                s.session_id, s.project_dir
            )));
        }
        let own = format!("sessions/{}/", s.session_id);
        for f in &s.files {
            safe_rel(Path::new(&f.path))?;
            let rel = f.path.strip_prefix(&own).unwrap_or("");
            let mine = rel == format!("{}.jsonl", s.session_id)
                || rel.starts_with(&format!("{}/", s.session_id));
            if !mine {
                return Err(bad(format!(
                    "{} is not a file of session {}: refused, nothing was written",
                    f.path, s.session_id
                )));
            }
            total = total.saturating_add(f.size);
            if files.insert(f.path.clone(), (i, f.clone())).is_some() {
                return Err(bad(format!("the manifest names {} twice: refused", f.path)));
            }
        }
        check_ccsm_meta(&s.session_id, &s.ccsm)?;
    }
    if files.len() > MAX_ENTRIES || total > MAX_BUNDLE_BYTES {
        return Err(bad("the bundle is larger than an import takes: refused"));
    }
    Ok(files)
}

/// ccsm's metadata of a session in a bundle: tags and names are non-empty strings.
fn check_ccsm_meta(id: &str, v: &serde_json::Value) -> Result<()> {
    if v.is_null() {
        return Ok(());
    }
    let nonempty = |x: &serde_json::Value| x.as_str().is_some_and(|s| !s.trim().is_empty());
    let tags_ok = v["tags"].as_array().is_none_or(|t| t.iter().all(nonempty));
    let names_ok = v["names"]
        .as_array()
        .is_none_or(|n| n.iter().all(|n| nonempty(&n["name"])));
    if !v.is_object() || !tags_ok || !names_ok {
        return Err(bad(format!(
            "the bundle's ccsm metadata of session {id} is not valid (an empty tag or name?): refused, nothing was written"
        )));
    }
    Ok(())
}

/// A bundle's files checked and staged on disk (never all in memory).
#[derive(Debug)]
struct Staged {
    manifest: Manifest,
    /// Each file of the manifest, by its bundle path: where it is staged.
    files: HashMap<String, PathBuf>,
}

/// Pass two: every entry named by the manifest once, its size as the manifest
/// says (so no entry can grow past it), its checksum right; written to `stage`.
fn stage_bundle(input: impl Read, manifest: Manifest, stage: &Path) -> Result<Staged> {
    let named = check_manifest(&manifest)?;
    let dec = zstd::Decoder::new(input).map_err(|e| bad(format!("not a ccsm bundle: {e}")))?;
    let mut ar = tar::Archive::new(dec);
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    for (n, e) in ar.entries().map_err(damaged)?.enumerate() {
        let mut e = e.map_err(damaged)?;
        let path = e.path().map_err(damaged)?.into_owned();
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
        let key = path.to_string_lossy().into_owned();
        if key == "manifest.json" {
            continue;
        }
        let Some((_, f)) = named.get(&key) else {
            return Err(bad(format!(
                "the bundle holds {key}, which its manifest does not name"
            )));
        };
        if files.contains_key(&key) {
            return Err(bad(format!("the bundle holds {key} twice: refused")));
        }
        if e.header().size().map_err(damaged)? != f.size {
            return Err(bad(format!(
                "{key} is not the size the manifest says: refused, nothing was written"
            )));
        }
        let out = stage.join(format!("in-{n}"));
        let mut w = std::fs::File::create(&out).map_err(|source| Error::Io {
            path: out.clone(),
            source,
        })?;
        let mut hashed = Hashing {
            inner: (&mut e).take(f.size),
            hash: sha2::Sha256::new(),
            n: 0,
        };
        std::io::copy(&mut hashed, &mut w).map_err(damaged)?;
        if hashed.n != f.size || hex(&hashed.hash.finalize()) != f.sha256 {
            return Err(bad(format!(
                "{key} fails its checksum: the bundle is damaged, nothing was written"
            )));
        }
        files.insert(key, out);
    }
    if let Some(missing) = named.keys().find(|k| !files.contains_key(*k)) {
        return Err(bad(format!("the bundle lacks {missing}")));
    }
    Ok(Staged { manifest, files })
}

/// Reads a bundle fully checked, into memory (for tests and small bundles; import
/// stages to disk instead). Nothing is written to any config dir.
pub fn read_bundle(
    mut input: impl Read + std::io::Seek,
) -> Result<(Manifest, HashMap<String, Vec<u8>>)> {
    let manifest = find_manifest(&mut input)?;
    input.rewind().map_err(damaged)?;
    let stage = tempfile::tempdir().map_err(damaged)?;
    let staged = stage_bundle(input, manifest, stage.path())?;
    let mut files = HashMap::new();
    for (k, p) in staged.files {
        let bytes = std::fs::read(&p).map_err(|source| Error::Io { path: p, source })?;
        files.insert(k, bytes);
    }
    Ok((staged.manifest, files))
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

/// A staged file and where it goes.
type Move = (PathBuf, PathBuf);

/// Puts staged files in place (idempotent: a file already moved is skipped), the
/// transcripts last, so that a session appears only once its sidecar files are in.
fn commit_moves(moves: &[Move]) -> Result<()> {
    let mut order: Vec<&Move> = moves.iter().collect();
    order.sort_by_key(|(_, dest)| {
        dest.extension().is_some_and(|x| x == "jsonl") && {
            // A transcript sits right in the project dir; sidecar files are deeper.
            dest.parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|n| n == "projects")
        }
    });
    for (from, to) in order {
        if !from.exists() {
            continue; // moved before a crash
        }
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        std::fs::rename(from, to).map_err(|source| Error::Io {
            path: to.clone(),
            source,
        })?;
    }
    Ok(())
}

impl ClaudeDir {
    /// Where imports stage their files: inside the config dir, so that the final
    /// renames stay on one file system.
    fn import_root(&self) -> PathBuf {
        self.root.join(".ccsm-import")
    }

    /// Finishes or undoes imports a crash interrupted: one that had begun to put
    /// its files in place (its journal says so) is completed, any other is
    /// removed. Returns how many were completed.
    pub fn recover_imports(&self) -> Result<usize> {
        let root = self.import_root();
        let Ok(rd) = std::fs::read_dir(&root) else {
            return Ok(0);
        };
        let mut completed = 0;
        for e in rd.flatten() {
            let stage = e.path();
            let journal = stage.join("COMMIT");
            if let Ok(text) = std::fs::read_to_string(&journal) {
                let moves: Vec<Move> = serde_json::from_str(&text)
                    .map_err(|e| damaged(format!("{}: {e}", journal.display())))?;
                commit_moves(&moves)?;
                completed += 1;
            }
            std::fs::remove_dir_all(&stage).map_err(|source| Error::Io {
                path: stage.clone(),
                source,
            })?;
        }
        let _ = std::fs::remove_dir(&root);
        Ok(completed)
    }

    /// Imports a bundle (see [`ImportOptions`]). The bundle is read twice (the
    /// manifest, then the files, each bounded by the manifest's size) and staged
    /// on disk; every file it would write is checked first (an existing one is
    /// refused unless `force`, and `force` only replaces the session's own files);
    /// then all are put in place by renames, recorded in a journal so that an
    /// interrupted import is completed by the next one, never left half done.
    pub fn import(
        &self,
        mut input: impl Read + std::io::Seek,
        opts: &ImportOptions,
    ) -> Result<Vec<Imported>> {
        self.recover_imports()?;
        let manifest = find_manifest(&mut input)?;
        input.rewind().map_err(damaged)?;
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
        let root = self.import_root();
        std::fs::create_dir_all(&root).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        let stage = tempfile::Builder::new()
            .prefix("import-")
            .tempdir_in(&root)
            .map_err(|source| Error::Io {
                path: root.clone(),
                source,
            })?;
        let result = (|| {
            let staged = stage_bundle(input, manifest, stage.path())?;
            let (moves, done) = self.plan_import(&staged, opts, to.as_deref(), stage.path())?;
            // The journal first: from here on, a crash is completed, not undone.
            let journal = serde_json::to_vec(&moves).map_err(|e| bad(e.to_string()))?;
            write_atomic(&stage.path().join("COMMIT"), &journal)?;
            commit_moves(&moves)?;
            Ok(done)
        })();
        // Refused or done: the staging dir goes (a crash leaves it to the next import).
        drop(stage);
        let _ = std::fs::remove_dir(&root);
        result
    }

    /// Every file the import writes, staged under `stage` with its destination;
    /// nothing outside `stage` is written.
    fn plan_import(
        &self,
        staged: &Staged,
        opts: &ImportOptions,
        to: Option<&str>,
        stage: &Path,
    ) -> Result<(Vec<Move>, Vec<Imported>)> {
        let mut moves: Vec<Move> = Vec::new();
        let mut done = Vec::new();
        let mut dests = std::collections::HashSet::new();
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| Error::Io {
                path: p.to_owned(),
                source,
            })
        };
        for (si, s) in staged.manifest.sessions.iter().enumerate() {
            let old_path = s.project_path.clone();
            let new_path = to.map(str::to_owned).or_else(|| old_path.clone());
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
                for f in s.files.iter().filter(|f| f.path.ends_with(".jsonl")) {
                    let text = String::from_utf8_lossy(&read(&staged.files[&f.path])?).into_owned();
                    for u in entry_uuids(&text) {
                        map.entry(u)
                            .or_insert_with(|| uuid::Uuid::new_v4().to_string());
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
            for (fi, f) in s.files.iter().enumerate() {
                // check_manifest made sure: `<id>.jsonl` or `<id>/...`.
                let rel = f.path.strip_prefix(&prefix).unwrap_or(&f.path);
                let rel = rel.replacen(&s.session_id, &new_id, 1);
                safe_rel(Path::new(&rel))?;
                let dest = dest_dir.join(&rel);
                if !dests.insert(dest.clone()) {
                    return Err(bad(format!(
                        "two files of the bundle land on {}: refused",
                        dest.display()
                    )));
                }
                // Every file written is checked, not only the transcript.
                if std::fs::symlink_metadata(&dest).is_ok() && !opts.force {
                    return Err(Error::Invalid(format!(
                        "{} already exists: use --new-ids to import a copy, or --force to overwrite; nothing was written",
                        dest.display()
                    )));
                }
                let src = &staged.files[&f.path];
                let out = stage.join(format!("out-{si}-{fi}"));
                if f.path.ends_with(".jsonl") || f.path.ends_with(".json") {
                    let mut text = String::from_utf8_lossy(&read(src)?).into_owned();
                    if let (Some(o), Some(n)) = (&old_path, &new_path) {
                        if o != n {
                            text = rewrite_cwd(&text, o, n).0;
                        }
                    }
                    if opts.new_ids {
                        text = remap_uuids(&text, &map);
                    }
                    std::fs::write(&out, text).map_err(|source| Error::Io {
                        path: out.clone(),
                        source,
                    })?;
                } else {
                    std::fs::rename(src, &out).map_err(|source| Error::Io {
                        path: out.clone(),
                        source,
                    })?;
                }
                moves.push((out, dest));
            }
            done.push(Imported {
                original_id: s.session_id.clone(),
                session_id: new_id,
                project_path: new_path,
                path: transcript,
                ccsm: s.ccsm.clone(),
            });
        }
        Ok((moves, done))
    }

    /// Moves a session to another working directory, keeping its id: the CLI
    /// resumes it there with its history. Its transcript (and its sidecar folder:
    /// subagents, tool results) goes to the new folder's project dir, every `cwd`
    /// of the old folder (or under it) rewritten. The new copy is in place before
    /// the old one is removed: an interruption leaves two copies, never none.
    pub fn move_session(&self, id: &str, to: &Path) -> Result<MovedSession> {
        let f = self.find(id)?;
        let info = self.info(id)?;
        let old_cwd = info.cwd.clone().unwrap_or_default();
        let new_cwd = to.to_string_lossy().into_owned();
        let dir = self
            .root
            .join("projects")
            .join(crate::encode_project_dir(&new_cwd));
        let target = dir.join(format!("{}.jsonl", f.id));
        if target == f.path {
            return Ok(MovedSession {
                session_id: f.id,
                from_cwd: old_cwd,
                to_cwd: new_cwd,
                path: target,
                lines_rewritten: 0,
            });
        }
        if target.exists() {
            return Err(Error::Invalid(format!(
                "{} already exists: the session is already there",
                target.display()
            )));
        }
        let rewrite = |path: &Path| -> Result<(Vec<u8>, usize)> {
            let bytes = std::fs::read(path).map_err(|e| Error::Io {
                path: path.to_path_buf(),
                source: e,
            })?;
            if old_cwd.is_empty() {
                return Ok((bytes, 0));
            }
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let (out, n) = rewrite_cwd(&text, &old_cwd, &new_cwd);
                    Ok((out.into_bytes(), n))
                }
                // Not UTF-8 throughout: moved as it is, byte for byte.
                Err(e) => Ok((e.into_bytes(), 0)),
            }
        };
        let (bytes, n) = rewrite(&f.path)?;
        crate::write_atomic(&target, &bytes)?;
        // The sidecar folder: each file rewritten into the new place, then the
        // old folder removed.
        let side = f.path.with_extension("");
        if side.is_dir() {
            let mut files = Vec::new();
            collect_files(&side, &mut files)?;
            for src in &files {
                let rel = src.strip_prefix(&side).unwrap_or(src);
                let (b, _) = if src.extension().is_some_and(|e| e == "jsonl") {
                    rewrite(src)?
                } else {
                    (
                        std::fs::read(src).map_err(|e| Error::Io {
                            path: src.clone(),
                            source: e,
                        })?,
                        0,
                    )
                };
                crate::write_atomic(&dir.join(&f.id).join(rel), &b)?;
            }
        }
        std::fs::remove_file(&f.path).map_err(|e| Error::Io {
            path: f.path.clone(),
            source: e,
        })?;
        if side.is_dir() {
            let _ = std::fs::remove_dir_all(&side);
        }
        Ok(MovedSession {
            session_id: f.id,
            from_cwd: old_cwd,
            to_cwd: new_cwd,
            path: target,
            lines_rewritten: n,
        })
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
        self.import(std::io::Cursor::new(&bundle[..]), &opts)?
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
