//! The PostgreSQL backend: a catalog many hosts share. A pool of connections
//! (r2d2), the same tables as SQLite's, text searched through a `tsvector` per
//! row (GIN) written from ccsm's own words ([`crate::tokens`]), so that queries,
//! filters, order and snippets answer as on SQLite. Writers take one advisory
//! lock per transaction: two hosts syncing at once write one after the other,
//! as SQLite's single writer does. By job: `write` (a file's session, text and
//! calls), `search`, `store_impl` (the [`Store`] trait).

mod archive;
mod bulk;
mod client;
mod listen;
mod search;
mod store_impl;
mod write;

use std::time::Duration;

use postgres::types::ToSql;

use client::{Manager, Sql, Tx};

use crate::{Error, Result, SessionRecord};

/// The schema, one migration per file, applied in order; never edited once released.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_storage.sql"),
    include_str!("../../migrations/postgres/0003_indexes.sql"),
    include_str!("../../migrations/postgres/0004_usage_days.sql"),
    include_str!("../../migrations/postgres/0005_text_runs.sql"),
    include_str!("../../migrations/postgres/0006_word_index_halves.sql"),
    include_str!("../../migrations/postgres/0007_cheaper_writes.sql"),
    include_str!("../../migrations/postgres/0008_session_labels.sql"),
];

/// The advisory lock every writing transaction takes (and migrations).
const WRITE_LOCK: i64 = 0x6363_736d; // "ccsm"

type Pool = r2d2::Pool<Manager>;
type Conn = r2d2::PooledConnection<Manager>;
type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// A catalog in a PostgreSQL database.
pub struct PgStore {
    /// Always `Some` but while dropped (see `Drop`).
    pool: Option<Pool>,
    /// The host this store writes as ([`crate::local_host`] unless told).
    host: String,
    /// The URL without its password (for messages).
    shown: String,
    /// Where the pool connects (the listener connects there too).
    config: postgres::Config,
    /// The connection that waits for changes of the shared records.
    listener: std::sync::Mutex<listen::Listener>,
    /// The sync's marks (digest, price fingerprint), read with the schema's
    /// version when the store opened, for the first sync to use (a command
    /// syncs once, a few milliseconds later: one statement fewer on a new
    /// connection). Any write through this store drops them.
    opened_marks: std::sync::Mutex<Option<(std::time::Instant, Marks)>>,
}

/// How long the marks read at opening stand for the first sync's.
const MARKS_FRESH: Duration = Duration::from_secs(1);

/// This host's sync digest and the price table's fingerprint.
pub(super) type Marks = (Option<String>, Option<String>);

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Whether an error says the server cannot be reached (rather than that a
/// statement failed): the connection is closed, or the server refused, is
/// shutting down or is out of connections.
pub(crate) fn unreachable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08: connection exceptions; 57P01-57P03: shutting down, cannot
        // connect now; 53300: too many connections.
        Some(c) => {
            let c = c.code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        }
        // No SQL state: an I/O error on the way.
        None => e.as_db_error().is_none(),
    }
}

fn pool_error(shown: &str, e: r2d2::Error) -> Error {
    Error::Unavailable(format!("{shown}: {e}"))
}

