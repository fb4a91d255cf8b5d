//! The live side: `ccsm serve` (the daemon), and the commands that are its
//! clients: `ps`, `cancel`, `logs`, `approvals`, `run --detach`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use ccsm_core::{ApprovalView, ProcessView};
use ccsm_daemon::client::{Client, ClientError, DEFAULT_ADDR};
use ccsm_daemon::fleet::{Answer, RunView, StartRequest, Started};
use ccsm_service::{config, Service};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::out::{self, print_json};

/// Where the daemon is and how to reach it (for its clients).
#[derive(Args, Debug, Clone)]
pub struct DaemonArgs {
    /// The daemon's address (default: $CCSM_DAEMON, the config file's serve.listen, 127.0.0.1:8082).
    #[arg(long, value_name = "ADDR", global = true)]
    pub daemon: Option<String>,
    /// A file holding the daemon's token (default: $CCSM_TOKEN_FILE, the config file's serve.token_file).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
}

pub fn read_token(file: Option<PathBuf>) -> Result<Option<String>> {
    let Some(f) = file else { return Ok(None) };
    let t = std::fs::read_to_string(&f)
        .with_context(|| format!("reading the token file {}", f.display()))?;
    let t = t.trim().to_owned();
    if t.len() < 16 {
        bail!(
            "the token in {} is too short: use at least 16 characters",
            f.display()
        );
    }
    Ok(Some(t))
}

impl DaemonArgs {
    fn token_file(&self, svc: &Service) -> Option<PathBuf> {
        self.token_file
            .clone()
            .or_else(|| config::env("CCSM_TOKEN_FILE").map(PathBuf::from))
            .or_else(|| svc.config().serve.token_file.clone())
    }

    pub fn client(&self, svc: &Service) -> Result<Client> {
        let addr = self
            .daemon
            .clone()
            .or_else(|| config::env("CCSM_DAEMON").and_then(|v| v.into_string().ok()))
            .or_else(|| svc.config().serve.listen.clone())
            .unwrap_or_else(|| DEFAULT_ADDR.into());
        Ok(Client::new(&addr, read_token(self.token_file(svc))?))
    }
}

