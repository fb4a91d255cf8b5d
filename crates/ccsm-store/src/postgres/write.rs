//! Writing a transcript's session, text and calls on PostgreSQL, in the
//! transaction of [`PgStore::write`]. Text rows and calls go in one statement
//! per file (`UNNEST` of arrays), not one round trip per row. Which copy of a
//! call counts is [`crate::policy`]'s to say, as on SQLite.

use super::*;
use crate::policy::{self, CallCopy};
use crate::{Ingest, TextChunk};

type Tx<'a, 'b> = &'a mut super::Tx<'b>;

/// The columns of a stored call, as [`copy_from_row`] reads them.
const CALL_COLS: &str =
    "key, file, session_id, ts, model, input, output, cache_5m, cache_1h, cache_read, cost, rank_ts";

fn copy_from_row(r: &postgres::Row) -> CallCopy {
    CallCopy {
        key: r.get::<_, Option<String>>(0).unwrap_or_default(),
        file: r.get::<_, Option<String>>(1).unwrap_or_default(),
        session_id: r.get(2),
        ts: r.get(3),
        model: r.get(4),
        tokens: [r.get(5), r.get(6), r.get(7), r.get(8), r.get(9)],
        cost: r.get(10),
        rank_ts: r.get(11),
    }
}

impl PgStore {
    pub(super) fn write_batches(&self, batches: &[Ingest]) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM meta WHERE key = $1",
                &[&format!("sync_digest:{}", self.host)],
            )?;
            for b in batches {
                ingest_tx(tx, &self.host, b)?;
            }
            Ok(())
        })
    }
}

fn ingest_tx(tx: Tx<'_, '_>, host: &str, b: &Ingest) -> Result<()> {
    let s = &b.session;
    if b.full {
        // Calls by file: a session's subagent files keep theirs. A call that
        // counted to this file goes to its best copy elsewhere, if any.
        tx.execute("DELETE FROM call_copies WHERE file = $1", &[&b.file.path])?;
        let keys = call_keys(tx, true, &b.file.path)?;
        tx.execute("DELETE FROM calls WHERE file = $1", &[&b.file.path])?;
        promote_copies(tx, &keys)?;
    }
    if b.subagent {
        tx.execute(
            &format!(
                "INSERT INTO sessions (id, project_dir, file_path, host, tag_list, name_list)
                 VALUES ($1, $2, '', $3, {}) ON CONFLICT (id) DO NOTHING",
                labels()
            ),
            &[&s.id, &s.project_dir, &host],
        )?;
        if b.full {
            tx.execute(
                "DELETE FROM texts WHERE session_id = $1 AND file = $2",
                &[&s.id, &b.file.path],
            )?;
        }
        insert_texts(tx, &s.id, Some(&b.file.path), None, &b.text, &b.vectors)?;
        return ingest_calls(tx, host, b);
    }
    if b.full {
        tx.execute(
            "DELETE FROM texts WHERE session_id = $1 AND file IS NULL",
            &[&s.id],
        )?;
        tx.execute("DELETE FROM touched WHERE session_id = $1", &[&s.id])?;
    }
    let prev = if b.full {
        None
    } else {
        tx.query_opt(
            "SELECT messages, user_turns, tool_calls, models, tools, first_activity, last_activity,
                cli_cost_usd FROM sessions WHERE id = $1",
            &[&s.id],
        )?
        .map(|r| policy::Counters {
            messages: r.get(0),
            turns: r.get(1),
            tool_calls: r.get(2),
            models: r.get(3),
            tools: r.get(4),
            first: r.get(5),
            last: r.get(6),
            cli_cost: r.get(7),
        })
    };
    let c = policy::accumulate(s, prev);
    let size = s.file_size as i64;
    tx.execute(
        &format!("INSERT INTO sessions (id, project_dir, project_path, file_path, summary, custom_title,
            first_prompt, git_branch, cwd, native_tag, created_at, last_modified, file_size, archived,
            messages, user_turns, tool_calls, models, tools, first_activity, last_activity, gone,
            cli_cost_usd, archive_key, host, tag_list, name_list)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,FALSE,$22,$23,$24,
            {labels})
         ON CONFLICT (id) DO UPDATE SET project_dir=excluded.project_dir, project_path=excluded.project_path,
            file_path=excluded.file_path, summary=excluded.summary, custom_title=excluded.custom_title,
            first_prompt=excluded.first_prompt, git_branch=excluded.git_branch, cwd=excluded.cwd,
            native_tag=excluded.native_tag, created_at=excluded.created_at,
            last_modified=excluded.last_modified, file_size=excluded.file_size, archived=excluded.archived,
            messages=excluded.messages, user_turns=excluded.user_turns, tool_calls=excluded.tool_calls,
            models=excluded.models, tools=excluded.tools, first_activity=excluded.first_activity,
            last_activity=excluded.last_activity, gone=FALSE, cli_cost_usd=excluded.cli_cost_usd,
            archive_key=COALESCE(excluded.archive_key, sessions.archive_key), host=excluded.host", labels = labels()),
        &[
            &s.id, &s.project_dir, &s.project_path, &s.file_path, &s.summary, &s.custom_title,
            &s.first_prompt, &s.git_branch, &s.cwd, &s.native_tag, &s.created_at, &s.last_modified,
            &size, &s.archived, &c.messages, &c.turns, &c.tool_calls, &c.models, &c.tools,
            &c.first, &c.last, &c.cli_cost, &b.archive_key, &host,
        ],
    )?;
    // The title row, replaced each time (a rename changes it).
    tx.execute(
        "DELETE FROM texts WHERE session_id = $1 AND kind = 'title'",
        &[&s.id],
    )?;
    let title = policy::title_text(s);
    insert_texts(
        tx,
        &s.id,
        None,
        Some((title, s.created_at.unwrap_or(0))),
        &b.text,
        &b.vectors,
    )?;
    ingest_calls(tx, host, b)
}

