//! Full-text search: newest first through runs of text, or ranked.

#[allow(unused_imports)]
use super::*;

impl SqliteStore {
    /// The MATCH expression, with each prefix* replaced by the (at most 64) words of
    /// the index it stands for: FTS5 answers a prefix by merging the lists of every
    /// such word on each query, an OR of words it walks like any other term.
    pub(super) fn expanded_match(conn: &Connection, q: &SearchQuery) -> Result<Option<String>> {
        if q.terms.is_empty() {
            return Ok(None);
        }
        let quote = |t: &str| format!("\"{}\"", t.replace('"', "\"\""));
        let mut parts = Vec::new();
        // The first word at or after ?1 that starts with ?2; `word || char(0)` is the
        // least string after `word`, so each step seeks straight to the next word.
        let mut vocab = conn.prepare_cached(
            "SELECT term FROM text_vocab_i WHERE term >= ?1 AND term < ?2 || char(1114111) LIMIT 1",
        )?;
        for t in &q.terms {
            if !t.prefix {
                parts.push(quote(&t.text));
                continue;
            }
            let prefix = t.text.to_lowercase();
            let mut words: Vec<String> = Vec::new();
            let mut from = prefix.clone();
            while words.len() <= 64 {
                let Some(w) = vocab
                    .query_row([&from, &prefix], |r| r.get::<_, String>(0))
                    .optional()?
                else {
                    break;
                };
                from = format!("{w}\0");
                words.push(w);
            }
            if words.is_empty() || words.len() > 64 || t.phrase {
                parts.push(format!("{}*", quote(&t.text)));
            } else {
                let ors: Vec<String> = words.iter().map(|w| quote(w)).collect();
                parts.push(format!("({})", ors.join(" OR ")));
            }
        }
        Ok(Some(parts.join(" ")))
    }

