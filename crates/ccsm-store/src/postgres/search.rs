//! Full-text search on PostgreSQL: the same language, filters and answers as
//! SQLite's. Newest first: the matching rows from the newest down, a batch at a
//! time, until enough sessions; ranked: the newest [`RANK_WINDOW`] matching rows
//! scored by `ts_rank` (titles ten times a body), then the newest other
//! matching sessions. Snippets are cut by ccsm ([`crate::tokens::snippet`]).

use super::bulk::BOTH_HALVES;
use super::*;
use crate::{SearchHit, SearchQuery};

/// How many of the newest matching rows a ranked search scores (as on SQLite).
const RANK_WINDOW: i64 = 1000;

/// Weights of `ts_rank`, for D, C, B, A: a body's words (D) weigh a tenth of a
/// title's (A).
const RANK_WEIGHTS: &str = "{0.1, 0.1, 0.1, 1.0}";

/// A parameter of a query being built.
type Param = Box<dyn ToSql + Sync>;

/// The WHERE conditions and parameters of a search's filters; placeholders are
/// numbered after the `taken` ones.
fn filters(q: &SearchQuery, taken: usize) -> (Vec<String>, Vec<Param>) {
    let mut w = Vec::new();
    let mut p: Vec<Param> = Vec::new();
    let bind = |p: &mut Vec<Param>, v: Param| {
        p.push(v);
        format!("${}", taken + p.len())
    };
    if let Some(proj) = &q.project {
        if proj.starts_with('/') {
            let x = bind(&mut p, Box::new(proj.trim_end_matches('/').to_owned()));
            w.push(format!("s.project_path = {x}"));
        } else {
            let x = bind(&mut p, Box::new(format!("%/{}", like_escape(proj))));
            w.push(format!("s.project_path ILIKE {x}"));
        }
    }
    if !q.project_folders.is_empty() {
        let mut any = Vec::new();
        for (host, path) in &q.project_folders {
            let x = bind(&mut p, Box::new(path.clone()));
            any.push(match host {
                Some(h) => {
                    let y = bind(&mut p, Box::new(h.clone()));
                    format!("(s.project_path = {x} AND s.host = {y})")
                }
                None => format!("s.project_path = {x}"),
            });
        }
        w.push(format!("({})", any.join(" OR ")));
    }
    for t in &q.tags {
        let x = bind(&mut p, Box::new(t.clone()));
        w.push(format!(
            "(s.native_tag = {x} OR EXISTS (SELECT 1 FROM tags t WHERE t.session_id = s.id AND t.tag = {x}))"
        ));
    }
    for n in &q.names {
        let x = bind(&mut p, Box::new(n.clone()));
        w.push(format!(
            "EXISTS (SELECT 1 FROM name_sessions n WHERE n.session_id = s.id AND n.name = {x})"
        ));
    }
    if let Some(m) = &q.model {
        let x = bind(&mut p, Box::new(format!("%{}%", like_escape(m))));
        w.push(format!("s.models ILIKE {x}"));
    }
    if let Some(b) = &q.branch {
        let x = bind(&mut p, Box::new(b.clone()));
        w.push(format!("s.git_branch = {x}"));
    }
    if let Some(a) = q.after {
        let x = bind(&mut p, Box::new(a));
        w.push(format!("COALESCE(s.last_activity, s.last_modified) >= {x}"));
    }
    if let Some(b) = q.before {
        let x = bind(&mut p, Box::new(b));
        w.push(format!(
            "COALESCE(s.first_activity, s.created_at, s.last_modified) <= {x}"
        ));
    }
    if let Some(c) = q.cost_gt {
        let x = bind(&mut p, Box::new(c));
        w.push(format!("s.cost_usd > {x}"));
    }
    if let Some(c) = q.cost_lt {
        let x = bind(&mut p, Box::new(c));
        w.push(format!("s.cost_usd < {x}"));
    }
    for t in &q.tools {
        // (A plain position, not ILIKE: the planner then walks the newest
        // sessions and stops at the first it needs, 9 ms -> 0.1 ms.)
        let x = bind(&mut p, Box::new(format!(",{},", t.to_lowercase())));
        w.push(format!("strpos(lower(',' || s.tools || ','), {x}) > 0"));
    }
    if let Some(h) = &q.host {
        let x = bind(&mut p, Box::new(h.clone()));
        w.push(format!("s.host = {x}"));
    }
    if q.archived {
        w.push("s.archived".into());
    }
    if q.gone {
        w.push("s.gone".into());
    }
    (w, p)
}