/// Writes a session's text rows (a title row first, if given) from `file`
/// (`None`: the session's own transcript), in one statement.
fn insert_texts(
    tx: Tx<'_, '_>,
    session: &str,
    file: Option<&str>,
    title: Option<(String, i64)>,
    text: &[TextChunk],
    prepared: &[Vec<u8>],
) -> Result<()> {
    let n = text.len() + usize::from(title.is_some());
    if n == 0 {
        return Ok(());
    }
    let (mut uuids, mut kinds, mut ts, mut titles, mut bodies, mut vecs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    if let Some((t, at)) = &title {
        uuids.push("");
        kinds.push("title");
        ts.push(*at);
        titles.push(t.as_str());
        bodies.push("");
        vecs.push(TsVector(crate::tokens::tsvector(t, Some('A')).into()));
    }
    for (i, c) in text.iter().enumerate() {
        uuids.push(c.uuid.as_str());
        kinds.push(c.kind.as_str());
        ts.push(c.ts);
        titles.push("");
        bodies.push(c.text.as_str());
        // Made by `prepare` on the reading threads, or here.
        vecs.push(TsVector(match prepared.get(i) {
            Some(v) if prepared.len() == text.len() => v.as_slice().into(),
            _ => crate::tokens::tsvector(&c.text, None).into(),
        }));
    }
    // The rows and their run (written by one statement under the writers'
    // lock, their ids follow each other; checked all the same).
    tx.execute(
        "WITH ins AS (INSERT INTO texts (session_id, uuid, kind, ts, title, body, file, tsv)
           SELECT $1, u, k, t, ti, b, $2, v
           FROM UNNEST($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                       $8::tsvector[])
             WITH ORDINALITY AS x(u, k, t, ti, b, v, n) ORDER BY n
           RETURNING id)
         INSERT INTO text_runs (first_id, last_id, session_id)
         SELECT MIN(id), MAX(id), $1 FROM ins
         HAVING COUNT(*) > 0 AND MAX(id) - MIN(id) + 1 = COUNT(*)",
        &[
            &session, &file, &uuids, &kinds, &ts, &titles, &bodies, &vecs,
        ],
    )?;
    Ok(())
}

