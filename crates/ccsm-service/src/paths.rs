//! The one path validator: every route and command that takes a folder to run a
//! session in, move one to, or write one into goes through [`Service::check_path`]
//! (a report) or [`Service::usable_folder`] (a refusal with the reason).
//!
//! Refused: system locations (`/`, `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, `/usr`
//! and the like, the user's `~/.ssh`, and the Windows and macOS counterparts), a
//! `..` in the path, a symlink that leads out of the allowed roots (the config's
//! `roots`, when set) or into a system location, control characters, a relative
//! path. Reported besides: exists, folder, read/write/execute access, the git
//! repository it is in (branch, dirty), free disk space with a low-space warning.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::Service;

/// Below this much free space a folder gets a warning.
pub const LOW_SPACE_BYTES: u64 = 1 << 30;

/// What the validator found about one path.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathCheck {
    /// As given.
    pub path: String,
    /// With links resolved, when it exists.
    pub resolved: Option<String>,
    /// A session may run here: no problem found, and an existing folder it can
    /// read, write and enter.
    pub valid: bool,
    pub exists: bool,
    pub is_dir: bool,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
    /// A system location (or under one): refused by every route that acts on it.
    pub restricted: bool,
    pub problems: Vec<PathProblem>,
    pub warnings: Vec<String>,
    pub git: Option<GitState>,
    pub disk: Option<DiskSpace>,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathProblem {
    /// `empty`, `invalidCharacters`, `relative`, `traversal`, `restricted`,
    /// `symlinkEscape`, `outsideRoots`, `notFound`, `notDirectory`, `notReadable`,
    /// `notWritable`, `notExecutable`.
    pub kind: &'static str,
    pub message: String,
}

/// The git repository a folder is in.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitState {
    pub root: String,
    /// None on a detached HEAD.
    pub branch: Option<String>,
    /// Uncommitted changes (none when `git` could not tell).
    pub dirty: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskSpace {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub low: bool,
}

/// System locations: refused themselves and everything under them (`/` only
/// itself).
const RESTRICTED_UNDER: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/run",
    "/var/lib",
    "/var/log",
    "/root/.ssh",
    // macOS
    "/System",
    "/Library",
    "/private/etc",
    "/private/var/db",
    "/Applications",
    // Windows, as their paths read
    "C:\\Windows",
    "C:\\Program Files",
    "C:\\Program Files (x86)",
    "C:\\ProgramData",
];

/// Folders of the user's home that hold secrets.
const RESTRICTED_IN_HOME: &[&str] = &[".ssh", ".gnupg", ".aws", ".kube", ".config/gcloud"];

fn problem(kind: &'static str, message: impl Into<String>) -> PathProblem {
    PathProblem {
        kind,
        message: message.into(),
    }
}

fn is_restricted(p: &Path, home: Option<&Path>) -> bool {
    if p == Path::new("/") || p.parent().is_none() {
        return true;
    }
    let text = p.to_string_lossy();
    let win = text.contains('\\');
    RESTRICTED_UNDER.iter().any(|r| {
        if win || r.contains('\\') {
            let (t, r) = (text.to_ascii_lowercase(), r.to_ascii_lowercase());
            t == r || t.starts_with(&format!("{r}\\"))
        } else {
            p.starts_with(r)
        }
    }) || home.is_some_and(|h| RESTRICTED_IN_HOME.iter().any(|s| p.starts_with(h.join(s))))
}

fn access(p: &Path, mode: nix::unistd::AccessFlags) -> bool {
    nix::unistd::access(p, mode).is_ok()
}

impl Service {
    /// The folders sessions may be in (`roots` of the config file; empty: any
    /// folder that is not a system location).
    pub fn allowed_roots(&self) -> Vec<PathBuf> {
        self.config()
            .roots
            .iter()
            .map(|r| r.canonicalize().unwrap_or_else(|_| r.clone()))
            .collect()
    }

