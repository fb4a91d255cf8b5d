//! ccsm's test bench (dev-only; never a normal dependency).
//!
//! - [`MockModel`]: a scripted stand-in for the Anthropic Messages API that the real
//!   Claude Code CLI talks to through `ANTHROPIC_BASE_URL`.
//! - `fake-claude` (binary): speaks the CLI's stream-json protocol with injectable
//!   faults, for what the real CLI cannot do on demand; see [`fake`].
//! - [`TestEnv`]: a temp `CLAUDE_CONFIG_DIR`, home and project dir per test, and the
//!   real CLI wired to a scripted model.
//! - [`wait_for`]: wait on a condition with a deadline (never sleep and hope).
//! - [`pg`]: a throwaway PostgreSQL cluster on a Unix socket.
//! - [`corpus`]: a Claude-Code-shaped config dir of a chosen size, from a seed.

pub mod corpus;
pub mod fake;
pub mod mock_model;
pub mod pg;
pub mod scenario;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use mock_model::{MockModel, RecordedRequest};
pub use scenario::{Reply, Rule, Scenario, Step, ToolCall, Usage};

/// The environment variable that names the pinned Claude Code CLI for tests.
pub const CLAUDE_ENV: &str = "CCSM_TEST_CLAUDE";

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The pinned real CLI: `$CCSM_TEST_CLAUDE`, else the one `scripts/test` installs
/// under `tools/claude-code/`. Panics, loudly, when neither exists: a test that needs
/// the CLI must fail without it, never skip.
pub fn claude_cli() -> PathBuf {
    if let Some(p) = std::env::var_os(CLAUDE_ENV) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{CLAUDE_ENV}={} does not exist: run scripts/test, which installs the pinned CLI",
            p.display()
        );
        return p;
    }
    let p = workspace_root().join("tools/claude-code/node_modules/.bin/claude");
    assert!(
        p.exists(),
        "the Claude Code CLI is not installed ({} is missing, {CLAUDE_ENV} is unset): \
         run scripts/test, which installs the pinned CLI with npm ci",
        p.display()
    );
    p
}

/// Polls `check` until it returns `Some`, or panics naming `what` after `deadline`.
/// The bench's only way to wait: on a condition, with a deadline.
pub fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        #[allow(clippy::disallowed_methods)] // polling a condition, bounded by the deadline
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Variables of the surrounding environment that would change how the CLI behaves
/// (a developer's own Claude Code session, API keys, sandbox switches): removed
/// from every command the bench runs.
fn is_leaky_var(name: &str) -> bool {
    name.starts_with("CLAUDE")
        || name.starts_with("ANTHROPIC")
        || name.starts_with("OTEL_")
        || name == "IS_SANDBOX"
        || name == "DISABLE_AUTOUPDATER"
        // ccsm's own settings: a test's defaults are its own, not the user's.
        || name == "CCSM_CONFIG"
        || name == "CCSM_DIRECT"
        || name == "XDG_CONFIG_HOME"
}

/// One test's private world: a temp dir holding the CLI's config dir, a home dir
/// and a project dir. Removed on drop.
#[derive(Debug)]
pub struct TestEnv {
    dir: tempfile::TempDir,
    pub config_dir: PathBuf,
    pub home: PathBuf,
    pub project: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ccsm-test-")
            .tempdir()
            .expect("creating a temp dir");
        // The CLI keys projects by the real path; resolve symlinks (e.g. /tmp) once.
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let config_dir = root.join("config");
        let home = root.join("home");
        let project = root.join("project");
        for d in [&config_dir, &home, &project] {
            std::fs::create_dir_all(d).expect("creating test dirs");
        }
        Self {
            dir,
            config_dir,
            home,
            project,
        }
    }

    /// The temp dir everything lives in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A further directory under the test's root (another project, say).
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self
            .config_dir
            .parent()
            .unwrap_or(self.dir.path())
            .join(rel);
        std::fs::create_dir_all(&p).expect("creating a dir");
        p
    }

    /// The variables every bench command gets: the private config dir and home,
    /// the scripted model's address, no telemetry.
    pub fn vars(&self, model: &MockModel) -> Vec<(String, String)> {
        vec![
            (
                "CLAUDE_CONFIG_DIR".into(),
                self.config_dir.display().to_string(),
            ),
            ("HOME".into(), self.home.display().to_string()),
            ("ANTHROPIC_BASE_URL".into(), model.base_url()),
            ("ANTHROPIC_API_KEY".into(), "sk-ant-test-bench".into()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            // ccsm's own data dir (catalog, archive, backups) stays in the test's world.
            (
                "CCSM_HOME".into(),
                self.root().join("ccsm-home").display().to_string(),
            ),
        ]
    }

    /// The names of the surrounding environment's variables a command must not see.
    pub fn leaky_vars() -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| is_leaky_var(k))
            .collect()
    }

    /// Applies [`Self::vars`] and removes [`Self::leaky_vars`] on a std command.
    pub fn configure(&self, cmd: &mut std::process::Command, model: &MockModel) {
        for k in Self::leaky_vars() {
            cmd.env_remove(k);
        }
        cmd.envs(self.vars(model));
        cmd.current_dir(&self.project);
    }

    /// The real CLI, wired to `model`, in the project dir, with `args`.
    pub fn claude(&self, model: &MockModel, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(claude_cli());
        self.configure(&mut cmd, model);
        cmd.args(args);
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs the real CLI to completion with a deadline; panics with its output if
    /// it fails or hangs.
    pub fn run_claude(&self, model: &MockModel, args: &[&str]) -> CliRun {
        let out = run_with_deadline(self.claude(model, args), Duration::from_secs(90));
        assert!(
            out.status.success(),
            "claude {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        CliRun::from(out)
    }

    /// Every transcript (`projects/*/*.jsonl`) in the config dir.
    pub fn transcripts(&self) -> Vec<PathBuf> {
        transcripts_in(&self.config_dir)
    }

    /// The transcript of one session, wherever its project dir is.
    pub fn transcript(&self, session_id: &str) -> Option<PathBuf> {
        let name = format!("{session_id}.jsonl");
        self.transcripts()
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n == name.as_str()))
    }
}

