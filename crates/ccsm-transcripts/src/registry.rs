//! Claude Code's registry of running processes: `<config>/sessions/<pid>.json`.
//!
//! Every running CLI (terminal REPL, `claude -p`, stream-json hosts, background
//! workers) writes one while it lives and removes it when it exits cleanly. A
//! `kill -9` leaves it behind, so an entry says only "this pid ran this session
//! once": whether it still does is for the caller to check (the pid alive and its
//! start time equal to `procStart`). The file is rewritten in place, not renamed,
//! so a reader may see it torn; like the CLI, read again once on a parse error.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One registry file, as far as ccsm reads it (the CLI writes more; more may come).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub pid: u32,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// ms since the epoch.
    #[serde(default)]
    pub started_at: Option<i64>,
    /// Field 22 of `/proc/<pid>/stat` when the CLI started, as a string.
    #[serde(default)]
    pub proc_start: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// `interactive` (REPL, `-p`, SDK) or `bg` (a background worker).
    #[serde(default)]
    pub kind: Option<String>,
    /// `cli` (REPL, background worker) or `sdk-cli` (`-p`, stream-json).
    #[serde(default)]
    pub entrypoint: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `busy`, `shell`, `idle` or `waiting`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub waiting_for: Option<String>,
    /// A background worker's short id.
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// The registry folder of a config dir.
pub fn registry_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("sessions")
}

/// Reads one registry file: `None` when it is gone, not a registry file, or still
/// torn after a second read.
pub fn read_entry(path: &Path) -> Option<RegistryEntry> {
    for _ in 0..2 {
        let bytes = std::fs::read(path).ok()?;
        if let Ok(e) = serde_json::from_slice::<RegistryEntry>(&bytes) {
            return Some(e);
        }
    }
    None
}

/// The pid a registry file is named after (`<pid>.json`); the `.key` files beside
/// them and anything else are not entries.
pub fn entry_pid(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let pid = name.strip_suffix(".json")?;
    pid.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| pid.parse().ok())
        .flatten()
}

/// Every readable entry of a config dir's registry, live or stale; an entry whose
/// `pid` disagrees with its file name is dropped (not the CLI's).
pub fn read_registry(config_dir: &Path) -> Vec<RegistryEntry> {
    let Ok(dir) = std::fs::read_dir(registry_dir(config_dir)) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let path = e.path();
            let pid = entry_pid(&path)?;
            read_entry(&path).filter(|entry| entry.pid == pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn torn_foreign_and_mismatched_files_are_not_entries() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry_dir(dir.path());
        std::fs::create_dir_all(&reg).unwrap();
        std::fs::write(
            reg.join("12.json"),
            r#"{"pid":12,"sessionId":"a","status":"busy","newField":[1]}"#,
        )
        .unwrap();
        std::fs::write(reg.join("13.json"), r#"{"pid":13,"sessi"#).unwrap();
        std::fs::write(reg.join("14.json"), r#"{"pid":99}"#).unwrap();
        std::fs::write(reg.join("12.abcdef.key"), r#"{"peerToken":"x"}"#).unwrap();
        std::fs::write(reg.join("notes.json"), r#"{"pid":1}"#).unwrap();
        let entries = read_registry(dir.path());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].session_id.as_deref(), Some("a"));
        assert_eq!(entries[0].status.as_deref(), Some("busy"));
    }
}