    /// Everything the validator finds about `path`; `git` asks for the
    /// repository's state (which runs `git status`).
    pub fn check_path(&self, path: &str, git: bool) -> PathCheck {
        let home = crate::config::env("HOME").map(PathBuf::from);
        let mut c = PathCheck {
            path: path.to_owned(),
            resolved: None,
            valid: false,
            exists: false,
            is_dir: false,
            readable: false,
            writable: false,
            executable: false,
            restricted: false,
            problems: Vec::new(),
            warnings: Vec::new(),
            git: None,
            disk: None,
        };
        if path.is_empty() {
            c.problems.push(problem("empty", "the path is empty"));
            return c;
        }
        if path.chars().any(char::is_control) {
            c.problems.push(problem(
                "invalidCharacters",
                "the path has control characters (a NUL, a newline, an escape...)",
            ));
            return c;
        }
        let p = Path::new(path);
        if !p.is_absolute() {
            c.problems.push(problem(
                "relative",
                format!("{path:?} is not an absolute path"),
            ));
            return c;
        }
        if p.components().any(|x| x == Component::ParentDir) {
            c.problems.push(problem(
                "traversal",
                format!("{path:?} has a `..`: give the folder itself"),
            ));
        }
        if is_restricted(p, home.as_deref()) {
            c.restricted = true;
            c.problems.push(problem(
                "restricted",
                format!("{path} is a system location (or in one); sessions are not run or written there"),
            ));
        }
        let roots = self.allowed_roots();
        let under_roots = |q: &Path| roots.is_empty() || roots.iter().any(|r| q.starts_with(r));
        if let Ok(real) = p.canonicalize() {
            c.exists = true;
            c.resolved = Some(real.display().to_string());
            let linked = real != p;
            if is_restricted(&real, home.as_deref()) && !c.restricted {
                c.restricted = true;
                c.problems.push(problem(
                    "symlinkEscape",
                    format!("{path} leads to {} (a system location)", real.display()),
                ));
            } else if !under_roots(&real) {
                let kind = if linked && under_roots(p) {
                    "symlinkEscape"
                } else {
                    "outsideRoots"
                };
                c.problems.push(problem(
                    kind,
                    format!(
                        "{} is outside the allowed roots ({})",
                        real.display(),
                        roots
                            .iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            use nix::unistd::AccessFlags as A;
            c.is_dir = real.is_dir();
            c.readable = access(&real, A::R_OK);
            c.writable = access(&real, A::W_OK);
            c.executable = access(&real, A::X_OK);
            if !c.is_dir {
                c.problems
                    .push(problem("notDirectory", format!("{path} is not a folder")));
            }
            for (ok, kind, what) in [
                (c.readable, "notReadable", "read"),
                (c.writable, "notWritable", "written"),
                (c.executable, "notExecutable", "entered"),
            ] {
                if !ok {
                    c.problems
                        .push(problem(kind, format!("{path} cannot be {what} by ccsm")));
                }
            }
            c.disk = disk_space(&real);
            if let Some(d) = c.disk.as_ref().filter(|d| d.low) {
                c.warnings
                    .push(format!("low disk space: {} MiB free", d.free_bytes >> 20));
            }
            if git && c.is_dir && !c.restricted {
                c.git = git_state(&real);
            }
        } else {
            if !under_roots(p) {
                c.problems.push(problem(
                    "outsideRoots",
                    format!("{path} is outside the allowed roots"),
                ));
            }
            c.problems
                .push(problem("notFound", format!("{path} does not exist")));
        }
        c.valid = c.problems.is_empty();
        c
    }

    /// `path` as a folder a session may run in or be written to, or the first
    /// reason it may not. `create` makes a missing folder (when its parent passes).
    pub fn usable_folder(&self, path: &Path, create: bool, what: &str) -> Result<PathBuf> {
        self.usable_folder_with(path, create, what, true)
    }

    /// [`Self::usable_folder`]; without `access`, read/write/enter rights are
    /// reported, not refused (the safety rules always apply).
    pub fn usable_folder_with(
        &self,
        path: &Path,
        create: bool,
        what: &str,
        access: bool,
    ) -> Result<PathBuf> {
        let text = path.to_string_lossy();
        let mut c = self.check_path(&text, false);
        if !access {
            c.problems
                .retain(|p| !matches!(p.kind, "notReadable" | "notWritable" | "notExecutable"));
            c.valid = c.problems.is_empty();
        }
        if c.valid {
            return Ok(PathBuf::from(
                c.resolved.unwrap_or_else(|| text.into_owned()),
            ));
        }
        let only_missing = c.problems.iter().all(|p| p.kind == "notFound");
        if create && only_missing {
            if let Some(parent) = path.parent() {
                self.usable_folder_with(parent, true, what, access)?;
            }
            std::fs::create_dir(path)
                .or_else(|e| if path.is_dir() { Ok(()) } else { Err(e) })
                .map_err(|e| Error::invalid(format!("creating {what} {text}: {e}")))?;
            return self.usable_folder_with(path, false, what, access);
        }
        let first = c.problems.first().map_or("", |p| p.message.as_str());
        if only_missing {
            return Err(Error::not_found(format!("{what}: {first}")));
        }
        Err(Error::invalid(format!("{what}: {first}")))
    }
}

fn disk_space(p: &Path) -> Option<DiskSpace> {
    let s = nix::sys::statvfs::statvfs(p).ok()?;
    let unit = s.fragment_size() as u64;
    let free = (s.blocks_available() as u64).saturating_mul(unit);
    let total = (s.blocks() as u64).saturating_mul(unit);
    Some(DiskSpace {
        free_bytes: free,
        total_bytes: total,
        low: free < LOW_SPACE_BYTES,
    })
}

/// The repository `dir` is in: its root and branch from `.git`, dirtiness from
/// `git status` (bounded in time; unknown without git).
fn git_state(dir: &Path) -> Option<GitState> {
    let root = dir.ancestors().find(|d| d.join(".git").exists())?;
    let git = root.join(".git");
    let git_dir = if git.is_file() {
        // A worktree or submodule: `gitdir: <path>`.
        let text = std::fs::read_to_string(&git).ok()?;
        let rel = text.trim().strip_prefix("gitdir:")?.trim().to_owned();
        root.join(rel)
    } else {
        git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).unwrap_or_default();
    let branch = head
        .trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned);
    Some(GitState {
        root: root.display().to_string(),
        branch,
        dirty: git_dirty(dir),
    })
}

fn git_dirty(dir: &Path) -> Option<bool> {
    let mut child = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=normal"])
        .current_dir(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let out = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut { out }, &mut s)
            .ok()
            .map(|_| s)
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    }?;
    let out = reader.join().ok()??;
    status.success().then_some(!out.is_empty())
}
