//! `ccsm`: the Claude Code session manager.

mod render;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ccsm",
    version,
    about = "The Claude Code session manager: run, find, keep and move Claude Code sessions",
    long_about = None
)]
struct Cli {
    /// The claude binary to run (default: $CCSM_CLAUDE_PATH, then PATH and the usual places).
    #[arg(long, global = true, env = "CCSM_CLAUDE_PATH", value_name = "PATH")]
    claude: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one turn: stream the reply, show tool calls, end with session, turns, tokens, cost.
    Run(run::RunArgs),
    /// A persistent session in the terminal, one prompt per line.
    Chat(run::ChatArgs),
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CCSM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ccsm: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let claude = cli.claude.clone();
    let result = rt.block_on(async move {
        match cli.command {
            Command::Run(a) => run::run(a, claude.as_ref()).await,
            Command::Chat(a) => run::chat(a, claude.as_ref()).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ccsm: {e:#}");
            ExitCode::FAILURE
        }
    }
}
