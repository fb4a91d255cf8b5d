//! The CLI's registry of running processes, kept in memory and updated from
//! file-system events (a file written: read again; removed: forgotten), so the
//! process table never reads every registry file again. A folder that cannot be
//! watched (not there yet) is read whole on each look until it can be.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ccsm_service::live::{entry_pid, read_entry, read_registry, registry_dir, RegistryEntry};
use notify::{EventKind, RecursiveMode, Watcher as _};

type Entries = HashMap<PathBuf, (PathBuf, RegistryEntry)>;

/// The registries of the config dirs in use.
pub(crate) struct RegistryWatch {
    entries: Arc<Mutex<Entries>>,
    /// Config dir → whether its registry folder is watched.
    dirs: Mutex<HashMap<PathBuf, bool>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl std::fmt::Debug for RegistryWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryWatch").finish_non_exhaustive()
    }
}

fn apply(entries: &Mutex<Entries>, config_dir: &Path, file: &Path) {
    if entry_pid(file).is_none() {
        return;
    }
    let Ok(mut map) = entries.lock() else { return };
    match read_entry(file) {
        Some(e) if Some(e.pid) == entry_pid(file) => {
            map.insert(file.to_path_buf(), (config_dir.to_path_buf(), e));
        }
        // Gone: forget it. Torn (still being written): keep what was read, the
        // write's next event brings the rest.
        _ if !file.exists() => {
            map.remove(file);
        }
        _ => {}
    }
}

impl RegistryWatch {
    pub fn new() -> Self {
        let entries: Arc<Mutex<Entries>> = Arc::default();
        let cb_entries = entries.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            for path in &event.paths {
                let config_dir = path
                    .parent()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                apply(&cb_entries, &config_dir, path);
            }
        })
        .ok();
        Self {
            entries,
            dirs: Mutex::new(HashMap::new()),
            watcher: Mutex::new(watcher),
        }
    }

    /// Makes sure `dirs` are followed: a new one is watched and read once.
    pub fn follow(&self, dirs: &[PathBuf]) {
        let Ok(mut known) = self.dirs.lock() else {
            return;
        };
        for dir in dirs {
            if known.get(dir).copied() == Some(true) {
                continue;
            }
            let reg = registry_dir(dir);
            let watched = self
                .watcher
                .lock()
                .ok()
                .and_then(|mut w| {
                    w.as_mut()
                        .map(|w| w.watch(&reg, RecursiveMode::NonRecursive).is_ok())
                })
                .unwrap_or(false);
            // Read after the watch starts: nothing written in between is missed.
            if let Ok(mut map) = self.entries.lock() {
                map.retain(|_, (d, _)| d != dir);
                for e in read_registry(dir) {
                    map.insert(reg.join(format!("{}.json", e.pid)), (dir.clone(), e));
                }
            }
            known.insert(dir.clone(), watched);
        }
    }

    /// Every entry known now (live or stale: the caller checks `/proc`).
    pub fn entries(&self) -> Vec<(PathBuf, RegistryEntry)> {
        self.entries
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_follow_writes_and_removals_without_rereading_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().to_path_buf();
        let reg = registry_dir(&config);
        std::fs::create_dir_all(&reg).unwrap();
        std::fs::write(reg.join("10.json"), r#"{"pid":10,"status":"idle"}"#).unwrap();
        let w = RegistryWatch::new();
        w.follow(std::slice::from_ref(&config));
        assert_eq!(w.entries().len(), 1, "read once when followed");
        std::fs::write(reg.join("11.json"), r#"{"pid":11,"status":"busy"}"#).unwrap();
        std::fs::write(reg.join("10.json"), r#"{"pid":10,"status":"waiting"}"#).unwrap();
        let status = |w: &RegistryWatch, pid: u32| {
            w.entries()
                .into_iter()
                .find(|(_, e)| e.pid == pid)
                .and_then(|(_, e)| e.status)
        };
        ccsm_testkit::wait_for("the writes are seen", Duration::from_secs(10), || {
            (status(&w, 11).as_deref() == Some("busy")
                && status(&w, 10).as_deref() == Some("waiting"))
            .then_some(())
        });
        std::fs::remove_file(reg.join("10.json")).unwrap();
        ccsm_testkit::wait_for("the removal is seen", Duration::from_secs(10), || {
            status(&w, 10).is_none().then_some(())
        });
        assert_eq!(w.entries().len(), 1);
    }
}
