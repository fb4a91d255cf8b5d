//! `ccsm projects`: the folders Claude Code has sessions for, and following one
//! that moved.

use std::path::PathBuf;

use anyhow::{bail, Result};
use ccsm_service::{Service, Source};
use clap::Subcommand;

use crate::out::{fmt_int, print_json, size, table, when};

#[derive(Subcommand, Debug)]
pub enum ProjectsCmd {
    /// Every project with its real path, sessions, size and last activity.
    List {
        /// Also count sessions whose transcript is gone from Claude Code's dir (kept
        /// in ccsm's catalog after the CLI's cleanup).
        #[arg(long)]
        include_gone: bool,
    },
    /// Point a moved or renamed project folder's sessions at its new place.
    Move {
        /// The folder's old path (it need not exist any more).
        #[arg(required_unless_present = "undo")]
        old: Option<PathBuf>,
        /// Where it is now.
        #[arg(required_unless_present = "undo")]
        new: Option<PathBuf>,
        /// Say what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Restore the state before the last move, byte for byte.
        #[arg(long, conflicts_with_all = ["old", "new", "dry_run"])]
        undo: bool,
    },
    /// Projects whose recorded folder is gone, and where they may have gone.
    Doctor,
    /// Map a folder into a project of many hosts: in a team's catalog each
    /// host's folders are its own projects until mapped under one name.
    Map {
        /// The folder (this host's, or `--host`'s).
        #[arg(required_unless_present = "git")]
        path: Option<String>,
        /// The project's name, not a path (`github.com/org/repo`, `billing`).
        #[arg(required_unless_present = "git")]
        name: Option<String>,
        /// The host whose folder it is (default: this host).
        #[arg(long, conflicts_with = "git")]
        host: Option<String>,
        /// Map each of this host's git checkouts by its `origin` remote (run it
        /// on every host: one repository's folders become one project).
        #[arg(long, conflicts_with_all = ["path", "name"])]
        git: bool,
        /// With `--git`: say what would be mapped, map nothing.
        #[arg(long, requires = "git")]
        dry_run: bool,
    },
    /// Take a folder out of the project it was mapped into.
    Unmap {
        /// The folder (this host's, or `--host`'s).
        path: String,
        /// The host whose folder it is (default: this host).
        #[arg(long)]
        host: Option<String>,
    },
    /// The folders mapped into projects, by project.
    Maps,
}

pub fn projects(svc: &Service, cmd: ProjectsCmd, json: bool, direct: bool) -> Result<()> {
    match cmd {
        ProjectsCmd::Move {
            old,
            new,
            dry_run,
            undo,
        } => {
            let report = if undo {
                svc.undo_move()?
            } else {
                let (Some(old), Some(new)) = (old, new) else {
                    bail!("give the old and the new path");
                };
                svc.move_project(&old, &new, dry_run)?
            };
            if json {
                return print_json(&report);
            }
            let verb = if dry_run { "would move" } else { "moved" };
            eprintln!(
                "{verb} {} file(s): {} -> {}",
                report.moved.len(),
                report.from_dir.display(),
                report.to_dir.display()
            );
            for (p, n) in &report.rewritten {
                eprintln!("  {} path(s) rewritten in {}", n, p.display());
            }
            if let Some(b) = &report.backup {
                if undo {
                    eprintln!("restored from {}", b.display());
                } else {
                    eprintln!(
                        "backup: {} (ccsm projects move --undo restores it)",
                        b.display()
                    );
                }
            }
        }
        ProjectsCmd::Doctor => {
            let lost = svc.doctor()?;
            if json {
                let v: Vec<_> = lost
                    .iter()
                    .map(|(p, c)| serde_json::json!({"path": p, "candidates": c}))
                    .collect();
                return print_json(&v);
            }
            if lost.is_empty() {
                eprintln!("every project's folder exists");
            }
            for (p, cands) in &lost {
                println!("missing: {p}");
                for c in cands {
                    println!(
                        "  maybe: {}  (ccsm projects move {p:?} {:?})",
                        c.display(),
                        c.display()
                    );
                }
            }
        }
        ProjectsCmd::Map {
            path,
            name,
            host,
            git,
            dry_run,
        } => {
            let maps = match (git, path, name) {
                (true, _, _) => svc.map_projects_by_git(dry_run)?,
                (false, Some(path), Some(name)) => {
                    vec![svc.map_project(&path, &name, host.as_deref())?]
                }
                _ => bail!("give a folder and a name, or --git"),
            };
            if json {
                return print_json(&maps);
            }
            let verb = if dry_run { "would map" } else { "mapped" };
            if maps.is_empty() {
                eprintln!("no project folder of this host is a git checkout with an origin remote");
            }
            for m in &maps {
                eprintln!("{verb} {} ({}) into {}", m.path, m.host, m.name);
            }
        }
        ProjectsCmd::Unmap { path, host } => {
            let was = svc.unmap_project(&path, host.as_deref())?;
            if json {
                return print_json(&serde_json::json!({ "unmapped": was }));
            }
            if was {
                eprintln!("{path} is a project of its own again");
            } else {
                eprintln!("{path} was not mapped into a project");
            }
        }
        ProjectsCmd::Maps => {
            let maps = svc.project_maps()?;
            if json {
                return print_json(&maps);
            }
            if maps.is_empty() {
                eprintln!("no folder is mapped into a project (`ccsm projects map --help`)");
                return Ok(());
            }
            let mut t = table(&["project", "host", "folder"]);
            for m in &maps {
                t.add_row(vec![m.name.clone(), m.host.clone(), m.path.clone()]);
            }
            println!("{t}");
        }
        ProjectsCmd::List { include_gone } => {
            let ps = svc.projects(include_gone, Source::direct(direct))?;
            if json {
                return print_json(&ps);
            }
            if ps.is_empty() {
                eprintln!(
                    "no projects: Claude Code has no sessions in {}",
                    svc.config_dir().display()
                );
                return Ok(());
            }
            let mut head = vec!["project", "sessions", "size", "last activity"];
            if include_gone {
                head.insert(2, "gone");
            }
            // A team's catalog: each host's folders are its own projects.
            let hosts = ps.iter().any(|p| p.host.is_some() || !p.folders.is_empty());
            if hosts {
                head.insert(1, "host");
            }
            let mut t = table(&head);
            for p in &ps {
                let mut row = vec![
                    p.info
                        .path
                        .clone()
                        .unwrap_or_else(|| format!("({})", p.info.dir_name)),
                    fmt_int(p.info.sessions as u64),
                    size(p.info.size),
                    when(p.info.last_modified),
                ];
                if include_gone {
                    row.insert(2, fmt_int(p.gone_sessions.unwrap_or(0)));
                }
                if hosts {
                    // A project of many hosts' folders: each host once.
                    let mut of: Vec<&str> = p.folders.iter().map(|f| f.host.as_str()).collect();
                    of.sort_unstable();
                    of.dedup();
                    row.insert(1, p.host.clone().unwrap_or_else(|| of.join(", ")));
                }
                t.add_row(row);
            }
            println!("{t}");
        }
    }
    Ok(())
}
