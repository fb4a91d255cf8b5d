//! `ccsm run` and `ccsm chat`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use ccsm_claude::{Drained, Error as ClaudeError, Ladder, Message, Session, Turn};
use ccsm_core::PermissionMode;
use ccsm_service::{RunRequest, Service};
use clap::Args;
use tokio::io::AsyncBufReadExt as _;

use crate::render::Renderer;

/// What `run` and `chat` share: where, which model, which conversation.
#[derive(Args, Debug, Clone)]
pub struct SessionArgs {
    /// The project directory to run in (default: the current directory).
    #[arg(short = 'C', long = "cwd", value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The model to use.
    #[arg(long)]
    pub model: Option<String>,
    /// Resume this session (id or name).
    #[arg(long, conflicts_with = "continue_")]
    pub resume: Option<String>,
    /// Continue the most recent session of the directory.
    #[arg(long = "continue", short = 'c')]
    pub continue_: bool,
    /// With --resume or --continue: a new session with the same history.
    #[arg(long)]
    pub fork: bool,
    /// Permission mode: default, acceptEdits, auto, bypassPermissions, manual, dontAsk, plan.
    #[arg(long, value_name = "MODE", value_parser = PermissionMode::parse_known)]
    pub permission_mode: Option<PermissionMode>,
    /// Tools allowed without asking (repeatable or comma-separated).
    #[arg(long = "allowed-tools", value_delimiter = ',')]
    pub allowed_tools: Vec<String>,
    /// Start or continue the conversation saved under this name.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["resume", "continue_", "load_session"])]
    pub session: Option<String>,
    /// Continue the conversation saved under this name (it must exist).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["resume", "continue_"])]
    pub load_session: Option<String>,
}

impl SessionArgs {
    /// The service's request for these arguments.
    fn request(&self, claude: Option<PathBuf>, partial: bool) -> RunRequest {
        RunRequest {
            claude,
            cwd: self.cwd.clone(),
            model: self.model.clone(),
            resume: self.resume.clone(),
            continue_: self.continue_,
            fork: self.fork,
            permission_mode: self.permission_mode.clone(),
            allowed_tools: self.allowed_tools.clone(),
            session_name: self.session.clone(),
            load_name: self.load_session.clone(),
            partial,
        }
    }
}

