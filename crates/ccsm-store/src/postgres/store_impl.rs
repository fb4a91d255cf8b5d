//! [`Store`] on PostgreSQL.

use super::write::{call_keys, promote_copies, write_names, write_tags, write_totals};
use super::*;
use crate::{
    CallRecord, FileState, Ingest, ListFilter, NameRecord, ProjectRow, SearchHit, SearchQuery,
    Store, UsageRow,
};

fn file_state(r: &postgres::Row) -> FileState {
    FileState {
        path: r.get(0),
        session_id: r.get(1),
        size: u(r, 2),
        mtime: r.get(3),
        offset: u(r, 4),
        head_hash: r.get(5),
    }
}

const FILE_COLS: &str = "path, session_id, size, mtime, \"offset\", head_hash";

impl PgStore {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Self::meta_in(&mut *self.conn()?, key)
    }

    /// A `meta` value, read on `c` (a connection or a transaction).
    pub(super) fn meta_in(c: &mut impl Sql, key: &str) -> Result<Option<String>> {
        Ok(
            c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
                .map(|r| r.get(0)),
        )
    }

    pub(super) fn set_meta(tx: &mut Tx<'_>, key: &str, value: &str) -> Result<()> {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    /// One statement on one session, which must exist.
    fn update_session(&self, id: &str, sql: &str, value: &(dyn ToSql + Sync)) -> Result<()> {
        if self.conn()?.execute(sql, &[&id, value])? == 0 {
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(())
    }
}

impl Store for PgStore {
    fn ingest(&self, b: &Ingest) -> Result<()> {
        self.off_rt(|| self.write_batches(std::slice::from_ref(b)))
    }

    fn ingest_many(&self, batches: &[Ingest]) -> Result<()> {
        self.off_rt(|| self.write_batches(batches))
    }

    fn prepare(&self, b: &mut Ingest) {
        b.vectors = b
            .text
            .iter()
            .map(|c| crate::tokens::tsvector(&c.text, None))
            .collect();
    }

    fn session(&self, id: &str) -> Result<Option<SessionRecord>> {
        self.off_rt(|| {
            let mut c = self.conn()?;
            let r = c.query_opt(
                &format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.id = $1"),
                &[&id],
            )?;
            Ok(r.map(|r| row_to_session(&r)))
        })
    }

    fn list(&self, f: &ListFilter) -> Result<Vec<SessionRecord>> {
        self.off_rt(|| {
        let mut c = self.conn()?;
        let mut sql = format!("SELECT {SESSION_COLS} FROM sessions s WHERE s.summary <> ''");
        let mut p: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        if let Some(pp) = &f.project_path {
            p.push(Box::new(pp.clone()));
            sql.push_str(&format!(" AND s.project_path = ${}", p.len()));
        }
        if !f.project_folders.is_empty() {
            let mut any = Vec::new();
            for (host, path) in &f.project_folders {
                p.push(Box::new(path.clone()));
                let x = p.len();
                any.push(match host {
                    Some(h) => {
                        p.push(Box::new(h.clone()));
                        format!("(s.project_path = ${x} AND s.host = ${})", p.len())
                    }
                    None => format!("s.project_path = ${x}"),
                });
            }
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        if !f.include_gone {
            sql.push_str(" AND NOT s.gone");
        }
        if let Some(h) = &f.host {
            p.push(Box::new(h.clone()));
            sql.push_str(&format!(" AND s.host = ${}", p.len()));
        }
        if let Some(t) = &f.tag {
            p.push(Box::new(t.clone()));
            let n = p.len();
            sql.push_str(&format!(
                " AND (s.native_tag = ${n} OR EXISTS (SELECT 1 FROM tags g WHERE g.session_id = s.id AND g.tag = ${n}))"
            ));
        }
        if let Some(t) = f.modified_from {
            p.push(Box::new(t));
            sql.push_str(&format!(" AND s.last_modified >= ${}", p.len()));
        }
        if let Some(t) = f.modified_before {
            p.push(Box::new(t));
            sql.push_str(&format!(" AND s.last_modified < ${}", p.len()));
        }
        sql.push_str(" ORDER BY s.last_modified DESC, s.id DESC");
        if let Some(l) = f.limit {
            p.push(Box::new(l as i64));
            sql.push_str(&format!(" LIMIT ${}", p.len()));
        }
        p.push(Box::new(f.offset as i64));
        sql.push_str(&format!(" OFFSET ${}", p.len()));
        let refs: Params<'_> = p.iter().map(|b| b.as_ref() as _).collect();
        let rows = c.query(&sql, &refs)?;
        Ok(rows.iter().map(row_to_session).collect())
        })
    }

    fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.off_rt(|| self.search_hits(q))
    }

    fn file_state(&self, path: &str) -> Result<Option<FileState>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query_opt(
                    &format!("SELECT {FILE_COLS} FROM files WHERE host = $1 AND path = $2"),
                    &[&self.host, &path],
                )?
                .map(|r| file_state(&r)))
        })
    }

    fn file_states(&self) -> Result<Vec<FileState>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    &format!("SELECT {FILE_COLS} FROM files WHERE host = $1"),
                    &[&self.host],
                )?
                .iter()
                .map(file_state)
                .collect())
        })
    }

    fn known_files(&self) -> Result<Vec<(String, String, bool)>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    "SELECT id, file_path, gone FROM sessions WHERE host = $1",
                    &[&self.host],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    fn count_present(&self) -> Result<usize> {
        self.off_rt(|| {
            let n: i64 = self
                .conn()?
                .query_one(
                    "SELECT COUNT(*) FROM sessions WHERE host = $1 AND NOT gone",
                    &[&self.host],
                )?
                .get(0);
            Ok(n as usize)
        })
    }

    fn mark_gone(&self, id: &str, gone: bool) -> Result<()> {
        self.off_rt(|| {
            self.write(|tx| {
                forget_sync_digest(tx)?;
                tx.execute("UPDATE sessions SET gone = $2 WHERE id = $1", &[&id, &gone])?;
                if gone {
                    tx.execute(
                        "DELETE FROM files WHERE session_id = $1 AND host = $2",
                        &[&id, &self.host],
                    )?;
                    let keys = call_keys(tx, false, id)?;
                    promote_copies(tx, &keys)?;
                }
                Ok(())
            })
        })
    }

    fn set_archive(&self, id: &str, key: &str) -> Result<()> {
        self.off_rt(|| {
            self.conn()?.execute(
                "UPDATE sessions SET archive_key = $2 WHERE id = $1",
                &[&id, &key],
            )?;
            Ok(())
        })
    }

    fn set_archived_flag(&self, id: &str, archived: bool) -> Result<()> {
        self.off_rt(|| {
            self.conn()?.execute(
                "UPDATE sessions SET archived = $2 WHERE id = $1",
                &[&id, &archived],
            )?;
            Ok(())
        })
    }

    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        self.off_rt(|| {
            let hi = format!("{prefix}~");
            Ok(self
                .conn()?
                .query(
                    "SELECT id FROM sessions WHERE id >= $1 AND id < $2 AND summary <> ''
                 ORDER BY id LIMIT $3",
                    &[&prefix, &hi, &(limit as i64)],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn archive_keys(&self) -> Result<Vec<(String, String)>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    "SELECT id, archive_key FROM sessions WHERE archive_key IS NOT NULL",
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn set_description(&self, id: &str, text: Option<&str>) -> Result<()> {
        self.off_rt(|| {
            self.update_session(
                id,
                "UPDATE sessions SET description = $2 WHERE id = $1",
                &text,
            )
        })
    }

    fn set_notes(&self, id: &str, text: Option<&str>) -> Result<()> {
        self.off_rt(|| {
            self.update_session(id, "UPDATE sessions SET notes = $2 WHERE id = $1", &text)
        })
    }

    fn append_notes(&self, id: &str, text: &str) -> Result<()> {
        self.off_rt(|| {
            self.update_session(
                id,
                "UPDATE sessions SET notes = CASE WHEN notes IS NULL OR notes = '' THEN $2
               ELSE notes || chr(10) || $2 END WHERE id = $1",
                &text,
            )
        })
    }

    fn add_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        self.off_rt(|| {
            self.write(|tx| {
                if tx
                    .query_opt("SELECT 1 FROM sessions WHERE id = $1", &[&id])?
                    .is_none()
                {
                    return Err(Error::NotFound(id.to_owned()));
                }
                for t in tags {
                    let t = t.trim();
                    if t.is_empty() {
                        return Err(Error::Invalid("a tag must not be empty".into()));
                    }
                    tx.execute(
                        "INSERT INTO tags (session_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&id, &t],
                    )?;
                }
                write_tags(tx, id)
            })
        })
    }

    fn remove_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        self.off_rt(|| {
            let trimmed: Vec<&str> = tags.iter().map(|t| t.trim()).collect();
            self.write(|tx| {
                tx.execute(
                    "DELETE FROM tags WHERE session_id = $1 AND tag = ANY($2)",
                    &[&id, &trimmed],
                )?;
                write_tags(tx, id)
            })
        })
    }

    fn delete(&self, id: &str) -> Result<bool> {
        self.off_rt(|| {
            self.write(|tx| {
                forget_sync_digest(tx)?;
                let n = tx.execute("DELETE FROM sessions WHERE id = $1", &[&id])?;
                let keys = call_keys(tx, false, id)?;
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
                    tx.execute(&format!("DELETE FROM {t} WHERE session_id = $1"), &[&id])?;
                }
                promote_copies(tx, &keys)?;
                Ok(n > 0)
            })
        })
    }

    fn older_than(&self, cutoff_ms: i64) -> Result<Vec<SessionRecord>> {
        self.off_rt(|| {
            let mut c = self.conn()?;
            let rows = c.query(
                &format!(
                    "SELECT {SESSION_COLS} FROM sessions s
                     WHERE COALESCE(s.last_activity, s.last_modified) < $1 ORDER BY s.last_modified"
                ),
                &[&cutoff_ms],
            )?;
            Ok(rows.iter().map(row_to_session).collect())
        })
    }

    fn save_name(&self, name: &str, session_id: &str) -> Result<()> {
        self.off_rt(|| {
        if name.trim().is_empty() {
            return Err(Error::Invalid("a name must not be empty".into()));
        }
        self.write(|tx| {
            let now = now_ms();
            tx.execute(
                "INSERT INTO names (name, created, updated) VALUES ($1, $2, $2)
                 ON CONFLICT (name) DO UPDATE SET updated = $2",
                &[&name, &now],
            )?;
            let last: Option<String> = tx
                .query_opt(
                    "SELECT session_id FROM name_sessions WHERE name = $1 ORDER BY seq DESC LIMIT 1",
                    &[&name],
                )?
                .map(|r| r.get(0));
            if last.as_deref() != Some(session_id) {
                tx.execute(
                    "INSERT INTO name_sessions (name, seq, session_id)
                     VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM name_sessions WHERE name = $1), $2)",
                    &[&name, &session_id],
                )?;
                write_names(tx, name, &[])?;
            }
            Ok(())
        })
        })
    }

    fn name(&self, name: &str) -> Result<Option<NameRecord>> {
        self.off_rt(|| {
            let mut c = self.conn()?;
            let Some(head) = c.query_opt(
                "SELECT created, updated FROM names WHERE name = $1",
                &[&name],
            )?
            else {
                return Ok(None);
            };
            let sessions = c
                .query(
                    "SELECT session_id FROM name_sessions WHERE name = $1 ORDER BY seq",
                    &[&name],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok(Some(NameRecord {
                name: name.to_owned(),
                sessions,
                created: head.get(0),
                updated: head.get(1),
            }))
        })
    }

    fn names(&self) -> Result<Vec<NameRecord>> {
        self.off_rt(|| {
            let list: Vec<String> = self
                .conn()?
                .query("SELECT name FROM names ORDER BY updated DESC", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut out = Vec::new();
            for n in list {
                if let Some(r) = self.name(&n)? {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }

    fn remove_name(&self, name: &str) -> Result<bool> {
        self.off_rt(|| {
            self.write(|tx| {
                let had: Vec<String> = tx
                    .query(
                        "SELECT DISTINCT session_id FROM name_sessions WHERE name = $1",
                        &[&name],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                tx.execute("DELETE FROM name_sessions WHERE name = $1", &[&name])?;
                let had: Vec<&str> = had.iter().map(String::as_str).collect();
                write_names(tx, name, &had)?;
                Ok(tx.execute("DELETE FROM names WHERE name = $1", &[&name])? > 0)
            })
        })
    }

    fn optimize(&self) -> Result<()> {
        self.off_rt(|| {
            // Fresh statistics: a search takes the GIN index or the newest-first
            // walk by how common its words are. The common words are kept in
            // `meta` too: reading `pg_stats` cost a search 10 ms on a new
            // connection (the view is planned, the catalog loaded).
            let mut c = self.conn()?;
            c.batch_execute("ANALYZE")?;
            let common = super::search::common_words_now(&mut *c)?;
            let mut tx = c.transaction()?;
            Self::set_meta(&mut tx, super::search::COMMON_WORDS, &common)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn begin_bulk(&self, much: bool) -> Result<bool> {
        self.off_rt(|| {
            // Every sync asks: nearly always answered by one read, without
            // queuing for the writers' lock.
            if !much && super::bulk::index_exists(&mut *self.conn()?)? {
                return Ok(false);
            }
            self.write(|tx| super::bulk::begin(tx, &self.host, much))
        })
    }

    fn end_bulk(&self) -> Result<()> {
        self.off_rt(|| {
            // The two halves at once, on two connections (two cores).
            std::thread::scope(|s| {
                let side = s.spawn(|| super::bulk::build_half(&mut *self.conn()?, 1));
                let mine = self
                    .conn()
                    .and_then(|mut c| super::bulk::build_half(&mut c, 0));
                let theirs = side.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                mine.and(theirs)
            })?;
            self.write(super::bulk::end)
        })
    }

    fn tidy(&self) -> Result<()> {
        self.off_rt(|| {
            // PostgreSQL's autovacuum merges GIN's pending list on its own.
            Ok(())
        })
    }

    fn calls(&self, since: Option<i64>, until: Option<i64>) -> Result<Vec<(String, CallRecord)>> {
        self.off_rt(|| {
        let (lo, hi) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        Ok(self
            .conn()?
            .query(
                "SELECT session_id, key, ts, model, input, output, cache_5m, cache_1h, cache_read, cost
                 FROM calls WHERE ts >= $1 AND ts <= $2",
                &[&lo, &hi],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    CallRecord {
                        key: r.get(1),
                        ts: r.get(2),
                        model: r.get(3),
                        input: u(r, 4),
                        output: u(r, 5),
                        cache_5m: u(r, 6),
                        cache_1h: u(r, 7),
                        cache_read: u(r, 8),
                        cost: r.get(9),
                    },
                )
            })
            .collect())
        })
    }

    fn refresh_usage(
        &self,
        fingerprint: &str,
        day_of: &(dyn Fn(i64) -> String + Sync),
    ) -> Result<usize> {
        self.off_rt(|| {
        // Nothing to do is the common case: answered without the write lock.
        let now = self.conn()?.query_one(
            "SELECT EXISTS (SELECT 1 FROM usage_dirty),
                (SELECT value FROM meta WHERE key = 'usage_fingerprint')",
            &[],
        )?;
        let (dirty, stored): (bool, Option<String>) = (now.get(0), now.get(1));
        if !dirty && stored.as_deref() == Some(fingerprint) {
            return Ok(0);
        }
        self.write(|tx| {
            let stored = Self::meta_in(tx, "usage_fingerprint")?;
            if stored.as_deref() != Some(fingerprint) {
                tx.execute("DELETE FROM usage_rollup", &[])?;
                tx.execute(
                    "INSERT INTO usage_dirty SELECT DISTINCT session_id FROM calls ON CONFLICT DO NOTHING",
                    &[],
                )?;
                Self::set_meta(tx, "usage_fingerprint", fingerprint)?;
            }
            let ids: Vec<String> = tx
                .query("SELECT session_id FROM usage_dirty", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // A thousand sessions to a round: their calls in one query, their
            // rollup in one statement (one round trip per session and row
            // made the first report after a build take 2 s).
            for chunk in ids.chunks(1000) {
                tx.execute("DELETE FROM usage_rollup WHERE session_id = ANY($1)", &[&chunk])?;
                type Key = (String, String, String);
                let mut by: std::collections::BTreeMap<Key, [i64; 8]> = Default::default();
                for r in tx.query(
                    "SELECT session_id, ts, model, input, output, cache_5m, cache_1h, cache_read
                     FROM calls WHERE session_id = ANY($1)",
                    &[&chunk],
                )? {
                    let ts: i64 = r.get(1);
                    let a = by
                        .entry((r.get(0), r.get(2), day_of(ts)))
                        .or_insert([i64::MAX, i64::MIN, 0, 0, 0, 0, 0, 0]);
                    a[0] = a[0].min(ts);
                    a[1] = a[1].max(ts);
                    a[2] += 1;
                    for k in 0..5 {
                        a[3 + k] += r.get::<_, i64>(3 + k);
                    }
                }
                let (mut sid, mut model, mut day) = (Vec::new(), Vec::new(), Vec::new());
                let mut cols: [Vec<i64>; 8] = Default::default();
                for ((s, m, d), a) in by {
                    sid.push(s);
                    model.push(m);
                    day.push(d);
                    for (col, v) in cols.iter_mut().zip(a) {
                        col.push(v);
                    }
                }
                let [first, last, calls, input, output, c5, c1, cr] = &cols;
                tx.execute(
                    "INSERT INTO usage_rollup (session_id, model, day, first_ts, last_ts, calls,
                        input, output, cache_5m, cache_1h, cache_read)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[],
                        $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                        $10::bigint[], $11::bigint[])",
                    &[
                        &sid, &model, &day, first, last, calls, input, output, c5, c1, cr,
                    ],
                )?;
            }
            tx.execute("DELETE FROM usage_dirty", &[])?;
            Ok(ids.len())
        })
        })
    }

    fn usage_rows(
        &self,
        project_dirs: Option<&[String]>,
        include_gone: bool,
    ) -> Result<Vec<UsageRow>> {
        self.off_rt(|| {
            let dirs: Option<Vec<String>> = project_dirs.map(<[String]>::to_vec);
            Ok(self
            .conn()?
            .query(
                "SELECT u.session_id, s.project_dir, u.model, u.day, u.first_ts, u.last_ts, u.calls,
                    u.input, u.output, u.cache_5m, u.cache_1h, u.cache_read, s.cli_cost_usd, s.host
                 FROM usage_rollup u JOIN sessions s ON s.id = u.session_id
                 WHERE ($1 OR NOT s.gone) AND ($2::text[] IS NULL OR s.project_dir = ANY($2))",
                &[&include_gone, &dirs],
            )?
            .iter()
            .map(|r| UsageRow {
                session_id: r.get(0),
                project_dir: r.get(1),
                model: r.get(2),
                day: r.get(3),
                first_ts: r.get(4),
                last_ts: r.get(5),
                calls: u(r, 6),
                input: u(r, 7),
                output: u(r, 8),
                cache_5m: u(r, 9),
                cache_1h: u(r, 10),
                cache_read: u(r, 11),
                cli_cost_usd: r.get(12),
                host: r.get(13),
            })
            .collect())
        })
    }

    fn usage_days(&self) -> Result<Option<Vec<UsageRow>>> {
        // Kept in step by the triggers of migration 4 (the team's report:
        // every host's sessions).
        self.off_rt(|| {
            Ok(Some(
                self.conn()?
                    .query(
                        "SELECT model, day, calls, input, output, cache_5m, cache_1h, cache_read
                         FROM usage_days WHERE calls <> 0 ORDER BY day, model",
                        &[],
                    )?
                    .iter()
                    .map(|r| UsageRow {
                        session_id: String::new(),
                        project_dir: String::new(),
                        model: r.get(0),
                        day: r.get(1),
                        first_ts: 0,
                        last_ts: 0,
                        calls: u(r, 2),
                        input: u(r, 3),
                        output: u(r, 4),
                        cache_5m: u(r, 5),
                        cache_1h: u(r, 6),
                        cache_read: u(r, 7),
                        cli_cost_usd: None,
                        host: None,
                    })
                    .collect(),
            ))
        })
    }

    fn sync_digest(&self) -> Result<Option<String>> {
        self.off_rt(|| self.meta(&format!("sync_digest:{}", self.host)))
    }

    fn set_sync_digest(&self, digest: &str) -> Result<()> {
        self.off_rt(|| {
            self.write(|tx| Self::set_meta(tx, &format!("sync_digest:{}", self.host), digest))
        })
    }

    fn pricing_fingerprint(&self) -> Result<Option<String>> {
        self.off_rt(|| self.meta("pricing"))
    }

    fn sync_marks(&self) -> Result<(Option<String>, Option<String>)> {
        if let Some(m) = self.opened_marks() {
            return Ok(m);
        }
        self.off_rt(|| {
            let digest = format!("sync_digest:{}", self.host);
            let mut out = (None, None);
            for r in self.conn()?.query(
                "SELECT key, value FROM meta WHERE key IN ($1, 'pricing')",
                &[&digest],
            )? {
                let (key, value): (String, String) = (r.get(0), r.get(1));
                if key == digest {
                    out.0 = Some(value);
                } else {
                    out.1 = Some(value);
                }
            }
            Ok(out)
        })
    }

    fn reprice(
        &self,
        price: &(dyn Fn(&str) -> Option<[f64; 5]> + Sync),
        fingerprint: &str,
    ) -> Result<()> {
        self.off_rt(|| {
            self.write(|tx| {
                let models: Vec<String> = tx
                    .query("SELECT DISTINCT model FROM calls", &[])?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for m in &models {
                    let p = price(m).unwrap_or([0.0; 5]);
                    tx.execute(
                        "UPDATE calls SET cost = (input * $2 + output * $3 + cache_5m * $4
                       + cache_1h * $5 + cache_read * $6) / 1e6 WHERE model = $1",
                        &[m, &p[0], &p[1], &p[2], &p[3], &p[4]],
                    )?;
                }
                // Every session's totals recounted, as the policy sums them.
                let rows = tx.query(
                "SELECT session_id, input, output, cache_5m, cache_1h, cache_read, cost FROM calls
                 ORDER BY session_id",
                &[],
            )?;
                let mut i = 0;
                while i < rows.len() {
                    let id: String = rows[i].get(0);
                    let mut j = i;
                    while j < rows.len() && rows[j].get::<_, String>(0) == id {
                        j += 1;
                    }
                    let t =
                        crate::policy::recount(rows[i..j].iter().map(|r| {
                            ([r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)], r.get(6))
                        }));
                    write_totals(tx, &id, &t)?;
                    i = j;
                }
                Self::set_meta(tx, "pricing", fingerprint)
            })
        })
    }

    fn projects(&self, include_gone: bool) -> Result<Vec<ProjectRow>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    "SELECT s.project_dir,
                    (SELECT p.project_path FROM sessions p
                      WHERE p.project_dir = s.project_dir AND p.host = s.host
                        AND p.project_path IS NOT NULL
                      ORDER BY p.gone, p.last_modified DESC, p.id LIMIT 1),
                    COUNT(*) FILTER (WHERE NOT s.gone), COUNT(*) FILTER (WHERE s.gone),
                    COALESCE(SUM(s.file_size), 0)::bigint, MAX(s.last_modified), s.host
                 FROM sessions s WHERE NOT s.gone OR $1
                 GROUP BY s.host, s.project_dir
                 ORDER BY MAX(s.last_modified) DESC, s.project_dir, s.host",
                    &[&include_gone],
                )?
                .iter()
                .map(|r| ProjectRow {
                    project_dir: r.get(0),
                    project_path: r.get(1),
                    sessions: u(r, 2),
                    gone: u(r, 3),
                    size: u(r, 4),
                    last_modified: r.get(5),
                    host: Some(r.get(6)),
                })
                .collect())
        })
    }

    fn put_record(&self, kind: &str, key: &str, value: &str) -> Result<()> {
        self.off_rt(|| {
        self.conn()?.execute(
            "INSERT INTO daemon_records (host, kind, key, value, updated) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (host, kind, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            &[&self.host, &kind, &key, &value, &now_ms()],
        )?;
        Ok(())
        })
    }

    fn records(&self, kind: &str) -> Result<Vec<(String, String)>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    "SELECT key, value FROM daemon_records WHERE host = $1 AND kind = $2
                 ORDER BY updated, key",
                    &[&self.host, &kind],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn delete_record(&self, kind: &str, key: &str) -> Result<bool> {
        self.off_rt(|| {
            Ok(self.conn()?.execute(
                "DELETE FROM daemon_records WHERE host = $1 AND kind = $2 AND key = $3",
                &[&self.host, &kind, &key],
            )? > 0)
        })
    }

    fn host(&self) -> Option<String> {
        Some(self.host.clone())
    }

    fn put_shared(&self, kind: &str, key: &str, value: &str) -> Result<()> {
        self.off_rt(|| {
            let mut conn = self.conn()?;
            // Live tables and commands are rewritten every few hundred ms: no
            // wait for the disk (a crash loses at most the last ones).
            let mut c = conn.begin("SET LOCAL synchronous_commit = off")?;
            c.execute(
                "INSERT INTO shared_records (kind, key, value, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,
                   updated = excluded.updated",
                &[&kind, &key, &value, &now_ms()],
            )?;
            // Daemons listening are woken (the payload says which kind changed).
            c.execute(
                &format!("SELECT pg_notify('{}', $1)", super::listen::CHANNEL),
                &[&kind],
            )?;
            c.commit()?;
            Ok(())
        })
    }

    fn shared(&self, kind: &str) -> Result<Vec<(String, String)>> {
        self.off_rt(|| {
            Ok(self
                .conn()?
                .query(
                    "SELECT key, value FROM shared_records WHERE kind = $1 ORDER BY updated, key",
                    &[&kind],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn delete_shared(&self, kind: &str, key: &str) -> Result<bool> {
        self.off_rt(|| {
            Ok(self.conn()?.execute(
                "DELETE FROM shared_records WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )? > 0)
        })
    }

    fn wait_shared(&self, kind: &str, timeout: std::time::Duration) -> Result<bool> {
        self.off_rt(|| self.wait_shared_here(kind, timeout))
    }

    fn keeps_archives(&self) -> bool {
        true
    }

    fn written_by_a_server(&self) -> bool {
        true
    }

    fn put_archive(
        &self,
        key: &str,
        session_id: &str,
        bundle: &mut (dyn std::io::Read + Send),
    ) -> Result<bool> {
        self.off_rt(|| self.put_archive_here(key, session_id, bundle))
    }

    fn read_archive(&self, key: &str, out: &mut (dyn std::io::Write + Send)) -> Result<bool> {
        self.off_rt(|| self.read_archive_here(key, out))
    }
}
