//! ccsm's catalog of sessions.
//!
//! [`Store`] is object-safe (used as `Arc<dyn Store>`) and speaks in domain
//! operations, never SQL. [`SqliteStore`] is the embedded default (bundled SQLite,
//! WAL, FTS5); a PostgreSQL backend will pass the same conformance suite
//! (`tests/conformance.rs`). Migrations are numbered and never edited once released.

pub mod conformance;
mod policy;
#[cfg(feature = "postgres")]
mod postgres;
pub mod query;
mod sqlite;
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
mod tokens;

use std::path::Path;

use serde::{Deserialize, Serialize};

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use query::{QueryError, SearchQuery, Term};
pub use sqlite::SqliteStore;

/// What went wrong in the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("catalog database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[cfg(feature = "postgres")]
    #[error("catalog database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The catalog's server cannot be reached (down, refusing, out of connections).
    #[error("the catalog is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("session {0} is not in the catalog")]
    NotFound(String),
    #[error("no name {0:?}")]
    NameNotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("the catalog at {path} was written by a newer ccsm (schema {found}, this one knows {known})")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

impl Error {
    /// The catalog file is damaged (or not a catalog at all): the cure is
    /// `ccsm catalog repair`, never a silent rebuild (ccsm's own tags, notes and
    /// names live only there).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            Self::Db(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ccsm_core::HasKind for Error {
    fn kind(&self) -> ccsm_core::ErrorKind {
        use ccsm_core::ErrorKind as K;
        match self {
            Self::NotFound(_) | Self::NameNotFound(_) => K::NotFound,
            Self::Query(_) | Self::Invalid(_) => K::InvalidInput,
            Self::TooNew { .. } | Self::Unavailable(_) => K::Unavailable,
            #[cfg(feature = "postgres")]
            Self::Postgres(e) if postgres::unreachable(e) => K::Unavailable,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => K::Internal,
            // Busy: another process holds the catalog past the wait.
            Self::Db(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                K::Unavailable
            }
            Self::Db(_) => K::Internal,
        }
    }
}

/// Opens the catalog a URL names: `sqlite:///path/to/file.db` (made if missing)
/// or `postgres://…` / `postgresql://…` (a database that exists; its tables are
/// made or migrated).
pub fn open_url(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    if let Some(p) = url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
        return Ok(std::sync::Arc::new(SqliteStore::open(Path::new(p))?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(std::sync::Arc::new(PgStore::open(url)?));
        #[cfg(not(feature = "postgres"))]
        return Err(Error::Invalid(
            "this build of ccsm has no PostgreSQL backend (feature `postgres`)".into(),
        ));
    }
    Err(Error::Invalid(format!(
        "catalog {:?}: a catalog URL starts with sqlite:// or postgres://",
        redact_url(url)
    )))
}

/// A catalog URL fit to show: a password in it is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let auth = match auth.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => auth.to_owned(),
        },
        None => auth.to_owned(),
    };
    // A password given as a parameter.
    let tail: String = tail
        .split('&')
        .map(|kv| match kv.split_once("password=") {
            Some((lead, _)) => format!("{lead}password=***"),
            None => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{auth}{tail}")
}

/// Everything the catalog knows about a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub id: String,
    /// The dir name under the CLI's `projects/`.
    pub project_dir: String,
    /// The real working directory.
    pub project_path: Option<String>,
    pub file_path: String,
    // The SDK's SDKSessionInfo fields.
    pub summary: String,
    pub custom_title: Option<String>,
    pub first_prompt: Option<String>,
    pub git_branch: Option<String>,
    pub cwd: Option<String>,
    /// The CLI's own tag (the `tag` line).
    pub native_tag: Option<String>,
    pub created_at: Option<i64>,
    pub last_modified: i64,
    pub file_size: u64,
    pub archived: Option<bool>,
    // Stats.
    pub messages: u64,
    pub user_turns: u64,
    pub tool_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
    pub cost_usd: f64,
    pub models: Vec<String>,
    pub tools: Vec<String>,
    pub files_touched: u64,
    pub first_activity: Option<i64>,
    pub last_activity: Option<i64>,
    // ccsm's own.
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub names: Vec<String>,
    /// The transcript is gone from the CLI's dir (deleted or cleaned up).
    pub gone: bool,
    /// Where its archived copy is (a key in ccsm's archive).
    pub archive_key: Option<String>,
    /// Free-form notes (ccsm's own; never written to the CLI's files).
    pub notes: Option<String>,
    /// What the CLI itself recorded as the session's cost (its `cost-state` line).
    pub cli_cost_usd: Option<f64>,
    /// The host whose config dir holds it (a catalog shared by many hosts;
    /// `None` in a host's own catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A piece of searchable text from a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextChunk {
    pub uuid: String,
    /// `title`, `user`, `assistant`, `tool` or `tool_result`.
    pub kind: String,
    pub ts: i64,
    pub text: String,
}