impl PgStore {
    /// Connects to the database `url` names, as this host
    /// ([`crate::local_host`]), and brings its tables up to date.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_as(url, &crate::local_host(), None)
    }

    /// Connects as `host`; `password`, when given, in place of the URL's.
    pub fn open_as(url: &str, host: &str, password: Option<&str>) -> Result<Self> {
        off_runtime(|| Self::open_here(url, host, password))
    }

    fn open_here(url: &str, host: &str, password: Option<&str>) -> Result<Self> {
        let shown = crate::redact_url(url);
        if host.trim().is_empty() {
            return Err(Error::Invalid("a host name must not be empty".into()));
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| Error::Invalid(format!("catalog URL {shown}: {e}")))?;
        if let Some(p) = password {
            config.password(p);
        }
        config.connect_timeout(Duration::from_secs(5));
        let manager = Manager::new(config.clone());
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(2))
            // Failed connections are the caller's error to show, not a log line.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        let store = Self {
            pool: Some(pool),
            shown,
            host: host.trim().to_owned(),
            config,
            listener: Default::default(),
            opened_marks: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Runs `f` where the blocking client may block: on this thread, or on a
    /// thread of its own when this one belongs to an async runtime.
    pub(super) fn off_rt<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        off_runtime(f)
    }

    fn marks_slot(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, Marks)>> {
        match self.opened_marks.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The marks read when the store opened, once, if nothing was written
    /// through it since and they are fresh (a daemon's first sync may come
    /// long after it opened: it reads them again).
    pub(super) fn opened_marks(&self) -> Option<Marks> {
        let (at, marks) = self.marks_slot().take()?;
        (at.elapsed() < MARKS_FRESH).then_some(marks)
    }

    /// A connection from the pool.
    fn conn(&self) -> Result<Conn> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| Error::Unavailable(format!("{}: closed", self.shown)))?;
        let mut c = pool.get().map_err(|e| pool_error(&self.shown, e))?;
        // A connection the server dropped (restarted) is replaced, not used.
        if c.is_closed() {
            drop(c);
            c = pool.get().map_err(|e| pool_error(&self.shown, e))?;
        }
        Ok(c)
    }

    /// A writing transaction: the advisory lock first (writers queue, as on
    /// SQLite), then `work`, committed if it returns `Ok`.
    fn write<T>(&self, work: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.marks_slot().take();
        let mut c = self.conn()?;
        let mut tx = c.begin(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?;
        let out = work(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn migrate(&self) -> Result<()> {
        // Up to date (nearly always): one read, no lock. Otherwise (no table,
        // an older version) the migrations run under the writers' lock.
        let current = self.conn()?.query_opt(
            "SELECT version, (SELECT value FROM meta WHERE key = $1),
                (SELECT value FROM meta WHERE key = 'pricing') FROM ccsm_schema",
            &[&format!("sync_digest:{}", self.host)],
        );
        if let Ok(Some(r)) = current {
            if r.get::<_, i32>(0) == MIGRATIONS.len() as i32 {
                *self.marks_slot() = Some((std::time::Instant::now(), (r.get(1), r.get(2))));
                return Ok(());
            }
        }
        self.write(|tx| {
            tx.batch_execute("CREATE TABLE IF NOT EXISTS ccsm_schema (version INTEGER NOT NULL)")?;
            let version: i32 = match tx.query_opt("SELECT version FROM ccsm_schema", &[])? {
                Some(r) => r.get(0),
                None => {
                    tx.execute("INSERT INTO ccsm_schema (version) VALUES (0)", &[])?;
                    0
                }
            };
            let known = MIGRATIONS.len() as i32;
            if version > known {
                return Err(Error::TooNew {
                    path: self.shown.clone(),
                    found: i64::from(version),
                    known: i64::from(known),
                });
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.batch_execute(sql)?;
                tx.execute("UPDATE ccsm_schema SET version = $1", &[&(i as i32 + 1)])?;
            }
            Ok(())
        })
    }

    /// Removes every table of the catalog (tests, `store copy` into a fresh one).
    #[doc(hidden)]
    pub fn drop_all(&self) -> Result<()> {
        let mut c = self.conn()?;
        c.batch_execute(
            "DROP TABLE IF EXISTS sessions, tags, files, calls, call_copies, touched, texts, names,
               name_sessions, usage_rollup, usage_dirty, meta, daemon_records, shared_records,
               archives, archive_chunks, usage_days, text_runs, ccsm_schema CASCADE;
             DROP FUNCTION IF EXISTS usage_days_add, usage_days_rows, usage_days_sessions,
               usage_days_sessions_add",
        )?;
        Ok(())
    }
}

/// The blocking client runs its own small runtime for each call, which tokio
/// forbids inside another runtime's task: there, the call goes to a scoped
/// thread (a few dozen microseconds), elsewhere it runs in place.
fn off_runtime<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a connection blocks too: off the runtime, like every call.
        if let Some(pool) = self.pool.take() {
            tracing::debug!("closing the catalog's connections");
            let listener = self.listener.get_mut().ok().and_then(|l| l.client.take());
            let _ = off_runtime(move || {
                drop(pool);
                drop(listener);
                Ok(())
            });
            tracing::debug!("closed the catalog's connections");
        }
    }
}

const SESSION_COLS: &str =
    "s.id, s.project_dir, s.project_path, s.file_path, s.summary, s.custom_title,
    s.first_prompt, s.git_branch, s.cwd, s.native_tag, s.created_at, s.last_modified, s.file_size,
    s.archived, s.messages, s.user_turns, s.tool_calls, s.input_tokens, s.output_tokens,
    s.cache_creation_tokens, s.cache_read_tokens, s.cost_usd, s.models, s.tools,
    s.touched_count, s.first_activity, s.last_activity,
    s.description, s.gone, s.archive_key, s.notes, s.cli_cost_usd, s.host, s.tag_list, s.name_list";

/// How many columns [`SESSION_COLS`] has (what a query selects after them starts here).
const SESSION_NCOLS: usize = 35;

fn u(r: &postgres::Row, i: usize) -> u64 {
    r.get::<_, i64>(i).max(0) as u64
}

fn row_to_session(r: &postgres::Row) -> SessionRecord {
    SessionRecord {
        id: r.get(0),
        project_dir: r.get(1),
        project_path: r.get(2),
        file_path: r.get(3),
        summary: r.get(4),
        custom_title: r.get(5),
        first_prompt: r.get(6),
        git_branch: r.get(7),
        cwd: r.get(8),
        native_tag: r.get(9),
        created_at: r.get(10),
        last_modified: r.get(11),
        file_size: u(r, 12),
        archived: r.get(13),
        messages: u(r, 14),
        user_turns: u(r, 15),
        tool_calls: u(r, 16),
        input_tokens: u(r, 17),
        output_tokens: u(r, 18),
        cache_creation_tokens: u(r, 19),
        cache_read_tokens: u(r, 20),
        cost_usd: r.get(21),
        models: crate::policy::split_list(r.get(22)),
        tools: crate::policy::split_list(r.get(23)),
        files_touched: u(r, 24),
        first_activity: r.get(25),
        last_activity: r.get(26),
        description: r.get(27),
        tags: r.get(33),
        names: r.get(34),
        gone: r.get(28),
        archive_key: r.get(29),
        notes: r.get(30),
        cli_cost_usd: r.get(31),
        host: Some(r.get(32)),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A write to the sessions: the next sync (of every host) compares every file
/// again.
fn forget_sync_digest(tx: &mut Tx<'_>) -> Result<()> {
    tx.execute("DELETE FROM meta WHERE key LIKE 'sync_digest:%'", &[])?;
    Ok(())
}
