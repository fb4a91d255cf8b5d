//! `ccsm`: the Claude Code session manager.

mod catalog;
mod ids;
mod render;
mod run;
mod sessions;

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
    /// Claude Code's config dir (default: $CLAUDE_CONFIG_DIR, else ~/.claude).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// Machine-readable output (JSON; for `run`, the CLI's raw stream-json lines).
    #[arg(long, global = true)]
    json: bool,
    /// Read Claude Code's files directly instead of ccsm's catalog.
    #[arg(long, global = true)]
    direct: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one turn: stream the reply, show tool calls, end with session, turns, tokens, cost.
    Run(run::RunArgs),
    /// A persistent session in the terminal, one prompt per line.
    Chat(run::ChatArgs),
    /// Bring ccsm's catalog up to date (only what changed is read).
    Index,
    /// Named conversations (`ccsm run --session NAME`).
    #[command(subcommand)]
    Names(catalog::NamesCmd),
    /// Projects Claude Code has sessions for.
    #[command(subcommand)]
    Projects(sessions::ProjectsCmd),
    /// List, read and change sessions.
    #[command(subcommand)]
    Sessions(sessions::SessionsCmd),
    /// Print a shell completion script: `ccsm completions bash > ~/.local/share/bash-completion/completions/ccsm`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `ccsm man > ~/.local/share/man/man1/ccsm.1`.
    Man,
    /// Tokens and cost (ccusage-compatible JSON with --json).
    Usage {
        #[command(flatten)]
        args: sessions::UsageArgs,
        #[command(subcommand)]
        cmd: sessions::UsageCmd,
    },
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not an error.
fn write_out(bytes: &[u8]) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ccsm: {e}");
            ExitCode::FAILURE
        }
    }
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
    // Generated from the clap definitions: always in step with the commands.
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "ccsm", &mut buf);
            return write_out(&buf);
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
                eprintln!("ccsm: {e}");
                return ExitCode::FAILURE;
            }
            return write_out(&buf);
        }
        _ => {}
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ccsm: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let claude = cli.claude.clone();
    let config_dir = cli
        .config_dir
        .clone()
        .map(|d| std::path::absolute(&d).unwrap_or(d));
    let dir = cli.config_dir.clone().map_or_else(
        ccsm_transcripts::ClaudeDir::from_env,
        ccsm_transcripts::ClaudeDir::new,
    );
    let json = cli.json;
    let direct = cli.direct || std::env::var_os("CCSM_DIRECT").is_some();
    let result = rt.block_on(async move {
        match cli.command {
            Command::Run(a) => {
                run::run(a, claude.as_ref(), json, &dir, config_dir.as_deref()).await
            }
            Command::Chat(a) => run::chat(a, claude.as_ref(), &dir, config_dir.as_deref()).await,
            Command::Index => catalog::Catalog::open(&dir)
                .and_then(|c| c.sync(true))
                .and_then(|r| {
                    if json {
                        sessions::print_json(&r)
                    } else {
                        Ok(())
                    }
                })
                .map(|()| 0),
            Command::Names(c) => catalog::names(&dir, c, json).map(|()| 0),
            Command::Projects(c) => sessions::projects(&dir, c, json, direct).map(|()| 0),
            Command::Sessions(c) => sessions::sessions(&dir, c, json, direct).map(|()| 0),
            Command::Completions { .. } | Command::Man => Ok(0),
            Command::Usage { args, cmd } => {
                sessions::usage(&dir, args, cmd, json, direct).map(|()| 0)
            }
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
