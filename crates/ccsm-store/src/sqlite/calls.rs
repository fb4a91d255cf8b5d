//! Model calls on SQLite: the copy that counts in `calls`, the other files'
//! copies in `call_copies`, each session's totals. Which copy counts and how
//! totals are made is [`crate::policy`]'s to say; this module only stores.

#[allow(unused_imports)]
use super::*;
use crate::policy::{self, CallCopy};

/// The columns of a stored call, as [`copy_from_row`] reads them.
const CALL_COLS: &str =
    "key, file, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, rank_ts";

fn copy_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallCopy> {
    Ok(CallCopy {
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

/// Keeps `copy` aside, unless its file's aside copy of the call is as large.
fn put_aside(tx: &rusqlite::Transaction<'_>, copy: &CallCopy) -> Result<()> {
    let aside = tx
        .prepare_cached(&format!(
            "SELECT {CALL_COLS} FROM call_copies WHERE key = ?1 AND file = ?2"
        ))?
        .query_row([&copy.key, &copy.file], copy_from_row)
        .optional()?;
    if aside.is_some_and(|old| !copy.replaces_aside(&old)) {
        return Ok(());
    }
    let [i, o, c5, c1, cr] = copy.tokens;
    tx.prepare_cached(
        "INSERT INTO call_copies (key, file, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, rank_ts)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
         ON CONFLICT(key, file) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
            model=excluded.model, input=excluded.input, output=excluded.output,
            cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
            cost=excluded.cost, rank_ts=excluded.rank_ts",
    )?
    .execute(params![
        copy.key, copy.file, copy.session_id, copy.ts, copy.model, i, o, c5, c1, cr, copy.cost,
        copy.rank_ts
    ])?;
    Ok(())
}

/// Makes `copy` the one that counts, in place of any other (a move to another
/// session marks that session's usage for a new rollup: trigger `calls_moved`).
fn make_current(tx: &rusqlite::Transaction<'_>, copy: &CallCopy) -> Result<()> {
    let [i, o, c5, c1, cr] = copy.tokens;
    tx.prepare_cached(
        "INSERT INTO calls (key, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, file, rank_ts)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
         ON CONFLICT(key) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
            model=excluded.model, input=excluded.input, output=excluded.output,
            cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
            cost=excluded.cost, file=excluded.file, rank_ts=excluded.rank_ts",
    )?
    .execute(params![
        copy.key, copy.session_id, copy.ts, copy.model, i, o, c5, c1, cr, copy.cost, copy.file,
        copy.rank_ts
    ])?;
    Ok(())
}

/// Writes a session's totals, recounted from its calls.
fn write_totals(tx: &rusqlite::Transaction<'_>, id: &str, t: &policy::Totals) -> Result<()> {
    tx.prepare_cached(
        "UPDATE sessions SET input_tokens = ?2, output_tokens = ?3, cache_creation_tokens = ?4,
           cache_read_tokens = ?5, cost_usd = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        t.input,
        t.output,
        t.cache_creation,
        t.cache_read,
        t.cost
    ])?;
    Ok(())
}

impl SqliteStore {
    /// Writes a file's calls (of each call its largest copy in the file), its
    /// files touched and its state; marks its session's usage dirty.
    pub(super) fn ingest_calls_tx(tx: &rusqlite::Transaction<'_>, b: &Ingest) -> Result<()> {
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
        let mut insert = tx.prepare_cached(
            "INSERT INTO calls (session_id, key, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, file, rank_ts)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)
             ON CONFLICT(key) DO NOTHING",
        )?;
        let keep = policy::largest_per_key(&b.calls);
        for c in b
            .calls
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
        {
            let copy = CallCopy {
                key: c.key.clone().unwrap_or_default(),
                file: b.file.path.clone(),
                session_id: s.id.clone(),
                ts: c.ts,
                model: c.model.clone(),
                tokens: [c.input, c.output, c.cache_5m, c.cache_1h, c.cache_read].map(|t| t as i64),
                cost: c.cost,
                rank_ts: first_call_ts,
            };
            let [input, output, cache_5m, cache_1h, cache_read] = copy.tokens;
            let added = insert.execute(params![
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
                Self::call_conflict(tx, copy)?;
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

    /// A call whose key is stored already: the copy that counts is the policy's;
    /// the other, if in another file, is kept aside (`call_copies`).
    fn call_conflict(tx: &rusqlite::Transaction<'_>, new: CallCopy) -> Result<()> {
        let old = tx
            .prepare_cached(&format!("SELECT {CALL_COLS} FROM calls WHERE key = ?1"))?
            .query_row([&new.key], copy_from_row)?;
        let (aside, current) = policy::settle(new, old);
        if let Some(loser) = aside {
            put_aside(tx, &loser)?;
        }
        if let Some(winner) = current {
            make_current(tx, &winner)?;
        }
        Ok(())
    }

    /// Calls `keys` lost the file they counted to: each goes to its best copy in a
    /// file still present, if there is one.
    pub(super) fn promote_copies(tx: &rusqlite::Transaction<'_>, keys: &[String]) -> Result<()> {
        let mut copies = tx.prepare_cached(&format!(
            "SELECT {CALL_COLS} FROM call_copies c
             WHERE c.key = ?1 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id AND s.gone = 1)"
        ))?;
        let mut current =
            tx.prepare_cached(&format!("SELECT {CALL_COLS} FROM calls WHERE key = ?1"))?;
        for key in keys {
            let found = copies
                .query_map([key], copy_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(copy) = policy::best(found) else {
                continue;
            };
            if let Some(now) = current.query_row([key], copy_from_row).optional()? {
                put_aside(tx, &now)?;
            }
            tx.prepare_cached("DELETE FROM call_copies WHERE key = ?1 AND file = ?2")?
                .execute([&copy.key, &copy.file])?;
            make_current(tx, &copy)?;
            Self::resum(tx, &copy.session_id)?;
        }
        Ok(())
    }

    /// A session's token and cost totals recounted from its calls; its usage is
    /// rolled up again at the next report.
    pub(super) fn resum(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<()> {
        let totals = policy::recount(
            tx.prepare_cached(
                "SELECT input, output, cache_5m, cache_1h, cache_read, cost FROM calls
                 WHERE session_id = ?1",
            )?
            .query_map([id], token_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
        write_totals(tx, id, &totals)?;
        tx.prepare_cached("INSERT OR IGNORE INTO usage_dirty (session_id) VALUES (?1)")?
            .execute([id])?;
        Ok(())
    }

    /// Every session's totals recounted (after the calls were priced again).
    pub(super) fn resum_all(tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let mut st = tx.prepare(
            "SELECT session_id, input, output, cache_5m, cache_1h, cache_read, cost FROM calls
             ORDER BY session_id",
        )?;
        let mut rows = st.query([])?;
        let mut batch: Vec<([i64; 5], Option<f64>)> = Vec::new();
        let mut session: Option<String> = None;
        let mut sessions_with_calls = 0usize;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            if session.as_deref() != Some(id.as_str()) {
                if let Some(prev) = session.take() {
                    write_totals(tx, &prev, &policy::recount(batch.drain(..)))?;
                    sessions_with_calls += 1;
                }
                session = Some(id);
            }
            batch.push((
                [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                r.get(6)?,
            ));
        }
        if let Some(prev) = session {
            write_totals(tx, &prev, &policy::recount(batch))?;
            sessions_with_calls += 1;
        }
        tracing::debug!("recounted {sessions_with_calls} sessions' totals");
        Ok(())
    }
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<([i64; 5], Option<f64>)> {
    Ok((
        [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
        r.get(5)?,
    ))
}
