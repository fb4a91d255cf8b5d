//! [`Store`] on SQLite.

#[allow(unused_imports)]
use super::*;

impl SqliteStore {
    /// A listing's SQL and parameters.
    fn list_sql(f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
        // A file without a summary (only `file-history-snapshot` lines, say) is no
        // session for the SDK: kept in the catalog for its file state, never listed.
        // Newest first down the index of times, whatever the limit: for a small
        // one (`--limit 1`) SQLite's planner chose to read every session and sort
        // (200 ms at 100k sessions). A project's sessions have their own index.
        let index = if f.project_path.is_none() && f.project_folders.is_empty() {
            "INDEXED BY sessions_modified"
        } else {
            ""
        };
        let mut sql =
            format!("SELECT {SESSION_COLS} FROM sessions s {index} WHERE s.summary <> ''");
        let mut p: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(pp) = &f.project_path {
            p.push(pp.clone().into());
            sql.push_str(&format!(" AND s.project_path = ?{}", p.len()));
        }
        if !f.project_folders.is_empty() {
            // A host's own catalog: its folders are the ones it was given.
            let mut xs = Vec::new();
            for (_, path) in &f.project_folders {
                p.push(path.clone().into());
                xs.push(format!("?{}", p.len()));
            }
            sql.push_str(&format!(" AND s.project_path IN ({})", xs.join(", ")));
        }
        if !f.include_gone {
            sql.push_str(" AND s.gone = 0");
        }
        if f.host.as_ref().is_some_and(|h| *h != crate::local_host()) {
            // A host's own catalog holds only its own sessions.
            sql.push_str(" AND 0");
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
        (sql, p)
    }

    /// The plan SQLite uses for a listing (tests check it walks an index).
    #[doc(hidden)]
    pub fn explain_list(&self, f: &ListFilter) -> Result<String> {
        let conn = self.lock()?;
        let (sql, p) = Self::list_sql(f);
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let lines: Vec<String> = st
            .query_map(rusqlite::params_from_iter(p), |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("\n"))
    }
}

impl Store for SqliteStore {
    fn ingest(&self, b: &Ingest) -> Result<()> {
        self.ingest_many(std::slice::from_ref(b))
    }

    fn ingest_many(&self, batches: &[Ingest]) -> Result<()> {
        self.write_batches(batches)
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>> {
        let conn = self.read()?;
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
        let conn = self.read()?;
        let (sql, p) = Self::list_sql(f);
        let mut st = conn.prepare(&sql)?;
        let rows: Vec<SessionRecord> = st
            .query_map(rusqlite::params_from_iter(p), row_to_session)?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(|s| Self::fill(&conn, s)).collect()
    }

    fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.search_hits(q)
    }

    fn file_state(&self, path: &str) -> Result<Option<FileState>> {
        let conn = self.read()?;
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
        let conn = self.read()?;
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
        let conn = self.read()?;
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM sessions WHERE gone = 0", [], |r| {
            r.get(0)
        })?;
        Ok(n as usize)
    }

    fn known_files(&self) -> Result<Vec<(String, String, bool)>> {
        let conn = self.read()?;
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
        let conn = self.read()?;
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
        let conn = self.read()?;
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
        self.set_text(
            id,
            "UPDATE sessions SET description = ?2 WHERE id = ?1",
            text,
        )
    }

    fn set_notes(&self, id: &str, text: Option<&str>) -> Result<()> {
        self.set_text(id, "UPDATE sessions SET notes = ?2 WHERE id = ?1", text)
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
        let conn = self.read()?;
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
        let conn = self.read()?;
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
            let conn = self.read()?;
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

    fn put_record(&self, kind: &str, key: &str, value: &str) -> Result<()> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO daemon_records (kind, key, value, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            params![kind, key, value, now_ms()],
        )?;
        Ok(())
    }

    fn records(&self, kind: &str) -> Result<Vec<(String, String)>> {
        let conn = self.read()?;
        let mut st = conn.prepare_cached(
            "SELECT key, value FROM daemon_records WHERE kind = ?1 ORDER BY updated, key",
        )?;
        let v = st
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }

    fn delete_record(&self, kind: &str, key: &str) -> Result<bool> {
        let conn = self.lock()?;
        Ok(conn.execute(
            "DELETE FROM daemon_records WHERE kind = ?1 AND key = ?2",
            params![kind, key],
        )? > 0)
    }

    fn remove_name(&self, name: &str) -> Result<bool> {
        let conn = self.lock()?;
        conn.execute("DELETE FROM name_sessions WHERE name = ?1", [name])?;
        Ok(conn.execute("DELETE FROM names WHERE name = ?1", [name])? > 0)
    }

    fn calls(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, CallRecord)>> {
        let conn = self.read()?;
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
        let conn = self.read()?;
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
        let conn = self.read()?;
        let v = conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'pricing'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(v)
    }

    fn reprice(
        &self,
        price: &(dyn Fn(&str) -> Option<[f64; 5]> + Sync),
        fingerprint: &str,
    ) -> Result<()> {
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
        Self::resum_all(&tx)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('pricing', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [fingerprint],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn projects(&self, include_gone: bool) -> Result<Vec<ProjectRow>> {
        let conn = self.read()?;
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
                    host: None,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn usage_days(&self) -> Result<Option<Vec<UsageRow>>> {
        let conn = self.read()?;
        // The rollup's columns, without a session: one row reader for both.
        let mut st = conn.prepare_cached(
            "SELECT '', '', model, day, 0, 0, calls, input, output, cache_5m, cache_1h,
                cache_read, NULL
             FROM usage_days WHERE calls != 0 ORDER BY day, model",
        )?;
        let v = st
            .query_map([], usage_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(v))
    }

    fn usage_rows(
        &self,
        project_dirs: Option<&[String]>,
        include_gone: bool,
    ) -> Result<Vec<UsageRow>> {
        let conn = self.read()?;
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
        let v = st
            .query_map(rusqlite::params_from_iter(p), usage_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(v)
    }
}

/// A usage rollup row as `usage_rows` and `usage_days` select it.
fn usage_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UsageRow> {
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(UsageRow {
        session_id: r.get(0)?,
        project_dir: r.get(1)?,
        model: r.get(2)?,
        day: r.get(3)?,
        first_ts: r.get(4)?,
        last_ts: r.get(5)?,
        calls: n(6)?,
        input: n(7)?,
        output: n(8)?,
        cache_5m: n(9)?,
        cache_1h: n(10)?,
        cache_read: n(11)?,
        cli_cost_usd: r.get(12)?,
        host: None,
    })
}