/// How far a transcript has been read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileState {
    pub path: String,
    pub session_id: String,
    pub size: u64,
    pub mtime: i64,
    /// Bytes read up to the end of the last complete line.
    pub offset: u64,
    /// A hash of the file's first bytes: a rewritten file has another.
    pub head_hash: String,
}

/// One model call, deduplicated across the catalog by `key`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub key: Option<String>,
    pub ts: i64,
    pub model: String,
    pub input: u64,
    pub output: u64,
    pub cache_5m: u64,
    pub cache_1h: u64,
    pub cache_read: u64,
    pub cost: Option<f64>,
}

/// What one indexing step writes, atomically.
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    pub session: SessionRecord,
    /// `true`: the file was read from the start (old text and calls are dropped).
    pub full: bool,
    pub text: Vec<TextChunk>,
    pub calls: Vec<CallRecord>,
    pub files_touched: Vec<String>,
    pub file: FileState,
    /// The file is one of the session's subagent transcripts: its calls, text, files
    /// touched and file state are written (they count to `session.id`, its text is
    /// found as the session's), the session's own fields are left as they are.
    pub subagent: bool,
    /// The transcript as read was archived under this key (see `set_archive`).
    pub archive_key: Option<String>,
    /// The text rows as the backend indexes them, one per `text` row, made by
    /// [`Store::prepare`] on the reading threads; empty: made while writing.
    pub vectors: Vec<Vec<u8>>,
}

/// A session's usage for one model on one day (the catalog's usage rollup).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    pub session_id: String,
    pub project_dir: String,
    pub model: String,
    /// The day as the caller's `day_of` named it (local `YYYY-MM-DD`).
    pub day: String,
    pub first_ts: i64,
    pub last_ts: i64,
    pub calls: u64,
    pub input: u64,
    pub output: u64,
    pub cache_5m: u64,
    pub cache_1h: u64,
    pub cache_read: u64,
    pub cli_cost_usd: Option<f64>,
    /// The session's host (a catalog shared by many hosts; `None`: this host's own).
    pub host: Option<String>,
}

/// Filters of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub project_path: Option<String>,
    pub include_gone: bool,
    pub limit: Option<usize>,
    pub offset: usize,
    /// Claude Code's own tag or one of ccsm's tags.
    pub tag: Option<String>,
    /// Last modified at or after this moment (epoch ms).
    pub modified_from: Option<i64>,
    /// Last modified before this moment (epoch ms).
    pub modified_before: Option<i64>,
    /// Only the sessions of this host (a catalog shared by many hosts).
    pub host: Option<String>,
    /// Only the sessions of these folders, as `(host, path)` (`None`: of any
    /// host): a project that hosts' folders were mapped into.
    pub project_folders: Vec<(Option<String>, String)>,
}