/// Saves the conversation's name once the session's id is known.
fn save_name(svc: &Service, name: Option<&str>, session: &Session) -> Result<()> {
    if let (Some(n), Some(id)) = (name, session.session_id()) {
        svc.save_name(n, &id)?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The prompt.
    pub prompt: String,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Start the session in the daemon (`ccsm serve`) and print its id; follow it
    /// with `ccsm logs -f ID`.
    #[arg(long)]
    pub detach: bool,
}

impl RunArgs {
    /// The daemon's start request for these arguments.
    pub fn start_request(&self) -> Result<ccsm_daemon::fleet::StartRequest> {
        let s = &self.session;
        let cwd = match &s.cwd {
            Some(d) => std::path::absolute(d)?,
            None => std::env::current_dir()?,
        };
        Ok(ccsm_daemon::fleet::StartRequest {
            working_directory: Some(cwd),
            prompt: Some(self.prompt.clone()),
            model: s.model.clone(),
            permission_mode: s.permission_mode.as_ref().map(|m| m.as_str().to_owned()),
            name: s.session.clone(),
            resume: s.resume.clone().or(s.load_session.clone()),
            continue_: s.continue_,
            fork: s.fork,
            allowed_tools: s.allowed_tools.clone(),
            ..Default::default()
        })
    }
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub session: SessionArgs,
}

/// How a turn ended, for the exit code.
enum TurnEnd {
    Done { is_error: bool },
    Interrupted,
}

/// Renders a turn; on Ctrl-C the library interrupts it and drains it to its end
/// (what arrives meanwhile is still shown); a second Ctrl-C gives up waiting.
async fn drive(mut turn: Turn, r: &mut Renderer) -> Result<TurnEnd> {
    loop {
        tokio::select! {
            item = turn.next_line() => {
                let Some(item) = item else { break };
                match item {
                    Ok(line) => {
                        r.line(&line);
                        if let Message::Result(res) = &line.message {
                            r.finish(Some(&summary(res)));
                            if res.is_error {
                                eprintln!("error: {}", res.result.as_deref().unwrap_or(&res.subtype));
                            }
                            return Ok(TurnEnd::Done { is_error: res.is_error });
                        }
                    }
                    Err(ClaudeError::Protocol { line, reason }) => {
                        tracing::warn!("skipping a line from the CLI ({reason}): {line}");
                    }
                    Err(e) => {
                        r.finish(None);
                        return Err(e.into());
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\ninterrupting…");
                let drained = tokio::select! {
                    d = turn.interrupt_and_drain(DRAIN_DEADLINE, |line| r.line(line)) => d,
                    _ = tokio::signal::ctrl_c() => Ok(Drained::Ended("given up".into())),
                };
                match drained {
                    Ok(Drained::Result(res)) => r.finish(Some(&summary(&res))),
                    Ok(Drained::Ended(_)) => r.finish(None),
                    Err(e) => {
                        tracing::warn!("interrupt failed: {e}");
                        r.finish(None);
                    }
                }
                return Ok(TurnEnd::Interrupted);
            }
        }
    }
    r.finish(None);
    Ok(TurnEnd::Done { is_error: true })
}

/// How long an interrupted turn may take to end before the session is cancelled.
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

fn summary(res: &ccsm_claude::ResultMessage) -> String {
    let tokens = res.usage.as_ref().map_or(0, |u| u.total());
    format!(
        "── session {} · {} turn(s) · {} tokens · ${:.4}",
        res.session_id.as_deref().unwrap_or("?"),
        res.num_turns.unwrap_or(0),
        tokens,
        res.total_cost_usd.unwrap_or(0.0)
    )
}

pub async fn run(svc: &Service, a: RunArgs, claude: Option<PathBuf>, json: bool) -> Result<u8> {
    let prepared = svc.prepare_run(&a.session.request(claude, !json))?;
    let name = prepared.name.as_deref();
    let mut r = Renderer::new(json);
    r.start_spinner("starting Claude Code…");
    let session = Session::start(prepared.options)
        .await
        .context("starting Claude Code")?;
    // The name is saved as soon as the session has an id (as `chat` does), and
    // again after the turn in case the CLI moved to another id.
    save_name(svc, name, &session)?;
    let turn = session.send(&a.prompt).await?;
    let end = drive(turn, &mut r).await;
    save_name(svc, name, &session)?;
    let code = match end {
        Ok(TurnEnd::Done { is_error }) => {
            session.close().await?;
            u8::from(is_error)
        }
        Ok(TurnEnd::Interrupted) => {
            session.cancel(Ladder::default()).await;
            130
        }
        Err(e) => {
            session.cancel(Ladder::default()).await;
            return Err(e);
        }
    };
    Ok(code)
}

pub async fn chat(svc: &Service, a: ChatArgs, claude: Option<PathBuf>) -> Result<u8> {
    let prepared = svc.prepare_run(&a.session.request(claude, true))?;
    let mut r = Renderer::new(false);
    let session = Session::start(prepared.options)
        .await
        .context("starting Claude Code")?;
    save_name(svc, prepared.name.as_deref(), &session)?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if tty {
        eprintln!("ccsm chat: one prompt per line; /model NAME, /permissions MODE; Ctrl-C interrupts, Ctrl-D ends");
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut failed = false;
    loop {
        if tty {
            eprint!("> ");
        }
        let line = tokio::select! {
            l = lines.next_line() => l?,
            _ = tokio::signal::ctrl_c() => {
                session.cancel(Ladder::default()).await;
                return Ok(130);
            }
        };
        let Some(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(m) = line.strip_prefix("/model") {
            let m = m.trim();
            session
                .set_model((!m.is_empty()).then_some(m))
                .await
                .context("switching the model")?;
            eprintln!("model: {}", if m.is_empty() { "default" } else { m });
            continue;
        }
        if let Some(m) = line.strip_prefix("/permissions") {
            let mode = match PermissionMode::parse_known(m.trim()) {
                Ok(mode) => mode,
                Err(e) => {
                    eprintln!("{e}");
                    continue;
                }
            };
            session
                .set_permission_mode(&mode)
                .await
                .context("switching the permission mode")?;
            eprintln!("permission mode: {mode}");
            continue;
        }
        r.start_spinner("thinking…");
        let turn = session.send(line).await?;
        match drive(turn, &mut r).await? {
            TurnEnd::Done { is_error } => failed |= is_error,
            TurnEnd::Interrupted => {}
        }
    }
    session.close().await?;
    Ok(u8::from(failed))
}
