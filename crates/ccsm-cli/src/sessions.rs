//! `ccsm projects`, `ccsm sessions`, `ccsm usage`: Claude Code's own files, read and
//! changed as the official SDK does. Tables for people, `--json` for programs (the
//! SDK's field names for sessions and messages, ccusage's for usage).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use ccsm_transcripts::pricing::PricingTable;
use ccsm_transcripts::usage::{parse_date, PeriodRow, Row, UsageFilter};
use ccsm_transcripts::{ClaudeDir, MessageOptions};
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;

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
}

#[derive(Subcommand, Debug)]
pub enum SessionsCmd {
    /// Sessions across all projects (or one), newest first.
    List {
        /// Only the sessions of this project directory.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// How many sessions to show.
        #[arg(long, default_value_t = 50, conflicts_with = "all")]
        limit: usize,
        /// Skip this many of the newest first (for paging).
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Every session, not a page of them.
        #[arg(long)]
        all: bool,
        /// Only sessions with this tag (Claude Code's own or a ccsm tag).
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// Only sessions last active on or after this day (YYYY-MM-DD, local time).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only sessions last active on or before this day.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// Show whole session ids (tables show the first 8 characters, which any
        /// command accepts).
        #[arg(long)]
        full_ids: bool,
    },
    /// One session's details.
    Info {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
    },
    /// Full-text search over every session ccsm has seen, newest first.
    ///
    /// Words, "phrases", prefix*, and filters: project:DIR tag:T name:N model:M
    /// branch:B after:DATE before:DATE cost>N cost<N has:tool:NAME is:archived is:gone
    Search {
        /// Words, "phrases", prefix* and filters (see above); quote it for the shell.
        query: String,
        /// Best match first (titles and prompts weigh more than bodies).
        #[arg(long)]
        rank: bool,
        /// How many sessions to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Show whole session ids.
        #[arg(long)]
        full_ids: bool,
    },
    /// Give a session a description (ccsm's own; empty text clears it).
    Describe {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The description (empty: none).
        text: String,
    },
    /// Keep notes on a session (ccsm's own, never written to Claude Code's files;
    /// empty text clears them).
    Note {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The notes (empty: none).
        text: String,
        /// Add to the notes instead of replacing them.
        #[arg(long)]
        append: bool,
    },
    /// Add or remove ccsm tags (any number; the CLI's own tag is `sessions tag`).
    #[command(subcommand)]
    Tags(TagsCmd),
    /// Write an archived session back where Claude Code looks for it.
    Restore {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// Overwrite the CLI's copy if it still has one.
        #[arg(long)]
        force: bool,
    },
    /// Forget catalog entries (and archives) older than DAYS.
    Cleanup {
        /// Sessions last active more than this many days ago.
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        /// Say what would be forgotten, forget nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the CLI's transcripts of those sessions.
        #[arg(long)]
        delete_files: bool,
    },
    /// The conversation's messages, oldest first.
    Messages {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// Also the system messages (API errors, compaction boundaries, ...).
        #[arg(long)]
        include_system: bool,
        /// At most this many messages.
        #[arg(long)]
        limit: Option<usize>,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Subagents a session started.
    Subagents {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
    },
    /// Give a session a title.
    Rename {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The new title (Claude Code's picker shows it).
        title: String,
    },
    /// Tag a session (or clear its tag with --clear).
    Tag {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The tag (Claude Code keeps one per session).
        #[arg(required_unless_present = "clear")]
        tag: Option<String>,
        /// Remove the session's tag.
        #[arg(long, conflicts_with = "tag")]
        clear: bool,
    },
    /// Hide a session from pickers (a new prompt in it shows it again).
    Archive {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
    },
    /// Show an archived session in pickers again.
    Unarchive {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
    },
    /// Delete a session's transcript and its sidecar files (archived first, so
    /// `ccsm sessions restore` brings it back).
    Rm {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// Do not ask (on a terminal, rm asks first).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Write sessions into one portable bundle (.ccsm: tar + zstd, with checksums).
    Export {
        /// Sessions to export: ids, prefixes or names (default: every session of --project).
        ids: Vec<String>,
        /// Every session of this project folder.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// The bundle to write (default: ccsm-<date>.ccsm).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Mask what looks like API keys, tokens and passwords.
        #[arg(long)]
        redact: bool,
    },
    /// Bring sessions from a bundle into this config dir.
    Import {
        /// The bundle (`ccsm sessions export` wrote it).
        file: PathBuf,
        /// Put them under this project folder (rewrites their recorded path).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Give them new ids (as a fork does) instead of refusing existing ones.
        #[arg(long, conflicts_with = "force")]
        new_ids: bool,
        /// Overwrite sessions that exist.
        #[arg(long)]
        force: bool,
        /// Make the --to folder, or the config dir, if it does not exist.
        #[arg(long)]
        create: bool,
    },
    /// Fork a session into this or another project folder.
    Clone {
        /// The session (its id).
        id: String,
        /// The project folder the clone belongs to (default: the session's own).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Make the --to folder if it does not exist.
        #[arg(long, requires = "to")]
        create: bool,
        /// Title of the clone.
        #[arg(long)]
        name: Option<String>,
    },
    /// Copy a session into a new one (new ids, same history).
    Fork {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// Cut the copy after this message uuid.
        #[arg(long, value_name = "MESSAGE_UUID")]
        at: Option<String>,
        /// The copy's title (default: the original's, with "(fork)").
        #[arg(long)]
        title: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TagsCmd {
    /// Add tags to a session.
    Add {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The tags to add.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a session.
    Rm {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The tags to remove.
        #[arg(required = true)]
        tags: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct UsageArgs {
    /// From this date (YYYY-MM-DD or YYYYMMDD, local time).
    #[arg(long, global = true)]
    since: Option<String>,
    /// Until this date, inclusive.
    #[arg(long, global = true)]
    until: Option<String>,
    /// Only this project directory.
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Also count sessions whose transcript is gone from Claude Code's dir (kept in
    /// ccsm's catalog after the CLI's cleanup).
    #[arg(long, global = true)]
    include_gone: bool,
}

#[derive(Subcommand, Debug)]
pub enum UsageCmd {
    /// Tokens and cost per day.
    Daily,
    /// Tokens and cost per week (named by its first day).
    Weekly {
        /// The day a week starts on.
        #[arg(long, short = 'w', value_enum, default_value_t = WeekStart::Sunday)]
        start_of_week: WeekStart,
    },
    /// Tokens and cost per month.
    Monthly,
    /// Five-hour billing windows, as ccusage's `blocks` (read from the transcripts:
    /// it needs each call's time).
    Blocks,
    /// Tokens and cost per session, most expensive first.
    Session,
    /// Tokens and cost per model.
    Models,
    /// Show the pricing table; replace it from a file, or refresh it from LiteLLM's.
    Pricing {
        /// Replace the table with this JSON file (ccsm's shape or LiteLLM's).
        #[arg(long, value_name = "FILE", conflicts_with = "update")]
        import: Option<PathBuf>,
        /// Fetch LiteLLM's current model price table (needs the network).
        #[arg(long)]
        update: bool,
        /// Where --update reads the table from.
        #[arg(long, value_name = "URL", requires = "update", default_value = ccsm_transcripts::pricing::LITELLM_URL)]
        url: String,
    },
}

/// The first day of a week, for `usage weekly`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WeekStart {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl From<WeekStart> for chrono::Weekday {
    fn from(w: WeekStart) -> Self {
        match w {
            WeekStart::Sunday => Self::Sun,
            WeekStart::Monday => Self::Mon,
            WeekStart::Tuesday => Self::Tue,
            WeekStart::Wednesday => Self::Wed,
            WeekStart::Thursday => Self::Thu,
            WeekStart::Friday => Self::Fri,
            WeekStart::Saturday => Self::Sat,
        }
    }
}

/// ccsm's own data dir: `$CCSM_HOME`, else the platform data dir.
pub fn data_dir() -> PathBuf {
    use crate::config::env;
    // An empty variable counts as unset (`CCSM_HOME=""` must not mean "here").
    if let Some(h) = env("CCSM_HOME") {
        return PathBuf::from(h);
    }
    if let Some(d) = &crate::config::get().data_dir {
        return d.clone();
    }
    if let Some(x) = env("XDG_DATA_HOME") {
        return PathBuf::from(x).join("ccsm");
    }
    let home = env("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/ccsm")
}

/// LiteLLM's model price table from `url`, checked before anything is saved.
fn fetch_pricing(url: &str) -> Result<PricingTable> {
    let mut resp = ureq::get(url)
        .call()
        .with_context(|| format!("fetching the pricing table from {url}"))?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .with_context(|| format!("reading the pricing table from {url}"))?;
    PricingTable::parse(&text).with_context(|| format!("the table at {url}"))
}

/// The pricing table: the config file's `pricing`, else the one imported or
/// updated into the data dir, else the shipped one.
pub fn pricing() -> Result<PricingTable> {
    if let Some(p) = &crate::config::get().pricing {
        return PricingTable::from_file(p)
            .with_context(|| format!("reading the pricing table {} (config file)", p.display()));
    }
    let p = data_dir().join("pricing.json");
    if p.is_file() {
        return PricingTable::from_file(&p).context("reading your pricing table");
    }
    Ok(PricingTable::builtin())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

pub fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    use std::io::Write as _;
    // Stdout is line-buffered: one write for the whole document, not one per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A moment in local time, with its zone (`2026-11-20 10:00 +01:00`).
pub fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `1234567` → `1,234,567`.
pub fn fmt_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn size(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Text for one table cell: every run of white space (new lines included) one
/// space, at most `n` characters.
pub fn one_line(s: &str, n: usize) -> String {
    cut(&s.split_whitespace().collect::<Vec<_>>().join(" "), n)
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// A folder the user named that must exist (made when `create` says so): a
/// literal `~` (quoted, so the shell did not expand it) and a file are refused.
fn existing_folder(p: &std::path::Path, create: bool, what: &str) -> Result<PathBuf> {
    let text = p.to_string_lossy();
    if text == "~" || text.starts_with("~/") {
        bail!(
            "{what} {text:?} starts with a literal ~ (the shell did not expand it): write the full path, or $HOME/{}",
            text.trim_start_matches('~').trim_start_matches('/')
        );
    }
    let abs = absolute(p)?;
    match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => Ok(abs),
        Ok(_) => bail!("{what} {} is not a folder", abs.display()),
        Err(_) if create => {
            std::fs::create_dir_all(&abs).with_context(|| format!("creating {}", abs.display()))?;
            Ok(abs)
        }
        Err(_) => bail!(
            "{what} {} does not exist (--create makes it)",
            abs.display()
        ),
    }
}

fn absolute(p: &std::path::Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

pub fn projects(dir: &ClaudeDir, cmd: ProjectsCmd, json: bool, direct: bool) -> Result<()> {
    match cmd {
        ProjectsCmd::Move {
            old,
            new,
            dry_run,
            undo,
        } => {
            let backups = data_dir().join("backups");
            let report = if undo {
                dir.undo_move(&backups)?
            } else {
                let (Some(old), Some(new)) = (old, new) else {
                    bail!("give the old and the new path");
                };
                let new = existing_folder(&new, false, "the new folder").map_err(|e| {
                    e.context("move the folder first, then tell ccsm where it went")
                })?;
                dir.move_project(&absolute(&old)?, &new, dry_run, &backups)?
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
            return Ok(());
        }
        ProjectsCmd::Doctor => {
            let lost = dir.doctor()?;
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
            return Ok(());
        }
        ProjectsCmd::List { include_gone } => {
            if direct && include_gone {
                bail!("--include-gone needs the catalog (drop --direct)");
            }
            let ps: Vec<crate::catalog::ListedProject> = if direct {
                dir.projects()?
                    .into_iter()
                    .map(|info| crate::catalog::ListedProject {
                        info,
                        gone_sessions: None,
                    })
                    .collect()
            } else {
                crate::catalog::projects(dir, include_gone)?
            };
            if json {
                return print_json(&ps);
            }
            if ps.is_empty() {
                eprintln!(
                    "no projects: Claude Code has no sessions in {}",
                    dir.root.display()
                );
                return Ok(());
            }
            let mut head = vec!["project", "sessions", "size", "last activity"];
            if include_gone {
                head.insert(2, "gone");
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
                t.add_row(row);
            }
            println!("{t}");
        }
    }
    Ok(())
}

/// Every session a command names, as the full id (prefixes, names, any case).
fn resolve_ids(dir: &ClaudeDir, mut cmd: SessionsCmd, direct: bool) -> Result<SessionsCmd> {
    let one = |id: &mut String| -> Result<()> {
        *id = crate::ids::resolve(dir, id, direct)?;
        Ok(())
    };
    match &mut cmd {
        SessionsCmd::Info { id }
        | SessionsCmd::Describe { id, .. }
        | SessionsCmd::Note { id, .. }
        | SessionsCmd::Tags(TagsCmd::Add { id, .. } | TagsCmd::Rm { id, .. })
        | SessionsCmd::Restore { id, .. }
        | SessionsCmd::Messages { id, .. }
        | SessionsCmd::Subagents { id }
        | SessionsCmd::Rename { id, .. }
        | SessionsCmd::Tag { id, .. }
        | SessionsCmd::Archive { id }
        | SessionsCmd::Unarchive { id }
        | SessionsCmd::Rm { id, .. }
        | SessionsCmd::Clone { id, .. }
        | SessionsCmd::Fork { id, .. } => one(id)?,
        SessionsCmd::Export { ids, .. } => {
            for id in ids {
                one(id)?;
            }
        }
        SessionsCmd::List { .. }
        | SessionsCmd::Search { .. }
        | SessionsCmd::Cleanup { .. }
        | SessionsCmd::Import { .. } => {}
    }
    Ok(cmd)
}

/// After a change: with `--json`, the changed session as `sessions info --json`
/// shows it (the catalog's view, else the files'); else the confirmation line.
fn changed(dir: &ClaudeDir, id: &str, json: bool, direct: bool, said: &str) -> Result<()> {
    use ccsm_store::Store as _;
    if !json {
        eprintln!("{said}");
        return Ok(());
    }
    if !direct {
        let c = crate::catalog::Catalog::fresh(dir)?;
        if let Some(s) = c.store.session(id)? {
            return print_json(&crate::catalog::listed(s));
        }
    }
    print_json(&dir.info(id)?)
}

pub fn sessions(dir: &ClaudeDir, cmd: SessionsCmd, json: bool, direct: bool) -> Result<()> {
    use crate::catalog::{self, Catalog};
    use ccsm_store::Store as _;
    let cmd = resolve_ids(dir, cmd, direct)?;
    match cmd {
        SessionsCmd::List {
            project,
            limit,
            offset,
            all,
            tag,
            since,
            until,
            full_ids,
        } => {
            let day_start = |d: &str, what: &str| -> Result<i64> {
                let day = parse_date(d)
                    .with_context(|| format!("{what} {d:?} is not a date (YYYY-MM-DD)"))?;
                Ok(day
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
                    .map_or(0, |t| t.timestamp_millis()))
            };
            let filter = ccsm_store::ListFilter {
                limit: (!all).then_some(limit),
                offset,
                tag: tag.clone(),
                modified_from: since
                    .as_deref()
                    .map(|d| day_start(d, "--since"))
                    .transpose()?,
                // The whole of the last day.
                modified_before: until
                    .as_deref()
                    .map(|d| day_start(d, "--until").map(|t| t + 86_400_000))
                    .transpose()?,
                ..Default::default()
            };
            let rows: Vec<catalog::ListedSession> = if direct {
                dir.list_sessions(project.as_deref(), None, 0)?
                    .into_iter()
                    .filter(|i| tag.is_none() || i.tag == tag)
                    .filter(|i| filter.modified_from.is_none_or(|t| i.last_modified >= t))
                    .filter(|i| filter.modified_before.is_none_or(|t| i.last_modified < t))
                    .skip(offset)
                    .take(filter.limit.unwrap_or(usize::MAX))
                    .map(|info| catalog::ListedSession {
                        info,
                        gone: false,
                        tags: Vec::new(),
                        description: None,
                        notes: None,
                    })
                    .collect()
            } else {
                catalog::list(dir, project.as_deref(), filter)?
            };
            if json {
                return print_json(&rows);
            }
            if rows.is_empty() {
                eprintln!(
                    "no sessions{}",
                    if offset > 0 { " on this page" } else { "" }
                );
                return Ok(());
            }
            let mut t = table(&[
                "session", "summary", "project", "branch", "modified", "size",
            ]);
            for r in &rows {
                let s = &r.info;
                let mut summary = one_line(&s.summary, 50);
                if r.gone {
                    summary.push_str(" (gone)");
                }
                if let Some(tag) = &s.tag {
                    summary = format!("{summary} #{tag}");
                }
                t.add_row(vec![
                    crate::ids::show(&s.session_id, full_ids),
                    summary,
                    one_line(s.cwd.as_deref().unwrap_or(""), 40),
                    s.git_branch.clone().unwrap_or_default(),
                    when(s.last_modified),
                    size(s.file_size),
                ]);
            }
            println!("{t}");
            if !all && rows.len() == limit {
                eprintln!(
                    "(first {limit}; more with --offset {}, or --all)",
                    offset + limit
                );
            }
        }
        SessionsCmd::Search {
            query,
            rank,
            limit,
            full_ids,
        } => {
            return catalog::search(dir, &query, rank, limit, json, full_ids);
        }
        SessionsCmd::Describe { id, text } => {
            let c = Catalog::fresh(dir)?;
            let text = text.trim();
            c.store
                .set_description(&id, (!text.is_empty()).then_some(text))?;
            let said = if text.is_empty() {
                format!("cleared the description of {id}")
            } else {
                format!("described {id}")
            };
            changed(dir, &id, json, false, &said)?;
        }
        SessionsCmd::Note { id, text, append } => {
            let c = Catalog::fresh(dir)?;
            let text = text.trim();
            if c.store.session(&id)?.is_none() {
                bail!("session {id} is not in the catalog");
            }
            if append {
                if !text.is_empty() {
                    c.store.append_notes(&id, text)?;
                }
            } else {
                c.store.set_notes(&id, (!text.is_empty()).then_some(text))?;
            }
            changed(dir, &id, json, false, &format!("notes of {id} saved"))?;
        }
        SessionsCmd::Tags(t) => {
            let c = Catalog::fresh(dir)?;
            let (id, said) = match t {
                TagsCmd::Add { id, tags } => {
                    c.store.add_tags(&id, &tags)?;
                    let said = format!("tagged {id}: {}", tags.join(", "));
                    (id, said)
                }
                TagsCmd::Rm { id, tags } => {
                    c.store.remove_tags(&id, &tags)?;
                    let said = format!("untagged {id}: {}", tags.join(", "));
                    (id, said)
                }
            };
            changed(dir, &id, json, false, &said)?;
        }
        SessionsCmd::Restore { id, force } => {
            let c = Catalog::fresh(dir)?;
            let p = c.indexer.restore(&c.store, &id, force)?;
            let said = format!(
                "restored {id} to {}; resume it with: claude --resume {id}",
                p.display()
            );
            changed(dir, &id, json, direct, &said)?;
        }
        SessionsCmd::Cleanup {
            older_than,
            dry_run,
            delete_files,
        } => {
            let c = Catalog::fresh(dir)?;
            let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(older_than) * 86_400_000;
            let old = c.store.older_than(cutoff)?;
            for s in &old {
                println!("{}  {}", s.id, s.summary);
                if dry_run {
                    continue;
                }
                if delete_files && !s.gone {
                    dir.delete(&s.id)?;
                }
                c.indexer.forget_archive(&s.id)?;
                c.store.delete(&s.id)?;
            }
            let verb = if dry_run { "would forget" } else { "forgot" };
            eprintln!(
                "{verb} {} session(s) older than {older_than} days{}",
                old.len(),
                if delete_files {
                    ", with their transcripts"
                } else {
                    " (Claude Code's files untouched)"
                }
            );
        }
        SessionsCmd::Info { id } if !direct => {
            let c = Catalog::fresh(dir)?;
            let Some(s) = c.store.session(&id)? else {
                // Not in the catalog: say what the files say (a clear not-found).
                dir.info(&id)?;
                bail!("session {id} is not in the catalog");
            };
            if json {
                return print_json(&crate::catalog::listed(s));
            }
            let mut t = table(&["field", "value"]);
            let row = |t: &mut Table, k: &str, v: Option<String>| {
                if let Some(v) = v {
                    t.add_row(vec![k.to_owned(), v]);
                }
            };
            row(&mut t, "session", Some(s.id.clone()));
            row(&mut t, "summary", Some(s.summary.clone()));
            row(&mut t, "title", s.custom_title.clone());
            row(&mut t, "description", s.description.clone());
            row(&mut t, "notes", s.notes.clone());
            row(&mut t, "first prompt", s.first_prompt.clone());
            row(&mut t, "project", s.project_path.clone());
            row(&mut t, "branch", s.git_branch.clone());
            row(&mut t, "tag (Claude Code)", s.native_tag.clone());
            row(
                &mut t,
                "tags (ccsm)",
                (!s.tags.is_empty()).then(|| s.tags.join(", ")),
            );
            row(
                &mut t,
                "names",
                (!s.names.is_empty()).then(|| s.names.join(", ")),
            );
            row(&mut t, "created", s.created_at.map(when));
            row(&mut t, "modified", Some(when(s.last_modified)));
            row(
                &mut t,
                "messages",
                Some(format!(
                    "{} ({} prompts, {} tool calls)",
                    s.messages, s.user_turns, s.tool_calls
                )),
            );
            row(
                &mut t,
                "tokens",
                Some(format!(
                    "in {} · out {} · cache write {} · cache read {}",
                    fmt_int(s.input_tokens),
                    fmt_int(s.output_tokens),
                    fmt_int(s.cache_creation_tokens),
                    fmt_int(s.cache_read_tokens)
                )),
            );
            let unpriced = pricing()?.unpriced(s.models.iter().map(String::as_str));
            let cost = if unpriced.is_empty() {
                format!("${:.4}", s.cost_usd)
            } else {
                format!(
                    "${:.4} + unpriced: {} (not in the pricing table; `ccsm usage pricing --update`)",
                    s.cost_usd,
                    unpriced.join(", ")
                )
            };
            row(&mut t, "cost", Some(cost));
            row(
                &mut t,
                "models",
                (!s.models.is_empty()).then(|| s.models.join(", ")),
            );
            row(
                &mut t,
                "tools",
                (!s.tools.is_empty()).then(|| s.tools.join(", ")),
            );
            row(&mut t, "files touched", Some(fmt_int(s.files_touched)));
            row(
                &mut t,
                "archived (Claude Code)",
                s.archived.map(|a| a.to_string()),
            );
            row(
                &mut t,
                "gone",
                s.gone.then(|| {
                    "yes: deleted from Claude Code's dir; ccsm sessions restore brings it back"
                        .into()
                }),
            );
            row(&mut t, "size", Some(size(s.file_size)));
            row(&mut t, "file", Some(s.file_path.clone()));
            println!("{t}");
        }
        SessionsCmd::Info { id } => {
            let s = dir.info(&id)?;
            if json {
                return print_json(&s);
            }
            let f = dir.find(&id)?;
            let mut t = table(&["field", "value"]);
            let row = |t: &mut Table, k: &str, v: Option<String>| {
                if let Some(v) = v {
                    t.add_row(vec![k.to_owned(), v]);
                }
            };
            row(&mut t, "session", Some(s.session_id.clone()));
            row(&mut t, "summary", Some(s.summary.clone()));
            row(&mut t, "title", s.custom_title.clone());
            row(&mut t, "first prompt", s.first_prompt.clone());
            row(&mut t, "project", s.cwd.clone());
            row(&mut t, "branch", s.git_branch.clone());
            row(&mut t, "tag", s.tag.clone());
            row(&mut t, "created", s.created_at.map(when));
            row(&mut t, "modified", Some(when(s.last_modified)));
            row(&mut t, "size", Some(size(s.file_size)));
            row(&mut t, "archived", s.archived.map(|a| a.to_string()));
            row(&mut t, "file", Some(f.path.display().to_string()));
            println!("{t}");
        }
        SessionsCmd::Messages {
            id,
            include_system,
            limit,
            offset,
        } => {
            let msgs = dir.messages(
                &id,
                MessageOptions {
                    limit,
                    offset,
                    include_system,
                },
            )?;
            if json {
                return print_json(&msgs);
            }
            if msgs.is_empty() {
                eprintln!("no messages");
            }
            for m in &msgs {
                let text = message_text(&m.message);
                println!("── {} {}", m.kind, m.uuid);
                println!("{}", text.trim_end());
            }
        }
        SessionsCmd::Subagents { id } => {
            let ids = dir.subagents(&id)?;
            if json {
                return print_json(&ids);
            }
            if ids.is_empty() {
                eprintln!("{id} started no subagents");
            }
            for a in ids {
                println!("{a}");
            }
        }
        SessionsCmd::Rename { id, title } => {
            dir.rename(&id, &title)?;
            changed(
                dir,
                &id,
                json,
                direct,
                &format!("renamed {id} to {:?}", title.trim()),
            )?;
        }
        SessionsCmd::Tag { id, tag, clear } => {
            let tag = if clear { None } else { tag };
            dir.tag(&id, tag.as_deref())?;
            let said = match tag {
                Some(t) => format!("tagged {id} {t:?}"),
                None => format!("cleared the tag of {id}"),
            };
            changed(dir, &id, json, direct, &said)?;
        }
        SessionsCmd::Archive { id } => {
            dir.set_archived(&id, true)?;
            // The catalog too: `search is:archived` and `info` show it at once.
            if !direct {
                Catalog::fresh(dir)?.store.set_archived_flag(&id, true)?;
            }
            changed(dir, &id, json, direct, &format!("archived {id}"))?;
        }
        SessionsCmd::Unarchive { id } => {
            dir.set_archived(&id, false)?;
            if !direct {
                Catalog::fresh(dir)?.store.set_archived_flag(&id, false)?;
            }
            changed(dir, &id, json, direct, &format!("unarchived {id}"))?;
        }
        SessionsCmd::Rm { id, yes } => {
            let info = dir.info(&id)?;
            if !yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!(
                    "delete session {id} ({})? [y/N] ",
                    cut(&info.summary.replace('\n', " "), 60)
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("not deleted");
                    return Ok(());
                }
            }
            // Into the archive first (a sync archives what changed), so it can
            // come back; then deleted, and the catalog marks it gone.
            let catalog = if direct {
                None
            } else {
                let c = Catalog::fresh(dir)?;
                if c.store.session(&id)?.and_then(|s| s.archive_key).is_none() {
                    bail!("{id} could not be archived: not deleted");
                }
                Some(c)
            };
            let p = dir.delete(&id)?;
            if let Some(c) = &catalog {
                c.sync(false)?;
            }
            if json {
                return print_json(
                    &serde_json::json!({"sessionId": id, "deleted": p, "archived": catalog.is_some()}),
                );
            }
            eprintln!("deleted {id} ({})", p.display());
            if catalog.is_some() {
                eprintln!("an archived copy is kept: ccsm sessions restore {id}");
            }
        }
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
            let tmp = out.with_extension("ccsm.partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            // ccsm's metadata travels with the sessions (not with --direct).
            let catalog = if direct {
                None
            } else {
                Some(crate::catalog::Catalog::fresh(dir)?)
            };
            let names = match &catalog {
                Some(c) => c.store.names()?,
                None => Vec::new(),
            };
            let meta = |id: &str| match &catalog {
                Some(c) => crate::catalog::bundle_meta(&c.store, &names, id, redact),
                None => serde_json::Value::Null,
            };
            let m = match dir.export_with(
                &ids,
                project.as_deref(),
                redact,
                &meta,
                std::io::BufWriter::new(file),
            ) {
                Ok(m) => m,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            };
            std::fs::rename(&tmp, &out)?;
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
            // Only a regular file: a FIFO would hang the import, a device never end.
            let meta =
                std::fs::metadata(&file).with_context(|| format!("opening {}", file.display()))?;
            if !meta.is_file() {
                bail!("{} is not a bundle file", file.display());
            }
            let f = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let to = match to {
                Some(t) => Some(existing_folder(&t, create, "the --to folder")?),
                None => None,
            };
            if !dir.root.is_dir() {
                if !create {
                    bail!(
                        "the config dir {} does not exist (--create makes it)",
                        dir.root.display()
                    );
                }
                std::fs::create_dir_all(dir.projects_dir())
                    .with_context(|| format!("creating {}", dir.root.display()))?;
            }
            let done = dir.import(
                std::io::BufReader::new(f),
                &ccsm_transcripts::portable::ImportOptions { to, new_ids, force },
            )?;
            // Into the catalog at once, with the metadata the bundle carried.
            if !direct {
                let c = crate::catalog::Catalog::fresh(dir)?;
                for note in crate::catalog::apply_bundle_meta(&c.store, &done)? {
                    eprintln!("note: {note}");
                }
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
            let to = match to {
                Some(t) => Some(existing_folder(&t, create, "the --to folder")?),
                None => None,
            };
            let c = dir.clone_session(&id, to.as_deref())?;
            if let Some(n) = name {
                dir.rename(&c.session_id, &n)?;
            }
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
        SessionsCmd::Fork { id, at, title } => {
            let new = dir.fork(&id, at.as_deref(), title.as_deref())?;
            if json {
                return print_json(&serde_json::json!({"sessionId": new, "forkedFrom": id}));
            }
            println!("{new}");
            eprintln!("forked {id} into {new}; resume it with: claude --resume {new}");
        }
    }
    Ok(())
}

fn message_text(m: &serde_json::Value) -> String {
    match &m["content"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().unwrap_or("").to_owned(),
                Some("tool_use") => format!(
                    "⏺ {}({})",
                    b["name"].as_str().unwrap_or("?"),
                    cut(&b["input"].to_string(), 80)
                ),
                Some("tool_result") => format!("  ⎿ {}", cut(&b["content"].to_string(), 80)),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn usage_row(t: &mut Table, label: String, r: &Row) {
    let mut cells = vec![label];
    cells.extend(usage_cells(r));
    t.add_row(cells);
}

/// A usage row's cells after its label: models, tokens, cost.
fn usage_cells(r: &Row) -> Vec<String> {
    let mut cost = format!("${:.2}", r.total_cost);
    if !r.unknown_models.is_empty() {
        cost.push_str(" + unpriced");
    }
    vec![
        r.models_used.join(", "),
        fmt_int(r.tokens.input_tokens),
        fmt_int(r.tokens.output_tokens),
        fmt_int(r.tokens.cache_creation_tokens),
        fmt_int(r.tokens.cache_read_tokens),
        fmt_int(r.total_tokens),
        cost,
    ]
}

#[derive(Serialize)]
struct PeriodJson<'a> {
    #[serde(flatten)]
    key: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    row: &'a Row,
}

pub fn usage(
    dir: &ClaudeDir,
    args: UsageArgs,
    cmd: UsageCmd,
    json: bool,
    direct: bool,
) -> Result<()> {
    if let UsageCmd::Pricing {
        import,
        update,
        url,
    } = &cmd
    {
        let dest = data_dir().join("pricing.json");
        let fresh = if let Some(file) = import {
            Some(PricingTable::from_file(file)?)
        } else if *update {
            // LiteLLM's table over the shipped one: models it dropped keep a price.
            Some(fetch_pricing(url)?.over(PricingTable::builtin()))
        } else {
            None
        };
        if let Some(t) = fresh {
            let bytes = serde_json::to_vec_pretty(&t)?;
            std::fs::create_dir_all(data_dir())
                .with_context(|| format!("creating {}", data_dir().display()))?;
            ccsm_transcripts::write_atomic(&dest, &bytes)?;
            if json {
                return print_json(&t);
            }
            eprintln!(
                "pricing for {} models saved to {} (every view uses it from now on)",
                fmt_int(t.models.len() as u64),
                dest.display()
            );
            return Ok(());
        }
        let t = pricing()?;
        if json {
            return print_json(&t);
        }
        let mut tb = table(&[
            "model",
            "input",
            "output",
            "cache write 5m",
            "cache write 1h",
            "cache read",
        ]);
        for (m, p) in &t.models {
            tb.add_row(vec![
                m.clone(),
                format!("{}", p.input),
                format!("{}", p.output),
                format!("{}", p.cache_write_5m),
                format!("{}", p.cache_write_1h),
                format!("{}", p.cache_read),
            ]);
        }
        println!("{tb}\nUSD per million tokens");
        return Ok(());
    }
    let parse = |s: &Option<String>, what: &str| -> Result<Option<chrono::NaiveDate>> {
        match s {
            None => Ok(None),
            Some(s) => match parse_date(s) {
                Some(d) => Ok(Some(d)),
                None => bail!("--{what} {s:?} is not a date (YYYY-MM-DD or YYYYMMDD)"),
            },
        }
    };
    let filter = UsageFilter {
        project: args.project.clone(),
        since: parse(&args.since, "since")?,
        until: parse(&args.until, "until")?,
    };
    if direct && args.include_gone {
        bail!("--include-gone needs the catalog (drop --direct)");
    }
    // From the catalog (brought up to date first), or from the files with --direct
    // (and for blocks, which need each call's own time, not a day's rollup).
    let catalog = if direct || matches!(cmd, UsageCmd::Blocks) {
        None
    } else {
        Some(crate::catalog::Catalog::fresh(dir)?)
    };
    let data = match &catalog {
        None => dir.usage(&filter, pricing()?)?,
        Some(c) => ccsm_index::usage_report(&c.store, dir, &filter, pricing()?, args.include_gone)?,
    };
    let totals = data.totals();
    let header = [
        "",
        "models",
        "input",
        "output",
        "cache create",
        "cache read",
        "total tokens",
        "cost",
    ];
    let periods = |rows: Vec<PeriodRow>, key: &str, name: &str| -> Result<()> {
        if json {
            let list: Vec<PeriodJson<'_>> = rows
                .iter()
                .map(|r| {
                    let mut k = serde_json::Map::new();
                    k.insert(key.to_owned(), serde_json::Value::String(r.period.clone()));
                    PeriodJson {
                        key: k,
                        row: &r.row,
                    }
                })
                .collect();
            return print_json(&serde_json::json!({name: list, "totals": totals}));
        }
        if rows.is_empty() {
            eprintln!("no usage");
            return Ok(());
        }
        let mut h = header;
        h[0] = key;
        let mut t = table(&h);
        for r in &rows {
            usage_row(&mut t, r.period.clone(), &r.row);
        }
        println!("{t}");
        print_totals(&totals);
        Ok(())
    };
    match cmd {
        UsageCmd::Daily => periods(data.daily(), "date", "daily")?,
        UsageCmd::Monthly => periods(data.monthly(), "month", "monthly")?,
        UsageCmd::Weekly { start_of_week } => {
            periods(data.weekly(start_of_week.into()), "week", "weekly")?;
        }
        UsageCmd::Blocks => {
            let blocks = data.blocks(chrono::Utc::now().timestamp_millis());
            if json {
                return print_json(&serde_json::json!({"blocks": blocks}));
            }
            if blocks.is_empty() {
                eprintln!("no usage");
                return Ok(());
            }
            let mut t = table(&["block", "models", "calls", "total tokens", "cost"]);
            for b in blocks.iter().filter(|b| !b.is_gap) {
                let start = chrono::DateTime::parse_from_rfc3339(&b.start_time)
                    .map(|t| when(t.timestamp_millis()))
                    .unwrap_or_else(|_| b.start_time.clone());
                let mut cost = format!("${:.2}", b.cost_usd);
                if !b.unpriced_models.is_empty() {
                    cost.push_str(" + unpriced");
                }
                t.add_row(vec![
                    if b.is_active {
                        format!("{start} (active)")
                    } else {
                        start
                    },
                    b.models.join(", "),
                    fmt_int(b.entries as u64),
                    fmt_int(b.total_tokens),
                    cost,
                ]);
            }
            println!("{t}");
        }
        UsageCmd::Session => {
            let rows = data.sessions();
            if json {
                #[derive(Serialize)]
                struct Report<'a> {
                    sessions: &'a [ccsm_transcripts::usage::SessionRow],
                    totals: &'a ccsm_transcripts::usage::Totals,
                }
                return print_json(&Report {
                    sessions: &rows,
                    totals: &totals,
                });
            }
            if rows.is_empty() {
                eprintln!("no usage");
                return Ok(());
            }
            // Which session it is: its title and real project path (the catalog's,
            // else a head and tail read of its transcript).
            let about = |id: &str| -> (String, String) {
                use ccsm_store::Store as _;
                if let Some(Ok(Some(s))) = catalog.as_ref().map(|c| c.store.session(id)) {
                    let title = s.custom_title.unwrap_or(s.summary);
                    return (title, s.project_path.unwrap_or_default());
                }
                dir.info(id).map_or_else(
                    |_| (String::new(), String::new()),
                    |i| {
                        (
                            i.custom_title.unwrap_or(i.summary),
                            i.cwd.unwrap_or_default(),
                        )
                    },
                )
            };
            let mut h: Vec<&str> = vec!["session", "title", "project"];
            h.extend(&header[1..]);
            let mut t = table(&h);
            for r in &rows {
                let (title, project) = about(&r.session_id);
                let mut cells = vec![
                    crate::ids::show(&r.session_id, false),
                    one_line(&title, 40),
                    one_line(&project, 30),
                ];
                cells.extend(usage_cells(&r.row));
                t.add_row(cells);
            }
            println!("{t}");
            print_totals(&totals);
        }
        UsageCmd::Models => {
            let rows = data.models();
            if json {
                return print_json(&serde_json::json!({"models": rows, "totals": totals}));
            }
            let mut t = table(&[
                "model",
                "input",
                "output",
                "cache create",
                "cache read",
                "cost",
            ]);
            for m in &rows {
                t.add_row(vec![
                    m.model_name.clone(),
                    fmt_int(m.tokens.input_tokens),
                    fmt_int(m.tokens.output_tokens),
                    fmt_int(m.tokens.cache_creation_tokens),
                    fmt_int(m.tokens.cache_read_tokens),
                    format!("${:.2}", m.cost),
                ]);
            }
            println!("{t}");
            print_totals(&totals);
        }
        UsageCmd::Pricing { .. } => {}
    }
    if data.malformed_lines > 0 {
        eprintln!("note: {} damaged lines were skipped", data.malformed_lines);
    }
    Ok(())
}

fn print_totals(t: &ccsm_transcripts::usage::Totals) {
    println!(
        "total: {} tokens (input {}, output {}, cache create {}, cache read {}), ${:.2}",
        fmt_int(t.total_tokens),
        fmt_int(t.tokens.input_tokens),
        fmt_int(t.tokens.output_tokens),
        fmt_int(t.tokens.cache_creation_tokens),
        fmt_int(t.tokens.cache_read_tokens),
        t.total_cost
    );
    if !t.unpriced_models.is_empty() {
        println!(
            "not priced (unknown to the pricing table): {}",
            t.unpriced_models.join(", ")
        );
    }
}
