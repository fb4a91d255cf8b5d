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
    marked_where(&format!("{RUN_ID_ENV}={run_id}"), true)
}

/// Live processes whose run marker starts with `prefix` (every process of a
/// supervisor's run, whose restarts are marked `<run>.<n>`).
pub fn marked_with_prefix(prefix: &str) -> Vec<u32> {
    marked_where(&format!("{RUN_ID_ENV}={prefix}"), false)
}

fn marked_where(needle: &str, exact: bool) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|p| proc_stat(p).is_some_and(|(s, _)| s != 'Z'))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ"))
                .map(|env| {
                    env.split(|b| *b == 0).any(|kv| {
                        if exact {
                            kv == needle.as_bytes()
                        } else {
                            kv.starts_with(needle.as_bytes())
                        }
                    })
                })
                .unwrap_or(false)
        })
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    pub state: char,
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks: with the pid, names one process
    /// for good (Claude Code's registry records it as `procStart`).
    pub start_ticks: u64,
}

fn parse_stat(pid: u32, stat: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may hold spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields counted from 3 (state) in proc(5): state=3, ppid=4, utime=14,
    // stime=15, starttime=22.
    let field = |n: usize| f.get(n - 3).copied();
    Some(ProcStat {
        pid,
        state: field(3)?.chars().next()?,
        ppid: field(4)?.parse().ok()?,
        cpu_ticks: field(14)?.parse::<u64>().ok()? + field(15)?.parse::<u64>().ok()?,
        start_ticks: field(22)?.parse().ok()?,
    })
}

/// `/proc/<pid>/stat` of one process, if it lives.
pub fn proc_stat_of(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &stat)
}

/// The resident memory of one process, in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), 100 where it cannot be read.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// One read of every process's stat, for questions about trees of processes
/// (one scan of `/proc`, however many trees are asked about).
#[derive(Debug, Default)]
pub struct ProcTable {
    procs: Vec<ProcStat>,
}

impl ProcTable {
    pub fn read() -> Self {
        let procs = all_pids()
            .iter()
            .filter_map(|p| {
                let pid = p.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                parse_stat(pid, &stat)
            })
            .filter(|s| s.state != 'Z')
            .collect();
        Self { procs }
    }

    pub fn get(&self, pid: u32) -> Option<&ProcStat> {
        self.procs.iter().find(|p| p.pid == pid)
    }

    /// `root` and every live process under it.
    pub fn tree(&self, root: u32) -> Vec<&ProcStat> {
        let mut out: Vec<&ProcStat> = self.get(root).into_iter().collect();
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].pid;
            out.extend(self.procs.iter().filter(|p| p.ppid == parent));
            i += 1;
        }
        out
    }

    /// RSS (bytes) and CPU ticks of `root` and everything under it.
    pub fn tree_usage(&self, root: u32) -> (u64, u64) {
        self.tree(root).iter().fold((0, 0), |(rss, cpu), p| {
            (rss + rss_bytes(p.pid), cpu + p.cpu_ticks)
        })
    }
}