/// A `tsvector` in PostgreSQL's binary form ([`crate::tokens::tsvector`]).
#[derive(Debug)]
struct TsVector<'a>(std::borrow::Cow<'a, [u8]>);

impl postgres::types::ToSql for TsVector<'_> {
    fn to_sql(
        &self,
        _ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        out.extend_from_slice(&self.0);
        Ok(postgres::types::IsNull::No)
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        *ty == postgres::types::Type::TS_VECTOR
    }

    postgres::types::to_sql_checked!();
}

/// Keys of the calls that count to a file (`by_file`) or to a session.
pub(super) fn call_keys(tx: Tx<'_, '_>, by_file: bool, value: &str) -> Result<Vec<String>> {
    let sql = if by_file {
        "SELECT key FROM calls WHERE file = $1 AND key IS NOT NULL"
    } else {
        "SELECT key FROM calls WHERE session_id = $1 AND key IS NOT NULL"
    };
    Ok(tx.query(sql, &[&value])?.iter().map(|r| r.get(0)).collect())
}

/// Writes a file's calls (of each call its largest copy in the file), its files
/// touched and its state; marks its session's usage dirty.
fn ingest_calls(tx: Tx<'_, '_>, host: &str, b: &Ingest) -> Result<()> {
    let s = &b.session;
    let before: Option<i64> = if b.full {
        None
    } else {
        tx.query_opt(
            "SELECT first_call_ts FROM files WHERE host = $1 AND path = $2",
            &[&host, &b.file.path],
        )?
        .and_then(|r| r.get(0))
    };
    let first_call_ts = b.calls.iter().map(|c| c.ts).chain(before).min();
    let keep = policy::largest_per_key(&b.calls);
    let copies: Vec<CallCopy> = b
        .calls
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| CallCopy {
            key: c.key.clone().unwrap_or_default(),
            file: b.file.path.clone(),
            session_id: s.id.clone(),
            ts: c.ts,
            model: c.model.clone(),
            tokens: [c.input, c.output, c.cache_5m, c.cache_1h, c.cache_read].map(|t| t as i64),
            cost: c.cost,
            rank_ts: first_call_ts,
        })
        .collect();
    if !copies.is_empty() {
        // All at once; the keys stored already come back as conflicts.
        let keys: Vec<Option<&str>> = b
            .calls
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c.key.as_deref())
            .collect();
        let col = |i: usize| copies.iter().map(|c| c.tokens[i]).collect::<Vec<i64>>();
        let ts: Vec<i64> = copies.iter().map(|c| c.ts).collect();
        let models: Vec<&str> = copies.iter().map(|c| c.model.as_str()).collect();
        let costs: Vec<Option<f64>> = copies.iter().map(|c| c.cost).collect();
        let (i, o, c5, c1, cr) = (col(0), col(1), col(2), col(3), col(4));
        let added: std::collections::HashSet<String> = tx
            .query(
                "INSERT INTO calls (session_id, key, ts, model, input, output, cache_5m, cache_1h,
                    cache_read, cost, file, rank_ts)
                 SELECT $1, k, t, m, i, o, c5, c1, cr, c, $2, $3
                 FROM UNNEST($4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[],
                    $9::bigint[], $10::bigint[], $11::bigint[], $12::float8[])
                    AS x(k, t, m, i, o, c5, c1, cr, c)
                 ON CONFLICT (key) DO NOTHING RETURNING key",
                &[
                    &s.id,
                    &b.file.path,
                    &first_call_ts,
                    &keys,
                    &ts,
                    &models,
                    &i,
                    &o,
                    &c5,
                    &c1,
                    &cr,
                    &costs,
                ],
            )?
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(0))
            .collect();
        for (copy, key) in copies.into_iter().zip(keys) {
            if key.is_some_and(|k| !added.contains(k)) {
                call_conflict(tx, copy)?;
            }
        }
    }
    if !b.files_touched.is_empty() {
        tx.execute(
            "INSERT INTO touched (session_id, path) SELECT $1, p FROM UNNEST($2::text[]) AS x(p)
             ON CONFLICT DO NOTHING",
            &[&s.id, &b.files_touched],
        )?;
    }
    resum(tx, &s.id)?;
    let f = &b.file;
    let (size, offset) = (f.size as i64, f.offset as i64);
    tx.execute(
        "INSERT INTO files (path, session_id, size, mtime, \"offset\", head_hash, first_call_ts, host)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
         ON CONFLICT (host, path) DO UPDATE SET session_id=excluded.session_id, size=excluded.size,
           mtime=excluded.mtime, \"offset\"=excluded.\"offset\", head_hash=excluded.head_hash,
           first_call_ts=excluded.first_call_ts",
        &[
            &f.path,
            &f.session_id,
            &size,
            &f.mtime,
            &offset,
            &f.head_hash,
            &first_call_ts,
            &host,
        ],
    )?;
    Ok(())
}

