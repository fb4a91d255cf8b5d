//! `ccsm-corpus --out DIR [--shape project|wide|many] [--size 1GiB] [--sessions N]
//! [--median 105KB] [--seed N] [--text-scale 1.0] [--per-project 25] [--vocabulary N]
//! [--skew 1.0] [--tool-share 0.5] [--big-tool-share 0.1] [--single 600MB]`: writes a
//! Claude-Code-shaped config dir for benchmarks, the same for the same arguments.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use ccsm_testkit::corpus::{generate, generate_single, parse_size, CorpusSpec, SHAPES};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Generate a Claude Code config dir of a chosen size, from a seed"
)]
struct Args {
    /// The config dir to write (what CLAUDE_CONFIG_DIR would point at).
    #[arg(long, required_unless_present = "list_shapes")]
    out: Option<PathBuf>,
    /// Total size, e.g. 1GiB, 200MB.
    #[arg(long, default_value = "64MiB")]
    size: String,
    /// Stop after this many sessions.
    #[arg(long)]
    sessions: Option<usize>,
    /// A shape of history (see --list-shapes); the options below change it.
    #[arg(long, default_value = "project")]
    shape: String,
    /// Lists the shapes and what each is.
    #[arg(long)]
    list_shapes: bool,
    /// Median transcript size (real histories: 105KB).
    #[arg(long)]
    median: Option<String>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Scale assistant messages and tool results: 1.0 gives ~2.4 KB average
    /// lines, 2.0 about 4 KB (long answers, large tool output).
    #[arg(long)]
    text_scale: Option<f64>,
    /// Sessions per project, on average.
    #[arg(long)]
    per_project: Option<usize>,
    /// Words in the vocabulary (0: the 24 fixed words).
    #[arg(long)]
    vocabulary: Option<usize>,
    /// Zipf exponent of word choice (about 1 in natural text; 0 uniform).
    #[arg(long)]
    skew: Option<f64>,
    /// Share of model calls that call a tool.
    #[arg(long)]
    tool_share: Option<f64>,
    /// Share of tool results that are large (8 to 64 KB, times the scale).
    #[arg(long)]
    big_tool_share: Option<f64>,
    /// Write one transcript of this size instead.
    #[arg(long)]
    single: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if a.list_shapes {
        for (name, what) in SHAPES {
            println!("{name:<8} {what}");
        }
        return Ok(());
    }
    let out = a.out.clone().context("--out is needed")?;
    let size =
        |s: &str| parse_size(s).ok_or_else(|| anyhow!("not a size: {s:?} (try 1GiB, 600MB)"));
    if let Some(single) = &a.single {
        let p = generate_single(&out, size(single)?, a.seed).context("writing the transcript")?;
        println!("{}", p.display());
        return Ok(());
    }
    let total = if a.sessions.is_some() && a.size == "64MiB" {
        u64::MAX
    } else {
        size(&a.size)?
    };
    let mut spec = CorpusSpec::shaped(&a.shape, total, a.seed).ok_or_else(|| {
        anyhow!(
            "no shape {:?}: use {}",
            a.shape,
            SHAPES.map(|(n, _)| n).join(", ")
        )
    })?;
    spec.max_sessions = a.sessions;
    if let Some(m) = &a.median {
        spec.median_bytes = size(m)? as f64;
    }
    spec.text_scale = a.text_scale.unwrap_or(spec.text_scale);
    spec.sessions_per_project = a.per_project.unwrap_or(spec.sessions_per_project);
    spec.vocabulary = a.vocabulary.unwrap_or(spec.vocabulary);
    spec.skew = a.skew.unwrap_or(spec.skew);
    spec.tool_share = a.tool_share.or(spec.tool_share);
    spec.big_tool_share = a.big_tool_share.unwrap_or(spec.big_tool_share);
    let r = generate(&out, &spec).context("writing the corpus")?;
    println!(
        "{} sessions in {} projects, {} bytes, {} lines ({} assistant lines with usage)",
        r.sessions, r.projects, r.bytes, r.lines, r.assistant_usage_lines
    );
    Ok(())
}