/// A search result: a session and its best matching snippet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub session: SessionRecord,
    /// The matching text with the match in `[...]`; empty for filter-only searches.
    pub snippet: String,
    pub kind: Option<String>,
    pub score: f64,
}

/// A name: a conversation's chain of CLI session ids, newest last.
pub use ccsm_core::views::NameView as NameRecord;

/// The catalog, as domain operations. Object-safe: `Arc<dyn Store>`.
pub trait Store: Send + Sync {
    /// Writes what indexing one file produced, in one transaction.
    fn ingest(&self, batch: &Ingest) -> Result<()>;
    /// Work on a batch that needs no catalog, done before it is written, on
    /// the thread that read it (a backend that indexes words itself makes
    /// [`Ingest::vectors`] here, in parallel, instead of in its writer).
    fn prepare(&self, _batch: &mut Ingest) {}
    /// Writes several files' batches; a backend may use one transaction for all
    /// (fewer commits when indexing in bulk).
    fn ingest_many(&self, batches: &[Ingest]) -> Result<()> {
        for b in batches {
            self.ingest(b)?;
        }
        Ok(())
    }
    fn session(&self, id: &str) -> Result<Option<SessionRecord>>;
    /// Newest first.
    fn list(&self, filter: &ListFilter) -> Result<Vec<SessionRecord>>;
    fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>>;
    fn file_state(&self, path: &str) -> Result<Option<FileState>>;
    /// Every file's state at once (a sync of 10k files asks once, not 10k times).
    fn file_states(&self) -> Result<Vec<FileState>>;
    /// Every session id with its transcript path.
    fn known_files(&self) -> Result<Vec<(String, String, bool)>>;
    /// How many sessions are not gone (a sync compares it with the files present).
    fn count_present(&self) -> Result<usize>;
    fn mark_gone(&self, id: &str, gone: bool) -> Result<()>;
    fn set_archive(&self, id: &str, key: &str) -> Result<()>;
    /// Records Claude Code's own archived flag (the sidecar `archived.json`, which
    /// a transcript's size and mtime do not show).
    fn set_archived_flag(&self, id: &str, archived: bool) -> Result<()>;
    /// Ids of listed sessions (gone ones too) that start with `prefix` (lower case),
    /// at most `limit`, in id order.
    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>>;
    /// Every session's archive key: `(id, key)`.
    fn archive_keys(&self) -> Result<Vec<(String, String)>>;
    fn set_description(&self, id: &str, text: Option<&str>) -> Result<()>;
    fn set_notes(&self, id: &str, text: Option<&str>) -> Result<()>;
    /// Adds a line to a session's notes, atomically (two writers both keep theirs).
    fn append_notes(&self, id: &str, text: &str) -> Result<()>;
    fn add_tags(&self, id: &str, tags: &[String]) -> Result<()>;
    fn remove_tags(&self, id: &str, tags: &[String]) -> Result<()>;
    /// Removes a session from the catalog (never the CLI's files).
    fn delete(&self, id: &str) -> Result<bool>;
    /// Sessions whose last activity is before `cutoff_ms`.
    fn older_than(&self, cutoff_ms: i64) -> Result<Vec<SessionRecord>>;
    /// Appends `session_id` to the name's chain (creating the name).
    fn save_name(&self, name: &str, session_id: &str) -> Result<()>;
    fn name(&self, name: &str) -> Result<Option<NameRecord>>;
    fn names(&self) -> Result<Vec<NameRecord>>;
    fn remove_name(&self, name: &str) -> Result<bool>;
    /// Compacts what bulk indexing left behind (SQLite: merges the full-text index
    /// into one segment, which makes searches several times faster).
    fn optimize(&self) -> Result<()>;
    /// A sync is about to write: `much` (bytes enough to be a bulk load).
    /// Into an empty catalog, a backend may drop what it builds faster at the
    /// end (PostgreSQL's full-text index: built whole, it costs a fraction of
    /// a row at a time); it says whether it did, and [`Store::end_bulk`] is
    /// then called, whatever the sync's outcome. A backend also puts back here
    /// what a bulk load cut short left out.
    fn begin_bulk(&self, _much: bool) -> Result<bool> {
        Ok(false)
    }
    /// Builds what [`Store::begin_bulk`] dropped.
    fn end_bulk(&self) -> Result<()> {
        Ok(())
    }
    /// A bounded step of compaction after a small write (SQLite: merges a level
    /// of the full-text index where eight segments gathered), so that a catalog
    /// synced often stays as fast to search as one synced in bulk.
    fn tidy(&self) -> Result<()>;
    /// Usage calls, for reports (optionally since/until in ms).
    fn calls(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, CallRecord)>>;
    /// Brings the usage rollup (per session, model and day) in step with the calls:
    /// sessions written since the last refresh are rolled up again, and all of them
    /// when `fingerprint` (what `day_of` depends on: the time zone) changed.
    /// Returns how many sessions were rolled up.
    fn refresh_usage(
        &self,
        fingerprint: &str,
        day_of: &(dyn Fn(i64) -> String + Sync),
    ) -> Result<usize>;
    /// The rollup's rows, of every session (`include_gone`) or only those whose
    /// transcript is present, optionally of some project dirs only.
    fn usage_rows(
        &self,
        project_dirs: Option<&[String]>,
        include_gone: bool,
    ) -> Result<Vec<UsageRow>>;
    /// The usage of present sessions summed by day and model (`session_id`,
    /// `project_dir`, the times and the CLI's cost left empty), from a sum the
    /// store keeps in step; `None`: the store keeps none (read
    /// [`Store::usage_rows`]).
    fn usage_days(&self) -> Result<Option<Vec<UsageRow>>> {
        Ok(None)
    }
    /// What the last complete sync saw of the config dir (the indexer's digest of
    /// every file's path, size and mtime), if nothing was written to the sessions
    /// since: ingesting, deleting or marking a session gone forgets it.
    fn sync_digest(&self) -> Result<Option<String>>;
    fn set_sync_digest(&self, digest: &str) -> Result<()>;
    /// The fingerprint of the pricing table the calls were priced with, if any.
    fn pricing_fingerprint(&self) -> Result<Option<String>>;
    /// [`Store::sync_digest`] and [`Store::pricing_fingerprint`] together
    /// (what a sync reads first; one round trip on a server).
    fn sync_marks(&self) -> Result<(Option<String>, Option<String>)> {
        Ok((self.sync_digest()?, self.pricing_fingerprint()?))
    }
    /// Prices every call again (`price` gives USD for a model's input, output,
    /// 5-minute and 1-hour cache writes and cache reads, per million tokens; `None`:
    /// unpriced, cost 0), sums each session's cost again and records `fingerprint`.
    fn reprice(
        &self,
        price: &(dyn Fn(&str) -> Option<[f64; 5]> + Sync),
        fingerprint: &str,
    ) -> Result<()>;
    /// Sessions per project dir, newest activity first: those whose transcript is
    /// present, and with `include_gone` those Claude Code deleted too.
    fn projects(&self, include_gone: bool) -> Result<Vec<ProjectRow>>;
    /// Stores (or replaces) a daemon record: `value` is JSON the daemon reads back
    /// after a restart (its runs, approvals, supervision specs), by `kind` and `key`.
    fn put_record(&self, kind: &str, key: &str, value: &str) -> Result<()>;
    /// Every record of a kind, as (key, value), oldest write first.
    fn records(&self, kind: &str) -> Result<Vec<(String, String)>>;
    /// Removes a record; whether there was one.
    fn delete_record(&self, kind: &str, key: &str) -> Result<bool>;
    /// The host this catalog's writes belong to, when many hosts share it
    /// (`None`: a host's own catalog). A sync sees only its host's files.
    fn host(&self) -> Option<String> {
        None
    }
    /// Stores (or replaces) a record every host reads (the live sessions of each
    /// host, commands for a host's daemon); in a host's own catalog, a record.
    fn put_shared(&self, kind: &str, key: &str, value: &str) -> Result<()> {
        self.put_record(&format!("shared:{kind}"), key, value)
    }
    /// Every shared record of a kind, as (key, value), oldest write first.
    fn shared(&self, kind: &str) -> Result<Vec<(String, String)>> {
        self.records(&format!("shared:{kind}"))
    }
    /// Removes a shared record; whether there was one.
    fn delete_shared(&self, kind: &str, key: &str) -> Result<bool> {
        self.delete_record(&format!("shared:{kind}"), key)
    }
    /// Waits until a shared record of `kind` is written (`true`) or `timeout`
    /// passes (`false`). A store that cannot tell returns `false` at once: the
    /// caller looks again at its own pace.
    fn wait_shared(&self, kind: &str, timeout: std::time::Duration) -> Result<bool> {
        let _ = (kind, timeout);
        Ok(false)
    }
    /// Whether archived transcripts are kept in the catalog itself (a shared
    /// one: another host restores from it); else only in the file archive.
    fn keeps_archives(&self) -> bool {
        false
    }
    /// Whether a write's work is done by another process (a database
    /// server): the thread that writes mostly waits, and the indexer parses
    /// on every core rather than leaving one to the writer.
    fn written_by_a_server(&self) -> bool {
        false
    }
    /// Keeps an archived session version (a bundle read from `bundle`) under
    /// `key`, unless it is kept already; whether it was written now.
    fn put_archive(
        &self,
        key: &str,
        session_id: &str,
        bundle: &mut (dyn std::io::Read + Send),
    ) -> Result<bool> {
        let _ = (key, session_id, bundle);
        Ok(false)
    }
    /// Writes the archived version `key` to `out`; whether the catalog has it.
    fn read_archive(&self, key: &str, out: &mut (dyn std::io::Write + Send)) -> Result<bool> {
        let _ = (key, out);
        Ok(false)
    }
}

