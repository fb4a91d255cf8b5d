//! `ccsm metrics ID`, `ccsm alerts` and `ccsm agents ...`: the same service
//! functions as the daemon's `/metrics`, `/alerts` and `/agent-types` routes.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use ccsm_service::Service;
use clap::Subcommand;

use crate::out::{print_json, table};

#[derive(Subcommand, Debug)]
pub enum AgentsCmd {
    /// Every definition, by name (built-in, the user's, the project's, the catalog's).
    List {
        /// Include the agents of this project (`<DIR>/.claude/agents/*.md`).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// One definition in full.
    Show {
        /// The agent's name.
        name: String,
    },
    /// Keep a definition in the catalog, from a file in the CLI's format
    /// (front matter: name, description, tools, model, requires; the body is the prompt).
    Add {
        /// The .md file.
        file: PathBuf,
    },
    /// Forget a definition kept in the catalog.
    Rm {
        /// The agent's name.
        name: String,
    },
}

pub fn agents(svc: &Service, cmd: AgentsCmd, json: bool) -> Result<()> {
    match cmd {
        AgentsCmd::List { project } => {
            let all = svc.agents(project.as_deref())?;
            if json {
                return print_json(&all);
            }
            let mut t = table(&["name", "type", "source", "requires", "description"]);
            for a in all {
                t.add_row(vec![
                    a.name,
                    a.agent_type.unwrap_or_default(),
                    a.source,
                    a.requires.join(", "),
                    a.description,
                ]);
            }
            println!("{t}");
        }
        AgentsCmd::Show { name } => {
            let a = svc
                .agents(None)?
                .into_iter()
                .find(|a| a.name == name)
                .ok_or_else(|| {
                    ccsm_service::Error::not_found(format!("no agent named {name:?}"))
                })?;
            if json {
                return print_json(&a);
            }
            println!("{} ({})\n{}\n", a.name, a.source, a.description);
            if let Some(t) = &a.tools {
                println!("tools: {}", t.join(", "));
            }
            if let Some(m) = &a.model {
                println!("model: {m}");
            }
            if !a.requires.is_empty() {
                println!("requires: {}", a.requires.join(", "));
            }
            println!("\n{}", a.prompt);
        }
        AgentsCmd::Add { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let def =
                ccsm_service::agents::parse_agent_file(&text, "catalog").ok_or_else(|| {
                    ccsm_service::Error::invalid(format!(
                    "{} is not an agent definition: it needs front matter (---) with a valid name",
                    file.display()
                ))
                })?;
            svc.save_agent(&def)?;
            if json {
                return print_json(&def);
            }
            eprintln!("kept agent {} in the catalog", def.name);
        }
        AgentsCmd::Rm { name } => {
            if !svc.remove_agent(&name)? {
                return Err(ccsm_service::Error::not_found(format!(
                    "no agent {name:?} in the catalog (built-in and file agents are not removed here)"
                ))
                .into());
            }
            eprintln!("removed agent {name}");
        }
    }
    Ok(())
}

pub fn metrics(svc: &Service, id: &str, json: bool) -> Result<()> {
    let m = svc.session_metrics(id)?;
    if json {
        return print_json(&m);
    }
    let ms = |v: Option<i64>| v.map_or("-".into(), |v| format!("{v} ms"));
    let mut t = table(&["", ""]);
    for (k, v) in [
        ("session", m.session_id.clone()),
        (
            "duration",
            format!("{:.1} min", m.duration_ms as f64 / 60_000.0),
        ),
        ("turns", m.turns.to_string()),
        ("tool calls", m.tool_calls.to_string()),
        ("commands executed", m.commands_executed.to_string()),
        ("files created", m.files_created.to_string()),
        ("files modified", m.files_modified.to_string()),
        ("files deleted", m.files_deleted.to_string()),
        ("tool errors", m.tool_errors.to_string()),
        ("API errors", m.api_errors.to_string()),
        ("error rate", format!("{:.1}%", m.error_rate * 100.0)),
        ("response p50", ms(m.response_p50_ms)),
        ("response p95", ms(m.response_p95_ms)),
        ("subagent runs", m.subagent_runs.to_string()),
    ] {
        t.add_row(vec![k.to_owned(), v]);
    }
    println!("{t}");
    Ok(())
}

pub fn alerts(svc: &Service, session: Option<&str>, limit: usize, json: bool) -> Result<()> {
    let session = session
        .map(|s| svc.resolve_id(s, ccsm_service::Source::Catalog))
        .transpose()?;
    let all = svc.alerts(session.as_deref(), limit)?;
    if json {
        return print_json(&all);
    }
    if all.is_empty() {
        println!("no alerts");
        return Ok(());
    }
    let mut t = table(&["when", "session", "limit", "action", "message"]);
    for a in all {
        t.add_row(vec![
            crate::out::when(a.at),
            a.session_id
                .as_deref()
                .map(|s| crate::out::show_id(s, false))
                .unwrap_or_default(),
            a.limit,
            a.action,
            a.message,
        ]);
    }
    println!("{t}");
    Ok(())
}

pub fn analytics(svc: &Service, days: u32, top: usize, json: bool) -> Result<()> {
    let a = svc.analytics(days, top)?;
    if json {
        return print_json(&a);
    }
    let c = &a.sessions;
    println!(
        "sessions: {} ({} present, {} gone, {} archived); since {}",
        c.total, c.present, c.gone, c.archived, a.since
    );
    let mut t = table(&["project", "sessions", "tokens", "cost"]);
    for p in &a.projects {
        t.add_row(vec![
            p.project_path.clone(),
            p.sessions.to_string(),
            crate::out::fmt_int(p.tokens),
            format!("${:.2}", p.cost_usd),
        ]);
    }
    println!("{t}");
    let mut t = table(&["most expensive", "project", "cost", "minutes"]);
    for s in &a.most_expensive {
        t.add_row(vec![
            crate::out::show_id(&s.session_id, false),
            s.project_path.clone(),
            format!("${:.2}", s.cost_usd),
            format!("{:.0}", s.duration_ms as f64 / 60_000.0),
        ]);
    }
    println!("{t}");
    if a.anomalies.is_empty() {
        println!("no session is far above its project's usual cost");
    }
    for x in &a.anomalies {
        println!(
            "unusual: {} cost ${:.2}, {:.1} standard deviations above its project's ${:.2}",
            x.session.session_id, x.session.cost_usd, x.z, x.project_mean_usd
        );
    }
    Ok(())
}
