//! The readers: a few read-only connections beside the one writer. In WAL mode a
//! reader sees the last commit and never waits for the writer, so a search
//! answers while a long ingest is writing. Opened when first needed (a short
//! command opens one at most), at most [`READERS`], handed out one per read.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result};

/// Read connections at most (a daemon's concurrent requests beyond it wait for
/// one to be free).
pub(super) const READERS: usize = 4;

#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    /// Idle connections, and how many are open in all.
    idle: Mutex<(Vec<Connection>, usize)>,
    freed: Condvar,
}

/// A connection to read with: a pooled reader, or the writer itself where there
/// is no pool (an in-memory catalog). Derefs to the connection; a pooled one
/// goes back to the pool when dropped.
#[derive(Debug)]
pub(super) enum Reader<'a> {
    Pooled {
        conn: Option<Connection>,
        pool: &'a Readers,
    },
    Writer(MutexGuard<'a, Connection>),
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Reader::Pooled { conn, .. } => conn.as_ref().expect("a reader's connection until drop"),
            Reader::Writer(guard) => guard,
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Reader::Pooled { conn, pool } = self {
            if let Some(conn) = conn.take() {
                pool.give_back(conn);
            }
        }
    }
}

impl Readers {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
        }
    }

    fn poisoned<T>(_: T) -> Error {
        Error::Invalid("the catalog's reader pool was poisoned".into())
    }

    /// An idle reader, a new one if fewer than [`READERS`] are open, or the
    /// next one given back.
    pub(super) fn get(&self) -> Result<Reader<'_>> {
        let mut idle = self.idle.lock().map_err(Self::poisoned)?;
        loop {
            if let Some(conn) = idle.0.pop() {
                return Ok(Reader::Pooled {
                    conn: Some(conn),
                    pool: self,
                });
            }
            if idle.1 < READERS {
                idle.1 += 1;
                drop(idle);
                return match self.open() {
                    Ok(conn) => Ok(Reader::Pooled {
                        conn: Some(conn),
                        pool: self,
                    }),
                    Err(e) => {
                        if let Ok(mut idle) = self.idle.lock() {
                            idle.1 -= 1;
                        }
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            idle = self.freed.wait(idle).map_err(Self::poisoned)?;
        }
    }

    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "cache_size", -16384)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "mmap_size", 64i64 << 20)?;
        super::rank::register(&conn)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.0.push(conn);
        }
        self.freed.notify_one();
    }
}
