//! Sessions: list, read, find, describe, change, delete and bring back; from the
//! catalog (kept fresh) or, when asked, from Claude Code's files alone.

use std::path::{Path, PathBuf};

use ccsm_core::views::{SearchHitView, SessionInfo, SessionMessage, SessionView};
use ccsm_core::ErrorKind;
use ccsm_store::{ListFilter, SearchQuery, SessionRecord};
use ccsm_transcripts::MessageOptions;

use crate::error::invalid;
use crate::{Error, Result, Service};

/// Where an answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// ccsm's catalog, brought up to date first (sees sessions Claude Code
    /// deleted, ccsm's tags, notes and names).
    Catalog,
    /// Claude Code's files only, as the SDK reads them.
    Files,
}

impl Source {
    /// `Files` when `direct`.
    pub fn direct(direct: bool) -> Self {
        if direct {
            Self::Files
        } else {
            Self::Catalog
        }
    }
}

/// Which sessions to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only the sessions of this project directory.
    pub project: Option<PathBuf>,
    /// At most this many (`None`: all).
    pub limit: Option<usize>,
    /// Skip this many of the newest first.
    pub offset: usize,
    /// Only sessions with this tag (Claude Code's own or a ccsm tag).
    pub tag: Option<String>,
    /// Only sessions last active on or after this day (`YYYY-MM-DD`, local time).
    pub since: Option<String>,
    /// Only sessions last active on or before this day.
    pub until: Option<String>,
    /// Only the sessions of this host (a catalog shared by many hosts).
    pub host: Option<String>,
}

/// What the catalog knows of a session beyond the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStats {
    pub project_path: Option<String>,
    pub messages: u64,
    pub user_turns: u64,
    pub tool_calls: u64,
    pub tokens: ccsm_core::usage::Tokens,
    pub cost_usd: f64,
    /// Models used that the pricing table does not know (not in `cost_usd`).
    pub unpriced_models: Vec<String>,
    pub models: Vec<String>,
    pub tools: Vec<String>,
    pub files_touched: u64,
    pub names: Vec<String>,
}

/// One session in detail: its view, where its transcript is, and the catalog's
/// statistics (none when read from the files).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetail {
    pub view: SessionView,
    pub file: PathBuf,
    pub stats: Option<SessionStats>,
}

/// A session `cleanup` forgets (or would).
#[derive(Debug, Clone, PartialEq)]
pub struct Cleanup {
    pub session_id: String,
    pub summary: String,
}

/// What `rm` did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub session_id: String,
    #[schema(value_type = String)]
    pub deleted: PathBuf,
    /// An archived copy is kept (`restore` brings it back).
    pub archived: bool,
}

/// A catalog entry as the SDK names it, plus ccsm's own fields.
pub(crate) fn view(s: SessionRecord) -> SessionView {
    SessionView {
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
        host: s.host,
    }
}

/// The first moment of a local day given as text.
fn day_start(d: &str, what: &str) -> Result<i64> {
    let Some(day) = ccsm_transcripts::usage::parse_date(d) else {
        invalid!("{what} {d:?} is not a date (YYYY-MM-DD)");
    };
    Ok(day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map_or(0, |t| t.timestamp_millis()))
}

/// A project folder as the catalog records it (real path, no trailing `/`).
pub(crate) fn project_key(p: &Path) -> String {
    p.canonicalize()
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .trim_end_matches('/')
        .to_owned()
}

impl Service {
    /// Sessions, newest first.
    pub fn list_sessions(&self, q: &ListQuery, source: Source) -> Result<Vec<SessionView>> {
        let from = q
            .since
            .as_deref()
            .map(|d| day_start(d, "--since"))
            .transpose()?;
        // The whole of the last day.
        let before = q
            .until
            .as_deref()
            .map(|d| day_start(d, "--until").map(|t| t + 86_400_000))
            .transpose()?;
        if source == Source::Files {
            return Ok(self
                .dir
                .list_sessions(q.project.as_deref(), None, 0)?
                .into_iter()
                .filter(|i| q.tag.is_none() || i.tag == q.tag)
                .filter(|i| from.is_none_or(|t| i.last_modified >= t))
                .filter(|i| before.is_none_or(|t| i.last_modified < t))
                .skip(q.offset)
                .take(q.limit.unwrap_or(usize::MAX))
                .map(SessionView::from)
                .collect());
        }
        let filter = ListFilter {
            project_path: q.project.as_deref().map(project_key),
            include_gone: true,
            limit: q.limit,
            offset: q.offset,
            tag: q.tag.clone(),
            modified_from: from,
            modified_before: before,
            host: q.host.clone(),
            project_folders: Vec::new(),
        };
        let (_, rows) = self.fresh_read(|c| {
            // A project that hosts' folders were mapped into, by its name.
            let named = match q.project.as_deref().and_then(Path::to_str) {
                Some(name) => self.project_folders(c, name)?,
                None => None,
            };
            Ok(match named {
                Some(folders) => c.store.list(&ListFilter {
                    project_path: None,
                    project_folders: folders,
                    ..filter.clone()
                })?,
                None => c.store.list(&filter)?,
            })
        })?;
        Ok(rows.into_iter().map(view).collect())
    }