/// `s` matched literally by LIKE (SQLite's LIKE has no escapes; `%` and `_` in a
/// filter are rare, and literal is what a user means).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn refs(p: &[Param]) -> Params<'_> {
    p.iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A matching row: its id, session and kind.
struct Row {
    id: i64,
    session: String,
}

impl PgStore {
    pub(super) fn search_hits(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let mut c = self.conn()?;
        // One snapshot for the few queries of a search.
        // A statement kept on the connection is planned for each search's own
        // words and filters, never once for all (the way depends on them).
        // No parallel workers: starting two cost more than a search's whole
        // walk (a ranked common word on the wide corpus, 13.4 ms with them,
        // 6.2-7.6 ms without).
        // A search for words reads the common words (which way to take) in
        // the same round trip.
        let read = if q.terms.is_empty() {
            String::new()
        } else {
            format!("SELECT value FROM meta WHERE key = '{COMMON_WORDS}'")
        };
        let (mut tx, kept) = c.snapshot_reading(
            "SET LOCAL plan_cache_mode = force_custom_plan;
             SET LOCAL max_parallel_workers_per_gather = 0",
            &read,
        )?;
        let limit = q.limit.max(1);
        if q.terms.is_empty() {
            let (w, p) = filters(q, 0);
            let cond = if w.is_empty() {
                "TRUE".into()
            } else {
                w.join(" AND ")
            };
            let mut p = p;
            p.push(Box::new(limit as i64));
            let rows = tx.query(
                &format!(
                    "SELECT {SESSION_COLS} FROM sessions s WHERE {cond}
                     ORDER BY s.last_modified DESC LIMIT ${}",
                    p.len()
                ),
                &refs(&p),
            )?;
            let sessions: Vec<_> = rows.iter().map(row_to_session).collect();
            return Ok(sessions
                .into_iter()
                .map(|session| SearchHit {
                    session,
                    snippet: String::new(),
                    kind: None,
                    score: 0.0,
                })
                .collect());
        }
        let Some(tsq) = crate::tokens::tsquery(&q.terms) else {
            return Ok(Vec::new());
        };
        // How common the words are decides the way of both the ranking and the
        // newest-first walk: asked once.
        let is_common = common(&mut tx, q, &tsq, kept)?;
        let mut picked: Vec<(Row, f64)> = Vec::new();
        if q.rank {
            picked = ranked(&mut tx, q, &tsq, is_common, limit)?;
        }
        if picked.len() < limit {
            let have: std::collections::HashSet<String> =
                picked.iter().map(|(r, _)| r.session.clone()).collect();
            let more = newest(&mut tx, q, &tsq, is_common, limit, &have)?;
            picked.extend(more.into_iter().map(|r| (r, 0.0)));
        }
        if picked.is_empty() {
            tx.commit()?;
            return Ok(Vec::new());
        }
        // The hits' sessions (their tags, names and touched files on their
        // rows) and texts in one query.
        let ids: Vec<&str> = picked.iter().map(|(r, _)| r.session.as_str()).collect();
        let rows: Vec<i64> = picked.iter().map(|(r, _)| r.id).collect();
        let mut got: std::collections::HashMap<i64, postgres::Row> = tx
            .query(
                &format!(
                    "SELECT {SESSION_COLS}, x.kind, x.title, x.body, x.id FROM texts x
                     JOIN sessions s ON s.id = x.session_id
                     WHERE x.id = ANY($1) AND s.id = ANY($2)"
                ),
                &[&rows, &ids],
            )?
            .into_iter()
            .map(|r| (r.get::<_, i64>(SESSION_NCOLS + 3), r))
            .collect();
        let mut hits = Vec::new();
        let mut sessions = Vec::new();
        for (row, score) in picked {
            let Some(r) = got.remove(&row.id) else {
                continue;
            };
            let kind: String = r.get(SESSION_NCOLS);
            let (title, body): (String, String) =
                (r.get(SESSION_NCOLS + 1), r.get(SESSION_NCOLS + 2));
            let text = if title.is_empty() { body } else { title };
            sessions.push(row_to_session(&r));
            hits.push((crate::tokens::snippet(&text, &q.terms), kind, score));
        }
        let mut out: Vec<SearchHit> = sessions
            .into_iter()
            .zip(hits)
            .map(|(session, (snippet, kind, score))| SearchHit {
                session,
                snippet,
                kind: Some(kind),
                score,
            })
            .collect();
        if !q.rank {
            out.sort_by(|a, b| {
                b.session
                    .last_modified
                    .cmp(&a.session.last_modified)
                    .then(b.session.id.cmp(&a.session.id))
            });
        }
        tx.commit()?;
        Ok(out)
    }
}