    /// Newest first, two ways at once, one step of each in turn, until either has
    /// its answer: a *walk* of the full-text index from the highest rowid down,
    /// one session at a time (from a match straight to the start of its run),
    /// keeping the sessions the filters allow; and, when there are filters, a
    /// *look* into each session they allow, newest first. A rare word is found
    /// fast by the walk, a narrow filter by the look; neither scans what the
    /// other would skip, so the work is at most twice that of the better way. A
    /// filter nothing passes answers at once.
    pub(super) fn search_newest(
        conn: &Connection,
        q: &SearchQuery,
        m: &str,
    ) -> Result<Vec<SearchHit>> {
        let limit = q.limit.max(1);
        let (w, p) = Self::filters(q);
        let mut step = conn.prepare_cached(
            "SELECT rowid FROM text_fts WHERE text_fts MATCH ?1 AND rowid < ?2 AND rowid >= ?3
             ORDER BY rowid DESC LIMIT 1",
        )?;
        // The sessions the filters allow, newest first (all of them: no filter),
        // read one at a time as the look asks for them (their index is walked in
        // order: the look's cost follows the sessions it looks into, not how
        // many pass); a session the walk finds is checked alone.
        let mut all = vec![rusqlite::types::Value::Null];
        all.extend(p);
        let filtered = !w.is_empty();
        let cond = if filtered {
            w.join(" AND ")
        } else {
            "1".into()
        };
        let mut cands = conn.prepare_cached(&format!(
            "SELECT s.id FROM sessions s WHERE ?1 IS NULL AND {cond}
             ORDER BY s.last_modified DESC, s.id DESC"
        ))?;
        let mut one = conn.prepare_cached(&format!(
            "SELECT 1 FROM sessions s WHERE s.id = ?1 AND {cond}"
        ))?;
        let mut allowed = cands.query(rusqlite::params_from_iter(all.iter()))?;
        // The first allowed session: none, and the answer is known.
        let mut pending: Option<String> = match allowed.next()? {
            Some(r) => Some(r.get(0)?),
            None => return Ok(Vec::new()),
        };
        // The walk's state.
        let mut run_of = conn.prepare_cached(
            "SELECT first_id, last_id, session_id FROM text_runs WHERE first_id <= ?1
             ORDER BY first_id DESC LIMIT 1",
        )?;
        let mut session_of = conn.prepare_cached("SELECT session_id FROM texts WHERE id = ?1")?;
        let mut cursor = i64::MAX;
        let mut walked: Vec<(String, i64)> = Vec::new();
        let mut judged: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut walk_done = false;
        // The look's state. It asks for any match inside a run, first in rowid
        // order: FTS5 seeks forward through a word's doclist by its index, while
        // a backward seek into the middle of a long one walks page by page.
        let mut step_up = conn.prepare_cached(
            "SELECT rowid FROM text_fts WHERE text_fts MATCH ?1 AND rowid >= ?2 AND rowid <= ?3
             ORDER BY rowid ASC LIMIT 1",
        )?;
        let mut runs = conn.prepare_cached(
            "SELECT first_id, last_id FROM text_runs WHERE session_id = ?1 ORDER BY first_id DESC",
        )?;
        let mut looked: Vec<(String, i64)> = Vec::new();
        let found = loop {
            // One step of the walk: the next session with a match.
            if !walk_done {
                match step
                    .query_row(params![m, cursor, i64::MIN], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    None => walk_done = true,
                    Some(rowid) => {
                        let run: Option<(i64, i64, String)> = run_of
                            .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                            .optional()?;
                        let (next, id) = match run {
                            Some((lo, hi, id)) if rowid <= hi => (lo, id),
                            // Not in a known run: one row down.
                            _ => (rowid, session_of.query_row([rowid], |r| r.get(0))?),
                        };
                        cursor = next;
                        if judged.insert(id.clone()) {
                            let ok = !filtered || {
                                let mut args = all.clone();
                                args[0] = rusqlite::types::Value::Text(id.clone());
                                one.exists(rusqlite::params_from_iter(args))?
                            };
                            if ok {
                                walked.push((id, rowid));
                            }
                        }
                    }
                }
                if walk_done || walked.len() >= limit {
                    break walked;
                }
            }
            // One step of the look: the next allowed session, does it match?
            if filtered {
                let next = match pending.take() {
                    Some(id) => Some(id),
                    None => allowed.next()?.map(|r| r.get::<_, String>(0)).transpose()?,
                };
                match next {
                    None => break looked,
                    Some(id) => {
                        let rs: Vec<(i64, i64)> = runs
                            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<rusqlite::Result<_>>()?;
                        for (lo, hi) in rs {
                            let hit: Option<i64> = step_up
                                .query_row(params![m, lo, hi], |r| r.get(0))
                                .optional()?;
                            if let Some(rowid) = hit {
                                looked.push((id.clone(), rowid));
                                break;
                            }
                        }
                        if looked.len() >= limit {
                            break looked;
                        }
                    }
                }
            }
        };
        let mut sess = conn.prepare_cached(&format!(
            "SELECT {SESSION_COLS}, x.kind FROM sessions s JOIN texts x ON x.id = ?2 WHERE s.id = ?1"
        ))?;
        let mut snip = conn.prepare_cached(
            "SELECT snippet(text_fts, -1, '[', ']', '…', 16) FROM text_fts
             WHERE text_fts MATCH ?1 AND rowid = ?2",
        )?;
        let mut out = Vec::new();
        for (id, rowid) in found {
            let Some((session, kind)) = sess
                .query_row(params![id, rowid], |r| Ok((row_to_session(r)?, r.get(32)?)))
                .optional()?
            else {
                continue;
            };
            let snippet: String = snip
                .query_row(params![m, rowid], |r| r.get(0))
                .optional()?
                .unwrap_or_default();
            out.push(SearchHit {
                session: Self::fill(conn, session)?,
                snippet,
                kind,
                score: 0.0,
            });
        }
        out.sort_by(|a, b| {
            b.session
                .last_modified
                .cmp(&a.session.last_modified)
                .then(b.session.id.cmp(&a.session.id))
        });
        Ok(out)
    }

