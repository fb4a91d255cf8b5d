//! Every Claude Code process on the machine, from the CLI's own registry
//! (`<config>/sessions/<pid>.json`) checked against `/proc`: what `ccsm ps` shows
//! without a daemon, and what the daemon's process table adds its own runs to.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ccsm_claude::process::{clock_ticks, ProcTable};
use ccsm_core::{LiveStatus, ProcessView, StartedBy};
use ccsm_transcripts::pricing::PricingTable;
pub use ccsm_transcripts::registry::{
    entry_pid, read_entry, read_registry, registry_dir, RegistryEntry,
};
use ccsm_transcripts::tally::Tally;

use crate::Service;

/// CPU use between two looks at the same processes.
#[derive(Debug)]
pub struct CpuSampler {
    /// (pid, start ticks) → (CPU ticks of its tree, when).
    prev: HashMap<(u32, u64), (u64, Instant)>,
    /// The processes of this look.
    seen: HashSet<(u32, u64)>,
    ticks_per_sec: u64,
}

impl Default for CpuSampler {
    fn default() -> Self {
        Self {
            prev: HashMap::new(),
            seen: HashSet::new(),
            ticks_per_sec: clock_ticks(),
        }
    }
}

impl CpuSampler {
    /// The CPU % of a tree since the last look; on a first look, the average
    /// since the process started.
    pub fn percent(&mut self, key: (u32, u64), cpu_ticks: u64, runtime_ms: i64) -> f64 {
        let now = Instant::now();
        let tps = self.ticks_per_sec as f64;
        let pct = match self.prev.get(&key) {
            Some(&(ticks, at)) => {
                let secs = now.duration_since(at).as_secs_f64();
                if secs <= 0.0 {
                    0.0
                } else {
                    cpu_ticks.saturating_sub(ticks) as f64 / tps / secs * 100.0
                }
            }
            None if runtime_ms > 0 => cpu_ticks as f64 / tps / (runtime_ms as f64 / 1000.0) * 100.0,
            None => 0.0,
        };
        self.prev.insert(key, (cpu_ticks, now));
        self.seen.insert(key);
        pct
    }

    /// Ends a look: forgets the processes it did not see.
    pub fn finish(&mut self) {
        let seen = std::mem::take(&mut self.seen);
        self.prev.retain(|k, _| seen.contains(k));
    }
}

/// What the process table measures from one look to the next: CPU use, and the
/// tokens, cost and model of each live session's transcript, read as it grows
/// (the registry has none of them).
#[derive(Debug)]
pub struct Meters {
    pub cpu: CpuSampler,
    tallies: HashMap<PathBuf, Tally>,
    /// The transcripts of this look.
    files: HashSet<PathBuf>,
    pricing: PricingTable,
}

impl Meters {
    pub fn new(pricing: PricingTable) -> Self {
        Self {
            cpu: CpuSampler::default(),
            tallies: HashMap::new(),
            files: HashSet::new(),
            pricing,
        }
    }

    /// The usage so far of the session `id` of `config_dir`, run in `cwd`.
    fn tally(&mut self, config_dir: &Path, cwd: Option<&str>, id: &str) -> Option<&Tally> {
        let file = transcript_of(config_dir, cwd, id)?;
        let t = self
            .tallies
            .entry(file.clone())
            .or_insert_with(|| Tally::new(file));
        t.advance(&self.pricing).ok()?;
        self.files.insert(t.path().to_path_buf());
        Some(t)
    }

    /// Ends a look: forgets the processes and transcripts it did not see.
    pub fn finish(&mut self) {
        self.cpu.finish();
        let files = std::mem::take(&mut self.files);
        self.tallies.retain(|k, _| files.contains(k));
    }
}

/// Where a session's transcript is: under its project folder's encoded name, or
/// (moved, or run from a subfolder) wherever in `projects/` a file has its id.
fn transcript_of(config_dir: &Path, cwd: Option<&str>, id: &str) -> Option<PathBuf> {
    id.parse::<ccsm_core::SessionId>().ok()?;
    let projects = config_dir.join("projects");
    let name = format!("{id}.jsonl");
    if let Some(cwd) = cwd {
        let f = projects
            .join(ccsm_transcripts::encode_project_dir(cwd))
            .join(&name);
        if f.is_file() {
            return Some(f);
        }
    }
    std::fs::read_dir(&projects)
        .ok()?
        .flatten()
        .map(|d| d.path().join(&name))
        .find(|f| f.is_file())
}

/// A registry entry that is a live process: its pid is alive and started when
/// the entry says (a `kill -9`'d CLI leaves its file; its pid may be reused).
#[derive(Debug, Clone)]
pub struct LiveEntry {
    pub entry: RegistryEntry,
    pub config_dir: PathBuf,
    pub start_ticks: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The config dir a running CLI uses, from its environment (readable for the
/// user's own processes only).
fn config_dir_of(pid: u32) -> Option<PathBuf> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let mut home = None;
    for kv in env.split(|b| *b == 0) {
        let kv = String::from_utf8_lossy(kv);
        if let Some(v) = kv.strip_prefix("CLAUDE_CONFIG_DIR=") {
            if !v.is_empty() {
                return Some(PathBuf::from(v));
            }
        }
        if let Some(v) = kv.strip_prefix("HOME=") {
            home = Some(PathBuf::from(v).join(".claude"));
        }
    }
    home
}

/// Where running CLIs keep their messaging sockets (`<pid>.sock`): one per
/// running CLI, whatever its config dir, so the machine's config dirs in use can
/// be found from them.
fn socket_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(x) = crate::config::env("XDG_RUNTIME_DIR") {
        dirs.push(PathBuf::from(x).join("cc-socks"));
    }
    for var in ["CLAUDE_CODE_TMPDIR", "TMPDIR"] {
        if let Some(t) = crate::config::env(var) {
            dirs.push(PathBuf::from(t).join("cc-socks"));
        }
    }
    dirs.push(PathBuf::from("/tmp/cc-socks"));
    dirs.push(PathBuf::from(format!(
        "/tmp/cc-socks-{}",
        nix::unistd::getuid()
    )));
    dirs
}

