//! ccsm's catalog of sessions.
//!
//! [`Store`] is object-safe (used as `Arc<dyn Store>`) and speaks in domain
//! operations, never SQL. [`SqliteStore`] is the embedded default (bundled SQLite,
//! WAL, FTS5); a PostgreSQL backend will pass the same conformance suite
//! (`tests/conformance.rs`). Migrations are numbered and never edited once released.

pub mod conformance;
pub mod query;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

pub use query::{QueryError, SearchQuery, Term};

/// What went wrong in the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("catalog database error: {0}")]
    Db(#[from] rusqlite::Error),
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
            Self::TooNew { .. } => K::Unavailable,
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

/// Opens the catalog a URL names: `sqlite:///path/to/file.db` (made if missing).
pub fn open_url(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    match url.strip_prefix("sqlite://") {
        Some(p) if !p.is_empty() => Ok(std::sync::Arc::new(SqliteStore::open(Path::new(p))?)),
        _ => Err(Error::Invalid(format!(
            "catalog {url:?}: only sqlite:// catalogs are supported by this build"
        ))),
    }
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
    /// A bounded step of compaction after a small write (SQLite: merges small
    /// full-text segments, at most about a megabyte of work), so that a catalog
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
    /// What the last complete sync saw of the config dir (the indexer's digest of
    /// every file's path, size and mtime), if nothing was written to the sessions
    /// since: ingesting, deleting or marking a session gone forgets it.
    fn sync_digest(&self) -> Result<Option<String>>;
    fn set_sync_digest(&self, digest: &str) -> Result<()>;
    /// The fingerprint of the pricing table the calls were priced with, if any.
    fn pricing_fingerprint(&self) -> Result<Option<String>>;
    /// Prices every call again (`price` gives USD for a model's input, output,
    /// 5-minute and 1-hour cache writes and cache reads, per million tokens; `None`:
    /// unpriced, cost 0), sums each session's cost again and records `fingerprint`.
    fn reprice(&self, price: &dyn Fn(&str) -> Option<[f64; 5]>, fingerprint: &str) -> Result<()>;
    /// Sessions per project dir, newest activity first: those whose transcript is
    /// present, and with `include_gone` those Claude Code deleted too.
    fn projects(&self, include_gone: bool) -> Result<Vec<ProjectRow>>;
    /// The plan SQLite (or another engine) would use for a search; for tests that
    /// check a filter uses an index.
    fn explain_search(&self, q: &SearchQuery) -> Result<String>;
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

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        project_dir TEXT NOT NULL,
        project_path TEXT,
        file_path TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        custom_title TEXT,
        first_prompt TEXT,
        git_branch TEXT,
        cwd TEXT,
        native_tag TEXT,
        created_at INTEGER,
        last_modified INTEGER NOT NULL DEFAULT 0,
        file_size INTEGER NOT NULL DEFAULT 0,
        archived INTEGER,
        messages INTEGER NOT NULL DEFAULT 0,
        user_turns INTEGER NOT NULL DEFAULT 0,
        tool_calls INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        models TEXT NOT NULL DEFAULT '',
        tools TEXT NOT NULL DEFAULT '',
        first_activity INTEGER,
        last_activity INTEGER,
        description TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        archive_key TEXT
    );
    CREATE INDEX sessions_project ON sessions(project_path, last_modified DESC);
    CREATE INDEX sessions_modified ON sessions(last_modified DESC);
    CREATE TABLE tags (
        session_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (session_id, tag)
    );
    CREATE INDEX tags_tag ON tags(tag);
    CREATE TABLE files (
        path TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        head_hash TEXT NOT NULL
    );
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        key TEXT UNIQUE,
        ts INTEGER NOT NULL,
        model TEXT NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_5m INTEGER NOT NULL,
        cache_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        cost REAL
    );
    CREATE INDEX calls_session ON calls(session_id);
    CREATE INDEX calls_ts ON calls(ts);
    CREATE TABLE touched (
        session_id TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (session_id, path)
    );
    -- The text lives in an ordinary table (indexed by session, so a session's rows
    -- are found without scanning); the FTS index follows it through triggers.
    CREATE TABLE texts (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        uuid TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX texts_session ON texts(session_id, kind);
    CREATE VIRTUAL TABLE text_fts USING fts5(
        title, body, content = 'texts', content_rowid = 'id', tokenize = 'unicode61'
    );
    -- Fewer, larger merges while indexing in bulk; titles weigh ten times the body.
    INSERT INTO text_fts (text_fts, rank) VALUES ('automerge', 8);
    INSERT INTO text_fts (text_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
    CREATE TRIGGER texts_ai AFTER INSERT ON texts BEGIN
        INSERT INTO text_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END;
    CREATE TRIGGER texts_ad AFTER DELETE ON texts BEGIN
        INSERT INTO text_fts (text_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    END;
    CREATE TABLE names (
        name TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
    );
    CREATE TABLE name_sessions (
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        PRIMARY KEY (name, seq)
    );
    CREATE INDEX name_sessions_session ON name_sessions(session_id);
    "#,
    // 2: calls know their file (subagent transcripts count to their session), notes,
    // the CLI's own cost, and a usage rollup per session, model and day that reports
    // read instead of every call.
    r#"
    ALTER TABLE calls ADD COLUMN file TEXT;
    -- The first call's time in the call's file: of two equal copies of a call (a
    -- resumed or forked transcript repeats its history), the file that started
    -- first keeps it, as ccusage decides, whatever order the files are read in.
    ALTER TABLE calls ADD COLUMN rank_ts INTEGER;
    ALTER TABLE files ADD COLUMN first_call_ts INTEGER;
    UPDATE calls SET file = (SELECT f.path FROM files f WHERE f.session_id = calls.session_id LIMIT 1);
    CREATE INDEX calls_file ON calls(file);
    ALTER TABLE sessions ADD COLUMN notes TEXT;
    ALTER TABLE sessions ADD COLUMN cli_cost_usd REAL;
    CREATE TABLE usage_rollup (
        session_id TEXT NOT NULL,
        model TEXT NOT NULL,
        day TEXT NOT NULL,
        first_ts INTEGER NOT NULL,
        last_ts INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_5m INTEGER NOT NULL,
        cache_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        PRIMARY KEY (session_id, model, day)
    ) WITHOUT ROWID;
    -- Sessions whose calls changed since the rollup was made.
    CREATE TABLE usage_dirty (session_id TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT OR IGNORE INTO usage_dirty SELECT DISTINCT session_id FROM calls;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- A sync counts the sessions present, and a usage report reads what it needs of
    -- them, without reading every (wide) session row.
    CREATE INDEX sessions_present ON sessions(gone, id, project_dir, cli_cost_usd);
    -- Each indexing step's text rows are consecutive: a run. Newest-first search
    -- jumps from a match to the start of its run (the next session down) instead of
    -- reading every matching message of a session.
    CREATE TABLE text_runs (
        first_id INTEGER PRIMARY KEY,
        last_id INTEGER NOT NULL,
        session_id TEXT NOT NULL
    );
    CREATE INDEX text_runs_session ON text_runs(session_id);
    INSERT INTO text_runs (first_id, last_id, session_id)
        SELECT MIN(id), MAX(id), session_id FROM (
            SELECT id, session_id, id - ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS grp
            FROM texts)
        GROUP BY session_id, grp;
    -- Text goes into the full-text index one file at a time, not a row at a time
    -- through a trigger: FTS5 writes its pending terms out at every statement
    -- savepoint, so a trigger made one tiny segment per message, then merged them.
    DROP TRIGGER texts_ai;
    -- The index's terms, for expanding prefix* into the words it stands for.
    CREATE VIRTUAL TABLE text_vocab USING fts5vocab('text_fts', 'row');
    -- A call copied into another file moves to it when that copy is larger.
    CREATE TRIGGER calls_moved AFTER UPDATE OF session_id ON calls
    WHEN old.session_id <> new.session_id BEGIN
        -- (No OR IGNORE: the outer upsert's conflict policy would override it.)
        INSERT INTO usage_dirty (session_id) SELECT old.session_id
        WHERE NOT EXISTS (SELECT 1 FROM usage_dirty WHERE session_id = old.session_id);
        UPDATE sessions SET
            input_tokens = (SELECT COALESCE(SUM(input),0) FROM calls WHERE session_id = old.session_id),
            output_tokens = (SELECT COALESCE(SUM(output),0) FROM calls WHERE session_id = old.session_id),
            cache_creation_tokens = (SELECT COALESCE(SUM(cache_5m + cache_1h),0) FROM calls WHERE session_id = old.session_id),
            cache_read_tokens = (SELECT COALESCE(SUM(cache_read),0) FROM calls WHERE session_id = old.session_id),
            cost_usd = (SELECT COALESCE(SUM(cost),0) FROM calls WHERE session_id = old.session_id)
        WHERE id = old.session_id;
    END;
    "#,
    // 3: subagent transcripts' text is searchable as their session's. Each text row
    // knows the subagent transcript it came from (NULL: the session's own), so a
    // re-read of one file replaces only its rows. Subagent transcripts indexed before
    // (calls only) are read again by the next sync.
    r#"
    ALTER TABLE texts ADD COLUMN file TEXT;
    DELETE FROM files WHERE path LIKE '%/subagents/%';
    -- Copies of a call in files other than the one it counts to (a fork repeats its
    -- original's history): when that file is gone, or re-read without the call, the
    -- best copy left takes its place, as the files' own report would count it.
    CREATE TABLE call_copies (
        key TEXT NOT NULL,
        file TEXT NOT NULL,
        session_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        model TEXT NOT NULL,
        input INTEGER NOT NULL,
        output INTEGER NOT NULL,
        cache_5m INTEGER NOT NULL,
        cache_1h INTEGER NOT NULL,
        cache_read INTEGER NOT NULL,
        cost REAL,
        rank_ts INTEGER,
        PRIMARY KEY (key, file)
    ) WITHOUT ROWID;
    CREATE INDEX call_copies_file ON call_copies(file);
    CREATE INDEX call_copies_session ON call_copies(session_id);
    -- The index's terms one instance at a time: prefix* expands by seeking from one
    -- word to the next (the 'row' view counts every entry of each word it passes).
    CREATE VIRTUAL TABLE text_vocab_i USING fts5vocab('text_fts', 'instance');
    -- A small sync's segment merges with its like as soon as there are two (see
    -- `tidy`); bulk writes keep automerge's eight.
    INSERT INTO text_fts (text_fts, rank) VALUES ('usermerge', 2);
    "#,
];

/// The embedded catalog: one SQLite file (WAL) in ccsm's data dir.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Copies the write-ahead log into the database on a thread of its own.
    _checkpointer: Option<Checkpointer>,
}

/// WAL pages after which a checkpoint is due (SQLite's own default).
const CHECKPOINT_PAGES: i32 = 1000;
/// WAL pages after which the writer checkpoints itself (the background
/// checkpointer never caught up: the log must not grow without bound).
const CHECKPOINT_INLINE_PAGES: i32 = 65_536;

/// Checkpoints off the writer's thread. SQLite checkpoints in the committing
/// thread by default, which is a fifth of a bulk index build's writer time; a
/// checkpoint does not block the writer, so another thread can do it meanwhile.
#[derive(Debug)]
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Installs the commit hook on `conn` and starts the thread, which opens its
    /// own connection to `path`.
    fn start(conn: &mut Connection, path: &Path) -> Result<Self> {
        let (wake, rx) = std::sync::mpsc::sync_channel::<bool>(1);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ccsm-checkpoint".into())
            .spawn(move || {
                let mut own: Option<Connection> = None;
                // `true`: checkpoint; `false` (or the store gone): stop.
                while let Ok(true) = rx.recv() {
                    if own.is_none() {
                        own = Connection::open(&path).ok();
                    }
                    if let Some(c) = &own {
                        if let Err(e) =
                            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        {
                            tracing::debug!("background checkpoint: {e}");
                        }
                    }
                }
            })
            .map_err(|e| Error::Invalid(format!("starting the checkpoint thread: {e}")))?;
        let hook_wake = wake.clone();
        conn.wal_hook(Some(
            move |wal: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                if pages >= CHECKPOINT_INLINE_PAGES {
                    return wal.checkpoint();
                }
                if pages >= CHECKPOINT_PAGES {
                    // Full: a checkpoint is under way or already asked for.
                    let _ = hook_wake.try_send(true);
                }
                Ok(())
            },
        ))?;
        Ok(Self {
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // A checkpoint under way finishes; none is started after it.
        let _ = self.wake.send(false);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn split_list(s: String) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

const SESSION_COLS: &str =
    "s.id, s.project_dir, s.project_path, s.file_path, s.summary, s.custom_title,
    s.first_prompt, s.git_branch, s.cwd, s.native_tag, s.created_at, s.last_modified, s.file_size,
    s.archived, s.messages, s.user_turns, s.tool_calls, s.input_tokens, s.output_tokens,
    s.cache_creation_tokens, s.cache_read_tokens, s.cost_usd, s.models, s.tools,
    (SELECT COUNT(*) FROM touched t WHERE t.session_id = s.id), s.first_activity, s.last_activity,
    s.description, s.gone, s.archive_key, s.notes, s.cli_cost_usd";

fn row_to_session(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: r.get(0)?,
        project_dir: r.get(1)?,
        project_path: r.get(2)?,
        file_path: r.get(3)?,
        summary: r.get(4)?,
        custom_title: r.get(5)?,
        first_prompt: r.get(6)?,
        git_branch: r.get(7)?,
        cwd: r.get(8)?,
        native_tag: r.get(9)?,
        created_at: r.get(10)?,
        last_modified: r.get(11)?,
        file_size: r.get::<_, i64>(12)? as u64,
        archived: r.get::<_, Option<i64>>(13)?.map(|a| a != 0),
        messages: r.get::<_, i64>(14)? as u64,
        user_turns: r.get::<_, i64>(15)? as u64,
        tool_calls: r.get::<_, i64>(16)? as u64,
        input_tokens: r.get::<_, i64>(17)? as u64,
        output_tokens: r.get::<_, i64>(18)? as u64,
        cache_creation_tokens: r.get::<_, i64>(19)? as u64,
        cache_read_tokens: r.get::<_, i64>(20)? as u64,
        cost_usd: r.get(21)?,
        models: split_list(r.get(22)?),
        tools: split_list(r.get(23)?),
        files_touched: r.get::<_, i64>(24)? as u64,
        first_activity: r.get(25)?,
        last_activity: r.get(26)?,
        description: r.get(27)?,
        tags: Vec::new(),
        names: Vec::new(),
        gone: r.get::<_, i64>(28)? != 0,
        archive_key: r.get(29)?,
        notes: r.get(30)?,
        cli_cost_usd: r.get(31)?,
    })
}

/// A write to the sessions: the next sync compares every file again.
fn forget_sync_digest(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.prepare_cached("DELETE FROM meta WHERE key = 'sync_digest'")?
        .execute([])?;
    Ok(())
}

/// The columns of a stored call, as [`StoredCall::from_row`] reads them.
const CALL_COLS: &str =
    "key, file, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, rank_ts";

/// A call as stored (in `calls`, or aside in `call_copies`).
struct StoredCall {
    key: String,
    file: String,
    session_id: String,
    ts: i64,
    model: String,
    /// input, output, cache 5m, cache 1h, cache read
    tokens: [i64; 5],
    cost: Option<f64>,
    rank_ts: Option<i64>,
}

impl StoredCall {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key: r.get(0)?,
            file: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            session_id: r.get(2)?,
            ts: r.get(3)?,
            model: r.get(4)?,
            tokens: [r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?],
            cost: r.get(10)?,
            rank_ts: r.get(11)?,
        })
    }

    fn total(&self) -> i64 {
        self.tokens.iter().sum()
    }

    /// Keeps this copy aside (the larger of two from one file).
    fn put_aside(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let [i, o, c5, c1, cr] = self.tokens;
        tx.prepare_cached(
            "INSERT INTO call_copies (key, file, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, rank_ts)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
             ON CONFLICT(key, file) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
                model=excluded.model, input=excluded.input, output=excluded.output,
                cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
                cost=excluded.cost, rank_ts=excluded.rank_ts
             WHERE excluded.input + excluded.output + excluded.cache_5m + excluded.cache_1h + excluded.cache_read
                 > call_copies.input + call_copies.output + call_copies.cache_5m + call_copies.cache_1h + call_copies.cache_read",
        )?
        .execute(params![
            self.key, self.file, self.session_id, self.ts, self.model, i, o, c5, c1, cr, self.cost,
            self.rank_ts
        ])?;
        Ok(())
    }

    /// Makes this copy the one that counts, in place of any other (a move to
    /// another session marks that session's usage for a new rollup: trigger
    /// `calls_moved`).
    fn replace(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let [i, o, c5, c1, cr] = self.tokens;
        tx.prepare_cached(
            "INSERT INTO calls (key, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, file, rank_ts)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
             ON CONFLICT(key) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
                model=excluded.model, input=excluded.input, output=excluded.output,
                cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
                cost=excluded.cost, file=excluded.file, rank_ts=excluded.rank_ts",
        )?
        .execute(params![
            self.key, self.session_id, self.ts, self.model, i, o, c5, c1, cr, self.cost, self.file,
            self.rank_ts
        ])?;
        Ok(())
    }
}

