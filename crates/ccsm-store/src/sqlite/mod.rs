//! The embedded SQLite backend: one writer connection, a small pool of readers
//! (WAL), FTS5 for the text. By job: `ingest` (writing a file's session and text),
//! `calls` (its model calls and the totals they make), `search`, `store_impl` (the [`Store`] trait).

mod calls;
mod ingest;
mod rank;
mod readers;
mod search;
mod store_impl;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{
    CallRecord, Error, FileState, Ingest, ListFilter, NameRecord, ProjectRow, Result, SearchHit,
    SearchQuery, SessionRecord, Store, TextChunk, UsageRow,
};

/// The schema, one migration per file, applied in order; never edited once released.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_first_schema.sql"),
    include_str!("../../migrations/sqlite/0002_calls_files_notes_rollup.sql"),
    include_str!("../../migrations/sqlite/0003_subagent_text.sql"),
    include_str!("../../migrations/sqlite/0004_daemon_records.sql"),
    include_str!("../../migrations/sqlite/0005_fts_hashsize.sql"),
    include_str!("../../migrations/sqlite/0006_usage_days.sql"),
    include_str!("../../migrations/sqlite/0007_fts_usermerge.sql"),
];

/// The embedded catalog: one SQLite file (WAL) in ccsm's data dir.
#[derive(Debug)]
pub struct SqliteStore {
    /// Read-only connections of an on-disk catalog. Closed first (fields drop
    /// in order): the last connection to close folds the log into the file and
    /// removes it, which a read-only one cannot do.
    readers: Option<readers::Readers>,
    /// The one writer (and the reader of an in-memory catalog).
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
                after_commit(
                    pages,
                    || wal.checkpoint(),
                    || {
                        // Full: a checkpoint is under way or already asked for.
                        let _ = hook_wake.try_send(true);
                    },
                );
                Ok(())
            },
        ))?;
        Ok(Self {
            wake,
            thread: Some(thread),
        })
    }
}

/// What the commit hook does once a commit left `pages` in the log: nothing,
/// wake the background checkpointer, or (the log past
/// [`CHECKPOINT_INLINE_PAGES`]) checkpoint at once. It never fails the commit,
/// which has happened: an error from the hook made SQLite report the commit as
/// failed (`SQL logic error`) though its rows were in, and a checkpoint is busy
/// whenever the background one is running (a 10 GiB build stopped on it).
fn after_commit(
    pages: std::ffi::c_int,
    checkpoint: impl FnOnce() -> rusqlite::Result<()>,
    wake: impl FnOnce(),
) {
    if pages >= CHECKPOINT_INLINE_PAGES {
        match checkpoint() {
            Ok(()) => return,
            // The log is copied by the other checkpoint, or by the next commit.
            Err(e) => tracing::debug!("checkpoint after a commit: {e}"),
        }
    }
    if pages >= CHECKPOINT_PAGES {
        wake();
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
        models: crate::policy::split_list(r.get(22)?),
        tools: crate::policy::split_list(r.get(23)?),
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
        host: None,
    })
}

/// A write to the sessions: the next sync compares every file again.
fn forget_sync_digest(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.prepare_cached("DELETE FROM meta WHERE key = 'sync_digest'")?
        .execute([])?;
    Ok(())
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
        rank::register(&conn)?;
        let checkpointer = Some(Checkpointer::start(&mut conn, path)?);
        let store = Self {
            conn: Mutex::new(conn),
            readers: Some(readers::Readers::new(path)),
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
                readers: None,
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
        let conn = Connection::open_in_memory()?;
        rank::register(&conn)?;
        let store = Self {
            conn: Mutex::new(conn),
            readers: None,
            _checkpointer: None,
        };
        store.migrate(":memory:")?;
        Ok(store)
    }

    /// Opens the catalog migrated only up to `version` (tests of the migrations).
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: usize) -> Result<Self> {
        let conn = Connection::open(path)?;
        rank::register(&conn)?;
        let store = Self {
            conn: Mutex::new(conn),
            readers: None,
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

    /// A connection to read with: one of the pool's, so reads never wait for a
    /// write; the writer where there is no pool.
    fn read(&self) -> Result<readers::Reader<'_>> {
        match &self.readers {
            Some(pool) => pool.get(),
            None => Ok(readers::Reader::Writer(self.lock()?)),
        }
    }

    /// Sets one of ccsm's own texts of a session (`update` binds id, text).
    fn set_text(&self, id: &str, update: &str, text: Option<&str>) -> Result<()> {
        let conn = self.lock()?;
        if conn.execute(update, params![id, text])? == 0 {
            return Err(Error::NotFound(id.to_owned()));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of (checkpoint, wake) `after_commit` did, the checkpoint answering `ok`.
    fn did(pages: std::ffi::c_int, ok: bool) -> (bool, bool) {
        let (mut checked, mut woke) = (false, false);
        after_commit(
            pages,
            || {
                checked = true;
                if ok {
                    Ok(())
                } else {
                    Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        None,
                    ))
                }
            },
            || woke = true,
        );
        (checked, woke)
    }

    #[test]
    fn a_busy_checkpoint_after_a_commit_hands_the_log_to_the_background_checkpointer() {
        assert_eq!(did(10, true), (false, false), "a small log is left");
        assert_eq!(did(CHECKPOINT_PAGES, true), (false, true));
        assert_eq!(did(CHECKPOINT_INLINE_PAGES, true), (true, false));
        // The other checkpoint holds the lock: the commit stands, the log waits.
        assert_eq!(did(CHECKPOINT_INLINE_PAGES, false), (true, true));
    }
}