/// How many matching rows make a word common: below it, every match is read
/// through the GIN index; at or above it, rows are walked from the newest down.
const COMMON: i64 = 2000;

/// Makes the planner take one way for the rest of the transaction: the GIN
/// index (a bitmap of every match), or the primary key from the newest row
/// down (stopping at the first matches). Its own guess for a word it has no
/// statistics on (absent, rare, a prefix) walked a whole table.
fn take(tx: &mut Tx<'_>, gin: bool) -> Result<()> {
    tx.batch_execute(if gin {
        "SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = on"
    } else {
        "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on"
    })?;
    tx.forced = true;
    Ok(())
}

/// Gives the planner its own choice again, if [`take`] took it away (a
/// round trip saved when not: on a new connection each costs a command of
/// the CLI a few tenths of a millisecond).
fn untake(tx: &mut Tx<'_>) -> Result<()> {
    if tx.forced {
        tx.batch_execute("RESET enable_indexscan; RESET enable_seqscan; RESET enable_bitmapscan")?;
        tx.forced = false;
    }
    Ok(())
}

/// The `meta` key of the common words: the text rows counted by ANALYZE on
/// the first line, then a word and its share of rows on each line.
pub(super) const COMMON_WORDS: &str = "common_words";

/// The common words as ANALYZE left them in `pg_stats` (its most common
/// elements of the vectors), in the form [`COMMON_WORDS`] keeps.
pub(super) fn common_words_now(c: &mut impl Sql) -> Result<String> {
    let Some(r) = c.query_opt(
        "SELECT s.most_common_elems::text, s.most_common_elem_freqs, c.reltuples::float8
         FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
           AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = s.schemaname)
         WHERE s.schemaname = current_schema() AND s.tablename = 'texts' AND s.attname = 'tsv'
           AND s.most_common_elems IS NOT NULL",
        &[],
    )?
    else {
        return Ok(String::new());
    };
    let (elems, freqs, rows): (String, Vec<f32>, f64) = (r.get(0), r.get(1), r.get(2));
    let mut out = format!("{rows}\n");
    let words = elems
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .map(|e| e.trim_matches('"'));
    for (w, f) in words.zip(freqs) {
        out.push_str(&format!("{w}\t{f}\n"));
    }
    Ok(out)
}

/// Whether the query matches at least [`COMMON`] rows: by the common words
/// ANALYZE found (kept in `meta` by `optimize`; a word not among them is
/// rare; a prefix counts the common words it begins), else, before any
/// statistics, by a count through the GIN index that stops at [`COMMON`].
fn common(tx: &mut Tx<'_>, q: &SearchQuery, tsq: &str, kept: Option<String>) -> Result<bool> {
    let terms = crate::tokens::term_words(&q.terms);
    // (A catalog not optimized since this was kept: from `pg_stats` itself.)
    let kept: String = match kept {
        Some(k) => k,
        None => common_words_now(tx)?,
    };
    if let Some((rows, list)) = kept.split_once('\n') {
        let rows: f64 = rows.parse().unwrap_or(0.0);
        let share: Vec<(&str, f64)> = list
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(w, f)| (w, f.parse().unwrap_or(0.0)))
            .collect();
        let exact = |w: &str| share.iter().find(|(x, _)| *x == w).map_or(0.0, |(_, f)| *f);
        let begins = |w: &str| {
            share
                .iter()
                .filter(|(x, _)| x.starts_with(w))
                .map(|(_, f)| f)
                .sum::<f64>()
        };
        // Every term must occur: the query matches at most as many rows as
        // its rarest word (a prefix: the common words it begins, together).
        let least = terms
            .iter()
            .flat_map(|(words, prefix)| {
                let last = words.len().saturating_sub(1);
                words.iter().enumerate().map(move |(i, w)| {
                    if *prefix && i == last {
                        begins(w)
                    } else {
                        exact(w)
                    }
                })
            })
            .fold(f64::INFINITY, f64::min);
        return Ok(least * rows >= COMMON as f64);
    }
    take(tx, true)?;
    let n: i64 = tx
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM texts x
                 WHERE x.tsv @@ $1::text::tsquery AND {BOTH_HALVES} LIMIT $2) m"
            ),
            &[&tsq, &COMMON],
        )?
        .get(0);
    Ok(n >= COMMON)
}