    /// One session as `sessions info --json` shows it: the catalog's view, else
    /// the files'.
    pub fn session(&self, id: &str, source: Source) -> Result<SessionView> {
        if source == Source::Catalog {
            if let Some(s) = self.fresh()?.store.session(id)? {
                return Ok(view(s));
            }
        }
        Ok(self.dir.info(id)?.into())
    }

    /// One session in detail.
    pub fn session_detail(&self, id: &str, source: Source) -> Result<SessionDetail> {
        if source == Source::Files {
            let info = self.dir.info(id)?;
            let file = self.dir.find(id)?.path;
            return Ok(SessionDetail {
                view: info.into(),
                file,
                stats: None,
            });
        }
        let c = self.fresh()?;
        let Some(s) = c.store.session(id)? else {
            // Not in the catalog: say what the files say (a clear not-found).
            self.dir.info(id)?;
            return Err(Error::not_found(format!(
                "session {id} is not in the catalog"
            )));
        };
        let unpriced = self
            .pricing()?
            .unpriced(s.models.iter().map(String::as_str));
        let stats = SessionStats {
            project_path: s.project_path.clone(),
            messages: s.messages,
            user_turns: s.user_turns,
            tool_calls: s.tool_calls,
            tokens: ccsm_core::usage::Tokens {
                input_tokens: s.input_tokens,
                output_tokens: s.output_tokens,
                cache_creation_tokens: s.cache_creation_tokens,
                cache_read_tokens: s.cache_read_tokens,
                ..Default::default()
            },
            cost_usd: s.cost_usd,
            unpriced_models: unpriced,
            models: s.models.clone(),
            tools: s.tools.clone(),
            files_touched: s.files_touched,
            names: s.names.clone(),
        };
        let file = PathBuf::from(&s.file_path);
        Ok(SessionDetail {
            view: view(s),
            file,
            stats: Some(stats),
        })
    }

    /// Full-text search over every session the catalog has seen.
    pub fn search(&self, query: &str, rank: bool, limit: usize) -> Result<Vec<SearchHitView>> {
        let mut q = SearchQuery::parse(query).map_err(ccsm_store::Error::from)?;
        q.rank = rank;
        q.limit = limit;
        self.search_parsed(q)
    }

    /// A search already parsed (filters set by a caller, as the API's list does).
    pub fn search_parsed(&self, mut q: SearchQuery) -> Result<Vec<SearchHitView>> {
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
        let (_, hits) = self.fresh_read(|c| {
            // A project that hosts' folders were mapped into, by its name.
            if let Some(folders) = match q.project.as_deref() {
                Some(name) => self.project_folders(c, name)?,
                None => None,
            } {
                let mut q = q.clone();
                q.project = None;
                q.project_folders = folders;
                return Ok(c.store.search(&q)?);
            }
            Ok(c.store.search(&q)?)
        })?;
        Ok(hits
            .into_iter()
            .map(|h| SearchHitView {
                snippet: h.snippet,
                score: h.score,
                session: view(h.session),
            })
            .collect())
    }

    /// A session's description (ccsm's own; empty text clears it).
    pub fn describe(&self, id: &str, text: &str) -> Result<()> {
        let text = text.trim();
        self.fresh()?
            .store
            .set_description(id, (!text.is_empty()).then_some(text))?;
        Ok(())
    }

    /// A session's notes: replaced, or added to (`append`); empty text clears them.
    pub fn note(&self, id: &str, text: &str, append: bool) -> Result<()> {
        let c = self.fresh()?;
        let text = text.trim();
        if c.store.session(id)?.is_none() {
            return Err(Error::not_found(format!(
                "session {id} is not in the catalog"
            )));
        }
        if append {
            if !text.is_empty() {
                c.store.append_notes(id, text)?;
            }
        } else {
            c.store.set_notes(id, (!text.is_empty()).then_some(text))?;
        }
        Ok(())
    }

