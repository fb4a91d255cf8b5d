//! The child's process group and everything it started.
//!
//! The CLI is spawned as the leader of a new process group. Its Bash tool runs
//! commands under `setsid` (a new session and group), and tools like `timeout` make
//! groups of their own, so signalling the CLI's group does not reach them. Every
//! process ccsm starts therefore carries `CCSM_RUN_ID=<uuid>` in its environment,
//! which its descendants inherit; the final sweep kills exactly those processes, by
//! pid, plus a snapshot of the CLI's descendants for tools that scrub their
//! environment. Nothing is ever killed by name.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The environment variable that marks every process of one ccsm run.
pub const RUN_ID_ENV: &str = "CCSM_RUN_ID";

#[derive(Debug)]
pub(crate) struct ProcessGuard {
    pub pid: u32,
    pub run_id: String,
}

impl ProcessGuard {
    pub fn signal_group(&self, sig: Signal) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = killpg(Pid::from_raw(pid), sig);
        }
    }

    /// SIGKILL to the group, to `extra` pids, and to every process carrying this run's
    /// marker.
    pub fn kill_everything(&self, extra: &[u32]) {
        self.signal_group(Signal::SIGKILL);
        self.sweep(extra);
    }

    /// SIGKILL to `extra` pids and to every process carrying this run's marker (safe
    /// after the leader was reaped: the marker cannot belong to anyone else).
    pub fn sweep(&self, extra: &[u32]) {
        let mut pids: Vec<u32> = extra.to_vec();
        pids.extend(marked_processes(&self.run_id));
        for pid in pids {
            if pid == std::process::id() {
                continue;
            }
            if let Ok(p) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
    }
}

fn proc_stat(pid: &str) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

fn all_pids() -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default()
}

/// Live descendants of `root` (children, their children, ...), from `/proc`.
pub fn descendants(root: u32) -> Vec<u32> {
    let table: Vec<(u32, u32)> = all_pids()
        .iter()
        .filter_map(|p| {
            let (state, ppid) = proc_stat(p)?;
            (state != 'Z').then_some((p.parse().ok()?, ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &table {
            if ppid == parent && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// Live processes whose environment holds `CCSM_RUN_ID=<run_id>`.
pub fn marked_processes(run_id: &str) -> Vec<u32> {
    let needle = format!("{RUN_ID_ENV}={run_id}");
    all_pids()
        .into_iter()
        .filter(|p| proc_stat(p).is_some_and(|(s, _)| s != 'Z'))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .filter_map(|p| p.parse().ok())
        .collect()
}