/// The sessions the filters allow, newest first (`None`: no filter).
fn allowed(tx: &mut Tx<'_>, q: &SearchQuery) -> Result<Option<Vec<String>>> {
    let (w, p) = filters(q, 0);
    if w.is_empty() {
        return Ok(None);
    }
    let rows = tx.query(
        &format!(
            "SELECT s.id FROM sessions s WHERE {} ORDER BY s.last_modified DESC, s.id DESC",
            w.join(" AND ")
        ),
        &refs(&p),
    )?;
    Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
}

/// The first `limit` sessions (other than `have`) with a matching row, newest
/// first, each with its newest matching row. A rare word: all its rows from
/// the GIN index. A common one: rows walked from the newest down, or, under
/// filters, a look into each session they allow, newest first (most match).
fn newest(
    tx: &mut Tx<'_>,
    q: &SearchQuery,
    tsq: &str,
    is_common: bool,
    limit: usize,
    have: &std::collections::HashSet<String>,
) -> Result<Vec<Row>> {
    let (conds, params) = filters(q, 3);
    if !conds.is_empty() && is_common {
        // The sessions the filters allow, newest first down their index, each
        // looked into by the index of its rows from its newest down to its
        // first match (most sessions match near their end); it stops at the
        // `limit`-th session found, having read a few rows of each.
        // (No parallel workers: set when the snapshot began.)
        untake(tx)?;
        let skip: Vec<&str> = have.iter().map(String::as_str).collect();
        let mut p: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&tsq, &skip];
        let want = limit as i64;
        p.push(&want);
        params.iter().for_each(|x| p.push(x.as_ref()));
        let rows = tx.query(
            &format!(
                "SELECT m.id, s.id FROM sessions s
                 CROSS JOIN LATERAL (SELECT id FROM texts
                    WHERE session_id = s.id AND tsv @@ $1::text::tsquery
                    ORDER BY session_id DESC, id DESC LIMIT 1) m
                 WHERE {} AND s.id <> ALL($2)
                 ORDER BY s.last_modified DESC, s.id DESC LIMIT $3",
                conds.join(" AND ")
            ),
            &p,
        )?;
        return Ok(rows
            .iter()
            .map(|r| Row {
                id: r.get(0),
                session: r.get(1),
            })
            .collect());
    }
    let allowed = allowed(tx, q)?;
    if allowed.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let ok: Option<std::collections::HashSet<&str>> = allowed
        .as_ref()
        .map(|ids| ids.iter().map(String::as_str).collect());
    let mut found: Vec<Row> = Vec::new();
    let mut seen: std::collections::HashSet<String> = have.clone();
    let mut keep = |id: i64, session: String, found: &mut Vec<Row>| {
        if ok.as_ref().is_none_or(|s| s.contains(session.as_str())) && seen.insert(session.clone())
        {
            found.push(Row { id, session });
        }
    };
    if ok.is_some() || !is_common {
        take(tx, true)?;
        for r in tx.query(
            &format!(
                "SELECT x.id, x.session_id FROM texts x
                 WHERE x.tsv @@ $1::text::tsquery AND {BOTH_HALVES} ORDER BY x.id DESC"
            ),
            &[&tsq],
        )? {
            keep(r.get(0), r.get(1), &mut found);
            if found.len() >= limit {
                break;
            }
        }
        return Ok(found);
    }
    take(tx, false)?;
    // From the newest matching row down, a step at a time: a match, then on
    // to the start of its run (the session's rows written with it), so that
    // a session found is not read row by row. A session found again (its
    // text in several runs) or ranked already costs a step; a row outside
    // any known run, one row.
    let steps = (limit as i64 * 2).max(16);
    let mut cursor = i64::MAX;
    loop {
        let rows = tx.query(
            "WITH RECURSIVE w(n, id, next) AS (
                 SELECT 0, 0::bigint, $2::bigint
               UNION ALL
                 SELECT w.n + 1, m.id,
                        CASE WHEN r.last_id >= m.id THEN r.first_id ELSE m.id END
                 FROM w
                 CROSS JOIN LATERAL (SELECT id FROM texts
                    WHERE id < w.next AND tsv @@ $1::text::tsquery
                    ORDER BY id DESC LIMIT 1) m
                 LEFT JOIN LATERAL (SELECT first_id, last_id FROM text_runs
                    WHERE first_id <= m.id ORDER BY first_id DESC LIMIT 1) r ON TRUE
                 WHERE w.n < $3::bigint)
             SELECT w.id, t.session_id, w.next FROM w JOIN texts t ON t.id = w.id
             WHERE w.n > 0 ORDER BY w.n",
            &[&tsq, &cursor, &steps],
        )?;
        let n = rows.len() as i64;
        for r in &rows {
            cursor = r.get(2);
            keep(r.get(0), r.get(1), &mut found);
            if found.len() >= limit {
                return Ok(found);
            }
        }
        if n < steps {
            return Ok(found);
        }
    }
}

