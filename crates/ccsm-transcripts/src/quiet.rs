//! Telling that no transcript was written since a moment, without a `stat` of
//! every transcript (at 35k sessions that is 60 ms, on every command).
//!
//! Claude Code makes, deletes and renames transcripts (their folder's mtime
//! moves), and appends to one only while a CLI runs on it; every running CLI has
//! an entry in the registry (`sessions/<pid>.json`, made when it starts and
//! removed when it ends, so the registry folder's mtime moves too). So the mtimes
//! of the projects folder, of each project folder and of the registry, the
//! registry's entries, and the size and mtime of the transcripts (and subagent
//! transcripts) of the sessions they name say, together, whether anything could
//! have been written: equal signatures, nothing was, save by a program other
//! than Claude Code appending in place (ccsm's own appends move their folder's
//! mtime for this; `ccsm index` walks every file whatever the signature says).

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::registry::{read_registry, registry_dir};
use crate::{encode_project_dir, ClaudeDir, SessionFile};

/// A folder changed this recently may change again within the same tick of the
/// file system's clock with its mtime unchanged: such a signature is not kept.
const SETTLE: Duration = Duration::from_secs(2);

/// What [`ClaudeDir::quiet_signature`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quiet {
    /// The folders' mtimes and the registry's entries, hashed: equal, no
    /// transcript was made, removed or renamed, and no CLI started or ended.
    pub layout: String,
    /// The transcripts of the running sessions and of their subagents, as
    /// `(session id of a subagent's, file)`: the only ones that can have grown
    /// while `layout` stayed the same.
    pub live: Vec<(Option<String>, SessionFile)>,
}

impl ClaudeDir {
    /// What Claude Code may have written to, or `None` when it cannot vouch for
    /// the files: no registry (a CLI older than the registry writes without one)
    /// or a folder changed in the last two seconds.
    pub fn quiet_signature(&self) -> Option<Quiet> {
        let now = SystemTime::now();
        let mut sig = Signature::default();
        let settled = |t: SystemTime| now.duration_since(t).is_ok_and(|d| d >= SETTLE);
        let reg = std::fs::metadata(registry_dir(&self.root))
            .and_then(|m| m.modified())
            .ok()?;
        if !settled(reg) {
            return None;
        }
        sig.add(&reg);
        let projects = self.projects_dir();
        let mut dirs = Vec::new();
        if let Ok(m) = std::fs::metadata(&projects).and_then(|m| m.modified()) {
            if !settled(m) {
                return None;
            }
            sig.add(&m);
            for e in std::fs::read_dir(&projects).ok()?.flatten() {
                let Ok(meta) = e.metadata() else { continue };
                if !meta.is_dir() {
                    continue;
                }
                let m = meta.modified().ok()?;
                if !settled(m) {
                    return None;
                }
                dirs.push((e.file_name(), m));
            }
        }
        dirs.sort();
        for (name, m) in &dirs {
            sig.add(&(name, m));
        }
        let mut entries = read_registry(&self.root);
        entries.sort_by_key(|e| e.pid);
        let mut live = Vec::new();
        for e in entries {
            sig.add(&(e.pid, &e.session_id));
            let Some(id) = e.session_id.filter(|id| crate::is_uuid_name(id)) else {
                continue;
            };
            // No transcript yet: making it will move its folder's mtime.
            let Some(file) = transcript_of(&projects, &dirs, e.cwd.as_deref(), &id) else {
                continue;
            };
            if live.iter().any(|(_, f): &(_, SessionFile)| f.path == file) {
                continue;
            }
            let Some(f) = session_file(&id, file) else {
                continue;
            };
            let mut subs = Vec::new();
            crate::ClaudeDir::subagents_of(&id, &f.sidecar_dir(), &mut subs);
            subs.sort_by(|a, b| a.1.path.cmp(&b.1.path));
            live.push((None, f));
            live.extend(subs.into_iter().map(|(p, f)| (Some(p), f)));
        }
        Some(Quiet {
            layout: sig.finish(),
            live,
        })
    }
}

/// A transcript's size and mtime, as a walk finds them.
fn session_file(id: &str, path: PathBuf) -> Option<SessionFile> {
    let m = std::fs::metadata(&path).ok()?;
    Some(SessionFile {
        id: id.to_owned(),
        mtime_ms: crate::mtime_ms(&m),
        size: m.len(),
        path,
    })
}

/// A running session's transcript: in the folder its launch folder names, else
/// in any project folder (a session resumed from another folder).
fn transcript_of(
    projects: &Path,
    dirs: &[(std::ffi::OsString, SystemTime)],
    cwd: Option<&str>,
    id: &str,
) -> Option<PathBuf> {
    let name = format!("{id}.jsonl");
    let want = cwd.map(encode_project_dir);
    let named = |dir: &str| match &want {
        Some(w) if w.len() <= 200 => dir == w,
        Some(w) => dir.starts_with(&w[..200]),
        None => false,
    };
    let (first, rest): (Vec<_>, Vec<_>) =
        dirs.iter().partition(|(d, _)| named(&d.to_string_lossy()));
    first
        .into_iter()
        .chain(rest)
        .map(|(d, _)| projects.join(d).join(&name))
        .find(|p| p.is_file())
}

/// An order-dependent 128-bit hash (two SipHashes with fixed keys).
#[derive(Default)]
struct Signature(
    std::collections::hash_map::DefaultHasher,
    std::collections::hash_map::DefaultHasher,
);

impl Signature {
    fn add<T: std::hash::Hash>(&mut self, v: &T) {
        (1u8, v).hash(&mut self.0);
        (2u8, v).hash(&mut self.1);
    }

    fn finish(&self) -> String {
        format!("{:016x}{:016x}", self.0.finish(), self.1.finish())
    }
}
