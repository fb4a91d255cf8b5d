//! The fake `claude`: where it is, the faults it injects, and process helpers.
//!
//! `fake-claude` accepts the real CLI's flags that matter (`-p`, `--output-format`,
//! `--input-format stream-json`, `--session-id`, `--resume`, `--model`, `--version`)
//! and speaks stream-json: a `system/init` line, then per user turn an `assistant`
//! line (`echo: <prompt>`) and a `result` line. Control requests are answered
//! (`initialize`, `interrupt`, `set_model`, `set_permission_mode`, anything else with
//! an empty success). Faults are chosen with `FAKE_CLAUDE_FAULT` (comma-separated
//! names from [`Fault`]); `FAKE_CLAUDE_VERSION` changes what `--version` prints.

use std::path::PathBuf;

/// Names the faults to inject (comma-separated).
pub const FAULT_ENV: &str = "FAKE_CLAUDE_FAULT";
/// Changes the version `fake-claude --version` prints (default 2.1.330).
pub const VERSION_ENV: &str = "FAKE_CLAUDE_VERSION";
/// Milliseconds between lines for the `slow` fault (default 200).
pub const DELAY_ENV: &str = "FAKE_CLAUDE_DELAY_MS";
/// The command the `ask-tool` fault asks permission for, and runs if allowed.
pub const TOOL_COMMAND_ENV: &str = "FAKE_CLAUDE_TOOL_COMMAND";

/// The faults fake-claude can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Exit 1 before printing anything, with a message on stderr.
    CrashOnStart,
    /// Print part of a turn (an assistant line, no result), then exit 3.
    ExitMidTurn,
    /// Print `system/init`, then never answer.
    Hang,
    /// Ignore SIGTERM and SIGINT, then hang: only SIGKILL ends it.
    IgnoreSigterm,
    /// A line that is not JSON before each turn's answer.
    Malformed,
    /// An assistant line of more than 10 MB.
    HugeLine,
    /// 32 MiB on stderr before the first turn's answer.
    StderrFlood,
    /// Every line `FAKE_CLAUDE_DELAY_MS` apart, text in ten pieces.
    Slow,
    /// The turn ends in an error result, as an API failure does (`API Error: 529`).
    ApiError,
    /// An unknown message type and an unknown field, on every turn.
    Unknown,
    /// Ask `can_use_tool` for a Bash command and run it only if allowed.
    AskTool,
    /// Start a `sleep` child in the process group, say its pid, then hang.
    SpawnChild,
    /// Never answer control requests (for request timeouts).
    Deaf,
}

impl Fault {
    pub const ALL: [Fault; 13] = [
        Fault::CrashOnStart,
        Fault::ExitMidTurn,
        Fault::Hang,
        Fault::IgnoreSigterm,
        Fault::Malformed,
        Fault::HugeLine,
        Fault::StderrFlood,
        Fault::Slow,
        Fault::ApiError,
        Fault::Unknown,
        Fault::AskTool,
        Fault::SpawnChild,
        Fault::Deaf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::CrashOnStart => "crash-on-start",
            Fault::ExitMidTurn => "exit-mid-turn",
            Fault::Hang => "hang",
            Fault::IgnoreSigterm => "ignore-sigterm",
            Fault::Malformed => "malformed",
            Fault::HugeLine => "huge-line",
            Fault::StderrFlood => "stderr-flood",
            Fault::Slow => "slow",
            Fault::ApiError => "api-error",
            Fault::Unknown => "unknown",
            Fault::AskTool => "ask-tool",
            Fault::SpawnChild => "spawn-child",
            Fault::Deaf => "deaf",
        }
    }

    pub fn parse_list(s: &str) -> Vec<Fault> {
        s.split(',')
            .map(str::trim)
            .filter_map(|n| Fault::ALL.into_iter().find(|f| f.name() == n))
            .collect()
    }
}

/// The fake-claude binary: `$CCSM_FAKE_CLAUDE`, else beside the running test binary
/// (cargo puts workspace binaries in `target/<profile>/`).
pub fn fake_claude() -> PathBuf {
    if let Some(p) = std::env::var_os("CCSM_FAKE_CLAUDE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let candidates = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("fake-claude"))
        .collect::<Vec<_>>();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "fake-claude is not built (looked at {candidates:?}): \
                 run `cargo build -p ccsm-testkit --bins` (scripts/test does)"
            )
        })
}

/// Sends SIGKILL to a process group (ignoring a group that is already gone).
pub fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Live (non-zombie) processes whose process group is `pgid`, from `/proc`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[0] != "X" && fields[2] == pgid.to_string()
        {
            out.push(pid);
        }
    }
    out
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].split_whitespace().next() != Some("Z"))
        })
        .unwrap_or(false)
}
