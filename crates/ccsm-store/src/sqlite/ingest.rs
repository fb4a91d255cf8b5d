//! Writing a transcript's session, text and calls in a transaction.

#[allow(unused_imports)]
use super::*;

/// Text rows written in a transaction and not yet in the full-text index.
#[derive(Default)]
pub(super) struct PendingFts {
    range: Option<(i64, i64)>,
    sessions: std::collections::HashSet<String>,
}

impl SqliteStore {
    /// Writes the batches in one transaction (the sync digest is forgotten: the
    /// next sync compares every file again).
    pub(super) fn write_batches(&self, batches: &[Ingest]) -> Result<()> {
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
}

impl SqliteStore {
    /// Puts the text rows written since the last call into the full-text index, in
    /// one statement (FTS5 writes its pending terms out at every statement that
    /// opens a savepoint: one segment per flush, which merges must fold later).
    pub(super) fn flush_fts(
        tx: &rusqlite::Transaction<'_>,
        pending: &mut PendingFts,
    ) -> Result<()> {
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

    pub(super) fn ingest_tx(
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
        let prev = if b.full {
            None
        } else {
            tx.prepare_cached(
                "SELECT messages, user_turns, tool_calls, models, tools, first_activity, last_activity, cli_cost_usd
                 FROM sessions WHERE id = ?1",
            )?
            .query_row([&s.id], |r| {
                Ok(crate::policy::Counters {
                    messages: r.get(0)?,
                    turns: r.get(1)?,
                    tool_calls: r.get(2)?,
                    models: r.get(3)?,
                    tools: r.get(4)?,
                    first: r.get(5)?,
                    last: r.get(6)?,
                    cli_cost: r.get(7)?,
                })
            })
            .optional()?
        };
        let c = crate::policy::accumulate(s, prev);
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
            s.file_size as i64, s.archived.map(i64::from), c.messages, c.turns, c.tool_calls,
            c.models, c.tools, c.first, c.last, c.cli_cost, b.archive_key
        ])?;
        // The title row, replaced each time (a rename changes it): what people
        // remember a session by weighs more in ranking.
        tx.prepare_cached("DELETE FROM texts WHERE session_id = ?1 AND kind = 'title'")?
            .execute([&s.id])?;
        let title = (crate::policy::title_text(s), s.created_at.unwrap_or(0));
        let first_id = Self::insert_texts(tx, &s.id, None, Some(title), &b.text)?;
        Self::add_run(tx, pending, &s.id, first_id)?;
        Self::ingest_calls_tx(tx, b)
    }

    /// Writes a session's text rows (a title row first, if given) from `file` (`None`:
    /// the session's own transcript); returns the first row's id.
    pub(super) fn insert_texts(
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
    pub(super) fn call_keys(
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
    pub(super) fn add_run(
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
    pub(super) fn drop_dead_runs(tx: &rusqlite::Transaction<'_>, session: &str) -> Result<()> {
        tx.prepare_cached(
            "DELETE FROM text_runs WHERE session_id = ?1 AND NOT EXISTS (
                SELECT 1 FROM texts t WHERE t.id BETWEEN text_runs.first_id AND text_runs.last_id
                AND t.session_id = ?1)",
        )?
        .execute([session])?;
        Ok(())
    }
}
