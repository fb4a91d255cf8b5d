//! The catalog behind the commands: one SQLite file per Claude Code config dir in
//! ccsm's data dir, brought up to date (only what changed) before it answers.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use ccsm_index::Indexer;
use ccsm_store::{ListFilter, SearchQuery, SqliteStore, Store};
use ccsm_transcripts::{ClaudeDir, SessionInfo};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sha2::Digest as _;

use crate::sessions::{data_dir, print_json};

/// The catalog of `dir`, and the indexer that keeps it.
pub struct Catalog {
    pub store: SqliteStore,
    pub indexer: Indexer,
}

/// A short name for a config dir (its canonical path hashed): its catalog and its
/// archive are named after it.
fn config_key(dir: &ClaudeDir) -> String {
    let root = dir.root.canonicalize().unwrap_or_else(|_| dir.root.clone());
    let h = sha2::Sha256::digest(root.to_string_lossy().as_bytes());
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The catalog of a config dir: one per config dir in the data dir; the config
/// file's `catalog` names the file for the config dir it makes the default.
pub fn catalog_path(dir: &ClaudeDir) -> PathBuf {
    let cfg = crate::config::get();
    if let (Some(url), Some(default)) = (&cfg.catalog, &cfg.config_dir) {
        let same = |a: &std::path::Path| a.canonicalize().unwrap_or_else(|_| a.to_path_buf());
        if same(default) == same(&dir.root) {
            if let Ok(p) = crate::config::catalog_file(url) {
                return p;
            }
        }
    }
    data_dir()
        .join("catalogs")
        .join(format!("{}.db", config_key(dir)))
}

impl Catalog {
    pub fn open(dir: &ClaudeDir) -> Result<Self> {
        // A missing config dir is the error to show, not a catalog that cannot be made.
        dir.check()?;
        let path = catalog_path(dir);
        let store = SqliteStore::open(&path)
            .with_context(|| format!("opening the catalog {}", path.display()))?;
        let mut indexer = Indexer::new(dir.clone());
        // Each config dir archives into a dir of its own: two config dirs sharing
        // this data dir (two users, a test dir, a second profile) never replace
        // each other's copies.
        indexer.archive = Some(data_dir().join("archive").join(config_key(dir)));
        indexer.shared_archive = Some(data_dir().join("archive"));
        if let Ok(p) = crate::sessions::pricing() {
            indexer.pricing = p;
        }
        let c = Self { store, indexer };
        if let Some(own) = c.indexer.archive.as_deref().filter(|a| !a.exists()) {
            // First use of this config dir's own archive: bring over its copies from
            // the archive every config dir shared before.
            c.indexer
                .migrate_shared_archive(&c.store)
                .context("moving archived sessions to this config dir's archive")?;
            std::fs::create_dir_all(own).with_context(|| format!("creating {}", own.display()))?;
        }
        Ok(c)
    }

    /// Opens and syncs; a progress bar on stderr when there is a lot to read.
    pub fn fresh(dir: &ClaudeDir) -> Result<Self> {
        let c = Self::open(dir)?;
        c.sync(false)?;
        Ok(c)
    }

    pub fn sync(&self, announce: bool) -> Result<ccsm_index::SyncReport> {
        let bar = ProgressBar::hidden();
        let shown = std::sync::atomic::AtomicBool::new(false);
        let progress = |done: u64, total: u64| {
            if total > 64 << 20 && !shown.swap(true, std::sync::atomic::Ordering::Relaxed) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "indexing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            }
            bar.set_length(total);
            bar.set_position(done);
        };
        let r = self.indexer.sync(&self.store, &progress)?;
        bar.finish_and_clear();
        if announce {
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
        Ok(r)
    }
}

/// A catalog entry as the SDK names it, plus ccsm's own fields when set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedSession {
    #[serde(flatten)]
    pub info: SessionInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

pub fn listed(s: ccsm_store::SessionRecord) -> ListedSession {
    ListedSession {
        info: SessionInfo {
            session_id: s.id,
            summary: s.summary,
            last_modified: s.last_modified,
            file_size: s.file_size,
            custom_title: s.custom_title,
            first_prompt: s.first_prompt,
            git_branch: s.git_branch,
            cwd: s.cwd,
            tag: s.native_tag,
            created_at: s.created_at,
            archived: s.archived,
        },
        gone: s.gone,
        tags: s.tags,
        description: s.description,
        notes: s.notes,
    }
}

pub fn list(
    dir: &ClaudeDir,
    project: Option<&std::path::Path>,
    page: ListFilter,
) -> Result<Vec<ListedSession>> {
    let c = Catalog::fresh(dir)?;
    let project_path = project.map(|p| {
        p.canonicalize()
            .unwrap_or_else(|_| p.to_path_buf())
            .to_string_lossy()
            .trim_end_matches('/')
            .to_owned()
    });
    let rows = c.store.list(&ListFilter {
        project_path,
        include_gone: true,
        ..page
    })?;
    Ok(rows.into_iter().map(listed).collect())
}

/// A project as `projects list` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedProject {
    #[serde(flatten)]
    pub info: ccsm_transcripts::ProjectInfo,
    /// With `--include-gone`: sessions of the project whose transcript is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone_sessions: Option<u64>,
}

/// Projects from the catalog (synced first): the listing the files give, without
/// reading a transcript per project; with `include_gone`, also the sessions (and
/// projects) only ccsm still has.
pub fn projects(dir: &ClaudeDir, include_gone: bool) -> Result<Vec<ListedProject>> {
    let c = Catalog::fresh(dir)?;
    Ok(c.store
        .projects(include_gone)?
        .into_iter()
        .map(|p| ListedProject {
            info: ccsm_transcripts::ProjectInfo {
                path: p.project_path,
                dir_name: p.project_dir,
                sessions: (p.sessions + p.gone) as usize,
                size: p.size,
                last_modified: p.last_modified,
            },
            gone_sessions: include_gone.then_some(p.gone),
        })
        .collect())
}

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

pub fn names(dir: &ClaudeDir, cmd: NamesCmd, json: bool) -> Result<()> {
    let c = Catalog::open(dir)?;
    match cmd {
        NamesCmd::List => {
            let ns = c.store.names()?;
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
            let Some(n) = c.store.name(&name)? else {
                bail!("no name {name:?}");
            };
            if json {
                return print_json(&n);
            }
            for s in &n.sessions {
                println!("{s}");
            }
        }
        NamesCmd::Rm { name } => {
            if !c.store.remove_name(&name)? {
                bail!("no name {name:?}");
            }
            eprintln!("forgot {name:?}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Hit {
    #[serde(flatten)]
    session: ListedSession,
    snippet: String,
    score: f64,
}

pub fn search(
    dir: &ClaudeDir,
    query: &str,
    rank: bool,
    limit: usize,
    json: bool,
    full_ids: bool,
) -> Result<()> {
    let mut q = SearchQuery::parse(query)?;
    q.rank = rank;
    q.limit = limit;
    if let Some(p) = q.project.as_mut() {
        // `~` inside quotes never reaches the shell's expansion: do it here.
        if let (Some(rest), Some(home)) = (p.strip_prefix("~/"), std::env::var_os("HOME")) {
            *p = PathBuf::from(home)
                .join(rest)
                .to_string_lossy()
                .into_owned();
        }
        if p.starts_with('/') || p.starts_with('.') {
            let pb = PathBuf::from(&*p);
            *p = pb
                .canonicalize()
                .unwrap_or(pb)
                .to_string_lossy()
                .into_owned();
        }
    }
    let c = Catalog::fresh(dir)?;
    let hits = c.store.search(&q)?;
    if json {
        let v: Vec<Hit> = hits
            .into_iter()
            .map(|h| Hit {
                snippet: h.snippet,
                score: h.score,
                session: listed(h.session),
            })
            .collect();
        return print_json(&v);
    }
    if hits.is_empty() {
        eprintln!("no sessions match");
    }
    for h in hits {
        let when = crate::sessions::when(h.session.last_modified);
        let gone = if h.session.gone {
            " (gone from Claude Code; ccsm sessions restore)"
        } else {
            ""
        };
        println!(
            "{}  {}  {}{gone}",
            crate::ids::show(&h.session.id, full_ids),
            when,
            crate::sessions::one_line(&h.session.summary, 100)
        );
        if !h.snippet.is_empty() {
            println!("    {}", h.snippet.replace('\n', " "));
        }
    }
    Ok(())
}

/// What a bundle carries of ccsm's metadata for session `id` (`null` if none):
/// description, notes, tags and the names whose chain holds it. `redact` masks
/// secrets in the free text as the transcripts are masked.
pub fn bundle_meta(
    store: &dyn Store,
    names: &[ccsm_store::NameRecord],
    id: &str,
    redact: bool,
) -> serde_json::Value {
    use serde_json::{json, Value};
    let Ok(Some(s)) = store.session(id) else {
        return Value::Null;
    };
    let clean = |t: &str| {
        if redact {
            ccsm_transcripts::portable::redact(t)
        } else {
            t.to_owned()
        }
    };
    let mut m = serde_json::Map::new();
    if let Some(d) = &s.description {
        m.insert("description".into(), clean(d).into());
    }
    if let Some(n) = &s.notes {
        m.insert("notes".into(), clean(n).into());
    }
    if !s.tags.is_empty() {
        m.insert("tags".into(), json!(s.tags));
    }
    let in_names: Vec<Value> = names
        .iter()
        .filter_map(|n| {
            let seq = n.sessions.iter().position(|x| x == id)?;
            Some(json!({"name": n.name, "seq": seq}))
        })
        .collect();
    if !in_names.is_empty() {
        m.insert("names".into(), in_names.into());
    }
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(m)
    }
}

/// Gives imported sessions the metadata their bundle carried: tags are added,
/// a description or notes only where the session has none here, and a name only
/// if this catalog has no such name (its chain in the bundle's order). Returns
/// what was left as it was, to tell the user.
pub fn apply_bundle_meta(
    store: &dyn Store,
    imported: &[ccsm_transcripts::portable::Imported],
) -> Result<Vec<String>> {
    let mut kept = Vec::new();
    let mut chains: std::collections::BTreeMap<String, Vec<(u64, String)>> = Default::default();
    for i in imported {
        let m = &i.ccsm;
        if m.is_null() {
            continue;
        }
        let Some(s) = store.session(&i.session_id)? else {
            continue;
        };
        let text = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        if let Some(d) = text("description") {
            if s.description.is_none() {
                store.set_description(&i.session_id, Some(&d))?;
            }
        }
        if let Some(n) = text("notes") {
            if s.notes.is_none() {
                store.set_notes(&i.session_id, Some(&n))?;
            }
        }
        let tags: Vec<String> = m
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !tags.is_empty() {
            store.add_tags(&i.session_id, &tags)?;
        }
        for n in m
            .get("names")
            .and_then(|n| n.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(seq)) = (n["name"].as_str(), n["seq"].as_u64()) else {
                continue;
            };
            chains
                .entry(name.to_owned())
                .or_default()
                .push((seq, i.session_id.clone()));
        }
    }
    for (name, mut chain) in chains {
        if store.name(&name)?.is_some() {
            kept.push(format!("the name {name:?} exists here: left as it is"));
            continue;
        }
        chain.sort();
        for (_, id) in chain {
            store.save_name(&name, &id)?;
        }
    }
    Ok(kept)
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
}

/// What the catalog check says: `Ok(())`, or what is wrong.
fn check(path: &std::path::Path) -> std::result::Result<(), String> {
    let store = SqliteStore::open(path).map_err(|e| e.to_string())?;
    match store.integrity_check() {
        Ok(s) if s == "ok" => Ok(()),
        Ok(s) => Err(s),
        Err(e) => Err(e.to_string()),
    }
}

pub fn catalog_cmd(dir: &ClaudeDir, cmd: CatalogCmd, json: bool) -> Result<u8> {
    dir.check()?;
    let path = catalog_path(dir);
    match cmd {
        CatalogCmd::Check => {
            let r = if path.exists() { check(&path) } else { Ok(()) };
            if json {
                print_json(&serde_json::json!({
                    "catalog": path, "ok": r.is_ok(), "problem": r.as_ref().err(),
                }))?;
            } else {
                match &r {
                    Ok(()) => eprintln!("the catalog {} is sound", path.display()),
                    Err(e) => eprintln!(
                        "the catalog {} is damaged: {e}\n`ccsm catalog repair` moves it aside and rebuilds it",
                        path.display()
                    ),
                }
            }
            Ok(u8::from(r.is_err()))
        }
        CatalogCmd::Repair { force } => {
            if path.exists() && !force {
                if let Ok(()) = check(&path) {
                    eprintln!(
                        "the catalog {} is sound: nothing to repair (--force rebuilds it anyway)",
                        path.display()
                    );
                    return Ok(0);
                }
            }
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
            let aside = path.with_extension(format!("db.damaged-{stamp}"));
            if path.exists() {
                // Its log and shared-memory files go with it: they belong to that file.
                for suffix in ["", "-wal", "-shm"] {
                    let mut from = path.as_os_str().to_owned();
                    from.push(suffix);
                    let mut to = aside.as_os_str().to_owned();
                    to.push(suffix);
                    let from = PathBuf::from(from);
                    if from.exists() {
                        std::fs::rename(&from, PathBuf::from(to))
                            .with_context(|| format!("moving {} aside", from.display()))?;
                    }
                }
            }
            let c = Catalog::open(dir)?;
            let report = c.sync(true)?;
            let recovered = if aside.exists() {
                c.store.recover_from(&aside)?
            } else {
                Vec::new()
            };
            if json {
                let parts: Vec<serde_json::Value> = recovered
                    .iter()
                    .map(|(what, r)| match r {
                        Ok(n) => serde_json::json!({"what": what, "recovered": n}),
                        Err(e) => serde_json::json!({"what": what, "error": e}),
                    })
                    .collect();
                print_json(&serde_json::json!({
                    "catalog": path, "damagedCopy": aside.exists().then_some(&aside),
                    "sessions": report.files, "recovered": parts,
                }))?;
            } else {
                eprintln!("rebuilt {} from Claude Code's files", path.display());
                for (what, r) in &recovered {
                    match r {
                        Ok(n) => eprintln!("  recovered {what}: {n}"),
                        Err(e) => eprintln!("  could not recover {what}: {e}"),
                    }
                }
                if aside.exists() {
                    eprintln!("the damaged catalog is kept at {}", aside.display());
                }
            }
            Ok(0)
        }
    }
}