impl Service {
    /// The config dirs whose registries are read: this one, those in
    /// `$CCSM_CONFIG_DIRS` (colon-separated), and those of every running CLI
    /// found by its messaging socket.
    pub fn registry_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.config_dir().to_path_buf()];
        if let Some(extra) = crate::config::env("CCSM_CONFIG_DIRS") {
            dirs.extend(std::env::split_paths(&extra));
        }
        for sock_dir in socket_dirs() {
            let Ok(rd) = std::fs::read_dir(&sock_dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".sock"))
                    .and_then(|p| p.parse::<u32>().ok())
                else {
                    continue;
                };
                if let Some(d) = config_dir_of(pid) {
                    dirs.push(d);
                }
            }
        }
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
        dirs
    }

    /// Every registry entry of `dirs` that is a live process.
    pub fn live_entries(&self, dirs: &[PathBuf], table: &ProcTable) -> Vec<LiveEntry> {
        live_of(
            dirs.iter()
                .flat_map(|d| read_registry(d).into_iter().map(move |e| (d.clone(), e))),
            table,
        )
    }

    /// The pids of live processes (other than `except`) that hold `session_id`.
    pub fn live_holders(&self, session_id: &str, except: &[u32]) -> Vec<u32> {
        let table = ProcTable::read();
        self.live_entries(&[self.config_dir().to_path_buf()], &table)
            .into_iter()
            .filter(|e| e.entry.session_id.as_deref() == Some(session_id))
            .map(|e| e.entry.pid)
            .filter(|p| !except.contains(p))
            .collect()
    }

    /// The process table of every Claude Code process the registries show.
    pub fn processes(&self, meters: &mut Meters) -> Vec<ProcessView> {
        let table = ProcTable::read();
        let live = self.live_entries(&self.registry_dirs(), &table);
        let rows = rows_of(live, &table, meters);
        meters.finish();
        rows
    }

    /// Meters priced by the table in effect (the shipped one if it cannot be read).
    pub fn meters(&self) -> Meters {
        Meters::new(self.pricing().unwrap_or_else(|_| PricingTable::builtin()))
    }
}

/// The entries (config dir, entry) that are live processes, oldest first.
pub fn live_of(
    entries: impl IntoIterator<Item = (PathBuf, RegistryEntry)>,
    table: &ProcTable,
) -> Vec<LiveEntry> {
    let mut out: Vec<LiveEntry> = entries
        .into_iter()
        .filter_map(|(dir, entry)| {
            let stat = table.get(entry.pid)?;
            let recorded = entry.proc_start.as_deref().map(str::trim);
            if recorded.is_some_and(|r| r != stat.start_ticks.to_string()) {
                return None;
            }
            Some(LiveEntry {
                start_ticks: stat.start_ticks,
                config_dir: dir,
                entry,
            })
        })
        .collect();
    out.sort_by_key(|e| (e.entry.started_at.unwrap_or(0), e.entry.pid));
    out
}

/// The process table's rows of live entries: memory and CPU of each tree, and
/// the usage of each session so far ([`Meters::finish`] ends the look).
pub fn rows_of(live: Vec<LiveEntry>, table: &ProcTable, meters: &mut Meters) -> Vec<ProcessView> {
    let now = now_ms();
    let rows = live
        .into_iter()
        .map(|live| {
            let e = &live.entry;
            let (rss, cpu_ticks) = table.tree_usage(e.pid);
            let started_at = e.started_at.unwrap_or(now);
            let runtime_ms = (now - started_at).max(0);
            let key = (e.pid, live.start_ticks);
            let usage = e.session_id.as_deref().and_then(|id| {
                let t = meters.tally(&live.config_dir, e.cwd.as_deref(), id)?;
                Some((
                    t.tokens().total(),
                    t.cost_usd(),
                    t.model().map(str::to_owned),
                ))
            });
            let (tokens, cost_usd, model) = match usage {
                Some((t, c, m)) => (Some(t), Some(c), m),
                None => (None, None, None),
            };
            ProcessView {
                pid: e.pid,
                session_id: e.session_id.clone(),
                name: e.name.clone(),
                project_path: e.cwd.clone(),
                model,
                started_at,
                status: LiveStatus::from_registry(
                    e.status.as_deref().unwrap_or(""),
                    e.waiting_for.as_deref(),
                ),
                memory_bytes: rss,
                cpu_percent: meters.cpu.percent(key, cpu_ticks, runtime_ms),
                runtime_ms,
                tokens,
                cost_usd,
                started_by: started_by(e),
                config_dir: Some(live.config_dir.display().to_string()),
                version: e.version.clone(),
                job_id: e.job_id.clone(),
                host: None,
            }
        })
        .collect();
    rows
}

fn started_by(e: &RegistryEntry) -> StartedBy {
    match (e.kind.as_deref(), e.entrypoint.as_deref()) {
        (Some("bg"), _) => StartedBy::Background,
        (_, Some("sdk-cli")) => StartedBy::Sdk,
        (_, Some("cli")) => StartedBy::Terminal,
        _ => StartedBy::Other,
    }
}

/// Whether `path` is one of `dirs` (after resolving links).
pub fn is_one_of(path: &Path, dirs: &[PathBuf]) -> bool {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    dirs.iter()
        .any(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()) == p)
}
