//! `sessions rm`, `export`, `import`, `clone`, `fork`: commands that write or
//! delete whole sessions.

use std::path::PathBuf;

use anyhow::Result;
use ccsm_service::{Service, Source};

use crate::out::{cut, print_json};
use crate::sessions::SessionsCmd;

/// `sessions rm`: asks first on a terminal (unless `yes`).
pub fn rm(svc: &Service, id: &str, yes: bool, json: bool, source: Source) -> Result<()> {
    let summary = svc.summary(id)?;
    if !yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!(
            "delete session {id} ({})? [y/N] ",
            cut(&summary.replace('\n', " "), 60)
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not deleted");
            return Ok(());
        }
    }
    let d = svc.delete(id, source)?;
    if json {
        return print_json(&d);
    }
    eprintln!("deleted {id} ({})", d.deleted.display());
    if d.archived {
        eprintln!("an archived copy is kept: ccsm sessions restore {id}");
    }
    Ok(())
}

pub fn run(svc: &Service, cmd: SessionsCmd, json: bool, source: Source) -> Result<()> {
    match cmd {
        SessionsCmd::Export {
            ids,
            project,
            output,
            redact,
        } => {
            let out = output.unwrap_or_else(|| {
                PathBuf::from(format!(
                    "ccsm-{}.ccsm",
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                ))
            });
            let m = svc.export(&ids, project.as_deref(), redact, &out, source)?;
            if json {
                return print_json(&m);
            }
            eprintln!(
                "exported {} session(s) to {}{}",
                m.sessions.len(),
                out.display(),
                if redact { " (redacted)" } else { "" }
            );
        }
        SessionsCmd::Import {
            file,
            to,
            new_ids,
            force,
            create,
        } => {
            let (done, kept) = svc.import(&file, to.as_deref(), new_ids, force, create, source)?;
            for note in kept {
                eprintln!("note: {note}");
            }
            if json {
                return print_json(&done);
            }
            for s in &done {
                let renamed = if s.original_id == s.session_id {
                    String::new()
                } else {
                    format!(" (from {})", s.original_id)
                };
                eprintln!(
                    "imported {}{renamed} into {}",
                    s.session_id,
                    s.project_path.as_deref().unwrap_or("?")
                );
            }
        }
        SessionsCmd::Clone {
            id,
            to,
            create,
            name,
        } => {
            let c = svc.clone_session(&id, to.as_deref(), create, name.as_deref())?;
            if json {
                return print_json(&c);
            }
            println!("{}", c.session_id);
            eprintln!(
                "cloned {id} into {} ({}); resume it there with: claude --resume {}",
                c.session_id,
                c.project_path.as_deref().unwrap_or("?"),
                c.session_id
            );
        }
        SessionsCmd::Navigate { id, path } => {
            let m = svc.navigate(&id, &path, true, &[])?;
            if json {
                return print_json(&m);
            }
            eprintln!(
                "moved {} from {} to {}; resume it there with: claude --resume {}",
                m.session_id, m.from_cwd, m.to_cwd, m.session_id
            );
        }
        SessionsCmd::Fork { id, at, title } => {
            let new = svc.fork(&id, at.as_deref(), title.as_deref())?;
            if json {
                return print_json(&serde_json::json!({"sessionId": new, "forkedFrom": id}));
            }
            println!("{new}");
            eprintln!("forked {id} into {new}; resume it with: claude --resume {new}");
        }
        _ => {}
    }
    Ok(())
}