/// Text rows written in a transaction and not yet in the full-text index.
#[derive(Default)]
struct PendingFts {
    range: Option<(i64, i64)>,
    sessions: std::collections::HashSet<String>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if !path.exists() {
            Self::create(path)?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A bigger page cache: indexing writes a lot of FTS pages.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Reads straight from the page cache, without a copy per page.
        conn.pragma_update(None, "mmap_size", 64i64 << 20)?;
        let checkpointer = Some(Checkpointer::start(&mut conn, path)?);
        let store = Self {
            conn: Mutex::new(conn),
            _checkpointer: checkpointer,
        };
        store.migrate(&path.display().to_string())?;
        Ok(store)
    }

    /// Makes a new catalog under a name of its own and links it into place, unless
    /// another process did first. Two processes switching one new, empty file to
    /// WAL at once can deadlock (one gets "database is locked" without waiting).
    fn create(path: &Path) -> Result<()> {
        let tmp = path.with_extension(format!("new-{}", std::process::id()));
        let io = |e: std::io::Error| Error::Invalid(format!("creating {}: {e}", path.display()));
        let remove = |p: &Path| {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = p.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        };
        remove(&tmp);
        {
            let conn = Connection::open(&tmp)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            let store = Self {
                conn: Mutex::new(conn),
                _checkpointer: None,
            };
            store.migrate(&path.display().to_string())?;
        }
        // Closed: the log is folded into the file. A link fails if the name is
        // taken (the other process won: its catalog is the same).
        let linked = std::fs::hard_link(&tmp, path);
        remove(&tmp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// An in-memory catalog (tests).
    pub fn memory() -> Result<Self> {
        let store = Self {
            conn: Mutex::new(Connection::open_in_memory()?),
            _checkpointer: None,
        };
        store.migrate(":memory:")?;
        Ok(store)
    }

    /// Opens the catalog migrated only up to `version` (tests of the migrations).
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: usize) -> Result<Self> {
        let store = Self {
            conn: Mutex::new(Connection::open(path)?),
            _checkpointer: None,
        };
        store.migrate_to(&path.display().to_string(), version)?;
        Ok(store)
    }

    fn migrate(&self, path: &str) -> Result<()> {
        self.migrate_to(path, MIGRATIONS.len())
    }

    fn migrate_to(&self, path: &str, target: usize) -> Result<()> {
        let mut conn = self.lock()?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(Error::TooNew {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .take(target)
            .skip(version as usize)
        {
            // IMMEDIATE: two processes opening a new catalog at once migrate once.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let v: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if v > i as i64 {
                tx.commit()?;
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| Error::Invalid("the catalog connection was poisoned".into()))
    }

    /// `PRAGMA integrity_check` (after a crash, say), and the full-text index
    /// checked against the text it indexes.
    /// Copies what only ccsm knows from a damaged catalog (read-only, best effort,
    /// part by part): descriptions and notes, tags, names, and the sessions Claude
    /// Code already deleted (with their archive keys, so they stay restorable; their
    /// text is not searchable until restored). Returns what could be recovered and
    /// what could not.
    pub fn recover_from(
        &self,
        damaged: &Path,
    ) -> Result<Vec<(String, std::result::Result<usize, String>)>> {
        let conn = self.lock()?;
        let uri = format!("file:{}?mode=ro", damaged.display());
        if let Err(e) = conn.execute("ATTACH DATABASE ?1 AS old", [uri]) {
            return Ok(vec![(
                "anything (it cannot be read)".into(),
                Err(e.to_string()),
            )]);
        }
        let steps: [(&str, &str); 6] = [
            (
                "sessions already deleted by Claude Code",
                "INSERT OR IGNORE INTO sessions SELECT * FROM old.sessions WHERE gone = 1",
            ),
            (
                "descriptions",
                "UPDATE sessions SET description = (SELECT o.description FROM old.sessions o WHERE o.id = sessions.id)
                 WHERE description IS NULL AND id IN (SELECT id FROM old.sessions WHERE description IS NOT NULL)",
            ),
            (
                "notes",
                "UPDATE sessions SET notes = (SELECT o.notes FROM old.sessions o WHERE o.id = sessions.id)
                 WHERE notes IS NULL AND id IN (SELECT id FROM old.sessions WHERE notes IS NOT NULL)",
            ),
            (
                "tags",
                "INSERT OR IGNORE INTO tags (session_id, tag) SELECT session_id, tag FROM old.tags",
            ),
            ("names", "INSERT OR IGNORE INTO names SELECT * FROM old.names"),
            (
                "conversations of names",
                "INSERT OR IGNORE INTO name_sessions SELECT * FROM old.name_sessions",
            ),
        ];
        let mut out = Vec::new();
        for (what, sql) in steps {
            let r = conn.execute(sql, []).map_err(|e| e.to_string());
            out.push((what.to_owned(), r));
        }
        conn.execute("DETACH DATABASE old", [])?;
        Ok(out)
    }

    pub fn integrity_check(&self) -> Result<String> {
        let conn = self.lock()?;
        let pages: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if let Err(e) = conn.execute(
            "INSERT INTO text_fts (text_fts) VALUES ('integrity-check')",
            [],
        ) {
            return Ok(format!("full-text index: {e}"));
        }
        Ok(pages)
    }

    fn fill(conn: &Connection, mut s: SessionRecord) -> Result<SessionRecord> {
        let mut st =
            conn.prepare_cached("SELECT tag FROM tags WHERE session_id = ?1 ORDER BY tag")?;
        s.tags = st
            .query_map([&s.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut st = conn.prepare_cached(
            "SELECT DISTINCT name FROM name_sessions WHERE session_id = ?1 ORDER BY name",
        )?;
        s.names = st
            .query_map([&s.id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(s)
    }

    /// The MATCH expression, with each prefix* replaced by the (at most 64) words of
    /// the index it stands for: FTS5 answers a prefix by merging the lists of every
    /// such word on each query, an OR of words it walks like any other term.
    fn expanded_match(conn: &Connection, q: &SearchQuery) -> Result<Option<String>> {
        if q.terms.is_empty() {
            return Ok(None);
        }
        let quote = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
        let mut parts = Vec::new();
        // The first word at or after ?1 that starts with ?2; `word || char(0)` is the
        // least string after `word`, so each step seeks straight to the next word.
        let mut vocab = conn.prepare_cached(
            "SELECT term FROM text_vocab_i WHERE term >= ?1 AND term < ?2 || char(1114111) LIMIT 1",
        )?;
        for t in &q.terms {
            if !t.prefix {
                parts.push(quote(&t.text));
                continue;
            }
            let prefix = t.text.to_lowercase();
            let mut words: Vec<String> = Vec::new();
            let mut from = prefix.clone();
            while words.len() <= 64 {
                let Some(w) = vocab
                    .query_row([&from, &prefix], |r| r.get::<_, String>(0))
                    .optional()?
                else {
                    break;
                };
                from = format!("{w}\0");
                words.push(w);
            }
            if words.is_empty() || words.len() > 64 || t.phrase {
                parts.push(format!("{}*", quote(&t.text)));
            } else {
                let ors: Vec<String> = words.iter().map(|w| quote(w)).collect();
                parts.push(format!("({})", ors.join(" OR ")));
            }
        }
        Ok(Some(parts.join(" ")))
    }

    /// Newest first: walks the full-text index from the highest rowid down, one
    /// session at a time (from a match straight to the start of its run), or, when
    /// an indexed filter (project, tag, name) picks the sessions, looks in each of
    /// them, newest first. Either way it stops once `limit` sessions are found.
    fn search_newest(conn: &Connection, q: &SearchQuery, m: &str) -> Result<Vec<SearchHit>> {
        let limit = q.limit.max(1);
        let (w, p) = Self::filters(q);
        let cond = if w.is_empty() {
            "1=1".to_owned()
        } else {
            w.join(" AND ")
        };
        let mut found: Vec<(String, i64)> = Vec::new();
        let mut step = conn.prepare_cached(
            "SELECT rowid FROM text_fts WHERE text_fts MATCH ?1 AND rowid < ?2 AND rowid >= ?3
             ORDER BY rowid DESC LIMIT 1",
        )?;
        let indexed = q.project.is_some() || !q.tags.is_empty() || !q.names.is_empty();
        if indexed {
            let mut all = vec![rusqlite::types::Value::Null];
            all.extend(p);
            let mut cands = conn.prepare_cached(&format!(
                "SELECT s.id FROM sessions s WHERE ?1 IS NULL AND {cond}
                 ORDER BY s.last_modified DESC, s.id DESC"
            ))?;
            let ids: Vec<String> = cands
                .query_map(rusqlite::params_from_iter(all), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut runs = conn.prepare_cached(
                "SELECT first_id, last_id FROM text_runs WHERE session_id = ?1 ORDER BY first_id DESC",
            )?;
            for id in ids {
                let rs: Vec<(i64, i64)> = runs
                    .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (lo, hi) in rs {
                    let hit: Option<i64> = step
                        .query_row(params![m, hi.saturating_add(1), lo], |r| r.get(0))
                        .optional()?;
                    if let Some(rowid) = hit {
                        found.push((id.clone(), rowid));
                        break;
                    }
                }
                if found.len() >= limit {
                    break;
                }
            }
        } else {
            let mut run_of = conn.prepare_cached(
                "SELECT first_id, last_id, session_id FROM text_runs WHERE first_id <= ?1
                 ORDER BY first_id DESC LIMIT 1",
            )?;
            let mut session_of =
                conn.prepare_cached("SELECT session_id FROM texts WHERE id = ?1")?;
            let mut check = conn.prepare_cached(&format!(
                "SELECT 1 FROM sessions s WHERE s.id = ?1 AND {cond}"
            ))?;
            let mut verdict: std::collections::HashMap<String, bool> =
                std::collections::HashMap::new();
            let mut cursor = i64::MAX;
            while found.len() < limit {
                let Some(rowid) = step
                    .query_row(params![m, cursor, i64::MIN], |r| r.get::<_, i64>(0))
                    .optional()?
                else {
                    break;
                };
                let run: Option<(i64, i64, String)> = run_of
                    .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let (next, id) = match run {
                    Some((lo, hi, id)) if rowid <= hi => (lo, id),
                    // Not in a known run: one row down.
                    _ => (rowid, session_of.query_row([rowid], |r| r.get(0))?),
                };
                cursor = next;
                if verdict.contains_key(&id) {
                    continue; // judged already (and listed, if it passed)
                }
                let ok = w.is_empty() || {
                    let mut all = vec![rusqlite::types::Value::Text(id.clone())];
                    all.extend(p.iter().cloned());
                    check
                        .query_row(rusqlite::params_from_iter(all), |_| Ok(()))
                        .optional()?
                        .is_some()
                };
                verdict.insert(id.clone(), ok);
                if ok {
                    found.push((id, rowid));
                }
            }
        }
        let mut sess = conn.prepare_cached(&format!(
            "SELECT {SESSION_COLS}, x.kind FROM sessions s JOIN texts x ON x.id = ?2 WHERE s.id = ?1"
        ))?;
        let mut snip = conn.prepare_cached(
            "SELECT snippet(text_fts, -1, '[', ']', '…', 16) FROM text_fts
             WHERE text_fts MATCH ?1 AND rowid = ?2",
        )?;
        let mut out = Vec::new();
        for (id, rowid) in found {
            let Some((session, kind)) = sess
                .query_row(params![id, rowid], |r| Ok((row_to_session(r)?, r.get(32)?)))
                .optional()?
            else {
                continue;
            };
            let snippet: String = snip
                .query_row(params![m, rowid], |r| r.get(0))
                .optional()?
                .unwrap_or_default();
            out.push(SearchHit {
                session: Self::fill(conn, session)?,
                snippet,
                kind,
                score: 0.0,
            });
        }
        out.sort_by(|a, b| {
            b.session
                .last_modified
                .cmp(&a.session.last_modified)
                .then(b.session.id.cmp(&a.session.id))
        });
        Ok(out)
    }

    /// The WHERE clause and parameters for a search's filters.
    fn filters(q: &SearchQuery) -> (Vec<String>, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as V;
        let mut w = Vec::new();
        let mut p: Vec<V> = Vec::new();
        let bind = |p: &mut Vec<V>, v: V| {
            p.push(v);
            format!("?{}", p.len() + 1) // ?1 is the MATCH expression
        };
        if let Some(proj) = &q.project {
            if proj.starts_with('/') {
                let x = bind(&mut p, V::Text(proj.trim_end_matches('/').to_owned()));
                w.push(format!("s.project_path = {x}"));
            } else {
                let x = bind(&mut p, V::Text(format!("%/{proj}")));
                w.push(format!("s.project_path LIKE {x}"));
            }
        }
        for t in &q.tags {
            let x = bind(&mut p, V::Text(t.clone()));
            w.push(format!(
                "(s.native_tag = {x} OR EXISTS (SELECT 1 FROM tags t WHERE t.session_id = s.id AND t.tag = {x}))"
            ));
        }
        for n in &q.names {
            let x = bind(&mut p, V::Text(n.clone()));
            w.push(format!(
                "EXISTS (SELECT 1 FROM name_sessions n WHERE n.session_id = s.id AND n.name = {x})"
            ));
        }
        if let Some(m) = &q.model {
            let x = bind(&mut p, V::Text(format!("%{m}%")));
            w.push(format!("s.models LIKE {x}"));
        }
        if let Some(b) = &q.branch {
            let x = bind(&mut p, V::Text(b.clone()));
            w.push(format!("s.git_branch = {x}"));
        }
        if let Some(a) = q.after {
            let x = bind(&mut p, V::Integer(a));
            w.push(format!("COALESCE(s.last_activity, s.last_modified) >= {x}"));
        }
        if let Some(b) = q.before {
            let x = bind(&mut p, V::Integer(b));
            w.push(format!(
                "COALESCE(s.first_activity, s.created_at, s.last_modified) <= {x}"
            ));
        }
        if let Some(c) = q.cost_gt {
            let x = bind(&mut p, V::Real(c));
            w.push(format!("s.cost_usd > {x}"));
        }
        if let Some(c) = q.cost_lt {
            let x = bind(&mut p, V::Real(c));
            w.push(format!("s.cost_usd < {x}"));
        }
        for t in &q.tools {
            let x = bind(&mut p, V::Text(format!("%,{t},%")));
            w.push(format!("(',' || s.tools || ',') LIKE {x}"));
        }
        if q.archived {
            w.push("s.archived = 1".into());
        }
        if q.gone {
            w.push("s.gone = 1".into());
        }
        (w, p)
    }

    fn search_sql(q: &SearchQuery) -> (String, Vec<rusqlite::types::Value>) {
        let (w, mut p) = Self::filters(q);
        let mut all = p.clone();
        let sql = match q.fts_match() {
            Some(m) => {
                all.insert(0, rusqlite::types::Value::Text(m));
                let mut conds = vec!["text_fts MATCH ?1".to_owned()];
                conds.extend(w);
                // Newest first walks the index from the highest rowid down (no sort:
                // the newest text has the highest rowids) and stops once enough
                // sessions are found; snippets are made only for the rows read.
                let order = if q.rank {
                    "text_fts.rank"
                } else {
                    "text_fts.rowid DESC"
                };
                format!(
                    "SELECT {SESSION_COLS}, text_fts.rowid, x.kind,
                            text_fts.rank AS score
                     FROM text_fts JOIN texts x ON x.id = text_fts.rowid
                     JOIN sessions s ON s.id = x.session_id
                     WHERE {} ORDER BY {order}",
                    conds.join(" AND ")
                )
            }
            None => {
                // No MATCH: the placeholders start at ?2; bind a dummy ?1.
                all.insert(0, rusqlite::types::Value::Null);
                let cond = if w.is_empty() {
                    "?1 IS NULL".to_owned()
                } else {
                    format!("?1 IS NULL AND {}", w.join(" AND "))
                };
                format!(
                    "SELECT {SESSION_COLS}, NULL, NULL, 0.0 AS score FROM sessions s
                     WHERE {cond} ORDER BY s.last_modified DESC LIMIT ?{}",
                    all.len() + 1
                )
            }
        };
        if q.fts_match().is_none() {
            all.push(rusqlite::types::Value::Integer(q.limit.max(1) as i64));
        }
        p.clear();
        (sql, all)
    }
}

/// A session's accumulated counters: messages, turns, tool calls, models, tools,
/// first and last activity.
type Counters = (i64, i64, i64, String, String, Option<i64>, Option<i64>);

fn opt_join(v: &[String]) -> String {
    v.join(",")
}

impl SqliteStore {
    /// Writes a file's calls (keeping only the max-total copy of a call: ccusage's
    /// dedupe), its files touched and its state; marks its session's usage dirty.
    fn ingest_calls_tx(tx: &rusqlite::Transaction<'_>, b: &Ingest) -> Result<()> {
        let s = &b.session;
        let before: Option<i64> = if b.full {
            None
        } else {
            tx.prepare_cached("SELECT first_call_ts FROM files WHERE path = ?1")?
                .query_row([&b.file.path], |r| r.get(0))
                .optional()?
                .flatten()
        };
        let first_call_ts = b.calls.iter().map(|c| c.ts).chain(before).min();
        let mut call = tx.prepare_cached(
            "INSERT INTO calls (session_id, key, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, file, rank_ts)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
             ON CONFLICT(key) DO NOTHING",
        )?;
        // One line per content block repeats a call in its file: the largest of a
        // file's copies (the first of equal ones) is all that needs writing.
        let mut largest: std::collections::HashMap<&str, usize> = Default::default();
        let total = |c: &CallRecord| c.input + c.output + c.cache_5m + c.cache_1h + c.cache_read;
        let mut keep = vec![true; b.calls.len()];
        for (i, c) in b.calls.iter().enumerate() {
            let Some(k) = c.key.as_deref() else { continue };
            match largest.entry(k) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    if total(c) > total(&b.calls[*e.get()]) {
                        keep[*e.get()] = false;
                        e.insert(i);
                    } else {
                        keep[i] = false;
                    }
                }
            }
        }
        for c in b
            .calls
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
        {
            let row = StoredCall {
                key: c.key.clone().unwrap_or_default(),
                file: b.file.path.clone(),
                session_id: s.id.clone(),
                ts: c.ts,
                model: c.model.clone(),
                tokens: [c.input, c.output, c.cache_5m, c.cache_1h, c.cache_read].map(|t| t as i64),
                cost: c.cost,
                rank_ts: first_call_ts,
            };
            let [input, output, cache_5m, cache_1h, cache_read] = row.tokens;
            let added = call.execute(params![
                s.id,
                c.key,
                c.ts,
                c.model,
                input,
                output,
                cache_5m,
                cache_1h,
                cache_read,
                c.cost,
                b.file.path,
                first_call_ts
            ])?;
            if added == 0 {
                Self::call_conflict(tx, row)?;
            }
        }
        let mut t =
            tx.prepare_cached("INSERT OR IGNORE INTO touched (session_id, path) VALUES (?1, ?2)")?;
        for f in &b.files_touched {
            t.execute(params![s.id, f])?;
        }
        Self::resum(tx, &s.id)?;
        let f = &b.file;
        tx.prepare_cached(
            "INSERT INTO files (path, session_id, size, mtime, offset, head_hash, first_call_ts)
             VALUES (?1,?2,?3,?4,?5,?6,?7)
             ON CONFLICT(path) DO UPDATE SET session_id=excluded.session_id, size=excluded.size,
               mtime=excluded.mtime, offset=excluded.offset, head_hash=excluded.head_hash,
               first_call_ts=excluded.first_call_ts",
        )?
        .execute(params![
            f.path,
            f.session_id,
            f.size as i64,
            f.mtime,
            f.offset as i64,
            f.head_hash,
            first_call_ts
        ])?;
        Ok(())
    }

    /// A call whose key is stored already: the largest copy counts; of equal ones,
    /// the file that started first (then the smaller path). The other copy, if in
    /// another file, is kept aside (`call_copies`).
    fn call_conflict(tx: &rusqlite::Transaction<'_>, new: StoredCall) -> Result<()> {
        let old = tx
            .prepare_cached(&format!("SELECT {CALL_COLS} FROM calls WHERE key = ?1"))?
            .query_row([&new.key], StoredCall::from_row)?;
        let wins = new.total() > old.total()
            || (new.total() == old.total()
                && match (new.rank_ts, old.rank_ts) {
                    (Some(a), Some(b)) => (a, &new.file) < (b, &old.file),
                    _ => false,
                });
        let (winner, loser) = if wins { (new, old) } else { (old, new) };
        if winner.file != loser.file {
            loser.put_aside(tx)?;
        }
        if wins {
            winner.replace(tx)?;
        }
        Ok(())
    }

    /// Calls `keys` lost the file they counted to: each goes to its best copy in a
    /// file still present, if there is one.
    fn promote_copies(tx: &rusqlite::Transaction<'_>, keys: &[String]) -> Result<()> {
        let mut best = tx.prepare_cached(&format!(
            "SELECT {CALL_COLS} FROM call_copies c
             WHERE c.key = ?1 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id AND s.gone = 1)
             ORDER BY c.input + c.output + c.cache_5m + c.cache_1h + c.cache_read DESC, c.rank_ts, c.file
             LIMIT 1"
        ))?;
        let mut current =
            tx.prepare_cached(&format!("SELECT {CALL_COLS} FROM calls WHERE key = ?1"))?;
        for key in keys {
            let Some(copy) = best.query_row([key], StoredCall::from_row).optional()? else {
                continue;
            };
            if let Some(now) = current.query_row([key], StoredCall::from_row).optional()? {
                now.put_aside(tx)?;
            }
            tx.prepare_cached("DELETE FROM call_copies WHERE key = ?1 AND file = ?2")?
                .execute([&copy.key, &copy.file])?;
            copy.replace(tx)?;
            Self::resum(tx, &copy.session_id)?;
        }
        Ok(())
    }

    /// A session's token and cost totals from its calls; its usage is rolled up
    /// again at the next report.
    fn resum(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<()> {
        tx.prepare_cached(
            "UPDATE sessions SET
               input_tokens = (SELECT COALESCE(SUM(input),0) FROM calls WHERE session_id = ?1),
               output_tokens = (SELECT COALESCE(SUM(output),0) FROM calls WHERE session_id = ?1),
               cache_creation_tokens = (SELECT COALESCE(SUM(cache_5m + cache_1h),0) FROM calls WHERE session_id = ?1),
               cache_read_tokens = (SELECT COALESCE(SUM(cache_read),0) FROM calls WHERE session_id = ?1),
               cost_usd = (SELECT COALESCE(SUM(cost),0) FROM calls WHERE session_id = ?1)
             WHERE id = ?1",
        )?
        .execute([id])?;
        tx.prepare_cached("INSERT OR IGNORE INTO usage_dirty (session_id) VALUES (?1)")?
            .execute([id])?;
        Ok(())
    }

    /// Puts the text rows written since the last call into the full-text index, in
    /// one statement (FTS5 writes its pending terms out at every statement that
    /// opens a savepoint: one segment per flush, which merges must fold later).
    fn flush_fts(tx: &rusqlite::Transaction<'_>, pending: &mut PendingFts) -> Result<()> {
        if let Some((lo, hi)) = pending.range.take() {
            tx.prepare_cached(
                "INSERT INTO text_fts (rowid, title, body)
                 SELECT id, title, body FROM texts WHERE id BETWEEN ?1 AND ?2",
            )?
            .execute(params![lo, hi])?;
        }
        pending.sessions.clear();
        Ok(())
    }

    fn ingest_tx(
        tx: &rusqlite::Transaction<'_>,
        b: &Ingest,
        pending: &mut PendingFts,
    ) -> Result<()> {
        let s = &b.session;
        // Rows of this session not yet in the index must get there before any of
        // them is deleted (the delete trigger takes them out of the index).
        if pending.sessions.contains(&s.id) {
            Self::flush_fts(tx, pending)?;
        }
        if b.full {
            // Calls by file: a session's subagent files keep theirs. A call that
            // counted to this file goes to its best copy elsewhere, if any (the file,
            // read again, takes it back if it still has it).
            tx.prepare_cached("DELETE FROM call_copies WHERE file = ?1")?
                .execute([&b.file.path])?;
            let keys = Self::call_keys(tx, true, &b.file.path)?;
            tx.prepare_cached("DELETE FROM calls WHERE file = ?1")?
                .execute([&b.file.path])?;
            Self::promote_copies(tx, &keys)?;
        }
        if b.subagent {
            // A subagent transcript whose session's own is gone (or not read yet)
            // still counts: its session gets a row (no summary: never listed).
            tx.prepare_cached(
                "INSERT OR IGNORE INTO sessions (id, project_dir, file_path) VALUES (?1, ?2, '')",
            )?
            .execute([&s.id, &s.project_dir])?;
            if b.full {
                tx.prepare_cached("DELETE FROM texts WHERE session_id = ?1 AND file = ?2")?
                    .execute([&s.id, &b.file.path])?;
                Self::drop_dead_runs(tx, &s.id)?;
            }
            if !b.text.is_empty() {
                let first_id = Self::insert_texts(tx, &s.id, Some(&b.file.path), None, &b.text)?;
                Self::add_run(tx, pending, &s.id, first_id)?;
            }
            return Self::ingest_calls_tx(tx, b);
        }
        if b.full {
            // The session's own rows; its subagents' stay.
            tx.prepare_cached("DELETE FROM texts WHERE session_id = ?1 AND file IS NULL")?
                .execute([&s.id])?;
            Self::drop_dead_runs(tx, &s.id)?;
            tx.prepare_cached("DELETE FROM touched WHERE session_id = ?1")?
                .execute([&s.id])?;
        }
        // Keep what ccsm added (description, notes, archive) and counters being
        // accumulated.
        let prev: Option<(Counters, Option<f64>)> = if b.full {
            None
        } else {
            tx.prepare_cached(
                "SELECT messages, user_turns, tool_calls, models, tools, first_activity, last_activity, cli_cost_usd
                 FROM sessions WHERE id = ?1",
            )?
            .query_row([&s.id], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    r.get(7)?,
                ))
            })
            .optional()?
        };
        let (mut messages, mut turns, mut tool_calls) =
            (s.messages as i64, s.user_turns as i64, s.tool_calls as i64);
        let mut models = s.models.clone();
        let mut tools = s.tools.clone();
        let (mut first, mut last) = (s.first_activity, s.last_activity);
        let mut cli_cost = s.cli_cost_usd;
        if let Some(((m, t, tc, pm, pt, pf, pl), pc)) = prev {
            messages += m;
            turns += t;
            tool_calls += tc;
            cli_cost = cli_cost.or(pc);
            for x in split_list(pm) {
                if !models.contains(&x) {
                    models.push(x);
                }
            }
            for x in split_list(pt) {
                if !tools.contains(&x) {
                    tools.push(x);
                }
            }
            first = match (first, pf) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = match (last, pl) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        models.sort();
        tools.sort();
        tx.prepare_cached(
            "INSERT INTO sessions (id, project_dir, project_path, file_path, summary, custom_title,
                first_prompt, git_branch, cwd, native_tag, created_at, last_modified, file_size, archived,
                messages, user_turns, tool_calls, models, tools, first_activity, last_activity, gone,
                cli_cost_usd, archive_key)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,0,?22,?23)
             ON CONFLICT(id) DO UPDATE SET project_dir=excluded.project_dir, project_path=excluded.project_path,
                file_path=excluded.file_path, summary=excluded.summary, custom_title=excluded.custom_title,
                first_prompt=excluded.first_prompt, git_branch=excluded.git_branch, cwd=excluded.cwd,
                native_tag=excluded.native_tag, created_at=excluded.created_at,
                last_modified=excluded.last_modified, file_size=excluded.file_size, archived=excluded.archived,
                messages=excluded.messages, user_turns=excluded.user_turns, tool_calls=excluded.tool_calls,
                models=excluded.models, tools=excluded.tools, first_activity=excluded.first_activity,
                last_activity=excluded.last_activity, gone=0, cli_cost_usd=excluded.cli_cost_usd,
                archive_key=COALESCE(excluded.archive_key, sessions.archive_key)",
        )?
        .execute(params![
            s.id, s.project_dir, s.project_path, s.file_path, s.summary, s.custom_title,
            s.first_prompt, s.git_branch, s.cwd, s.native_tag, s.created_at, s.last_modified,
            s.file_size as i64, s.archived.map(i64::from), messages, turns, tool_calls,
            opt_join(&models), opt_join(&tools), first, last, cli_cost, b.archive_key
        ])?;
        // The title row, replaced each time (a rename changes it): what people
        // remember a session by weighs more in ranking.
        tx.prepare_cached("DELETE FROM texts WHERE session_id = ?1 AND kind = 'title'")?
            .execute([&s.id])?;
        let title = [
            s.custom_title.as_deref(),
            s.first_prompt.as_deref(),
            Some(s.summary.as_str()),
        ]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
        let title = (title, s.created_at.unwrap_or(0));
        let first_id = Self::insert_texts(tx, &s.id, None, Some(title), &b.text)?;
        Self::add_run(tx, pending, &s.id, first_id)?;
        Self::ingest_calls_tx(tx, b)
    }

    /// Writes a session's text rows (a title row first, if given) from `file` (`None`:
    /// the session's own transcript); returns the first row's id.
    fn insert_texts(
        tx: &rusqlite::Transaction<'_>,
        session: &str,
        file: Option<&str>,
        title: Option<(String, i64)>,
        text: &[TextChunk],
    ) -> Result<i64> {
        let mut ins = tx.prepare_cached(
            "INSERT INTO texts (session_id, uuid, kind, ts, title, body, file)
             VALUES (?1,?2,?3,?4,?5,?6,?7)",
        )?;
        let mut first = None;
        if let Some((title, ts)) = title {
            ins.execute(params![session, "", "title", ts, title, "", file])?;
            first = Some(tx.last_insert_rowid());
        }
        for c in text {
            ins.execute(params![session, c.uuid, c.kind, c.ts, "", c.text, file])?;
            first = first.or(Some(tx.last_insert_rowid()));
        }
        Ok(first.unwrap_or_else(|| tx.last_insert_rowid()))
    }

    /// Keys of the calls that count to a file (`by_file`) or to a session.
    fn call_keys(
        tx: &rusqlite::Transaction<'_>,
        by_file: bool,
        value: &str,
    ) -> Result<Vec<String>> {
        let sql = if by_file {
            "SELECT key FROM calls WHERE file = ?1 AND key IS NOT NULL"
        } else {
            "SELECT key FROM calls WHERE session_id = ?1 AND key IS NOT NULL"
        };
        let keys = tx
            .prepare_cached(sql)?
            .query_map([value], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    /// Records the rows from `first_id` to the last one inserted as a run of
    /// `session`, waiting for the full-text index.
    fn add_run(
        tx: &rusqlite::Transaction<'_>,
        pending: &mut PendingFts,
        session: &str,
        first_id: i64,
    ) -> Result<()> {
        let last_id = tx.last_insert_rowid();
        // Rows of a transaction go into the index together (see flush_fts): every id
        // above the first one written in this transaction is a row written in it.
        pending.range = Some(
            pending
                .range
                .map_or((first_id, last_id), |(lo, _)| (lo, last_id)),
        );
        pending.sessions.insert(session.to_owned());
        // REPLACE: a run whose first row (a title row) was deleted and its id reused.
        tx.prepare_cached(
            "INSERT OR REPLACE INTO text_runs (first_id, last_id, session_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![first_id, last_id, session])?;
        Ok(())
    }

    /// Forgets a session's runs none of whose rows is left (a run is rows of one
    /// file; a re-read file's rows are deleted, the other files' stay).
    fn drop_dead_runs(tx: &rusqlite::Transaction<'_>, session: &str) -> Result<()> {
        tx.prepare_cached(
            "DELETE FROM text_runs WHERE session_id = ?1 AND NOT EXISTS (
                SELECT 1 FROM texts t WHERE t.id BETWEEN text_runs.first_id AND text_runs.last_id
                AND t.session_id = ?1)",
        )?
        .execute([session])?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn ingest(&self, b: &Ingest) -> Result<()> {
        self.ingest_many(std::slice::from_ref(b))
    }

    fn ingest_many(&self, batches: &[Ingest]) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        forget_sync_digest(&tx)?;
        let mut pending = PendingFts::default();
        for b in batches {
            Self::ingest_tx(&tx, b, &mut pending)?;
        }
        Self::flush_fts(&tx, &mut pending)?;
        tx.commit()?;
        Ok(())
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>> {
        let conn = self.lock()?;
        let s = conn
            .query_row(
                &format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.id = ?1"),
                [id],
                row_to_session,
            )
            .optional()?;
        s.map(|s| Self::fill(&conn, s)).transpose()
    }

    fn list(&self, f: &ListFilter) -> Result<Vec<SessionRecord>> {
        let conn = self.lock()?;
        // A file without a summary (only `file-history-snapshot` lines, say) is no
        // session for the SDK: kept in the catalog for its file state, never listed.
        let mut sql = format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.summary <> ''");
        let mut p: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(pp) = &f.project_path {
            p.push(pp.clone().into());
            sql.push_str(&format!(" AND s.project_path = ?{}", p.len()));
        }
        if !f.include_gone {
            sql.push_str(" AND s.gone = 0");
        }
        if let Some(t) = &f.tag {
            p.push(t.clone().into());
            let n = p.len();
            sql.push_str(&format!(
                " AND (s.native_tag = ?{n} OR EXISTS (SELECT 1 FROM tags g WHERE g.session_id = s.id AND g.tag = ?{n}))"
            ));
        }
        if let Some(t) = f.modified_from {
            p.push(t.into());
            sql.push_str(&format!(" AND s.last_modified >= ?{}", p.len()));
        }
        if let Some(t) = f.modified_before {
            p.push(t.into());
            sql.push_str(&format!(" AND s.last_modified < ?{}", p.len()));
        }
        sql.push_str(" ORDER BY s.last_modified DESC, s.id DESC");
        p.push((f.limit.map_or(-1, |l| l as i64)).into());
        sql.push_str(&format!(" LIMIT ?{}", p.len()));
        p.push((f.offset as i64).into());
        sql.push_str(&format!(" OFFSET ?{}", p.len()));
        let mut st = conn.prepare(&sql)?;
        let rows: Vec<SessionRecord> = st
            .query_map(rusqlite::params_from_iter(p), row_to_session)?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(|s| Self::fill(&conn, s)).collect()
    }

    fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let conn = self.lock()?;
        if !q.rank && !q.terms.is_empty() {
            // One read transaction for the few dozen small queries of a search (not
            // a lock and unlock of the WAL for each).
            let tx = conn.unchecked_transaction()?;
            let hits = match Self::expanded_match(&tx, q)? {
                Some(m) => Self::search_newest(&tx, q, &m)?,
                None => Vec::new(),
            };
            tx.commit()?;
            return Ok(hits);
        }
        let (sql, p) = Self::search_sql(q);
        let mut st = conn.prepare(&sql)?;
        let mut out: Vec<SearchHit> = Vec::new();
        let mut rowids: Vec<Option<i64>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut rows = st.query(rusqlite::params_from_iter(p))?;
        while let Some(r) = rows.next()? {
            // The session id first: most rows belong to a session already found.
            let id: String = r.get(0)?;
            if seen.contains(&id) {
                continue;
            }
            seen.insert(id);
            let s = row_to_session(r)?;
            rowids.push(r.get(32)?);
            out.push(SearchHit {
                session: s,
                snippet: String::new(),
                kind: r.get(33)?,
                score: r.get(34)?,
            });
            if out.len() >= q.limit.max(1) {
                break;
            }
        }
        drop(rows);
        drop(st);
        // Snippets only for the rows shown.
        if let Some(m) = q.fts_match() {
            let mut snip = conn.prepare_cached(
                "SELECT snippet(text_fts, -1, '[', ']', '…', 16) FROM text_fts
                 WHERE text_fts MATCH ?1 AND rowid = ?2",
            )?;
            for (h, rowid) in out.iter_mut().zip(&rowids) {
                if let Some(rowid) = rowid {
                    h.snippet = snip
                        .query_row(params![m, rowid], |r| r.get(0))
                        .optional()?
                        .unwrap_or_default();
                }
            }
        }
        if !q.rank && q.fts_match().is_some() {
            out.sort_by(|a, b| {
                b.session
                    .last_modified
                    .cmp(&a.session.last_modified)
                    .then(b.session.id.cmp(&a.session.id))
            });
        }
        out.into_iter()
            .map(|mut h| {
                h.session = Self::fill(&conn, h.session)?;
                Ok(h)
            })
            .collect()
    }

    fn explain_search(&self, q: &SearchQuery) -> Result<String> {
        let conn = self.lock()?;
        let (sql, p) = Self::search_sql(q);
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let lines: Vec<String> = st
            .query_map(rusqlite::params_from_iter(p), |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("\n"))
    }

    fn file_state(&self, path: &str) -> Result<Option<FileState>> {
        let conn = self.lock()?;
        Ok(conn
            .query_row(
                "SELECT path, session_id, size, mtime, offset, head_hash FROM files WHERE path = ?1",
                [path],
                |r| {
                    Ok(FileState {
                        path: r.get(0)?,
                        session_id: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        mtime: r.get(3)?,
                        offset: r.get::<_, i64>(4)? as u64,
                        head_hash: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn file_states(&self) -> Result<Vec<FileState>> {
        let conn = self.lock()?;
        let mut st =
            conn.prepare("SELECT path, session_id, size, mtime, offset, head_hash FROM files")?;
        let v = st
            .query_map([], |r| {
                Ok(FileState {
                    path: r.get(0)?,
                    session_id: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    mtime: r.get(3)?,
                    offset: r.get::<_, i64>(4)? as u64,
                    head_hash: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }

    fn count_present(&self) -> Result<usize> {
        let conn = self.lock()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM sessions WHERE gone = 0", [], |r| {
            r.get(0)
        })?;
        Ok(n as usize)
    }

    fn known_files(&self) -> Result<Vec<(String, String, bool)>> {
        let conn = self.lock()?;
        let mut st = conn.prepare("SELECT id, file_path, gone FROM sessions")?;
        let v = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }

    fn mark_gone(&self, id: &str, gone: bool) -> Result<()> {
        let mut conn = self.lock()?;
        // The write lock up front: a deferred transaction upgraded to a write does
        // not wait for another writer, it fails with "database is locked".
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        forget_sync_digest(&tx)?;
        tx.execute(
            "UPDATE sessions SET gone = ?2 WHERE id = ?1",
            params![id, i64::from(gone)],
        )?;
        if gone {
            // A file that comes back is read from the start.
            tx.execute("DELETE FROM files WHERE session_id = ?1", [id])?;
            // Its calls count to their copies in files still present, as a report
            // over the files counts them now.
            let keys = Self::call_keys(&tx, false, id)?;
            Self::promote_copies(&tx, &keys)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn set_archived_flag(&self, id: &str, archived: bool) -> Result<()> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE sessions SET archived = ?2 WHERE id = ?1",
            params![id, i64::from(archived)],
        )?;
        Ok(())
    }

    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let conn = self.lock()?;
        // A range on the primary key: ids are lower-case hex and '-', all below '~'.
        let ids = conn
            .prepare_cached(
                "SELECT id FROM sessions WHERE id >= ?1 AND id < ?2 AND summary <> ''
                 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![prefix, format!("{prefix}~"), limit as i64], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    fn archive_keys(&self) -> Result<Vec<(String, String)>> {
        let conn = self.lock()?;
        let keys = conn
            .prepare("SELECT id, archive_key FROM sessions WHERE archive_key IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn set_archive(&self, id: &str, key: &str) -> Result<()> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE sessions SET archive_key = ?2 WHERE id = ?1",
            params![id, key],
        )?;
        Ok(())
    }

    fn set_description(&self, id: &str, text: Option<&str>) -> Result<()> {
        let conn = self.lock()?;
        if conn.execute(
            "UPDATE sessions SET description = ?2 WHERE id = ?1",
            params![id, text],
        )? == 0
        {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(())
    }

    fn set_notes(&self, id: &str, text: Option<&str>) -> Result<()> {
        let conn = self.lock()?;
        if conn.execute(
            "UPDATE sessions SET notes = ?2 WHERE id = ?1",
            params![id, text],
        )? == 0
        {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(())
    }

    fn append_notes(&self, id: &str, text: &str) -> Result<()> {
        let conn = self.lock()?;
        // One statement: the read and the write cannot be split by another writer.
        if conn.execute(
            "UPDATE sessions SET notes = CASE WHEN notes IS NULL OR notes = '' THEN ?2
               ELSE notes || char(10) || ?2 END WHERE id = ?1",
            params![id, text],
        )? == 0
        {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(())
    }

    fn add_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        let mut conn = self.lock()?;
        // The write lock up front: a deferred transaction upgraded to a write does
        // not wait for another writer, it fails with "database is locked".
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM sessions WHERE id = ?1", [id], |_| Ok(true))
            .optional()?
            .unwrap_or(false);
        if !exists {
            return Err(Error::NotFound(id.to_owned()));
        }
        for t in tags {
            let t = t.trim();
            if t.is_empty() {
                return Err(Error::Invalid("a tag must not be empty".into()));
            }
            tx.execute(
                "INSERT OR IGNORE INTO tags (session_id, tag) VALUES (?1, ?2)",
                params![id, t],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn remove_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        let conn = self.lock()?;
        for t in tags {
            conn.execute(
                "DELETE FROM tags WHERE session_id = ?1 AND tag = ?2",
                params![id, t.trim()],
            )?;
        }
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let mut conn = self.lock()?;
        // The write lock up front: a deferred transaction upgraded to a write does
        // not wait for another writer, it fails with "database is locked".
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        forget_sync_digest(&tx)?;
        let n = tx.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        let keys = Self::call_keys(&tx, false, id)?;
        for t in [
            "texts",
            "text_runs",
            "calls",
            "touched",
            "tags",
            "files",
            "usage_rollup",
            "usage_dirty",
            "call_copies",
        ] {
            tx.execute(&format!("DELETE FROM {t} WHERE session_id = ?1"), [id])?;
        }
        Self::promote_copies(&tx, &keys)?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn older_than(&self, cutoff_ms: i64) -> Result<Vec<SessionRecord>> {
        let conn = self.lock()?;
        let mut st = conn.prepare(&format!(
            "SELECT {SESSION_COLS} FROM sessions s
             WHERE COALESCE(s.last_activity, s.last_modified) < ?1 ORDER BY s.last_modified"
        ))?;
        let v = st
            .query_map([cutoff_ms], row_to_session)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }

    fn save_name(&self, name: &str, session_id: &str) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::Invalid("a name must not be empty".into()));
        }
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO names (name, created, updated) VALUES (?1, ?2, ?2)
             ON CONFLICT(name) DO UPDATE SET updated = ?2",
            params![name, now],
        )?;
        let last: Option<String> = tx
            .query_row(
                "SELECT session_id FROM name_sessions WHERE name = ?1 ORDER BY seq DESC LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if last.as_deref() != Some(session_id) {
            tx.execute(
                "INSERT INTO name_sessions (name, seq, session_id)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM name_sessions WHERE name = ?1), ?2)",
                params![name, session_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn name(&self, name: &str) -> Result<Option<NameRecord>> {
        let conn = self.lock()?;
        let head: Option<(i64, i64)> = conn
            .query_row(
                "SELECT created, updated FROM names WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((created, updated)) = head else {
            return Ok(None);
        };
        let mut st =
            conn.prepare("SELECT session_id FROM name_sessions WHERE name = ?1 ORDER BY seq")?;
        let sessions = st
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(NameRecord {
            name: name.to_owned(),
            sessions,
            created,
            updated,
        }))
    }

    fn names(&self) -> Result<Vec<NameRecord>> {
        let list: Vec<String> = {
            let conn = self.lock()?;
            let mut st = conn.prepare("SELECT name FROM names ORDER BY updated DESC")?;
            let v = st
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            v
        };
        let mut out = Vec::new();
        for n in list {
            if let Some(r) = self.name(&n)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn remove_name(&self, name: &str) -> Result<bool> {
        let conn = self.lock()?;
        conn.execute("DELETE FROM name_sessions WHERE name = ?1", [name])?;
        Ok(conn.execute("DELETE FROM names WHERE name = ?1", [name])? > 0)
    }

    fn calls(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, CallRecord)>> {
        let conn = self.lock()?;
        let mut st = conn.prepare_cached(
            "SELECT session_id, key, ts, model, input, output, cache_5m, cache_1h, cache_read, cost
             FROM calls WHERE ts >= ?1 AND ts <= ?2",
        )?;
        let v = st
            .query_map(
                params![since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get(0)?,
                        CallRecord {
                            key: r.get(1)?,
                            ts: r.get(2)?,
                            model: r.get(3)?,
                            input: r.get::<_, i64>(4)? as u64,
                            output: r.get::<_, i64>(5)? as u64,
                            cache_5m: r.get::<_, i64>(6)? as u64,
                            cache_1h: r.get::<_, i64>(7)? as u64,
                            cache_read: r.get::<_, i64>(8)? as u64,
                            cost: r.get(9)?,
                        },
                    ))
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }
    fn optimize(&self) -> Result<()> {
        let conn = self.lock()?;
        conn.execute("INSERT INTO text_fts (text_fts) VALUES ('optimize')", [])?;
        Ok(())
    }

    fn tidy(&self) -> Result<()> {
        let conn = self.lock()?;
        conn.prepare_cached("INSERT INTO text_fts (text_fts, rank) VALUES ('merge', 256)")?
            .execute([])?;
        Ok(())
    }

    fn refresh_usage(
        &self,
        fingerprint: &str,
        day_of: &(dyn Fn(i64) -> String + Sync),
    ) -> Result<usize> {
        let mut conn = self.lock()?;
        // Nothing to do is the common case: answer it without taking the write lock.
        let stored: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'usage_fingerprint'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let dirty: i64 = conn.query_row("SELECT COUNT(*) FROM usage_dirty", [], |r| r.get(0))?;
        if stored.as_deref() == Some(fingerprint) && dirty == 0 {
            return Ok(0);
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'usage_fingerprint'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if stored.as_deref() != Some(fingerprint) {
            tx.execute("DELETE FROM usage_rollup", [])?;
            tx.execute(
                "INSERT OR IGNORE INTO usage_dirty SELECT DISTINCT session_id FROM calls",
                [],
            )?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('usage_fingerprint', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [fingerprint],
            )?;
        }
        let ids: Vec<String> = {
            let mut st = tx.prepare("SELECT session_id FROM usage_dirty")?;
            let v = st
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            v
        };
        {
            let mut del = tx.prepare("DELETE FROM usage_rollup WHERE session_id = ?1")?;
            let mut calls = tx.prepare(
                "SELECT ts, model, input, output, cache_5m, cache_1h, cache_read
                 FROM calls WHERE session_id = ?1",
            )?;
            let mut ins = tx.prepare(
                "INSERT INTO usage_rollup (session_id, model, day, first_ts, last_ts, calls,
                    input, output, cache_5m, cache_1h, cache_read)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
            )?;
            for id in &ids {
                del.execute([id])?;
                // (model, day) -> (first, last, calls, input, output, 5m, 1h, read)
                let mut by: std::collections::BTreeMap<(String, String), [i64; 8]> =
                    std::collections::BTreeMap::new();
                let mut rows = calls.query([id])?;
                while let Some(r) = rows.next()? {
                    let ts: i64 = r.get(0)?;
                    let a = by.entry((r.get(1)?, day_of(ts))).or_insert([
                        i64::MAX,
                        i64::MIN,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                    ]);
                    a[0] = a[0].min(ts);
                    a[1] = a[1].max(ts);
                    a[2] += 1;
                    for k in 0..5 {
                        a[3 + k] += r.get::<_, i64>(2 + k)?;
                    }
                }
                for ((model, day), a) in by {
                    ins.execute(params![
                        id, model, day, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
                    ])?;
                }
            }
        }
        tx.execute("DELETE FROM usage_dirty", [])?;
        tx.commit()?;
        Ok(ids.len())
    }

    fn sync_digest(&self) -> Result<Option<String>> {
        let conn = self.lock()?;
        let digest = conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'sync_digest'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(digest)
    }

    fn set_sync_digest(&self, digest: &str) -> Result<()> {
        let conn = self.lock()?;
        conn.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('sync_digest', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?
        .execute([digest])?;
        Ok(())
    }

    fn pricing_fingerprint(&self) -> Result<Option<String>> {
        let conn = self.lock()?;
        let v = conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'pricing'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(v)
    }

    fn reprice(&self, price: &dyn Fn(&str) -> Option<[f64; 5]>, fingerprint: &str) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let models: Vec<String> = tx
            .prepare("SELECT DISTINCT model FROM calls")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        {
            let mut up = tx.prepare(
                "UPDATE calls SET cost = (input * ?2 + output * ?3 + cache_5m * ?4
                   + cache_1h * ?5 + cache_read * ?6) / 1e6 WHERE model = ?1",
            )?;
            for m in &models {
                let p = price(m).unwrap_or([0.0; 5]);
                up.execute(params![m, p[0], p[1], p[2], p[3], p[4]])?;
            }
        }
        tx.execute(
            "UPDATE sessions SET cost_usd =
               (SELECT COALESCE(SUM(cost), 0) FROM calls WHERE session_id = sessions.id)",
            [],
        )?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('pricing', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [fingerprint],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn projects(&self, include_gone: bool) -> Result<Vec<ProjectRow>> {
        let conn = self.lock()?;
        let mut st = conn.prepare_cached(
            "SELECT s.project_dir,
                (SELECT p.project_path FROM sessions p
                  WHERE p.project_dir = s.project_dir AND p.project_path IS NOT NULL
                  ORDER BY p.gone, p.last_modified DESC, p.id LIMIT 1),
                SUM(s.gone = 0), SUM(s.gone <> 0), SUM(s.file_size), MAX(s.last_modified)
             FROM sessions s WHERE s.gone = 0 OR ?1
             GROUP BY s.project_dir
             ORDER BY MAX(s.last_modified) DESC, s.project_dir",
        )?;
        let rows = st
            .query_map([include_gone], |r| {
                Ok(ProjectRow {
                    project_dir: r.get(0)?,
                    project_path: r.get(1)?,
                    sessions: r.get::<_, i64>(2)? as u64,
                    gone: r.get::<_, i64>(3)? as u64,
                    size: r.get::<_, i64>(4)? as u64,
                    last_modified: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn usage_rows(
        &self,
        project_dirs: Option<&[String]>,
        include_gone: bool,
    ) -> Result<Vec<UsageRow>> {
        let conn = self.lock()?;
        let mut sql = String::from(
            "SELECT u.session_id, s.project_dir, u.model, u.day, u.first_ts, u.last_ts, u.calls,
                u.input, u.output, u.cache_5m, u.cache_1h, u.cache_read, s.cli_cost_usd
             FROM usage_rollup u JOIN sessions s ON s.id = u.session_id WHERE 1=1",
        );
        if !include_gone {
            sql.push_str(" AND s.gone = 0");
        }
        let mut p: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(dirs) = project_dirs {
            let marks: Vec<String> = dirs
                .iter()
                .map(|d| {
                    p.push(d.clone().into());
                    format!("?{}", p.len())
                })
                .collect();
            sql.push_str(&format!(" AND s.project_dir IN ({})", marks.join(",")));
        }
        let mut st = conn.prepare(&sql)?;
        let n = |r: &rusqlite::Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        let v = st
            .query_map(rusqlite::params_from_iter(p), |r| {
                Ok(UsageRow {
                    session_id: r.get(0)?,
                    project_dir: r.get(1)?,
                    model: r.get(2)?,
                    day: r.get(3)?,
                    first_ts: r.get(4)?,
                    last_ts: r.get(5)?,
                    calls: n(r, 6)?,
                    input: n(r, 7)?,
                    output: n(r, 8)?,
                    cache_5m: n(r, 9)?,
                    cache_1h: n(r, 10)?,
                    cache_read: n(r, 11)?,
                    cli_cost_usd: r.get(12)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }
}