/// Keeps `copy` aside, unless its file's aside copy of the call is as large.
fn put_aside(tx: Tx<'_, '_>, copy: &CallCopy) -> Result<()> {
    let aside = tx
        .query_opt(
            &format!("SELECT {CALL_COLS} FROM call_copies WHERE key = $1 AND file = $2"),
            &[&copy.key, &copy.file],
        )?
        .map(|r| copy_from_row(&r));
    if aside.is_some_and(|old| !copy.replaces_aside(&old)) {
        return Ok(());
    }
    let [i, o, c5, c1, cr] = copy.tokens;
    tx.execute(
        "INSERT INTO call_copies (key, file, session_id, ts, model, input, output, cache_5m,
            cache_1h, cache_read, cost, rank_ts)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
         ON CONFLICT (key, file) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
            model=excluded.model, input=excluded.input, output=excluded.output,
            cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
            cost=excluded.cost, rank_ts=excluded.rank_ts",
        &[
            &copy.key,
            &copy.file,
            &copy.session_id,
            &copy.ts,
            &copy.model,
            &i,
            &o,
            &c5,
            &c1,
            &cr,
            &copy.cost,
            &copy.rank_ts,
        ],
    )?;
    Ok(())
}

/// Makes `copy` the one that counts, in place of any other; a call that moves
/// to another session leaves its old session's totals and usage to be made again.
fn make_current(tx: Tx<'_, '_>, copy: &CallCopy) -> Result<()> {
    let before: Option<String> = tx
        .query_opt("SELECT session_id FROM calls WHERE key = $1", &[&copy.key])?
        .map(|r| r.get(0));
    let [i, o, c5, c1, cr] = copy.tokens;
    tx.execute(
        "INSERT INTO calls (key, session_id, ts, model, input, output, cache_5m, cache_1h,
            cache_read, cost, file, rank_ts)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
         ON CONFLICT (key) DO UPDATE SET session_id=excluded.session_id, ts=excluded.ts,
            model=excluded.model, input=excluded.input, output=excluded.output,
            cache_5m=excluded.cache_5m, cache_1h=excluded.cache_1h, cache_read=excluded.cache_read,
            cost=excluded.cost, file=excluded.file, rank_ts=excluded.rank_ts",
        &[
            &copy.key,
            &copy.session_id,
            &copy.ts,
            &copy.model,
            &i,
            &o,
            &c5,
            &c1,
            &cr,
            &copy.cost,
            &copy.file,
            &copy.rank_ts,
        ],
    )?;
    if let Some(old) = before.filter(|old| *old != copy.session_id) {
        resum(tx, &old)?;
    }
    Ok(())
}

