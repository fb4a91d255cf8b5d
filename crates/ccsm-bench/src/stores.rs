//! P11: one corpus, two catalogs, measured side by side in one run: the
//! embedded SQLite and a PostgreSQL database. Both go through the CLI as a user
//! runs it (process start, freshness check, the answer), each command
//! alternated between the two so that the machine's drift falls on both.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::{ccsm_bin, pct, tempfile_dir};

/// Runs `ccsm ARGS` on `dir` with `store` (`None`: SQLite in `home`); wall ms.
pub(crate) fn timed(dir: &Path, home: &Path, store: Option<&str>, args: &[&str]) -> Result<f64> {
    let mut c = Command::new(ccsm_bin());
    c.env("CCSM_HOME", home).arg("--config-dir").arg(dir);
    if let Some(s) = store {
        c.args(["--store", s]);
    }
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        out.status.success(),
        "ccsm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(ms)
}

/// p50 and p99 of `runs` runs of `args` on each store, alternated.
fn both(
    dir: &Path,
    homes: [&Path; 2],
    pg: &str,
    runs: usize,
    args: &[&str],
) -> Result<[(f64, f64); 2]> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(timed(dir, homes[0], None, args)?);
        b.push(timed(dir, homes[1], Some(pg), args)?);
    }
    Ok([
        (pct(&mut a, 50.0), pct(&mut a, 99.0)),
        (pct(&mut b, 50.0), pct(&mut b, 99.0)),
    ])
}

fn row(what: &str, r: [(f64, f64); 2]) {
    let ratio = r[1].0 / r[0].0;
    println!(
        "| {what} | {:.1} / {:.1} | {:.1} / {:.1} | {ratio:.2}x |",
        r[0].0, r[0].1, r[1].0, r[1].1
    );
}

/// p50 and p99 of `runs` in-process searches of `q` on each store, alternated.
fn in_process(
    stores: [&dyn ccsm_store::Store; 2],
    q: &crate::search::Query,
    runs: usize,
) -> Result<[(f64, f64); 2]> {
    let mut sq = ccsm_store::SearchQuery::parse(&q.text)?;
    sq.rank = q.rank;
    sq.limit = 20;
    let mut lat = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (k, store) in stores.iter().enumerate() {
            let t = Instant::now();
            store.search(&sq)?;
            lat[k].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let [mut a, mut b] = lat;
    Ok([
        (pct(&mut a, 50.0), pct(&mut a, 99.0)),
        (pct(&mut b, 50.0), pct(&mut b, 99.0)),
    ])
}

/// Builds both catalogs from nothing `builds` times, alternated (the first
/// build of each is the one the rest of the run uses); seconds.
fn builds(dir: &Path, homes: [&Path; 2], pg: &str, builds: usize) -> Result<()> {
    let (mut s, mut p) = (Vec::new(), Vec::new());
    for i in 0..builds {
        if i > 0 {
            for h in homes {
                std::fs::remove_dir_all(h)?;
                std::fs::create_dir_all(h)?;
            }
            ccsm_store::PgStore::open(pg)?.drop_all()?;
        }
        s.push(timed(dir, homes[0], None, &["index"])? / 1e3);
        p.push(timed(dir, homes[1], Some(pg), &["index"])? / 1e3);
    }
    let ratio = pct(&mut p.clone(), 50.0) / pct(&mut s.clone(), 50.0);
    let all = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| catalog build from nothing ({builds} builds each, median) | {:.1} s ({}) | {:.1} s ({}) | {ratio:.2}x |",
        pct(&mut s.clone(), 50.0),
        all(&s),
        pct(&mut p.clone(), 50.0),
        all(&p),
    );
    Ok(())
}