    /// The WHERE clause and parameters for a search's filters.
    pub(super) fn filters(q: &SearchQuery) -> (Vec<String>, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as V;
        let mut w = Vec::new();
        let mut p: Vec<V> = Vec::new();
        let bind = |p: &mut Vec<V>, v: V| {
            p.push(v);
            format!("?{}", p.len() + 1) // ?1 is the MATCH expression
        };
        if let Some(proj) = &q.project {
            if proj.starts_with('/') {
                let x = bind(&mut p, V::Text(proj.trim_end_matches('/').to_owned()));
                w.push(format!("s.project_path = {x}"));
            } else {
                let x = bind(&mut p, V::Text(format!("%/{proj}")));
                w.push(format!("s.project_path LIKE {x}"));
            }
        }
        if !q.project_folders.is_empty() {
            // A host's own catalog: its folders are the ones it was given.
            let xs: Vec<String> = q
                .project_folders
                .iter()
                .map(|(_, path)| bind(&mut p, V::Text(path.clone())))
                .collect();
            w.push(format!("s.project_path IN ({})", xs.join(", ")));
        }
        for t in &q.tags {
            let x = bind(&mut p, V::Text(t.clone()));
            w.push(format!(
                "(s.native_tag = {x} OR EXISTS (SELECT 1 FROM tags t WHERE t.session_id = s.id AND t.tag = {x}))"
            ));
        }
        for n in &q.names {
            let x = bind(&mut p, V::Text(n.clone()));
            w.push(format!(
                "EXISTS (SELECT 1 FROM name_sessions n WHERE n.session_id = s.id AND n.name = {x})"
            ));
        }
        if let Some(m) = &q.model {
            let x = bind(&mut p, V::Text(format!("%{m}%")));
            w.push(format!("s.models LIKE {x}"));
        }
        if let Some(b) = &q.branch {
            let x = bind(&mut p, V::Text(b.clone()));
            w.push(format!("s.git_branch = {x}"));
        }
        if let Some(a) = q.after {
            let x = bind(&mut p, V::Integer(a));
            w.push(format!("COALESCE(s.last_activity, s.last_modified) >= {x}"));
        }
        if let Some(b) = q.before {
            let x = bind(&mut p, V::Integer(b));
            w.push(format!(
                "COALESCE(s.first_activity, s.created_at, s.last_modified) <= {x}"
            ));
        }
        if let Some(c) = q.cost_gt {
            let x = bind(&mut p, V::Real(c));
            w.push(format!("s.cost_usd > {x}"));
        }
        if let Some(c) = q.cost_lt {
            let x = bind(&mut p, V::Real(c));
            w.push(format!("s.cost_usd < {x}"));
        }
        for t in &q.tools {
            let x = bind(&mut p, V::Text(format!("%,{t},%")));
            w.push(format!("(',' || s.tools || ',') LIKE {x}"));
        }
        if q.host.as_ref().is_some_and(|h| *h != crate::local_host()) {
            // A host's own catalog holds only its own sessions.
            w.push("0".into());
        }
        if q.archived {
            w.push("s.archived = 1".into());
        }
        if q.gone {
            w.push("s.gone = 1".into());
        }
        (w, p)
    }

    /// How many of the newest matching texts a ranked search scores: scoring
    /// (and joining to its session) every hit of a word that is everywhere costs
    /// time in proportion to the whole history; the best of the newest thousand
    /// is what people want. When they hold fewer sessions than asked for, the
    /// newest other matching sessions follow them.
    pub const RANK_WINDOW: i64 = 1000;

    /// The rowid of the oldest text a ranked search looks at: the
    /// [`Self::RANK_WINDOW`]-th newest match (none when there are fewer).
    fn rank_floor(conn: &Connection, m: &str) -> Result<Option<i64>> {
        let mut st = conn.prepare_cached(
            "SELECT rowid FROM text_fts WHERE text_fts MATCH ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
        )?;
        Ok(st
            .query_row(params![m, Self::RANK_WINDOW - 1], |r| r.get(0))
            .optional()?)
    }

    pub(super) fn search_sql(
        q: &SearchQuery,
        floor: Option<i64>,
    ) -> (String, Vec<rusqlite::types::Value>) {
        let (w, mut p) = Self::filters(q);
        let mut all = p.clone();
        let sql = match q.fts_match() {
            Some(m) => {
                all.insert(0, rusqlite::types::Value::Text(m));
                let mut conds = vec!["text_fts MATCH ?1".to_owned()];
                conds.extend(w);
                if let Some(f) = floor {
                    all.push(rusqlite::types::Value::Integer(f));
                    conds.push(format!("text_fts.rowid >= ?{}", all.len()));
                }
                // Ranked (newest first without ranking goes through
                // `search_newest`): the rows of the window, best first; the rows
                // are read until enough sessions are found, snippets made only
                // for those shown.
                let order = if q.rank {
                    "score"
                } else {
                    "text_fts.rowid DESC"
                };
                format!(
                    "SELECT {SESSION_COLS}, text_fts.rowid, x.kind,
                            ccsm_rank(text_fts) AS score
                     FROM text_fts JOIN texts x ON x.id = text_fts.rowid
                     JOIN sessions s ON s.id = x.session_id
                     WHERE {} ORDER BY {order}",
                    conds.join(" AND ")
                )
            }
            None => {
                // No MATCH: the placeholders start at ?2; bind a dummy ?1.
                all.insert(0, rusqlite::types::Value::Null);
                let cond = if w.is_empty() {
                    "?1 IS NULL".to_owned()
                } else {
                    format!("?1 IS NULL AND {}", w.join(" AND "))
                };
                format!(
                    "SELECT {SESSION_COLS}, NULL, NULL, 0.0 AS score FROM sessions s
                     WHERE {cond} ORDER BY s.last_modified DESC LIMIT ?{}",
                    all.len() + 1
                )
            }
        };
        if q.fts_match().is_none() {
            all.push(rusqlite::types::Value::Integer(q.limit.max(1) as i64));
        }
        p.clear();
        (sql, all)
    }

