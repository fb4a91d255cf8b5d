//! `ccsm-bench`: measurements for docs/benchmarks.md, always side by side with the
//! named peer in one run (A B A B ..., medians), never as timed tests.
//!
//! `ccsm-bench spawn [--runs N]` (P7): time from `query()` to the first
//! `system/init` message, against driving the same CLI binary directly; and the cost
//! of spawning with 0 and 2 GiB of ccsm's own memory in use.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use ccsm_claude::{Message, Options};
use ccsm_testkit::{claude_cli, MockModel, Scenario, TestEnv};
use clap::{Parser, Subcommand};

mod daemon;
mod flat;
mod search;
mod stores;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

#[derive(Parser, Debug)]
#[command(about = "ccsm's benchmarks (see docs/benchmarks.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// P8: event line to WebSocket subscribers through the daemon (latency, fan-out, memory).
    Fanout {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        #[arg(long, default_value_t = 20000)]
        events: usize,
    },
    /// P9: the daemon with many live sessions of the fake CLI (API latency, memory).
    DaemonLoad {
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        #[arg(long, default_value_t = 4000)]
        requests: usize,
    },
    /// P10: `ccsm ps --json` vs `claude agents --json` with real CLIs running.
    Ps {
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long, default_value_t = 3)]
        processes: usize,
    },
    /// P7: query() to the first system/init vs the CLI driven directly.
    Spawn {
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Drive fake-claude (start-up ~1 ms) instead of the real CLI, so ccsm's own
        /// overhead is not lost in the real CLI's start-up jitter.
        #[arg(long)]
        fake: bool,
    },
    /// P1: `ccsm usage session --json` vs `ccusage claude session --offline --json`
    /// on a config dir (time and peak RSS, side by side; tokens compared).
    Usage {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// P4: `ccsm sessions list --limit 50` vs the SDK's `listSessions({limit: 50})`.
    List {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// P6: peak RSS of ccsm reading one big transcript (usage, messages, info).
    Single {
        #[arg(long)]
        dir: PathBuf,
    },
    /// P3, P4 and P5 on the catalog: build from nothing, re-sync after 100 KB appended,
    /// `sessions list` with the catalog up to date, search latency.
    Catalog {
        #[arg(long)]
        dir: PathBuf,
        /// A second config dir of 10k sessions for the listing (P4).
        #[arg(long)]
        list_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// P5 over the whole query set (words rare, common and absent, phrase,
    /// prefix, every filter alone and with a word, filters matching nothing,
    /// `--rank`, `project:`), in process and through the CLI.
    Search {
        /// The corpus (a config dir); its catalog is built first.
        #[arg(long)]
        dir: PathBuf,
        /// Where the catalog goes (default: a new temp CCSM_HOME).
        #[arg(long)]
        home: Option<PathBuf>,
        /// Runs of each query through the CLI.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Runs of each query in process.
        #[arg(long, default_value_t = 50)]
        inproc: usize,
    },
    /// P11: the same corpus on SQLite and on PostgreSQL, side by side: catalog
    /// build, re-sync after 100 KB appended, list, usage and the search query set
    /// through the CLI.
    Stores {
        /// The corpus (a config dir).
        #[arg(long)]
        dir: PathBuf,
        /// An empty PostgreSQL database (`postgres://…`).
        #[arg(long)]
        pg: String,
        /// Runs of each command.
        #[arg(long, default_value_t = 15)]
        runs: usize,
        /// Builds from nothing of each catalog (alternated; the median is shown).
        #[arg(long, default_value_t = 3)]
        builds: usize,
    },
    /// Issue 18: the same commands on a small and a large catalog (built
    /// already), alternated, and the re-sync of a running session on each.
    Flat {
        /// The small corpus (a config dir) and its CCSM_HOME.
        #[arg(long, num_args = 2)]
        small: Vec<PathBuf>,
        /// The large corpus and its CCSM_HOME.
        #[arg(long, num_args = 2)]
        large: Vec<PathBuf>,
        #[arg(long, default_value_t = 9)]
        runs: usize,
    },
    /// Runs a command and prints its wall time (ms) and peak RSS (KiB) as JSON.
    Rss {
        #[arg(trailing_var_arg = true, required = true)]
        cmd: Vec<String>,
    },
}

/// One measured run of a command: wall time and the child's peak RSS, via a
/// one-child wrapper (getrusage of children is exact when there is only one).
fn measure(cmd: &[String], env: &[(&str, &std::path::Path)]) -> Result<(f64, u64, Vec<u8>)> {
    let me = std::env::current_exe()?;
    let mut c = Command::new(me);
    c.arg("rss").arg("--").args(cmd);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let last = text.lines().last().unwrap_or("{}");
    let v: serde_json::Value = serde_json::from_str(last)?;
    Ok((
        v["ms"].as_f64().unwrap_or(f64::NAN),
        v["maxrss_kib"].as_u64().unwrap_or(0),
        out.stdout,
    ))
}

fn rss_main(cmd: &[String]) -> Result<()> {
    let start = Instant::now();
    let out = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    use std::io::Write as _;
    std::io::stdout().write_all(&out.stdout)?;
    std::io::stderr().write_all(&out.stderr)?;
    eprintln!(
        "{}",
        serde_json::json!({"ms": ms, "maxrss_kib": usage.max_rss(), "ok": out.status.success()})
    );
    if !out.status.success() {
        std::process::exit(out.status.code().unwrap_or(1));
    }
    Ok(())
}

/// `ccusage claude session --offline --json`, the usage peer (tools/ccusage).
fn ccusage_session() -> Vec<String> {
    let ccusage = ccsm_testkit::workspace_root().join("tools/ccusage/node_modules/.bin/ccusage");
    [
        ccusage.display().to_string(),
        "claude".into(),
        "session".into(),
        "--offline".into(),
        "--json".into(),
    ]
    .into()
}

/// The folder of the newest session in a catalog.
fn newest_project(store: &dyn ccsm_store::Store) -> Result<Option<String>> {
    Ok(store
        .list(&ccsm_store::ListFilter {
            limit: Some(1),
            ..Default::default()
        })?
        .first()
        .and_then(|s| s.project_path.clone()))
}

fn ccsm_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("ccsm")
}

fn tokens_of(v: &serde_json::Value) -> Vec<u64> {
    [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ]
    .iter()
    .map(|k| v["totals"][*k].as_u64().unwrap_or(0))
    .collect()
}

fn report(name: &str, t: &mut [f64], rss: &[u64]) {
    println!(
        "  {name:<34} p50 {:8.1} ms  min {:8.1} ms  peak RSS {:6.1} MiB",
        pct(t, 50.0),
        pct(t, 0.0),
        rss.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    );
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

fn catalog_bench(
    dir: &std::path::Path,
    list_dir: Option<&std::path::Path>,
    queries: usize,
) -> Result<()> {
    let home = tempfile_dir("ccsm-bench-home")?;
    let ccsm = ccsm_bin().display().to_string();
    let d = dir.display().to_string();
    let env = [("CCSM_HOME", home.as_path())];
    let index: Vec<String> = vec![
        ccsm.clone(),
        "--config-dir".into(),
        d.clone(),
        "index".into(),
    ];
    // P3's peer: ccusage's own full scan of the same dir, alternated with a
    // build from nothing (A B A B, warm page cache), two of each.
    let peer = ccusage_session();
    let penv = [
        ("CLAUDE_CONFIG_DIR", dir),
        ("LOG_LEVEL", std::path::Path::new("0")),
    ];
    measure(&peer, &penv)?;
    let (mut pt, mut bt, mut br) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2 {
        pt.push(measure(&peer, &penv)?.0);
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)?;
        let (t, r, _) = measure(&index, &env)?;
        bt.push(t);
        br.push(r);
    }
    let (t, r) = (pct(&mut bt, 0.0), br.iter().copied().max().unwrap_or(0));
    let peer_t = pct(&mut pt, 0.0);
    println!(
        "P3 catalog build from nothing over {} (full text, archive): {:.1} s (best of 2), peak RSS {:.1} MiB; \
         ccusage's full scan {:.2} s (best of 2): {:.1}x",
        dir.display(),
        t / 1e3,
        r as f64 / 1024.0,
        peer_t / 1e3,
        t / peer_t
    );
    // 100 KB appended to one live file.
    let file = first_transcript(dir)?;
    let line = std::fs::read_to_string(&file)?
        .lines()
        .find(|l| l.contains("\"type\":\"user\"") && !l.contains("tool_result"))
        .map(str::to_owned)
        .context("a user line to repeat")?;
    let mut extra = String::new();
    while extra.len() < 100_000 {
        extra.push_str(&line);
        extra.push('\n');
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&file)?
            .write_all(extra.as_bytes())?;
        let (t, _, _) = measure(&index, &env)?;
        times.push(t);
    }
    println!("P3 re-sync after {} KB appended to one file (ccsm index, end to end, 5 runs): p50 {:.1} ms, max {:.1} ms", extra.len() / 1000, pct(&mut times, 50.0), pct(&mut times, 100.0));
    // Search, in process: the store's latency without process start-up.
    let db = std::fs::read_dir(home.join("catalogs"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .context("the catalog")?;
    search_bench(&db, queries)?;
    let search: Vec<String> = vec![
        ccsm.clone(),
        "--config-dir".into(),
        d.clone(),
        "sessions".into(),
        "search".into(),
        "deploy".into(),
        "--json".into(),
    ];
    let mut e2e = Vec::new();
    for _ in 0..10 {
        e2e.push(measure(&search, &env)?.0);
    }
    println!("    `ccsm sessions search deploy` end to end (sync of an unchanged dir included): p50 {:.1} ms", pct(&mut e2e, 50.0));
    if let Some(ld) = list_dir {
        let lhome = tempfile_dir("ccsm-bench-list-home")?;
        let lenv = [("CCSM_HOME", lhome.as_path())];
        let l = ld.display().to_string();
        measure(
            &[
                ccsm.clone(),
                "--config-dir".into(),
                l.clone(),
                "index".into(),
            ],
            &lenv,
        )?;
        let list: Vec<String> = vec![
            ccsm.clone(),
            "--config-dir".into(),
            l.clone(),
            "sessions".into(),
            "list".into(),
            "--limit".into(),
            "50".into(),
            "--json".into(),
        ];
        let direct: Vec<String> = vec![
            ccsm.clone(),
            "--direct".into(),
            "--config-dir".into(),
            l,
            "sessions".into(),
            "list".into(),
            "--limit".into(),
            "50".into(),
            "--json".into(),
        ];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            a.push(measure(&list, &lenv)?.0);
            b.push(measure(&direct, &lenv)?.0);
        }
        println!("P4 `ccsm sessions list --limit 50` at 10k sessions, catalog up to date (sync included): p50 {:.1} ms; reading the files directly: p50 {:.1} ms", pct(&mut a, 50.0), pct(&mut b, 50.0));
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}

/// P5: search latency on a built catalog, overall and per kind of query.
fn search_bench(db: &std::path::Path, queries: usize) -> Result<()> {
    use ccsm_store::Store as _;
    let store = ccsm_store::SqliteStore::open(db)?;
    let words = [
        "parser",
        "deploy",
        "migration",
        "cache",
        "torn",
        "catalog",
        "index",
        "session",
        "errors",
        "refactor",
    ];
    let project = newest_project(&store)?.unwrap_or_default();
    let kinds = [
        "word",
        "phrase",
        "prefix*",
        "word project:",
        "word has:tool: cost>",
    ];
    let mut lat = Vec::new();
    let mut by_kind: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let mut hits = 0usize;
    for i in 0..queries {
        let w = words[i % words.len()];
        let q = match i % 5 {
            0 => w.to_owned(),
            1 => format!("\"{w} the\""),
            2 => format!("{}*", &w[..4]),
            3 => format!("{w} project:{project}"),
            _ => format!("{w} has:tool:Bash cost>0.01"),
        };
        let mut sq = ccsm_store::SearchQuery::parse(&q)?;
        sq.limit = 20;
        let start = Instant::now();
        hits += store.search(&sq)?.len();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        lat.push(ms);
        by_kind[i % 5].push(ms);
    }
    println!("P5 search over the catalog, {queries} queries (words, phrases, prefixes, filters), in process: p50 {:.2} ms, p99 {:.2} ms, {hits} sessions returned", pct(&mut lat, 50.0), pct(&mut lat, 99.0));
    for (k, v) in kinds.iter().zip(by_kind.iter_mut()) {
        println!(
            "    {k:<24} p50 {:6.2} ms  p99 {:6.2} ms",
            pct(v, 50.0),
            pct(v, 99.0)
        );
    }
    Ok(())
}

fn tempfile_dir(name: &str) -> Result<PathBuf> {
    let p = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

fn first_transcript(dir: &std::path::Path) -> Result<PathBuf> {
    for p in std::fs::read_dir(dir.join("projects"))? {
        for f in std::fs::read_dir(p?.path())? {
            let f = f?.path();
            if f.extension().is_some_and(|x| x == "jsonl") {
                return Ok(f);
            }
        }
    }
    anyhow::bail!("no transcript under {}", dir.display())
}

/// The one session in a config dir and its size.
fn ccsm_transcripts_dir(dir: &std::path::Path) -> Result<(String, u64)> {
    for p in std::fs::read_dir(dir.join("projects"))? {
        for f in std::fs::read_dir(p?.path())? {
            let f = f?;
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".jsonl") {
                return Ok((id.to_owned(), f.metadata()?.len()));
            }
        }
    }
    anyhow::bail!("no transcript under {}", dir.display())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Fanout {
            subscribers,
            events,
        } => runtime()?.block_on(daemon::fanout(subscribers, events))?,
        Cmd::DaemonLoad { sessions, requests } => {
            runtime()?.block_on(daemon::load(sessions, requests))?
        }
        Cmd::Ps { runs, processes } => daemon::ps(runs, processes)?,
        Cmd::Rss { cmd } => rss_main(&cmd)?,
        Cmd::Flat { small, large, runs } => {
            flat::run([&small[0], &small[1]], [&large[0], &large[1]], runs)?
        }
        Cmd::Search {
            dir,
            home,
            runs,
            inproc,
        } => search::run(&dir, home, runs, inproc)?,
        Cmd::Stores {
            dir,
            pg,
            runs,
            builds,
        } => stores::run(&dir, &pg, runs, builds)?,
        Cmd::Catalog {
            dir,
            list_dir,
            queries,
        } => catalog_bench(&dir, list_dir.as_deref(), queries)?,
        Cmd::Usage { dir, runs } => {
            let ccsm = |extra: &[&str]| -> Vec<String> {
                let mut v: Vec<String> = vec![
                    ccsm_bin().display().to_string(),
                    "--config-dir".into(),
                    dir.display().to_string(),
                ];
                v.extend(extra.iter().map(|s| s.to_string()));
                v.extend(["usage".into(), "session".into(), "--json".into()]);
                v
            };
            // P1 reads the files; P2 answers from a catalog built beforehand.
            let a_cmd = ccsm(&["--direct"]);
            let c_cmd = ccsm(&[]);
            let b_cmd = ccusage_session();
            let home = tempfile_dir("usage-home")?;
            let env = [
                ("CLAUDE_CONFIG_DIR", dir.as_path()),
                ("LOG_LEVEL", std::path::Path::new("0")),
                ("CCSM_HOME", home.as_path()),
            ];
            let build = Instant::now();
            let (_, _, c_out) = measure(&c_cmd, &env)?;
            println!(
                "catalog built for P2 in {:.1} s (first `ccsm usage` indexes everything)",
                build.elapsed().as_secs_f64()
            );
            // Warm the page cache with one run of each.
            let (_, _, a_out) = measure(&a_cmd, &env)?;
            let (_, _, b_out) = measure(&b_cmd, &env)?;
            let ta = tokens_of(&serde_json::from_slice(&a_out)?);
            let tb = tokens_of(&serde_json::from_slice(&b_out)?);
            let tc = tokens_of(&serde_json::from_slice(&c_out)?);
            let (mut at, mut ar, mut bt, mut br, mut ct, mut cr) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..runs {
                let (t, r, _) = measure(&a_cmd, &env)?;
                at.push(t);
                ar.push(r);
                let (t, r, _) = measure(&b_cmd, &env)?;
                bt.push(t);
                br.push(r);
                let (t, r, _) = measure(&c_cmd, &env)?;
                ct.push(t);
                cr.push(r);
            }
            println!(
                "P1/P2 usage report over {} (warm cache), {runs} runs each, A B C A B C:",
                dir.display()
            );
            report("ccsm usage session --json --direct", &mut at, &ar);
            report("ccusage claude session --offline", &mut bt, &br);
            report("ccsm usage session --json (catalog)", &mut ct, &cr);
            println!(
                "  P1 speed-up (p50, files): {:.2}x",
                pct(&mut bt, 50.0) / pct(&mut at, 50.0)
            );
            println!(
                "  P2 speed-up (p50, catalog up to date): {:.1}x",
                pct(&mut bt, 50.0) / pct(&mut ct, 50.0)
            );
            println!(
                "  tokens equal to ccusage: files {}, catalog {} ({ta:?})",
                ta == tb,
                tc == tb
            );
            println!(
                "  catalog report identical to the files' report: {}",
                c_out == a_out
            );
            let _ = std::fs::remove_dir_all(&home);
        }
        Cmd::List { dir, runs } => {
            let a_cmd: Vec<String> = vec![
                ccsm_bin().display().to_string(),
                "--config-dir".into(),
                dir.display().to_string(),
                "sessions".into(),
                "list".into(),
                "--limit".into(),
                "50".into(),
                "--json".into(),
            ];
            let script = ccsm_testkit::workspace_root().join("tools/claude-code/sdk-list.mjs");
            let b_cmd: Vec<String> = vec!["node".into(), script.display().to_string()];
            let env = [("CLAUDE_CONFIG_DIR", dir.as_path())];
            let (_, _, a_out) = measure(&a_cmd, &env)?;
            let (_, _, b_out) = measure(&b_cmd, &env)?;
            let a: serde_json::Value = serde_json::from_slice(&a_out)?;
            let b: serde_json::Value = serde_json::from_slice(&b_out)?;
            let (mut at, mut ar, mut bt, mut br, mut inproc) =
                (vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..runs {
                let (t, r, _) = measure(&a_cmd, &env)?;
                at.push(t);
                ar.push(r);
                let (t, r, out) = measure(&b_cmd, &env)?;
                bt.push(t);
                br.push(r);
                let v: serde_json::Value = serde_json::from_slice(&out)?;
                inproc.push(v["ms"].as_f64().unwrap_or(f64::NAN));
            }
            println!(
                "P4 list 50 newest sessions of {} (warm cache), {runs} runs each:",
                dir.display()
            );
            report("ccsm sessions list --limit 50", &mut at, &ar);
            report("node: SDK listSessions({limit:50})", &mut bt, &br);
            println!(
                "  SDK listSessions call alone (in-process): p50 {:.1} ms",
                pct(&mut inproc, 50.0)
            );
            println!(
                "  speed-up end to end (p50): {:.1}x; vs the SDK call alone: {:.1}x",
                pct(&mut bt, 50.0) / pct(&mut at, 50.0),
                pct(&mut inproc, 50.0) / pct(&mut at, 50.0)
            );
            println!("  same sessions: {}", a == b["sessions"]);
        }
        Cmd::Single { dir } => {
            let claude = ccsm_transcripts_dir(&dir)?;
            let ccsm = ccsm_bin().display().to_string();
            let d = dir.display().to_string();
            println!("P6 one big transcript ({} MB):", claude.1 / 1_000_000);
            // ccsm's own data in a temp dir: the first command indexes the file.
            let home = tempfile_dir("single-home")?;
            let env = [("CCSM_HOME", home.as_path())];
            for args in [
                vec!["index"],
                vec!["--direct", "usage", "session", "--json"],
                vec!["usage", "session", "--json"],
                vec!["sessions", "info", claude.0.as_str(), "--json"],
                vec![
                    "sessions",
                    "messages",
                    claude.0.as_str(),
                    "--json",
                    "--limit",
                    "20",
                ],
                vec!["sessions", "list", "--json"],
            ] {
                let mut cmd = vec![ccsm.clone(), "--config-dir".into(), d.clone()];
                cmd.extend(args.iter().map(|s| s.to_string()));
                let (t, r, _) = measure(&cmd, &env)?;
                println!(
                    "  ccsm {:<40} {:8.1} ms  peak RSS {:6.1} MiB",
                    args.join(" "),
                    t,
                    r as f64 / 1024.0
                );
            }
            let _ = std::fs::remove_dir_all(&home);
        }
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
