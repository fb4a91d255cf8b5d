//! Relocation: a project folder was moved or renamed; point its sessions at the new
//! place everywhere the CLI records the path, with a backup that `undo` restores
//! byte for byte.
//!
//! What changes for `OLD -> NEW`:
//! - `projects/<encoded OLD>/` moves to `projects/<encoded NEW>/` (merged if it
//!   exists; a file of the same name there refuses the move);
//! - every transcript in it (sidecars too): `"cwd":"OLD…"` becomes `"cwd":"NEW…"`;
//! - the config's per-project entry (`.claude.json` `projects["OLD"]`);
//! - prompt history lines (`history.jsonl`, `"project":"OLD"`);
//! - running-session registry entries (`sessions/<pid>.json`) whose process is gone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::portable::rewrite_cwd;
use crate::{encode_project_dir, write_atomic, ClaudeDir, Error, Result};

/// What a move did, or would do (`dry_run`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveReport {
    pub from_dir: PathBuf,
    pub to_dir: PathBuf,
    /// Files moved, relative to the project dir.
    pub moved: Vec<String>,
    /// Files whose recorded path was rewritten, with how many values changed.
    pub rewritten: Vec<(PathBuf, usize)>,
    pub backup: Option<PathBuf>,
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct BackupManifest {
    old: String,
    new: String,
    from_dir: PathBuf,
    to_dir: PathBuf,
    moved: Vec<String>,
    /// Other files changed: (original path, file name in the backup).
    files: Vec<(PathBuf, String)>,
    /// Whether the target project dir existed before the move.
    to_dir_existed: bool,
    /// sha256 of each moved file as the move wrote it: undo refuses if one changed.
    #[serde(default)]
    written: Vec<String>,
    /// Symbolic links in the project dir (relative path, target): moved as links.
    #[serde(default)]
    links: Vec<(String, PathBuf)>,
    /// `false` until every file is in place: a move killed midway is rolled back
    /// from this backup (by `--undo`, or first thing by the next move).
    #[serde(default = "yes")]
    complete: bool,
}

fn yes() -> bool {
    true
}

/// Holds the lock of `backups` (one move or undo at a time) while alive.
struct MoveLock(std::fs::File);