/// A finished CLI run, with stream-json output parsed when there is some.
#[derive(Debug)]
pub struct CliRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for CliRun {
    fn from(o: std::process::Output) -> Self {
        Self {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl CliRun {
    /// The stdout lines that are JSON objects.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    /// The `result` line's `session_id`, or the first `session_id` seen.
    pub fn session_id(&self) -> Option<String> {
        self.json_lines()
            .iter()
            .find_map(|v| v["session_id"].as_str().map(str::to_owned))
    }
    /// The `result` line of a stream-json or json run.
    pub fn result(&self) -> Option<serde_json::Value> {
        self.json_lines()
            .into_iter()
            .find(|v| v["type"] == "result")
    }
}

/// Runs `cmd` with piped output; kills its process group and panics if it is still
/// running after `deadline`.
pub fn run_with_deadline(
    mut cmd: std::process::Command,
    deadline: Duration,
) -> std::process::Output {
    use std::os::unix::process::CommandExt as _;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("spawning a command");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.expect("waiting for a command"),
        Err(_) => {
            fake::kill_group(pid);
            panic!("{cmd:?} still running after {deadline:?}; its process group was killed");
        }
    }
}

/// What the official Agent SDK reads from `config_dir` (run under Node by
/// `tools/claude-code/sdk-view.mjs`): `sessions` (listSessions), `page`
/// (listSessions with limit 3, offset 1), and per session `info`, `messages`,
/// `systemMessages` (type and uuid) and `subagents`. Panics if Node or the SDK is
/// missing: the differential tests must not be skipped.
pub fn sdk_view(config_dir: &Path, ids: &[&str]) -> serde_json::Value {
    let dir = workspace_root().join("tools/claude-code");
    assert!(
        dir.join("node_modules/@anthropic-ai/claude-agent-sdk")
            .is_dir(),
        "the official Agent SDK is not installed in {}: run scripts/test",
        dir.display()
    );
    let mut cmd = std::process::Command::new("node");
    cmd.arg("sdk-view.mjs")
        .args(ids)
        .current_dir(&dir)
        .env("CLAUDE_CONFIG_DIR", config_dir)
        .stdin(std::process::Stdio::null());
    let out = run_with_deadline(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "the SDK oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the SDK oracle printed JSON")
}

/// Copies a directory tree (fixtures are read-only: tests work on a copy).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// The config dir recorded with the real CLI 2.1.330, kept in the repository at
/// `crates/ccsm-testkit/fixtures/` (read-only; copy it first).
pub fn fixture_dir() -> PathBuf {
    let p = workspace_root().join("crates/ccsm-testkit/fixtures/claude-code-2.1.330");
    assert!(
        p.is_dir(),
        "the recorded fixture is missing at {}",
        p.display()
    );
    p
}

/// ccusage 20.0.24 (pinned in `tools/ccusage`), run offline on `config_dir`:
/// `ccusage claude <report> --offline --json`. Panics if it is not installed.
pub fn ccusage(config_dir: &Path, report: &str) -> serde_json::Value {
    let bin = workspace_root().join("tools/ccusage/node_modules/.bin/ccusage");
    assert!(
        bin.exists(),
        "ccusage is not installed at {}: run scripts/test",
        bin.display()
    );
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["claude", report, "--offline", "--json"])
        .env("CLAUDE_CONFIG_DIR", config_dir)
        .env("LOG_LEVEL", "0")
        .stdin(std::process::Stdio::null());
    let out = run_with_deadline(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "ccusage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ccusage printed JSON")
}

/// Every transcript (`projects/*/*.jsonl`) in a config dir, sorted.
pub fn transcripts_in(config_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(projects) = std::fs::read_dir(config_dir.join("projects")) else {
        return out;
    };
    for p in projects.flatten() {
        if let Ok(files) = std::fs::read_dir(p.path()) {
            out.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|f| f.extension().is_some_and(|e| e == "jsonl")),
            );
        }
    }
    out.sort();
    out
}
