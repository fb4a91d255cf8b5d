//! `ccsm`: the Claude Code session manager.

mod agents;
mod bundles;
mod catalog;
mod ids;
mod info;
mod live;
mod out;
mod projects;
mod render;
mod run;
mod serve;
mod sessions;
mod setup;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use ccsm_service::{config, Service};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ccsm",
    version,
    about = "The Claude Code session manager: run, find, keep and move Claude Code sessions",
    long_about = None,
    after_help = "Defaults can be set in ~/.config/ccsm/config.toml (or $CCSM_CONFIG): config_dir, claude, data_dir, catalog, store, pricing."
)]
struct Cli {
    /// Claude Code's config dir (default: $CLAUDE_CONFIG_DIR, the config file's
    /// config_dir, else ~/.claude).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// The catalog for every config dir and host: postgres://user@host/db (a
    /// team's, shared) or sqlite:///path.db (default: the config file's `store`,
    /// else each config dir's own SQLite catalog). The password comes from
    /// $CCSM_STORE_PASSWORD or the config file's store_password_file.
    #[arg(
        long,
        global = true,
        env = "CCSM_STORE",
        value_name = "URL",
        hide_env_values = true
    )]
    store: Option<String>,
    // Accepted before the command too, as earlier versions took them; each is
    // shown only on the commands it applies to.
    #[arg(long, hide = true)]
    json: bool,
    #[arg(long, hide = true)]
    direct: bool,
    #[arg(long, hide = true, value_name = "PATH")]
    claude: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// `--json`, on the commands that print something a program may read.
#[derive(Args, Debug)]
struct Json {
    /// Machine-readable output: JSON (for `run`, the CLI's raw stream-json lines).
    #[arg(long, global = true)]
    json: bool,
}

/// `--direct`, on the commands that can answer from the catalog or the files.
#[derive(Args, Debug)]
struct Direct {
    /// Read Claude Code's files directly instead of ccsm's catalog (also: $CCSM_DIRECT).
    #[arg(long, global = true)]
    direct: bool,
}