    /// Adds ccsm tags.
    pub fn add_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        Ok(self.fresh()?.store.add_tags(id, tags)?)
    }

    /// Removes ccsm tags.
    pub fn remove_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        Ok(self.fresh()?.store.remove_tags(id, tags)?)
    }

    /// Writes an archived session back where Claude Code looks for it; with
    /// `to`, under that project folder (one a session may run in here): a session
    /// recorded on another host, through a shared catalog.
    pub fn restore(&self, id: &str, force: bool, to: Option<&Path>) -> Result<PathBuf> {
        let to = to
            .map(|d| self.usable_folder(d, true, "the folder to restore into"))
            .transpose()?;
        let c = self.fresh()?;
        Ok(c.indexer
            .restore(c.store.as_ref(), id, force, to.as_deref())?)
    }

    /// Forgets catalog entries (and archives) last active more than `days` ago;
    /// with `delete_files`, deletes their transcripts too. `dry_run`: only says which.
    pub fn cleanup(&self, days: u32, dry_run: bool, delete_files: bool) -> Result<Vec<Cleanup>> {
        let c = self.fresh()?;
        let cutoff = chrono::Utc::now().timestamp_millis() - i64::from(days) * 86_400_000;
        let old = c.store.older_than(cutoff)?;
        let mut out = Vec::with_capacity(old.len());
        for s in old {
            if !dry_run {
                if delete_files && !s.gone {
                    self.dir.delete(&s.id)?;
                }
                c.indexer.forget_archive(&s.id)?;
                c.store.delete(&s.id)?;
            }
            out.push(Cleanup {
                session_id: s.id,
                summary: s.summary,
            });
        }
        Ok(out)
    }

    /// The conversation's messages, oldest first (as the SDK gives them).
    pub fn messages(&self, id: &str, opts: MessageOptions) -> Result<Vec<SessionMessage>> {
        Ok(self.dir.messages(id, opts)?)
    }

    /// The subagents a session started.
    pub fn subagents(&self, id: &str) -> Result<Vec<String>> {
        Ok(self.dir.subagents(id)?)
    }

    /// Gives a session a title (Claude Code's picker shows it).
    pub fn rename(&self, id: &str, title: &str) -> Result<()> {
        Ok(self.dir.rename(id, title)?)
    }

    /// Sets or clears the CLI's own tag.
    pub fn tag(&self, id: &str, tag: Option<&str>) -> Result<()> {
        Ok(self.dir.tag(id, tag)?)
    }

    /// Hides a session from pickers (or shows it again); the catalog at once too,
    /// so `is:archived` and `info` show it.
    pub fn set_archived(&self, id: &str, archived: bool, source: Source) -> Result<()> {
        self.dir.set_archived(id, archived)?;
        if source == Source::Catalog {
            self.fresh()?.store.set_archived_flag(id, archived)?;
        }
        Ok(())
    }

    /// The summary of a session's transcript (for a confirmation question).
    pub fn summary(&self, id: &str) -> Result<String> {
        Ok(self.dir.info(id)?.summary)
    }

    /// Deletes a session's transcript and sidecar files. From the catalog, it is
    /// archived first (so `restore` brings it back), and refused if it cannot be.
    pub fn delete(&self, id: &str, source: Source) -> Result<Deleted> {
        self.dir.info(id)?;
        let catalog = match source {
            Source::Files => None,
            Source::Catalog => {
                let c = self.fresh()?;
                if c.store.session(id)?.and_then(|s| s.archive_key).is_none() {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("{id} could not be archived: not deleted"),
                    ));
                }
                Some(c)
            }
        };
        let p = self.dir.delete(id)?;
        if let Some(c) = &catalog {
            self.sync_catalog(c)?;
        }
        Ok(Deleted {
            session_id: id.to_owned(),
            deleted: p,
            archived: catalog.is_some(),
        })
    }

    /// Copies a session into a new one (new ids, same history), cut after
    /// message `at` if given.
    pub fn fork(&self, id: &str, at: Option<&str>, title: Option<&str>) -> Result<String> {
        Ok(self.dir.fork(id, at, title)?)
    }

    /// Forks a session into another project folder (or its own).
    pub fn clone_session(
        &self,
        id: &str,
        to: Option<&Path>,
        create: bool,
        name: Option<&str>,
    ) -> Result<crate::Imported> {
        let to = match to {
            Some(t) => Some(self.existing_folder(t, create, "the --to folder")?),
            None => None,
        };
        let c = self.dir.clone_session(id, to.as_deref())?;
        if let Some(n) = name {
            self.dir.rename(&c.session_id, n)?;
        }
        Ok(c)
    }

    /// Moves a session to another working directory, keeping its id, so the CLI
    /// resumes it there with its history (`sessions navigate`, and the daemon's
    /// `navigate`). The folder passes the path validator (`access`: its rights
    /// too); a session live in a process is refused (`except`: pids the caller
    /// has stopped or owns).
    pub fn navigate(
        &self,
        id: &str,
        to: &Path,
        access: bool,
        except: &[u32],
    ) -> Result<ccsm_transcripts::portable::MovedSession> {
        let id = self.resolve_id(id, Source::Files)?;
        let to = self.usable_folder_with(to, false, "the new folder", access)?;
        let holders = self.live_holders(&id, except);
        if !holders.is_empty() {
            return Err(Error::new(
                ccsm_core::ErrorKind::Conflict,
                format!(
                    "session {id} is live in process {holders:?}: stop it first (a running CLI would keep writing the old transcript)"
                ),
            ));
        }
        let moved = self.dir.move_session(&id, &to)?;
        // The catalog follows at its next sync; do it now so a search sees it.
        if let Err(e) = self.fresh() {
            tracing::warn!("the catalog after a move: {e}");
        }
        Ok(moved)
    }

    /// One page of the sessions a filter keeps, newest first, and how many it
    /// keeps in all (the API's `GET /api/claude/sessions`).
    pub fn session_page(&self, f: &SessionFilter) -> Result<SessionPage> {
        let mut q = match f.q.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => SearchQuery::parse(t).map_err(ccsm_store::Error::from)?,
            None => SearchQuery::default(),
        };
        let one = |filter: &str| SearchQuery::parse(filter).map_err(ccsm_store::Error::from);
        if let Some(p) = &f.project {
            q.project = Some(p.clone());
        }
        q.tags.extend(f.tag.iter().cloned());
        q.names.extend(f.name.iter().cloned());
        if let Some(m) = &f.model {
            q.model = Some(m.clone());
        }
        if let Some(d) = &f.after {
            q.after = one(&format!("after:{d}"))?.after;
        }
        if let Some(d) = &f.before {
            q.before = one(&format!("before:{d}"))?.before;
        }
        for (v, what) in [(f.cost_gt, "cost_gt"), (f.cost_lt, "cost_lt")] {
            if v.is_some_and(|c| !c.is_finite() || c < 0.0) {
                invalid!("{what} must be a number of dollars, 0 or more");
            }
        }
        q.cost_gt = f.cost_gt.or(q.cost_gt);
        q.cost_lt = f.cost_lt.or(q.cost_lt);
        match f.status.as_deref() {
            None | Some("any") | Some("present") | Some("live") => {}
            Some("gone") => q.gone = true,
            Some("archived") => q.archived = true,
            Some(other) => invalid!("status {other:?}: one of any, present, live, gone, archived"),
        }
        q.rank = false;
        q.limit = usize::MAX;
        let mut hits = self.search_parsed(q)?;
        match f.status.as_deref() {
            Some("present") => hits.retain(|h| !h.session.gone),
            Some("live") => hits.retain(|h| {
                f.live
                    .as_ref()
                    .is_some_and(|l| l.contains(&h.session.info.session_id))
            }),
            _ => {}
        }
        let total = hits.len();
        let sessions = hits.into_iter().skip(f.offset).take(f.limit).collect();
        Ok(SessionPage {
            total,
            offset: f.offset,
            limit: f.limit,
            sessions,
        })
    }
}