pub fn run(dir: &Path, pg: &str, runs: usize, build_runs: usize) -> Result<()> {
    let sqlite_home = tempfile_dir("ccsm-bench-stores-sqlite")?;
    let pg_home = tempfile_dir("ccsm-bench-stores-pg")?;
    let homes = [sqlite_home.as_path(), pg_home.as_path()];
    println!("| what | SQLite p50 / p99 (ms) | PostgreSQL p50 / p99 (ms) | PG / SQLite |\n|---|---|---|---|");
    // Builds from nothing, alternated (each with its own archive).
    builds(dir, homes, pg, build_runs.max(1))?;
    // Re-sync after 100 KB appended to the newest transcript, three times.
    let newest = newest_transcript(dir)?;
    let (mut rs, mut rp) = (Vec::new(), Vec::new());
    for i in 0..3 {
        append_100k(&newest, i)?;
        rs.push(timed(dir, homes[0], None, &["index"])?);
        rp.push(timed(dir, homes[1], Some(pg), &["index"])?);
    }
    row(
        "re-sync after 100 KB appended (3 runs)",
        [
            (pct(&mut rs, 50.0), pct(&mut rs, 99.0)),
            (pct(&mut rp, 50.0), pct(&mut rp, 99.0)),
        ],
    );
    for (what, args) in [
        (
            "sessions list --limit 50",
            &["sessions", "list", "--limit", "50", "--json"][..],
        ),
        ("usage daily", &["usage", "daily", "--json"][..]),
        ("usage session", &["usage", "session", "--json"][..]),
    ] {
        row(what, both(dir, homes, pg, runs, args)?);
    }
    // The search query set, chosen from the SQLite catalog (the same corpus).
    let db = std::fs::read_dir(sqlite_home.join("catalogs"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .context("the SQLite catalog")?;
    let store = ccsm_store::SqliteStore::open(&db)?;
    let pg_store = ccsm_store::PgStore::open(pg)?;
    let set = crate::search::query_set(&store)?;
    let mut worst = [[(0f64, 0f64); 2]; 2];
    let mut inproc = Vec::new();
    for q in &set {
        let mut args = vec!["sessions", "search", q.text.as_str(), "--json"];
        if q.rank {
            args.push("--rank");
        }
        let what = format!(
            "search {} `{}`{}",
            q.kind,
            q.text,
            if q.rank { " --rank" } else { "" }
        );
        let r = both(dir, homes, pg, runs, &args)?;
        let i = in_process([&store, &pg_store], q, runs)?;
        for k in 0..2 {
            for (w, x) in [(0, r[k]), (1, i[k])] {
                worst[w][k].0 = worst[w][k].0.max(x.0);
                worst[w][k].1 = worst[w][k].1.max(x.1);
            }
        }
        row(&format!("{what}, CLI"), r);
        inproc.push((what, i));
    }
    row(
        &format!("search, worst of {} queries, CLI", set.len()),
        worst[0],
    );
    println!("\nThe same searches in process (the store's own time, no process start-up):\n");
    println!("| query | SQLite p50 / p99 (ms) | PostgreSQL p50 / p99 (ms) | PG / SQLite |\n|---|---|---|---|");
    for (what, i) in inproc {
        row(&what, i);
    }
    row(
        &format!("search, worst of {} queries, in process", set.len()),
        worst[1],
    );
    Ok(())
}

pub(crate) fn newest_transcript(dir: &Path) -> Result<std::path::PathBuf> {
    let mut best: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    for p in std::fs::read_dir(dir.join("projects"))?.flatten() {
        for f in std::fs::read_dir(p.path())?.flatten() {
            let path = f.path();
            if path.extension().is_some_and(|x| x == "jsonl") {
                let m = f.metadata()?.modified()?;
                if best.as_ref().is_none_or(|(t, _)| m > *t) {
                    best = Some((m, path));
                }
            }
        }
    }
    best.map(|(_, p)| p).context("a transcript in the corpus")
}

/// Appends about 100 KB of user lines (whole lines) to a transcript.
pub(crate) fn append_100k(path: &Path, round: usize) -> Result<()> {
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    let session = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut written = 0;
    let mut i = 0;
    while written < 100_000 {
        let line = serde_json::json!({
            "type": "user",
            "uuid": format!("bench-{round}-{i}"),
            "sessionId": session,
            "timestamp": "2026-12-01T10:00:00.000Z",
            "message": {"role": "user", "content": format!("appended line {i} of round {round}: {}", "more words to find ".repeat(40))},
        })
        .to_string();
        writeln!(f, "{line}")?;
        written += line.len() + 1;
        i += 1;
    }
    Ok(())
}
