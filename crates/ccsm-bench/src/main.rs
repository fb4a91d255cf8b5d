//! `ccsm-bench`: measurements for docs/benchmarks.md, always side by side with the
//! named peer in one run (A B A B ..., medians), never as timed tests.
//!
//! `ccsm-bench spawn [--runs N]` (P7): time from `query()` to the first
//! `system/init` message, against driving the same CLI binary directly; and the cost
//! of spawning with 0 and 2 GiB of ccsm's own memory in use.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ccsm_claude::{Message, Options};
use ccsm_testkit::{claude_cli, MockModel, Scenario, TestEnv};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(about = "ccsm's benchmarks (see docs/benchmarks.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// P7: query() to the first system/init vs the CLI driven directly.
    Spawn {
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Drive fake-claude (start-up ~1 ms) instead of the real CLI, so ccsm's own
        /// overhead is not lost in the real CLI's start-up jitter.
        #[arg(long)]
        fake: bool,
    },
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// The CLI started by hand: spawn, write the user message, read to `system/init`.
fn direct(env: &TestEnv, model: &MockModel, cli: &std::path::Path) -> Result<Duration> {
    let start = Instant::now();
    let cmd = env.claude(
        model,
        &[
            "-p",
            "--output-format",
            "stream-json",
            "--input-format",
            "stream-json",
            "--verbose",
        ],
    );
    // Same environment, possibly another binary.
    let mut cmd = {
        let mut c = Command::new(cli);
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    writeln!(
        stdin,
        "{}",
        serde_json::json!({"type":"user","message":{"role":"user","content":"hi"}})
    )?;
    let out = BufReader::new(child.stdout.take().context("stdout")?);
    let mut took = None;
    for line in out.lines() {
        let line = line?;
        if line.contains("\"subtype\":\"init\"") {
            took = Some(start.elapsed());
            break;
        }
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    took.context("the CLI printed no system/init")
}

/// The same through ccsm: `query()` until the first `system/init` line.
async fn via_ccsm(env: &TestEnv, model: &MockModel, cli: &std::path::Path) -> Result<Duration> {
    let mut o = Options::new().cli_path(cli).cwd(env.project.clone());
    for k in TestEnv::leaky_vars() {
        o = o.env_remove(k);
    }
    for (k, v) in env.vars(model) {
        o = o.env(k, v);
    }
    let start = Instant::now();
    let mut q = ccsm_claude::query("hi", o).await?;
    use futures::StreamExt as _;
    while let Some(item) = q.next().await {
        if let Message::System(s) = &item?.message {
            if s.is_init() {
                let took = start.elapsed();
                q.cancel(ccsm_claude::Ladder::default()).await;
                return Ok(took);
            }
        }
    }
    anyhow::bail!("no system/init through ccsm")
}

/// Spawn cost of a trivial child with ccsm's spawn settings, with `ballast` bytes of
/// touched memory in this process.
fn spawn_cost(ballast: usize, runs: usize) -> Result<Vec<f64>> {
    use std::os::unix::process::CommandExt as _;
    let mut mem = vec![0u8; ballast];
    for i in (0..mem.len()).step_by(4096) {
        mem[i] = 1;
    }
    let mut v = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut c = Command::new("/bin/true")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        v.push(start.elapsed().as_secs_f64() * 1e3);
        c.wait()?;
    }
    std::hint::black_box(&mem);
    Ok(v)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Spawn { runs, fake } => {
            let rt = tokio::runtime::Runtime::new()?;
            let env = TestEnv::new();
            let model = MockModel::start(Scenario::echo());
            let cli = if fake {
                ccsm_testkit::fake::fake_claude()
            } else {
                claude_cli()
            };
            println!("CLI: {}", cli.display());
            // Warm the binary and the page cache once each way.
            direct(&env, &model, &cli)?;
            rt.block_on(via_ccsm(&env, &model, &cli))?;
            let (mut a, mut b, mut diff) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let d = direct(&env, &model, &cli)?.as_secs_f64() * 1e3;
                let c = rt.block_on(via_ccsm(&env, &model, &cli))?.as_secs_f64() * 1e3;
                a.push(d);
                b.push(c);
                diff.push(c - d);
            }
            println!("P7 spawn to system/init, {runs} pairs (A B A B), ms:");
            println!(
                "  CLI directly    : p50 {:7.2}  p99 {:7.2}",
                pct(&mut a, 50.0),
                pct(&mut a, 99.0)
            );
            println!(
                "  ccsm query()    : p50 {:7.2}  p99 {:7.2}",
                pct(&mut b, 50.0),
                pct(&mut b, 99.0)
            );
            println!(
                "  overhead (pair) : p50 {:7.2}  p99 {:7.2}",
                pct(&mut diff, 50.0),
                pct(&mut diff, 99.0)
            );
            let mut small = spawn_cost(0, 200)?;
            let mut big = spawn_cost(2 << 30, 200)?;
            println!(
                "  spawn() call    : p50 {:.3} ms with 0 B, {:.3} ms with 2 GiB of ccsm memory",
                pct(&mut small, 50.0),
                pct(&mut big, 50.0)
            );
        }
    }
    Ok(())
}
