//! P5 over a query set that covers what people type: plain words (rare, common,
//! absent), a phrase, a prefix, every filter alone and with a word, filters that
//! match nothing, `--rank` on the most frequent word, and `project:`. Each query
//! is timed in process (the store alone) and end to end through the CLI as a user
//! runs it (process start, the catalog's freshness check, the query, the JSON out).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::{ccsm_bin, pct, tempfile_dir};

/// One query of the set: what it is, its text, ranked or not.
pub(crate) struct Query {
    pub kind: String,
    pub text: String,
    pub rank: bool,
}

fn q(kind: &str, text: &str) -> Query {
    Query {
        kind: kind.to_owned(),
        text: text.to_owned(),
        rank: false,
    }
}

pub(crate) fn hits(store: &dyn ccsm_store::Store, text: &str, rank: bool) -> Result<usize> {
    let mut sq = ccsm_store::SearchQuery::parse(text)?;
    sq.limit = 20;
    sq.rank = rank;
    Ok(store.search(&sq)?.len())
}

/// The query set for a catalog: words are chosen from what the corpus holds.
pub(crate) fn query_set(store: &dyn ccsm_store::Store) -> Result<Vec<Query>> {
    let common = "refactor";
    // The rarest of the made-up words that still occurs (none in the first shape).
    let rare = [20_000usize, 8_000, 3_000, 1_000, 300, 60]
        .iter()
        .map(|&r| ccsm_testkit::corpus::made_up_word(r))
        .find(|w| hits(store, w, false).is_ok_and(|n| n > 0));
    let project = crate::newest_project(store)?
        .and_then(|p| p.rsplit('/').next().map(str::to_owned))
        .context("a project in the catalog")?;
    let mut v = vec![
        q("word, common", common),
        q("word, absent", "zyzzyvaq"),
        q("phrase", "\"refactor the\""),
        q("prefix*", "migr*"),
        q("project: alone", &format!("project:{project}")),
        q("word project:", &format!("{common} project:{project}")),
    ];
    if let Some(r) = &rare {
        v.insert(1, q("word, rare", r));
    }
    let filters = [
        "tag:important",
        "model:opus",
        "branch:main",
        "after:2026-09-26",
        "before:2026-09-23",
        "cost>1",
        "cost<0.05",
        "has:tool:Bash",
        "name:nobody",
        "is:archived",
        "is:gone",
    ];
    for f in filters {
        v.push(q(&format!("{f} alone"), f));
        v.push(q(&format!("word {f}"), &format!("{common} {f}")));
    }
    for f in [
        "has:tool:Nope",
        "tag:nothing",
        "cost>100000",
        "project:nowhere",
    ] {
        v.push(q(
            &format!("word {f} (matches nothing)"),
            &format!("{common} {f}"),
        ));
    }
    let mut ranked = vec![
        q("--rank common word", common),
        q(
            "--rank word has:tool:Bash",
            &format!("{common} has:tool:Bash"),
        ),
    ];
    if let Some(r) = &rare {
        ranked.push(q("--rank rare word", r));
    }
    for r in &mut ranked {
        r.rank = true;
    }
    v.extend(ranked);
    Ok(v)
}

/// Builds the catalog of `dir` in `home` (a temp one when none is given) and
/// measures every query of the set, in process and through the CLI.
pub fn run(dir: &Path, home: Option<PathBuf>, runs: usize, inproc: usize) -> Result<()> {
    let home = match home {
        Some(h) => h,
        None => tempfile_dir("ccsm-bench-search-home")?,
    };
    let ccsm = ccsm_bin();
    let cli = |args: &[&str]| {
        let mut c = Command::new(&ccsm);
        c.env("CCSM_HOME", &home)
            .arg("--config-dir")
            .arg(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let t = Instant::now();
    let out = cli(&["index"]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "ccsm index: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "catalog of {} ready in {:.1} s",
        dir.display(),
        t.elapsed().as_secs_f64()
    );
    let db = std::fs::read_dir(home.join("catalogs"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .context("the catalog")?;
    let store = ccsm_store::SqliteStore::open(&db)?;
    let set = query_set(&store)?;
    println!(
        "| query | sessions | in process p50 / p99 (ms) | CLI p50 / p99 (ms) |\n|---|---|---|---|"
    );
    let (mut worst50, mut worst99) = (0f64, 0f64);
    for query in &set {
        let n = hits(&store, &query.text, query.rank)?;
        let mut inp = Vec::with_capacity(inproc);
        for _ in 0..inproc {
            let t = Instant::now();
            hits(&store, &query.text, query.rank)?;
            inp.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut args = vec!["sessions", "search", query.text.as_str(), "--json"];
        if query.rank {
            args.push("--rank");
        }
        let mut e2e = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let out = cli(&args).output()?;
            e2e.push(t.elapsed().as_secs_f64() * 1e3);
            anyhow::ensure!(
                out.status.success(),
                "ccsm sessions search {:?}: {}",
                query.text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (p50, p99) = (pct(&mut e2e, 50.0), pct(&mut e2e, 99.0));
        worst50 = worst50.max(p50);
        worst99 = worst99.max(p99);
        println!(
            "| {} `{}`{} | {n} | {:.2} / {:.2} | {p50:.1} / {p99:.1} |",
            query.kind,
            query.text,
            if query.rank { " --rank" } else { "" },
            pct(&mut inp, 50.0),
            pct(&mut inp, 99.0),
        );
    }
    println!(
        "P5 through the CLI, {} queries x {runs} runs: worst p50 {worst50:.1} ms, worst p99 {worst99:.1} ms",
        set.len()
    );
    Ok(())
}