/// Sessions few enough to be read through their own index (all their rows)
/// rather than by a walk of the newest rows that passes over the others'.
const FEW_SESSIONS: usize = 50;

/// The newest [`RANK_WINDOW`] matching rows (of the sessions the filters
/// allow), best first, one per session, at most `limit`. The filters are a
/// subquery the statement makes once into a hashed set: a row is kept by a
/// look into it, not a join per row (a common word with a filter joined
/// thousands of rows: 700 ms).
fn ranked(
    tx: &mut Tx<'_>,
    q: &SearchQuery,
    tsq: &str,
    is_common: bool,
    limit: usize,
) -> Result<Vec<(Row, f64)>> {
    let (conds, params) = filters(q, 3);
    let gin = !is_common;
    let mut only = String::new();
    if conds.is_empty() {
        take(tx, gin)?;
    } else {
        // The sessions the filters allow, as a hashed set made once by the
        // statement (passed as a list of ids, thousands of them were planned
        // as constants: 10 ms).
        let (first, at_one) = filters(q, 0);
        let n: i64 = tx
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM sessions s WHERE {} LIMIT {}) f",
                    first.join(" AND "),
                    FEW_SESSIONS + 1
                ),
                &refs(&at_one),
            )?
            .get(0);
        if n == 0 {
            return Ok(Vec::new());
        }
        if n as usize <= FEW_SESSIONS {
            untake(tx)?;
        } else {
            take(tx, gin)?;
        }
        only = format!(
            "AND x.session_id IN (SELECT s.id FROM sessions s WHERE {})",
            conds.join(" AND ")
        );
    }
    let sql = format!(
        "WITH win AS MATERIALIZED (
            SELECT x.id, x.session_id, x.tsv FROM texts x
            WHERE x.tsv @@ $1::text::tsquery AND {BOTH_HALVES} {only}
            ORDER BY x.id DESC LIMIT $2)
         SELECT id, session_id, ts_rank($3::text::float4[], tsv, $1::text::tsquery)::float8 AS score
         FROM win ORDER BY score DESC, id DESC"
    );
    let window = RANK_WINDOW;
    let mut p: Params<'_> = vec![&tsq, &window, &RANK_WEIGHTS];
    p.extend(params.iter().map(|x| x.as_ref()));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in tx.query(&sql, &p)? {
        let (id, session, score): (i64, String, f64) = (r.get(0), r.get(1), r.get(2));
        if seen.insert(session.clone()) {
            out.push((Row { id, session }, score));
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}
