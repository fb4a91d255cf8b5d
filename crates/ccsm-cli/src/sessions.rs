//! `ccsm sessions`: list, read, find and change sessions. Tables for people,
//! `--json` for programs (the SDK's field names for sessions and messages).

use std::path::PathBuf;

use anyhow::Result;
use ccsm_service::{Service, Source};
use clap::Subcommand;

pub use crate::info::TagsCmd;
use crate::out::print_json;

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
        /// Only the sessions of this host (a catalog shared by many hosts; see
        /// $CCSM_HOST).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
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
        /// Best match first (titles and prompts weigh more than bodies), among the
        /// newest 1,000 matching messages; then the newest other matching sessions.
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
        /// Put it under this project folder (a session another host recorded).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
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
    /// Move a session to another working directory, keeping its id: the CLI
    /// resumes it there with its history (the folder passes the path checks).
    Navigate {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The folder it is to run in from now on.
        path: PathBuf,
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

/// After a change: with `--json`, the changed session as `sessions info --json`
/// shows it (the catalog's view, else the files'); else the confirmation line.
fn changed(svc: &Service, id: &str, json: bool, source: Source, said: &str) -> Result<()> {
    if json {
        return print_json(&svc.session(id, source)?);
    }
    eprintln!("{said}");
    Ok(())
}

pub fn sessions(svc: &Service, cmd: SessionsCmd, json: bool, direct: bool) -> Result<()> {
    let source = Source::direct(direct);
    match crate::ids::resolve_ids(svc, cmd, source)? {
        SessionsCmd::List {
            project,
            limit,
            offset,
            all,
            tag,
            since,
            until,
            host,
            full_ids,
        } => {
            let q = ccsm_service::ListQuery {
                project,
                limit: (!all).then_some(limit),
                offset,
                tag,
                since,
                until,
                host,
            };
            let rows = svc.list_sessions(&q, source)?;
            crate::info::list(&rows, json, full_ids, (!all).then_some(limit), offset)?;
        }
        SessionsCmd::Search {
            query,
            rank,
            limit,
            full_ids,
        } => {
            let hits = svc.search(&query, rank, limit)?;
            crate::info::search(&hits, json, full_ids)?;
        }
        SessionsCmd::Describe { id, text } => {
            svc.describe(&id, &text)?;
            let said = if text.trim().is_empty() {
                format!("cleared the description of {id}")
            } else {
                format!("described {id}")
            };
            changed(svc, &id, json, Source::Catalog, &said)?;
        }
        SessionsCmd::Note { id, text, append } => {
            svc.note(&id, &text, append)?;
            changed(
                svc,
                &id,
                json,
                Source::Catalog,
                &format!("notes of {id} saved"),
            )?;
        }
        SessionsCmd::Tags(TagsCmd::Add { id, tags }) => {
            svc.add_tags(&id, &tags)?;
            let said = format!("tagged {id}: {}", tags.join(", "));
            changed(svc, &id, json, Source::Catalog, &said)?;
        }
        SessionsCmd::Tags(TagsCmd::Rm { id, tags }) => {
            svc.remove_tags(&id, &tags)?;
            let said = format!("untagged {id}: {}", tags.join(", "));
            changed(svc, &id, json, Source::Catalog, &said)?;
        }
        SessionsCmd::Restore { id, force, to } => {
            let p = svc.restore(&id, force, to.as_deref())?;
            let said = format!(
                "restored {id} to {}; resume it with: claude --resume {id}",
                p.display()
            );
            changed(svc, &id, json, source, &said)?;
        }
        SessionsCmd::Cleanup {
            older_than,
            dry_run,
            delete_files,
        } => {
            let old = svc.cleanup(older_than, dry_run, delete_files)?;
            for s in &old {
                println!("{}  {}", s.session_id, s.summary);
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
        SessionsCmd::Info { id } => {
            let d = svc.session_detail(&id, source)?;
            if json {
                return print_json(&d.view);
            }
            crate::info::detail(&d);
        }
        SessionsCmd::Messages {
            id,
            include_system,
            limit,
            offset,
        } => {
            let opts = ccsm_service::MessageOptions {
                limit,
                offset,
                include_system,
            };
            crate::info::messages(&svc.messages(&id, opts)?, json)?;
        }
        SessionsCmd::Subagents { id } => {
            let ids = svc.subagents(&id)?;
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
            svc.rename(&id, &title)?;
            let said = format!("renamed {id} to {:?}", title.trim());
            changed(svc, &id, json, source, &said)?;
        }
        SessionsCmd::Tag { id, tag, clear } => {
            let tag = if clear { None } else { tag };
            svc.tag(&id, tag.as_deref())?;
            let said = match tag {
                Some(t) => format!("tagged {id} {t:?}"),
                None => format!("cleared the tag of {id}"),
            };
            changed(svc, &id, json, source, &said)?;
        }
        SessionsCmd::Archive { id } => {
            svc.set_archived(&id, true, source)?;
            changed(svc, &id, json, source, &format!("archived {id}"))?;
        }
        SessionsCmd::Unarchive { id } => {
            svc.set_archived(&id, false, source)?;
            changed(svc, &id, json, source, &format!("unarchived {id}"))?;
        }
        SessionsCmd::Rm { id, yes } => crate::bundles::rm(svc, &id, yes, json, source)?,
        cmd @ (SessionsCmd::Export { .. }
        | SessionsCmd::Import { .. }
        | SessionsCmd::Clone { .. }
        | SessionsCmd::Navigate { .. }
        | SessionsCmd::Fork { .. }) => crate::bundles::run(svc, cmd, json, source)?,
    }
    Ok(())
}
