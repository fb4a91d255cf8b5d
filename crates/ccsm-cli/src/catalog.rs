//! `ccsm index`, `ccsm names`, `ccsm catalog`: ccsm's own catalog, one per
//! Claude Code config dir, brought up to date (only what changed) before it answers.

use anyhow::Result;
use ccsm_service::Service;
use clap::Subcommand;

use crate::out::print_json;

#[derive(Subcommand, Debug)]
pub enum NamesCmd {
    /// Every name with its conversation's sessions.
    List,
    /// One name's chain of session ids, oldest first.
    Show {
        /// The conversation's name.
        name: String,
    },
    /// Forget a name (the sessions stay).
    Rm {
        /// The conversation's name.
        name: String,
    },
}

/// `ccsm catalog check|repair`.
#[derive(Subcommand, Debug)]
pub enum CatalogCmd {
    /// Check the catalog file (SQLite's integrity check and the full-text index's).
    Check,
    /// Move a damaged catalog aside (kept), build a new one from Claude Code's files,
    /// and bring over what only ccsm knew: tags, notes, descriptions, names, and the
    /// sessions Claude Code already deleted.
    Repair {
        /// Rebuild even if the check finds nothing wrong.
        #[arg(long)]
        force: bool,
    },
    /// Bring the store's tables up to date (`--store`, or this config dir's catalog).
    Migrate,
    /// Copy this config dir's catalog from one store to another: a laptop's into
    /// a team's (`--from sqlite://… --to postgres://…`) or back. Its transcripts
    /// are read into the target; descriptions, notes, tags, names, archived
    /// versions and deleted sessions come from the source. Safe to run again, or
    /// after an interruption.
    Copy {
        /// The store to copy from (default: this config dir's SQLite catalog).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The store to copy into.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// `ccsm index`: the catalog brought up to date, and what that took.
pub fn index(svc: &Service, json: bool) -> Result<()> {
    let r = svc.index()?;
    index_line(&r);
    if json {
        print_json(&r)?;
    }
    Ok(())
}

/// What a sync did, in one line on stderr.
fn index_line(r: &ccsm_service::SyncReport) {
    eprintln!(
        "indexed: {} new, {} grown, {} rewritten, {} unchanged, {} gone; {} archived; {:.1} MiB read",
        r.new,
        r.appended,
        r.rewritten,
        r.unchanged,
        r.gone,
        r.archived,
        r.bytes_read as f64 / (1 << 20) as f64
    );
}

pub fn names(svc: &Service, cmd: NamesCmd, json: bool) -> Result<()> {
    match cmd {
        NamesCmd::List => {
            let ns = svc.names()?;
            if json {
                return print_json(&ns);
            }
            if ns.is_empty() {
                eprintln!("no names yet: ccsm run --session NAME \"...\" saves one");
            }
            for n in ns {
                println!(
                    "{}\t{} session(s)\tlatest {}",
                    n.name,
                    n.sessions.len(),
                    n.sessions.last().map_or("", String::as_str)
                );
            }
        }
        NamesCmd::Show { name } => {
            let n = svc.name(&name)?;
            if json {
                return print_json(&n);
            }
            for s in &n.sessions {
                println!("{s}");
            }
        }
        NamesCmd::Rm { name } => {
            svc.remove_name(&name)?;
            eprintln!("forgot {name:?}");
        }
    }
    Ok(())
}

/// `ccsm catalog` (also `ccsm store`); the exit code is 1 when the check finds damage.
pub fn catalog_cmd(svc: &Service, cmd: CatalogCmd, json: bool) -> Result<u8> {
    match cmd {
        CatalogCmd::Migrate => {
            let m = svc.migrate_store()?;
            if json {
                print_json(&m)?;
            } else {
                eprintln!("{} is up to date ({} sessions)", m.store, m.sessions);
            }
            Ok(0)
        }
        CatalogCmd::Copy { from, to } => {
            let from = from.unwrap_or_else(|| format!("sqlite://{}", svc.catalog_path().display()));
            let r = svc.copy_store(&from, &to)?;
            if json {
                print_json(&r)?;
            } else {
                eprintln!(
                    "copied {} into {}: {} transcripts read, {} sessions, {} deleted ones added, \
                     {} descriptions and notes, {} tags, {} names, {} archived versions",
                    r.from,
                    r.to,
                    r.indexed,
                    r.sessions,
                    r.gone_added,
                    r.texts,
                    r.tags,
                    r.names,
                    r.archives
                );
            }
            Ok(0)
        }
        CatalogCmd::Check => {
            let c = svc.check_catalog()?;
            if json {
                print_json(&c)?;
            } else {
                match &c.problem {
                    None => eprintln!("the catalog {} is sound", c.catalog.display()),
                    Some(e) => eprintln!(
                        "the catalog {} is damaged: {e}\n`ccsm catalog repair` moves it aside and rebuilds it",
                        c.catalog.display()
                    ),
                }
            }
            Ok(u8::from(!c.ok))
        }
        CatalogCmd::Repair { force } => {
            let Some(r) = svc.repair_catalog(force)? else {
                eprintln!(
                    "the catalog {} is sound: nothing to repair (--force rebuilds it anyway)",
                    svc.catalog_path().display()
                );
                return Ok(0);
            };
            index_line(&r.report);
            if json {
                let parts: Vec<serde_json::Value> = r
                    .recovered
                    .iter()
                    .map(|(what, res)| match res {
                        Ok(n) => serde_json::json!({"what": what, "recovered": n}),
                        Err(e) => serde_json::json!({"what": what, "error": e}),
                    })
                    .collect();
                print_json(&serde_json::json!({
                    "catalog": r.catalog, "damagedCopy": r.damaged_copy,
                    "sessions": r.report.files, "recovered": parts,
                }))?;
            } else {
                eprintln!("rebuilt {} from Claude Code's files", r.catalog.display());
                for (what, res) in &r.recovered {
                    match res {
                        Ok(n) => eprintln!("  recovered {what}: {n}"),
                        Err(e) => eprintln!("  could not recover {what}: {e}"),
                    }
                }
                if let Some(aside) = &r.damaged_copy {
                    eprintln!("the damaged catalog is kept at {}", aside.display());
                }
            }
            Ok(0)
        }
    }
}
