//! `ccsm-corpus --out DIR [--size 1GiB] [--sessions N] [--median 105KB] [--seed N]
//! [--text-scale 1.0] [--per-project 25] [--single 600MB]`: writes a Claude-Code-shaped config dir for benchmarks.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use ccsm_testkit::corpus::{generate, generate_single, parse_size, CorpusSpec};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Generate a Claude Code config dir of a chosen size, from a seed"
)]
struct Args {
    /// The config dir to write (what CLAUDE_CONFIG_DIR would point at).
    #[arg(long)]
    out: PathBuf,
    /// Total size, e.g. 1GiB, 200MB.
    #[arg(long, default_value = "64MiB")]
    size: String,
    /// Stop after this many sessions.
    #[arg(long)]
    sessions: Option<usize>,
    /// Median transcript size (real histories: 105KB).
    #[arg(long, default_value = "105KB")]
    median: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Scale assistant messages and tool results: 1.0 gives ~2.4 KB average
    /// lines, 2.0 about 4 KB (long answers, large tool output).
    #[arg(long, default_value_t = 1.0)]
    text_scale: f64,
    /// Sessions per project, on average.
    #[arg(long, default_value_t = 25)]
    per_project: usize,
    /// Write one transcript of this size instead.
    #[arg(long)]
    single: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let size =
        |s: &str| parse_size(s).ok_or_else(|| anyhow!("not a size: {s:?} (try 1GiB, 600MB)"));
    if let Some(single) = &a.single {
        let p = generate_single(&a.out, size(single)?, a.seed).context("writing the transcript")?;
        println!("{}", p.display());
        return Ok(());
    }
    let spec = CorpusSpec {
        total_bytes: if a.sessions.is_some() && a.size == "64MiB" {
            u64::MAX
        } else {
            size(&a.size)?
        },
        max_sessions: a.sessions,
        median_bytes: size(&a.median)? as f64,
        seed: a.seed,
        text_scale: a.text_scale,
        sessions_per_project: a.per_project,
    };
    let r = generate(&a.out, &spec).context("writing the corpus")?;
    println!(
        "{} sessions in {} projects, {} bytes, {} lines ({} assistant lines with usage)",
        r.sessions, r.projects, r.bytes, r.lines, r.assistant_usage_lines
    );
    Ok(())
}