/// A call whose key is stored already: the copy that counts is the policy's;
/// the other, if in another file, is kept aside.
fn call_conflict(tx: Tx<'_, '_>, new: CallCopy) -> Result<()> {
    let old = copy_from_row(&tx.query_one(
        &format!("SELECT {CALL_COLS} FROM calls WHERE key = $1"),
        &[&new.key],
    )?);
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
pub(super) fn promote_copies(tx: Tx<'_, '_>, keys: &[String]) -> Result<()> {
    for key in keys {
        let found: Vec<CallCopy> = tx
            .query(
                &format!(
                    "SELECT {CALL_COLS} FROM call_copies c WHERE c.key = $1 AND NOT EXISTS
                       (SELECT 1 FROM sessions s WHERE s.id = c.session_id AND s.gone)"
                ),
                &[key],
            )?
            .iter()
            .map(copy_from_row)
            .collect();
        let Some(copy) = policy::best(found) else {
            continue;
        };
        if let Some(now) = tx.query_opt(
            &format!("SELECT {CALL_COLS} FROM calls WHERE key = $1"),
            &[key],
        )? {
            put_aside(tx, &copy_from_row(&now))?;
        }
        tx.execute(
            "DELETE FROM call_copies WHERE key = $1 AND file = $2",
            &[&copy.key, &copy.file],
        )?;
        make_current(tx, &copy)?;
        resum(tx, &copy.session_id)?;
    }
    Ok(())
}

/// A session's token and cost totals recounted from its calls; its usage is
/// rolled up again at the next report.
pub(super) fn resum(tx: Tx<'_, '_>, id: &str) -> Result<()> {
    let rows = tx.query(
        "SELECT input, output, cache_5m, cache_1h, cache_read, cost FROM calls WHERE session_id = $1",
        &[&id],
    )?;
    let t = policy::recount(
        rows.iter()
            .map(|r| ([r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)], r.get(5))),
    );
    write_totals(tx, id, &t)?;
    tx.execute(
        "INSERT INTO usage_dirty (session_id) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&id],
    )?;
    Ok(())
}

/// A session's tags as its `tag_list` keeps them (`id`: the SQL of its id).
fn tags_of(id: &str) -> String {
    format!("ARRAY(SELECT g.tag FROM tags g WHERE g.session_id = {id} ORDER BY g.tag)")
}

/// A session's names as its `name_list` keeps them (`id`: the SQL of its id).
fn names_of(id: &str) -> String {
    format!(
        "ARRAY(SELECT DISTINCT n.name FROM name_sessions n WHERE n.session_id = {id} ORDER BY 1)"
    )
}

/// A new session row's tags and names (`$1` its id): names given before it
/// was indexed, or kept when it was deleted, are its own again.
fn labels() -> String {
    format!("{}, {}", tags_of("$1"), names_of("$1"))
}

/// Writes a session's tags again from the table (after a change to it).
pub(super) fn write_tags(tx: Tx<'_, '_>, id: &str) -> Result<()> {
    tx.execute(
        &format!(
            "UPDATE sessions SET tag_list = {} WHERE id = $1",
            tags_of("$1")
        ),
        &[&id],
    )?;
    Ok(())
}

/// Writes again the names of the sessions a name points at (`$1`), and of
/// `also` (after a change to the name's rows).
pub(super) fn write_names(tx: Tx<'_, '_>, name: &str, also: &[&str]) -> Result<()> {
    tx.execute(
        &format!(
            "UPDATE sessions s SET name_list = {}
             WHERE s.id IN (SELECT session_id FROM name_sessions WHERE name = $1) OR s.id = ANY($2)",
            names_of("s.id")
        ),
        &[&name, &also],
    )?;
    Ok(())
}

pub(super) fn write_totals(tx: Tx<'_, '_>, id: &str, t: &policy::Totals) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET input_tokens = $2, output_tokens = $3, cache_creation_tokens = $4,
           cache_read_tokens = $5, cost_usd = $6,
           touched_count = (SELECT COUNT(*) FROM touched WHERE session_id = $1) WHERE id = $1",
        &[
            &id,
            &t.input,
            &t.output,
            &t.cache_creation,
            &t.cache_read,
            &t.cost,
        ],
    )?;
    Ok(())
}