    /// A search: newest first through the runs of text, or ranked by FTS5.
    pub(super) fn search_hits(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let conn = self.read()?;
        if !q.rank && !q.terms.is_empty() {
            // One read transaction for the few dozen small queries of a search (not
            // a lock and unlock of the WAL for each).
            let tx = conn.unchecked_transaction()?;
            let hits = match Self::expanded_match(&tx, q)? {
                Some(m) => Self::search_newest(&tx, q, &m)?,
                None => Vec::new(),
            };
            tx.commit()?;
            return Ok(hits);
        }
        let floor = match q.fts_match() {
            Some(m) if q.rank => Self::rank_floor(&conn, &m)?,
            _ => None,
        };
        let (sql, p) = Self::search_sql(q, floor);
        let mut st = conn.prepare(&sql)?;
        let mut out: Vec<SearchHit> = Vec::new();
        let mut rowids: Vec<Option<i64>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut rows = st.query(rusqlite::params_from_iter(p))?;
        while let Some(r) = rows.next()? {
            // The session id first: most rows belong to a session already found.
            let id: String = r.get(0)?;
            if seen.contains(&id) {
                continue;
            }
            seen.insert(id);
            let s = row_to_session(r)?;
            rowids.push(r.get(32)?);
            out.push(SearchHit {
                session: s,
                snippet: String::new(),
                kind: r.get(33)?,
                score: r.get(34)?,
            });
            if out.len() >= q.limit.max(1) {
                break;
            }
        }
        drop(rows);
        drop(st);
        // Snippets only for the rows shown.
        if let Some(m) = q.fts_match() {
            let mut snip = conn.prepare_cached(
                "SELECT snippet(text_fts, -1, '[', ']', '…', 16) FROM text_fts
                 WHERE text_fts MATCH ?1 AND rowid = ?2",
            )?;
            for (h, rowid) in out.iter_mut().zip(&rowids) {
                if let Some(rowid) = rowid {
                    h.snippet = snip
                        .query_row(params![m, rowid], |r| r.get(0))
                        .optional()?
                        .unwrap_or_default();
                }
            }
        }
        // A full window with too few sessions: the newest other matches follow.
        let mut extra = Vec::new();
        if q.rank && floor.is_some() && out.len() < q.limit.max(1) {
            if let Some(m) = Self::expanded_match(&conn, q)? {
                let mut more = q.clone();
                more.limit = q.limit.max(1) + out.len();
                let have: std::collections::HashSet<String> =
                    out.iter().map(|h| h.session.id.clone()).collect();
                let room = q.limit.max(1) - out.len();
                extra = Self::search_newest(&conn, &more, &m)?
                    .into_iter()
                    .filter(|h| !have.contains(&h.session.id))
                    .take(room)
                    .collect();
            }
        }
        if !q.rank && q.fts_match().is_some() {
            out.sort_by(|a, b| {
                b.session
                    .last_modified
                    .cmp(&a.session.last_modified)
                    .then(b.session.id.cmp(&a.session.id))
            });
        }
        out.into_iter()
            .map(|mut h| {
                h.session = Self::fill(&conn, h.session)?;
                Ok(h)
            })
            .chain(extra.into_iter().map(Ok))
            .collect()
    }

    /// The plan SQLite uses for a search (tests check a filter uses an index).
    #[doc(hidden)]
    pub fn explain_search(&self, q: &SearchQuery) -> Result<String> {
        let conn = self.lock()?;
        let (sql, p) = Self::search_sql(q, None);
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let lines: Vec<String> = st
            .query_map(rusqlite::params_from_iter(p), |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("\n"))
    }
}