/// What `GET /api/claude/sessions` filters by (each optional; all apply).
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// A query in the catalog's search language (words, phrases, filters).
    pub q: Option<String>,
    /// `any` (default), `present`, `live`, `gone`, `archived`.
    pub status: Option<String>,
    /// The ids that are live (what `live` keeps).
    pub live: Option<std::collections::HashSet<String>>,
    pub project: Option<String>,
    pub tag: Option<String>,
    pub name: Option<String>,
    pub model: Option<String>,
    /// Dates (YYYY-MM-DD).
    pub after: Option<String>,
    pub before: Option<String>,
    pub cost_gt: Option<f64>,
    pub cost_lt: Option<f64>,
    pub limit: usize,
    pub offset: usize,
}

/// A page of sessions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub sessions: Vec<SearchHitView>,
}

/// ccsm's own metadata of a session, changed at once (`PUT` of the API).
#[derive(Debug, Clone, Default)]
pub struct MetadataUpdate {
    /// The title (the SDK's `customTitle`).
    pub name: Option<String>,
    pub description: Option<String>,
    /// ccsm's tags, replacing the ones it has.
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    /// Text added to the notes (after `notes`, when both are given).
    pub append_notes: Option<String>,
}

impl Service {
    /// Changes a session's title, description, tags (replaced) and notes.
    pub fn update_metadata(&self, id: &str, u: &MetadataUpdate) -> Result<()> {
        if let Some(n) = u.name.as_deref().filter(|n| !n.trim().is_empty()) {
            self.rename(id, n)?;
        }
        if let Some(d) = &u.description {
            self.describe(id, d)?;
        }
        if let Some(n) = &u.notes {
            self.note(id, n, false)?;
        }
        if let Some(n) = &u.append_notes {
            self.note(id, n, true)?;
        }
        if let Some(tags) = &u.tags {
            let now = self.session(id, Source::Catalog)?.tags;
            let gone: Vec<String> = now.into_iter().filter(|t| !tags.contains(t)).collect();
            self.remove_tags(id, &gone)?;
            self.add_tags(id, tags)?;
        }
        Ok(())
    }
}