impl MoveLock {
    fn take(backups: &Path) -> Result<Self> {
        std::fs::create_dir_all(backups).map_err(io(backups))?;
        let p = backups.join("move.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(io(&p))?;
        match f.try_lock() {
            Ok(()) => Ok(Self(f)),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(
                "another projects move (or undo) is running: try again when it is done".into(),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(io(&p)(e)),
        }
    }
}

impl Drop for MoveLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> Result<()> {
    walk_links(dir, base, out, &mut Vec::new())
}

/// Files below `dir` (relative to `base`), and symbolic links apart: a link is
/// moved as a link, never followed (an undo must give back a link, not a copy).
fn walk_links(
    dir: &Path,
    base: &Path,
    out: &mut Vec<String>,
    links: &mut Vec<(String, PathBuf)>,
) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let p = e.path();
        let Ok(rel) = p
            .strip_prefix(base)
            .map(|r| r.to_string_lossy().into_owned())
        else {
            continue;
        };
        let kind = e.file_type().map_err(io(&p))?;
        if kind.is_symlink() {
            links.push((rel, std::fs::read_link(&p).map_err(io(&p))?));
        } else if kind.is_dir() {
            walk_links(&p, base, out, links)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

fn make_link(target: &Path, at: &Path) -> Result<()> {
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    if std::fs::symlink_metadata(at).is_ok() {
        std::fs::remove_file(at).map_err(io(at))?;
    }
    std::os::unix::fs::symlink(target, at).map_err(io(at))
}

fn norm(p: &Path) -> String {
    let s = p.to_string_lossy().into_owned();
    if s.len() > 1 {
        s.trim_end_matches('/').to_owned()
    } else {
        s
    }
}

fn pid_alive(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl ClaudeDir {
    /// The CLI's global config file for this config dir.
    pub fn global_config(&self) -> PathBuf {
        let inside = self.root.join(".claude.json");
        if inside.exists() {
            return inside;
        }
        match (self.root.file_name(), self.root.parent()) {
            (Some(n), Some(parent)) if n == ".claude" => parent.join(".claude.json"),
            _ => inside,
        }
    }

    /// Moves the sessions of project `old` to `new` (see the module docs).
    pub fn move_project(
        &self,
        old: &Path,
        new: &Path,
        dry_run: bool,
        backups: &Path,
    ) -> Result<MoveReport> {
        self.check()?;
        if !old.is_absolute() || !new.is_absolute() {
            return Err(Error::Invalid("both paths must be absolute".into()));
        }
        let _lock = if dry_run {
            None
        } else {
            let lock = MoveLock::take(backups)?;
            // A move killed midway is rolled back first, from its backup.
            self.roll_back_incomplete(backups)?;
            Some(lock)
        };
        let old_s = norm(old);
        let new_s = norm(&new.canonicalize().unwrap_or_else(|_| new.to_path_buf()));
        if old_s == new_s {
            return Err(Error::Invalid(
                "the old and the new path are the same".into(),
            ));
        }
        let from_dir = self.projects_dir().join(encode_project_dir(&old_s));
        if !from_dir.is_dir() {
            return Err(Error::Invalid(format!(
                "no sessions are recorded for {old_s} (no {})",
                from_dir.display()
            )));
        }
        let to_dir = self.projects_dir().join(encode_project_dir(&new_s));
        let mut moved = Vec::new();
        let mut links = Vec::new();
        walk_links(&from_dir, &from_dir, &mut moved, &mut links)?;
        moved.sort();
        links.sort();
        for rel in &moved {
            if to_dir.join(rel).exists() {
                return Err(Error::Invalid(format!(
                    "{} already exists: refusing to overwrite it",
                    to_dir.join(rel).display()
                )));
            }
        }
        let mut report = MoveReport {
            from_dir: from_dir.clone(),
            to_dir: to_dir.clone(),
            moved: moved.clone(),
            dry_run,
            ..Default::default()
        };
        // New contents of the moved transcripts.
        let mut project_writes: Vec<(String, Vec<u8>)> = Vec::new();
        for rel in &moved {
            let src = from_dir.join(rel);
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            let bytes = if rel.ends_with(".jsonl") {
                match String::from_utf8(bytes) {
                    Ok(text) => {
                        let (out, n) = rewrite_cwd(&text, &old_s, &new_s);
                        if n > 0 {
                            report.rewritten.push((to_dir.join(rel), n));
                        }
                        out.into_bytes()
                    }
                    Err(e) => e.into_bytes(),
                }
            } else {
                bytes
            };
            project_writes.push((rel.clone(), bytes));
        }
        // Other files the CLI keeps the path in.
        let mut other: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let cfg = self.global_config();
        if let Ok(text) = std::fs::read_to_string(&cfg) {
            if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(projects) = v.get_mut("projects").and_then(|p| p.as_object_mut()) {
                    if let Some(entry) = projects.shift_remove(&old_s) {
                        projects.insert(new_s.clone(), entry);
                        let out = serde_json::to_vec_pretty(&v).unwrap_or_default();
                        report.rewritten.push((cfg.clone(), 1));
                        other.push((cfg.clone(), out));
                    }
                }
            }
        }
        let history = self.root.join("history.jsonl");
        if let Ok(text) = std::fs::read_to_string(&history) {
            let body = |s: &str| serde_json::to_string(s).unwrap_or_default();
            let (from, to) = (
                format!("\"project\":{}", body(&old_s)),
                format!("\"project\":{}", body(&new_s)),
            );
            let n = text.matches(&from).count();
            if n > 0 {
                report.rewritten.push((history.clone(), n));
                other.push((history.clone(), text.replace(&from, &to).into_bytes()));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.root.join("sessions")) {
            for e in rd.flatten() {
                let p = e.path();
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                let stale = v["pid"].as_i64().is_none_or(|pid| !pid_alive(pid));
                if stale && v["cwd"].as_str() == Some(old_s.as_str()) {
                    v["cwd"] = serde_json::Value::String(new_s.clone());
                    report.rewritten.push((p.clone(), 1));
                    other.push((p, serde_json::to_vec(&v).unwrap_or_default()));
                }
            }
        }
        if dry_run {
            return Ok(report);
        }
        // Back up everything that changes, then write.
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let bdir = backups.join(format!("move-{stamp}"));
        let bproject = bdir.join("project");
        for rel in &moved {
            let dest = bproject.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::copy(from_dir.join(rel), &dest).map_err(io(&dest))?;
        }
        let mut files = Vec::new();
        for (i, (p, _)) in other.iter().enumerate() {
            let name = format!("file-{i}");
            std::fs::create_dir_all(&bdir).map_err(io(&bdir))?;
            std::fs::copy(p, bdir.join(&name)).map_err(io(p))?;
            files.push((p.clone(), name));
        }
        let manifest = BackupManifest {
            old: old_s.clone(),
            new: new_s.clone(),
            from_dir: from_dir.clone(),
            to_dir: to_dir.clone(),
            moved: moved.clone(),
            files,
            to_dir_existed: to_dir.exists(),
            written: project_writes
                .iter()
                .map(|(_, b)| crate::portable::sha256_hex(b))
                .collect(),
            links: links.clone(),
            complete: false,
        };
        // The backup is the journal: written (incomplete) before anything changes,
        // marked complete after the last change.
        let journal = |m: &BackupManifest| {
            write_atomic(
                &bdir.join("backup.json"),
                &serde_json::to_vec_pretty(m).unwrap_or_default(),
            )
        };
        journal(&manifest)?;
        for (rel, bytes) in &project_writes {
            write_atomic(&to_dir.join(rel), bytes)?;
        }
        for (rel, target) in &links {
            make_link(target, &to_dir.join(rel))?;
        }
        for (p, bytes) in &other {
            write_atomic(p, bytes)?;
        }
        std::fs::remove_dir_all(&from_dir).map_err(io(&from_dir))?;
        journal(&BackupManifest {
            complete: true,
            ..manifest
        })?;
        report.backup = Some(bdir);
        Ok(report)
    }

    /// Rolls back the newest move if it never completed (a kill midway): its
    /// project files, links and other files come back from the backup, what it had
    /// written at the new place goes. Returns whether there was one.
    fn roll_back_incomplete(&self, backups: &Path) -> Result<bool> {
        let Some((bdir, m)) = newest_backup(backups)? else {
            return Ok(false);
        };
        if m.complete {
            return Ok(false);
        }
        self.restore_backup(&bdir, &m)?;
        Ok(true)
    }

    /// Puts back what a backup holds and removes what the move wrote; the backup
    /// is then marked undone.
    fn restore_backup(&self, bdir: &Path, m: &BackupManifest) -> Result<PathBuf> {
        for rel in &m.moved {
            let src = bdir.join("project").join(rel);
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            write_atomic(&m.from_dir.join(rel), &bytes)?;
            if m.to_dir != m.from_dir {
                let _ = std::fs::remove_file(m.to_dir.join(rel));
            }
        }
        for (rel, target) in &m.links {
            make_link(target, &m.from_dir.join(rel))?;
            let _ = std::fs::remove_file(m.to_dir.join(rel));
        }
        for (orig, name) in &m.files {
            let bytes = std::fs::read(bdir.join(name)).map_err(io(bdir))?;
            write_atomic(orig, &bytes)?;
        }
        if !m.to_dir_existed {
            let _ = std::fs::remove_dir_all(&m.to_dir);
        } else {
            remove_empty_dirs(&m.to_dir);
        }
        let undone = bdir.with_file_name(format!(
            "undone-{}",
            bdir.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        std::fs::rename(bdir, &undone).map_err(io(bdir))?;
        Ok(undone)
    }

    /// Undoes the newest move recorded in `backups`: the project dir, its files and
    /// every other file come back exactly as they were.
    pub fn undo_move(&self, backups: &Path) -> Result<MoveReport> {
        let _lock = MoveLock::take(backups)?;
        let Some((bdir, m)) = newest_backup(backups)? else {
            return Err(Error::Invalid(format!(
                "no moves to undo in {}",
                backups.display()
            )));
        };
        if m.complete {
            // Work done since the move (a resumed session appended to) would be lost.
            for (rel, sum) in m.moved.iter().zip(&m.written) {
                let now = std::fs::read(m.to_dir.join(rel)).unwrap_or_default();
                if crate::portable::sha256_hex(&now) != *sum {
                    return Err(Error::Invalid(format!(
                        "{} changed since the move; undoing would lose that: refused",
                        m.to_dir.join(rel).display()
                    )));
                }
            }
            let mut now = Vec::new();
            if m.to_dir.is_dir() {
                walk(&m.to_dir, &m.to_dir, &mut now)?;
            }
            if let Some(extra) = now
                .iter()
                .find(|f| !m.moved.contains(f))
                .filter(|_| !m.to_dir_existed)
            {
                return Err(Error::Invalid(format!(
                    "{} was created since the move; undoing would delete it: refused",
                    m.to_dir.join(extra).display()
                )));
            }
            if m.from_dir.exists() {
                return Err(Error::Invalid(format!(
                    "{} exists again; refusing to overwrite it",
                    m.from_dir.display()
                )));
            }
        }
        // A move killed midway is rolled back whatever state it reached.
        let undone = self.restore_backup(&bdir, &m)?;
        Ok(MoveReport {
            from_dir: m.to_dir,
            to_dir: m.from_dir,
            moved: m.moved,
            rewritten: Vec::new(),
            backup: Some(undone),
            dry_run: false,
        })
    }

    /// Projects whose recorded path no longer exists, each with candidate new places:
    /// folders of the same name near the old place or under the home dir.
    pub fn doctor(&self) -> Result<Vec<(String, Vec<PathBuf>)>> {
        let mut out = Vec::new();
        for p in self.projects()? {
            let Some(path) = p.path else { continue };
            let pb = PathBuf::from(&path);
            if pb.exists() {
                continue;
            }
            let name = pb.file_name().map(|n| n.to_os_string());
            let mut roots: Vec<PathBuf> = pb
                .ancestors()
                .skip(1)
                .find(|a| a.is_dir())
                .map(|a| vec![a.to_path_buf()])
                .unwrap_or_default();
            if let Some(h) = std::env::var_os("HOME") {
                roots.push(PathBuf::from(h));
            }
            let mut found = Vec::new();
            if let Some(name) = name {
                for r in roots {
                    find_named(&r, &name, 3, &mut found);
                }
            }
            found.sort();
            found.dedup();
            out.push((path, found));
        }
        Ok(out)
    }
}

fn find_named(dir: &Path, name: &std::ffi::OsStr, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let p = e.path();
        if e.file_name() == name {
            out.push(p.clone());
        }
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if depth > 1 && !hidden && out.len() < 20 {
            find_named(&p, name, depth - 1, out);
        }
    }
}

/// The newest move recorded in `backups` (not undone), with its manifest.
fn newest_backup(backups: &Path) -> Result<Option<(PathBuf, BackupManifest)>> {
    let Ok(rd) = std::fs::read_dir(backups) else {
        return Ok(None);
    };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("move-"))
                && p.join("backup.json").is_file()
        })
        .collect();
    dirs.sort();
    let Some(bdir) = dirs.pop() else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(bdir.join("backup.json")).map_err(io(&bdir))?;
    let m: BackupManifest =
        serde_json::from_str(&text).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(Some((bdir, m)))
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