/// `--claude`, on the commands that start the CLI.
#[derive(Args, Debug)]
struct Claude {
    /// The claude binary to run (default: $CCSM_CLAUDE_PATH, the config file's
    /// claude, then PATH and the usual places).
    #[arg(long, env = "CCSM_CLAUDE_PATH", value_name = "PATH")]
    claude: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one turn: stream the reply, show tool calls, end with session, turns, tokens, cost.
    Run {
        #[command(flatten)]
        args: run::RunArgs,
        #[command(flatten)]
        claude: Claude,
        #[command(flatten)]
        out: Json,
        #[command(flatten)]
        daemon: live::DaemonArgs,
    },
    /// The daemon: start, watch, steer and stop many sessions over HTTP and WebSocket.
    Serve {
        #[command(flatten)]
        args: serve::ServeArgs,
        #[command(flatten)]
        claude: Claude,
    },
    /// Every Claude Code process on the machine: the daemon's sessions and the others.
    Ps {
        #[command(flatten)]
        daemon: live::DaemonArgs,
        #[command(flatten)]
        out: Json,
    },
    /// Cancel a daemon session (or all of them, or by --pid a process it did not start).
    Cancel {
        #[command(flatten)]
        args: live::CancelArgs,
        #[command(flatten)]
        daemon: live::DaemonArgs,
        #[command(flatten)]
        out: Json,
    },
    /// A daemon session's events (-f follows them until it ends).
    Logs {
        #[command(flatten)]
        args: live::LogsArgs,
        #[command(flatten)]
        daemon: live::DaemonArgs,
        #[command(flatten)]
        out: Json,
    },
    /// Tool calls waiting for a person's answer: list, allow, deny.
    Approvals {
        #[command(subcommand)]
        cmd: Option<live::ApprovalsCmd>,
        #[command(flatten)]
        daemon: live::DaemonArgs,
        #[command(flatten)]
        out: Json,
    },
    /// A persistent session in the terminal, one prompt per line.
    Chat {
        #[command(flatten)]
        args: run::ChatArgs,
        #[command(flatten)]
        claude: Claude,
    },
    /// Bring ccsm's catalog up to date (only what changed is read).
    Index {
        #[command(flatten)]
        out: Json,
    },
    /// Named conversations (`ccsm run --session NAME`).
    Names {
        #[command(subcommand)]
        cmd: catalog::NamesCmd,
        #[command(flatten)]
        out: Json,
    },
    /// Projects Claude Code has sessions for.
    Projects {
        #[command(subcommand)]
        cmd: projects::ProjectsCmd,
        #[command(flatten)]
        out: Json,
        #[command(flatten)]
        source: Direct,
    },
    /// List, read and change sessions.
    Sessions {
        #[command(subcommand)]
        cmd: sessions::SessionsCmd,
        #[command(flatten)]
        out: Json,
        #[command(flatten)]
        source: Direct,
    },
    /// Check, repair, migrate or copy the catalog (also: `ccsm store`).
    #[command(alias = "store")]
    Catalog {
        #[command(subcommand)]
        cmd: catalog::CatalogCmd,
        #[command(flatten)]
        out: Json,
    },
    /// Print a shell completion script: `ccsm completions bash > ~/.local/share/bash-completion/completions/ccsm`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `ccsm man > ~/.local/share/man/man1/ccsm.1`.
    Man,
    /// Show where ccsm reads and keeps things: the config file and what it sets,
    /// Claude Code's config dir, the data dir, the catalog, the pricing table.
    Config {
        #[command(flatten)]
        out: Json,
    },
    /// What a session did: turns, commands, files created/modified/deleted, errors, response times.
    Metrics {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        #[command(flatten)]
        out: Json,
    },
    /// Sessions by status and project, cost per day and model, the top sessions, anomalies.
    Analytics {
        /// The last this many days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Sessions per list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        out: Json,
    },
    /// Alerts the daemon's monitor raised (limits crossed), newest first.
    Alerts {
        /// Only this session's (its id, a prefix, or a name).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        out: Json,
    },
    /// Subagent definitions sessions can use (built-in, yours, the catalog's).
    Agents {
        #[command(subcommand)]
        cmd: agents::AgentsCmd,
        #[command(flatten)]
        out: Json,
    },
    /// Tokens and cost (ccusage-compatible JSON with --json).
    Usage {
        #[command(flatten)]
        args: usage::UsageArgs,
        #[command(subcommand)]
        cmd: usage::UsageCmd,
        #[command(flatten)]
        out: Json,
        #[command(flatten)]
        source: Direct,
    },
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
    if !matches!(
        cli.command,
        Command::Run { .. } | Command::Chat { .. } | Command::Serve { .. }
    ) {
        out::quiet_broken_pipe();
    }
    // Generated from the clap definitions: always in step with the commands.
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "ccsm", &mut buf);
            return out::write_out(&buf);
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
                eprintln!("ccsm: {e}");
                return ExitCode::FAILURE;
            }
            return out::write_out(&buf);
        }
        _ => {}
    }
    // A bad config file is said before anything runs (a typo is never ignored).
    let config = match config::load().and_then(|c| config::with_store(c, cli.store.clone())) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ccsm: {:#}", anyhow::Error::from(e));
            return ExitCode::FAILURE;
        }
    };
    // Claude Code's config dir: the flag, $CLAUDE_CONFIG_DIR, the config file, ~/.claude.
    let svc = Service::new(config, cli.config_dir.clone()).with_progress(setup::progress_bar());
    let top_json = cli.json;
    let direct_of = |s: &Direct| s.direct || cli.direct || config::env("CCSM_DIRECT").is_some();
    let claude_of = |c: &Claude| c.claude.clone().or(cli.claude.clone());
    // Worker threads only for the commands that drive the CLI or serve; the
    // others are short and blocking and run outside any runtime (a catalog
    // on PostgreSQL would otherwise move each of its calls to a thread).
    let serves = matches!(cli.command, Command::Run { ref args, .. } if !args.detach)
        || matches!(cli.command, Command::Chat { .. } | Command::Serve { .. });
    let work = async {
        match cli.command {
            Command::Run {
                args, out, daemon, ..
            } if args.detach => {
                live::detach(&svc, &daemon, args.start_request()?, out.json || top_json)
            }
            Command::Run {
                args, claude, out, ..
            } => run::run(&svc, args, claude_of(&claude), out.json || top_json).await,
            Command::Serve { args, claude } => serve::serve(&svc, args, claude_of(&claude)).await,
            Command::Ps { daemon, out } => {
                live::ps(&svc, &daemon, out.json || top_json).map(|()| 0)
            }
            Command::Cancel { args, daemon, out } => {
                live::cancel(&svc, &daemon, args, out.json || top_json).map(|()| 0)
            }
            Command::Logs { args, daemon, out } => {
                live::logs(&svc, &daemon, args, out.json || top_json).map(|()| 0)
            }
            Command::Approvals { cmd, daemon, out } => {
                live::approvals(&svc, &daemon, cmd, out.json || top_json).map(|()| 0)
            }
            Command::Chat { args, claude } => run::chat(&svc, args, claude_of(&claude)).await,
            Command::Index { out } => catalog::index(&svc, out.json || top_json).map(|()| 0),
            Command::Names { cmd, out } => {
                catalog::names(&svc, cmd, out.json || top_json).map(|()| 0)
            }
            Command::Projects { cmd, out, source } => {
                projects::projects(&svc, cmd, out.json || top_json, direct_of(&source)).map(|()| 0)
            }
            Command::Sessions { cmd, out, source } => {
                sessions::sessions(&svc, cmd, out.json || top_json, direct_of(&source)).map(|()| 0)
            }
            Command::Completions { .. } | Command::Man => Ok(0),
            Command::Catalog { cmd, out } => catalog::catalog_cmd(&svc, cmd, out.json || top_json),
            Command::Config { out } => setup::show_config(&svc, out.json || top_json).map(|()| 0),
            Command::Metrics { id, out } => {
                agents::metrics(&svc, &id, out.json || top_json).map(|()| 0)
            }
            Command::Analytics { days, top, out } => {
                agents::analytics(&svc, days, top, out.json || top_json).map(|()| 0)
            }
            Command::Alerts {
                session,
                limit,
                out,
            } => agents::alerts(&svc, session.as_deref(), limit, out.json || top_json).map(|()| 0),
            Command::Agents { cmd, out } => {
                agents::agents(&svc, cmd, out.json || top_json).map(|()| 0)
            }
            Command::Usage {
                args,
                cmd,
                out,
                source,
            } => {
                usage::usage(&svc, args, cmd, out.json || top_json, direct_of(&source)).map(|()| 0)
            }
        }
    };
    let result = if serves {
        match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(work),
            Err(e) => Err(anyhow::anyhow!("cannot start the runtime: {e}")),
        }
    } else {
        let done = setup::at_once(work);
        svc.leave_store_at_exit();
        done
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ccsm: {e:#}");
            let corrupt = e.chain().any(|c| {
                c.downcast_ref::<ccsm_service::Error>()
                    .is_some_and(ccsm_service::Error::is_corrupt)
            });
            if corrupt {
                eprintln!(
                    "ccsm: the catalog is damaged. `ccsm catalog check` says what is wrong; \
                     `ccsm catalog repair` moves it aside (kept), rebuilds it from Claude Code's \
                     files and brings over ccsm's own tags, notes, descriptions and names."
                );
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod help_test;
