//! Archived transcripts in the database: a bundle as 1 MiB chunks, each stored
//! once by its SHA-256, so that any host restores what another recorded.

use std::io::{Read, Write};

use sha2::Digest as _;

use super::*;

/// The size of a chunk.
const CHUNK: usize = 1 << 20;

fn io_error(e: std::io::Error) -> Error {
    Error::Invalid(format!("reading or writing an archived transcript: {e}"))
}

impl PgStore {
    pub(super) fn put_archive_here(
        &self,
        key: &str,
        session_id: &str,
        bundle: &mut (dyn Read + Send),
    ) -> Result<bool> {
        let mut conn = self.conn()?;
        if conn
            .query_opt("SELECT 1 FROM archives WHERE key = $1", &[&key])?
            .is_some()
        {
            return Ok(false);
        }
        // One transaction, committed without waiting for the disk: the session
        // row that names this version is committed (and flushed) after it, and
        // a flush writes every commit before it. Chunks go one statement each
        // (a big bundle is never held whole); the version is listed last.
        let mut c = conn.begin("SET LOCAL synchronous_commit = off")?;
        let mut hashes: Vec<String> = Vec::new();
        let mut size = 0i64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let mut n = 0;
            while n < CHUNK {
                match bundle.read(&mut buf[n..]).map_err(io_error)? {
                    0 => break,
                    k => n += k,
                }
            }
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            let hash: String = sha2::Sha256::digest(data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            c.execute(
                "INSERT INTO archive_chunks (hash, data) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&hash, &data],
            )?;
            hashes.push(hash);
            size += n as i64;
            if n < CHUNK {
                break;
            }
        }
        let added = c.execute(
            "INSERT INTO archives (key, session_id, host, size, chunks, created)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&key, &session_id, &self.host, &size, &hashes, &now_ms()],
        )?;
        c.commit()?;
        Ok(added > 0)
    }

    pub(super) fn read_archive_here(
        &self,
        key: &str,
        out: &mut (dyn Write + Send),
    ) -> Result<bool> {
        let mut c = self.conn()?;
        let Some(row) = c.query_opt("SELECT chunks FROM archives WHERE key = $1", &[&key])? else {
            return Ok(false);
        };
        let hashes: Vec<String> = row.get(0);
        for h in hashes {
            let Some(r) = c.query_opt("SELECT data FROM archive_chunks WHERE hash = $1", &[&h])?
            else {
                return Err(Error::Invalid(format!(
                    "the archived version {key} lacks its chunk {h}"
                )));
            };
            let data: Vec<u8> = r.get(0);
            out.write_all(&data).map_err(io_error)?;
        }
        Ok(true)
    }
}