fn show_processes(rows: &[ProcessView], json: bool) -> Result<()> {
    if json {
        return print_json(rows);
    }
    if rows.is_empty() {
        println!("no Claude Code process is running");
        return Ok(());
    }
    let mut t = out::table(&[
        "pid", "session", "status", "project", "model", "runtime", "memory", "cpu", "cost", "by",
    ]);
    for r in rows {
        t.add_row(vec![
            r.pid.to_string(),
            r.session_id
                .as_deref()
                .map(|s| out::show_id(s, false))
                .unwrap_or_default(),
            r.status.label(),
            r.project_path.clone().unwrap_or_default(),
            r.model.clone().unwrap_or_default(),
            format!("{}s", r.runtime_ms / 1000),
            out::size(r.memory_bytes),
            format!("{:.0}%", r.cpu_percent),
            r.cost_usd.map(|c| format!("${c:.4}")).unwrap_or_default(),
            serde_json::to_value(r.started_by)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// `ccsm ps`: the daemon's table when one runs, else what the registry shows.
pub fn ps(svc: &Service, d: &DaemonArgs, json: bool) -> Result<()> {
    let rows = match d
        .client(svc)?
        .get::<Vec<ProcessView>>("/api/claude/running?all=true")
    {
        Ok(rows) => rows,
        Err(ClientError::Unreachable { .. }) => svc.processes(&mut svc.meters()),
        Err(e) => return Err(e.into()),
    };
    show_processes(&rows, json)
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The session (id or name) to cancel.
    #[arg(required_unless_present_any = ["all", "pid"])]
    pub id: Option<String>,
    /// Cancel every session of the daemon.
    #[arg(long, conflicts_with_all = ["id", "pid"])]
    pub all: bool,
    /// Stop a Claude Code process the daemon did not start (SIGINT, or --signal).
    #[arg(long, conflicts_with = "id")]
    pub pid: Option<u32>,
    /// With --pid: SIGINT or SIGTERM.
    #[arg(long, default_value = "SIGINT", requires = "pid", value_parser = ["SIGINT", "SIGTERM"])]
    pub signal: String,
}

pub fn cancel(svc: &Service, d: &DaemonArgs, a: CancelArgs, json: bool) -> Result<()> {
    let c = d.client(svc)?;
    if let Some(pid) = a.pid {
        let v: Value = c.post(
            &format!("/api/claude/running/{pid}/signal"),
            &json!({"signal": a.signal}),
        )?;
        return if json {
            print_json(&v)
        } else {
            println!(
                "pid {pid}: {}",
                v.get("stoppedWith")
                    .and_then(Value::as_str)
                    .unwrap_or("stopped")
            );
            Ok(())
        };
    }
    let views: Vec<RunView> = if a.all {
        c.post("/api/claude/running/cancel", &json!({}))?
    } else {
        let id = a.id.unwrap_or_default();
        vec![c.post(&format!("/api/claude/sessions/{id}/cancel"), &json!({}))?]
    };
    if json {
        return print_json(&views);
    }
    for v in &views {
        println!("{} {}", v.session_id, v.status.label());
    }
    if views.is_empty() {
        println!("no live session to cancel");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The session (id or name).
    pub id: String,
    /// Follow: print events as they come until the session ends.
    #[arg(short, long)]
    pub follow: bool,
    /// Start after this event number (what a previous run printed last).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: u64,
}

fn render_event(name: &str, data: &str) -> Option<String> {
    let v: Value = serde_json::from_str(data).ok()?;
    let e = v.get("event")?;
    let seq = v.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let text = match name {
        "claude-output" => {
            let line = e.get("line")?;
            match line.get("type").and_then(Value::as_str) {
                Some("assistant") => line
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .map(|blocks| {
                        blocks
                            .iter()
                            .filter_map(|b| match b.get("type").and_then(Value::as_str) {
                                Some("text") => {
                                    b.get("text").and_then(Value::as_str).map(str::to_owned)
                                }
                                Some("tool_use") => Some(format!(
                                    "[tool] {} {}",
                                    b.get("name").and_then(Value::as_str).unwrap_or("?"),
                                    out::cut(
                                        &b.get("input").map(Value::to_string).unwrap_or_default(),
                                        120
                                    )
                                )),
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })?,
                _ => return None,
            }
        }
        "claude-status" => format!(
            "[status] {}",
            e.pointer("/status/state")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ),
        "claude-complete" => format!(
            "[complete] cost ${:.4}",
            e.pointer("/result/total_cost_usd")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        ),
        "claude-error" => format!(
            "[error] {}",
            e.get("message")
                .or(e.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "approval" => format!("[approval] {}", e),
        "alert" => format!(
            "[alert] {}",
            e.get("message").and_then(Value::as_str).unwrap_or("")
        ),
        "lagged" => "[lagged] some events were missed".into(),
        _ => return None,
    };
    (!text.is_empty()).then(|| format!("{seq:>5} {text}"))
}

pub fn logs(svc: &Service, d: &DaemonArgs, a: LogsArgs, json: bool) -> Result<()> {
    let c = d.client(svc)?;
    if !a.follow {
        let v: RunView = c.get(&format!("/api/claude/sessions/{}/status", a.id))?;
        let last = v.last_seq;
        if last <= a.after {
            return Ok(());
        }
        return follow(&c, &a.id, a.after, json, Some(last));
    }
    follow(&c, &a.id, a.after, json, None)
}

fn follow(c: &Client, id: &str, after: u64, json: bool, until: Option<u64>) -> Result<()> {
    c.follow(
        &format!("/api/claude/sessions/{id}/events?after={after}"),
        |name, data| {
            if json {
                println!("{data}");
            } else if let Some(line) = render_event(name, data) {
                println!("{line}");
            }
            let v: Value = serde_json::from_str(data).unwrap_or_default();
            let seq = v.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let state = v.pointer("/event/status/state").and_then(Value::as_str);
            if matches!(state, Some("exited" | "cancelled" | "interrupted")) && until.is_none() {
                return false;
            }
            until.is_none_or(|u| seq < u)
        },
    )?;
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsCmd {
    /// Pending tool calls waiting for an answer (the default).
    List {
        /// Only this session's (id or name).
        #[arg(long)]
        session: Option<String>,
    },
    /// Let the tool run (optionally with an edited input, as JSON).
    Allow {
        /// The approval id (ap-…).
        id: String,
        /// The tool's input to use instead, as JSON.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
    },
    /// Refuse it (the model is told the message).
    Deny {
        /// The approval id (ap-…).
        id: String,
        /// What the model is told.
        #[arg(long)]
        message: Option<String>,
    },
}

pub fn approvals(
    svc: &Service,
    d: &DaemonArgs,
    cmd: Option<ApprovalsCmd>,
    json: bool,
) -> Result<()> {
    let c = d.client(svc)?;
    let (id, answer) = match cmd.unwrap_or(ApprovalsCmd::List { session: None }) {
        ApprovalsCmd::List { session } => {
            let path = match session {
                Some(s) => format!("/api/claude/approvals?session={s}"),
                None => "/api/claude/approvals".into(),
            };
            let list: Vec<ApprovalView> = c.get(&path)?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no tool call is waiting for an answer");
            }
            let mut t = out::table(&["approval", "session", "tool", "input", "expires"]);
            for a in &list {
                t.add_row(vec![
                    a.id.clone(),
                    out::show_id(&a.session_id, false),
                    a.tool_name.clone(),
                    out::cut(&a.input.to_string(), 80),
                    out::when(a.expires_at),
                ]);
            }
            if !list.is_empty() {
                println!("{t}");
            }
            return Ok(());
        }
        ApprovalsCmd::Allow { id, input } => {
            let input = input
                .map(|s| serde_json::from_str::<Value>(&s).context("--input is not JSON"))
                .transpose()?;
            (
                id,
                Answer {
                    allow: true,
                    input,
                    message: None,
                },
            )
        }
        ApprovalsCmd::Deny { id, message } => (
            id,
            Answer {
                allow: false,
                input: None,
                message,
            },
        ),
    };
    let v: ApprovalView = c.post(&format!("/api/claude/approvals/{id}"), &answer)?;
    if json {
        return print_json(&v);
    }
    println!(
        "{} {} {}",
        if answer.allow { "allowed" } else { "denied" },
        v.tool_name,
        v.id
    );
    Ok(())
}

/// `ccsm run --detach`: the session starts in the daemon; its id is printed.
pub fn detach(svc: &Service, d: &DaemonArgs, req: StartRequest, json: bool) -> Result<u8> {
    let started: Started = d.client(svc)?.post("/api/claude/sessions", &req)?;
    if json {
        print_json(&started)?;
    } else {
        println!("{}", started.session_id);
    }
    Ok(0)
}