/// This machine's name for a catalog shared by many hosts: `$CCSM_HOST`, else
/// the kernel's host name.
pub fn local_host() -> String {
    std::env::var("CCSM_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

/// A project dir as the catalog knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectRow {
    pub project_dir: String,
    /// The real path its sessions ran in (the newest present session's, else any).
    pub project_path: Option<String>,
    /// Sessions whose transcript is present.
    pub sessions: u64,
    /// Sessions whose transcript is gone (counted only when asked for).
    pub gone: u64,
    /// Transcript bytes of the sessions counted.
    pub size: u64,
    /// The newest modification time of the sessions counted (ms).
    pub last_modified: i64,
    /// The host whose folder it is (a catalog shared by many hosts: two hosts'
    /// folders of one path are two projects; `None`: this host's own catalog).
    pub host: Option<String>,
}

/// The seeds' names for the same operations.
impl dyn Store + '_ {
    /// Tags and a description for a session (seeds' `save_session`).
    pub fn save_session(&self, id: &str, tags: &[String], description: Option<&str>) -> Result<()> {
        self.add_tags(id, tags)?;
        if description.is_some() {
            self.set_description(id, description)?;
        }
        Ok(())
    }
    pub fn load_session(&self, id: &str) -> Result<SessionRecord> {
        self.session(id)?
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }
    pub fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.name(name)?.is_some())
    }
    /// Catalog entries older than `max_age_days` (the CLI's files are not touched).
    pub fn cleanup_old_sessions(&self, max_age_days: u32, now_ms: i64) -> Result<Vec<String>> {
        let cutoff = now_ms - i64::from(max_age_days) * 86_400_000;
        let mut out = Vec::new();
        for s in self.older_than(cutoff)? {
            if self.delete(&s.id)? {
                out.push(s.id);
            }
        }
        Ok(out)
    }
}
