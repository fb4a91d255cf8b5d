//! Flat as history grows (issue 18): the same commands on a small and a large
//! catalog, alternated, and the re-sync of a running session's transcript after
//! 100 KB appended, on each.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::pct;
use crate::stores::{append_100k, newest_transcript, timed};

/// The commands compared (as a user runs them; every one checks freshness first).
const COMMANDS: &[&[&str]] = &[
    &["usage", "daily", "--json"],
    // The same ten days at every size (the generated corpora start on
    // 2026-09-21; a larger one spans more days, so its whole daily report has
    // more rows): the report's cost for equal output.
    &[
        "usage",
        "daily",
        "--since",
        "2026-09-21",
        "--until",
        "2026-09-30",
        "--json",
    ],
    &["usage", "monthly", "--json"],
    &["usage", "session", "--json"],
    &["sessions", "list", "--limit", "50", "--json"],
    &["sessions", "search", "zyzzyvaq", "--json"],
    &["sessions", "search", "refactor", "--json"],
    &["sessions", "search", "refactor has:tool:Bash", "--json"],
    &["sessions", "search", "refactor", "--rank", "--json"],
];

/// `(config dir, CCSM_HOME)` of each size: catalogs built already (`ccsm index`).
pub fn run(small: [&Path; 2], large: [&Path; 2], runs: usize) -> Result<()> {
    for [dir, home] in [small, large] {
        // Catalogs in step before anything is timed.
        timed(dir, home, None, &["index"])?;
    }
    println!("| command | small p50 / p99 (ms) | large p50 / p99 (ms) | large / small (p50) |");
    println!("|---|---|---|---|");
    for args in COMMANDS {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            a.push(timed(small[0], small[1], None, args)?);
            b.push(timed(large[0], large[1], None, args)?);
        }
        let (a50, a99, b50, b99) = (
            pct(&mut a, 50.0),
            pct(&mut a, 99.0),
            pct(&mut b, 50.0),
            pct(&mut b, 99.0),
        );
        println!(
            "| `ccsm {}` | {a50:.1} / {a99:.1} | {b50:.1} / {b99:.1} | {:.2}x |",
            args.join(" "),
            b50 / a50
        );
    }
    for (what, [dir, home]) in [("small", small), ("large", large)] {
        let (next, index) = resync(dir, home, runs.min(9))?;
        println!(
            "re-sync after 100 KB appended to a running session's transcript ({what}): \
             the next command (`sessions list --limit 1`) p50 {:.1} ms, max {:.1} ms; \
             `ccsm index` (every file looked at) p50 {:.1} ms, max {:.1} ms",
            pct(&mut next.clone(), 50.0),
            pct(&mut next.clone(), 100.0),
            pct(&mut index.clone(), 50.0),
            pct(&mut index.clone(), 100.0),
        );
    }
    Ok(())
}

/// The newest transcript made a running session's (an entry in the registry,
/// as the CLI writes while it runs, naming this process), then `runs` times:
/// 100 KB appended and the next command timed; then the same with `ccsm index`.
fn resync(dir: &Path, home: &Path, runs: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let file = newest_transcript(dir)?;
    let entry = pretend_running(dir, &file)?;
    // A quiet signature is kept once the registry's folder has settled (2 s):
    // as if the CLI had started a while ago.
    std::fs::File::open(dir.join("sessions"))?
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(10))?;
    let list = ["sessions", "list", "--limit", "1", "--json"];
    timed(dir, home, None, &list)?;
    let mut next = Vec::new();
    let mut index = Vec::new();
    for i in 0..runs {
        append_100k(&file, 1000 + i)?;
        next.push(timed(dir, home, None, &list)?);
    }
    for i in 0..runs {
        append_100k(&file, 2000 + i)?;
        index.push(timed(dir, home, None, &["index"])?);
    }
    std::fs::remove_file(&entry)?;
    Ok((next, index))
}

/// Writes `sessions/<this pid>.json` naming the transcript's session and cwd.
fn pretend_running(dir: &Path, file: &Path) -> Result<PathBuf> {
    let id = file
        .file_stem()
        .and_then(|s| s.to_str())
        .context("a session id")?;
    let text = std::fs::read_to_string(file)?;
    let cwd = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["cwd"].as_str().map(str::to_owned))
        .context("a cwd in the transcript")?;
    let reg = dir.join("sessions");
    std::fs::create_dir_all(&reg)?;
    let pid = std::process::id();
    let entry = reg.join(format!("{pid}.json"));
    std::fs::write(
        &entry,
        serde_json::json!({"pid": pid, "sessionId": id, "cwd": cwd,
            "kind": "interactive", "entrypoint": "cli", "status": "busy"})
        .to_string(),
    )?;
    Ok(entry)
}
