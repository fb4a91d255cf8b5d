//! A catalog built from nothing: the full-text index is dropped first and
//! built whole at the end. Row by row, each text row's words went into the GIN
//! index one by one (a wide vocabulary made the build 3.4x SQLite's); built
//! whole, the entries are sorted once, and its two halves (migration 6) on two
//! connections at once. While it is away a search still answers (reading every
//! row); a load cut short leaves a mark, and the next sync of the host that
//! made it, or of any host an hour later, builds the index again.

use super::*;

/// The `meta` key of a bulk load under way: the host making it and since when.
const MARK: &str = "bulk_load";

/// How long another host's bulk load is trusted to be under way.
const STALE_MS: i64 = 3_600_000;

/// The word index's halves: rows of even and of odd id.
pub(super) const HALVES: [&str; 2] = ["texts_tsv_0", "texts_tsv_1"];

/// What a search adds to its words for the planner to read both halves.
pub(super) const BOTH_HALVES: &str = "(x.id % 2 = 0 OR x.id % 2 = 1)";

/// Room for a half's build to sort its entries (two at once).
const SORT_MEMORY: &str = "SET maintenance_work_mem = '256MB'";

/// Builds a half unless it is there. Two builders of one half would both
/// find it missing and both build it, the second failing on its name: each
/// waits on the half's own lock, and the one that comes second finds it
/// made.
fn create(half: usize) -> String {
    format!(
        "SELECT pg_advisory_xact_lock({}); \
         CREATE INDEX IF NOT EXISTS {} ON texts USING GIN (tsv) WHERE id % 2 = {half}",
        HALF_LOCK + half as i64,
        HALVES[half]
    )
}

/// The advisory locks of the halves' builds (one each, after the writers').
const HALF_LOCK: i64 = super::WRITE_LOCK + 1;

pub(super) fn index_exists(c: &mut impl Sql) -> Result<bool> {
    Ok(c.query_one(
        "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
        &[&HALVES[0], &HALVES[1]],
    )?
    .get(0))
}

/// Drops the index when `much` is to be written into an empty catalog (and
/// says so); else puts back an index a bulk load cut short left out.
pub(super) fn begin(tx: &mut Tx<'_>, host: &str, much: bool) -> Result<bool> {
    let present = index_exists(tx)?;
    if much && present {
        let empty: bool = tx
            .query_one("SELECT NOT EXISTS (SELECT 1 FROM texts)", &[])?
            .get(0);
        if !empty {
            return Ok(false);
        }
        tx.batch_execute(&format!(
            "DROP INDEX IF EXISTS {}; DROP INDEX IF EXISTS {}",
            HALVES[0], HALVES[1]
        ))?;
        PgStore::set_meta(tx, MARK, &format!("{host}\t{}", now_ms()))?;
        return Ok(true);
    }
    if !present {
        let mark = PgStore::meta_in(tx, MARK)?;
        let (by, since) = mark
            .as_deref()
            .and_then(|m| m.split_once('\t'))
            .map(|(h, t)| (h.to_owned(), t.parse::<i64>().unwrap_or(0)))
            .unwrap_or_default();
        let under_way = mark.is_some() && by != host && now_ms() - since < STALE_MS;
        if !under_way {
            end(tx)?;
        }
    }
    Ok(false)
}

/// Builds the half `half` on a connection of its own (the two at once:
/// [`PgStore::end_bulk`]), outside the writers' lock.
/// Its memory setting lasts the transaction: a failed build leaves none on
/// the pooled connection.
pub(super) fn build_half(c: &mut client::Client, half: usize) -> Result<()> {
    let mut tx = c.begin(&SORT_MEMORY.replace("SET", "SET LOCAL"))?;
    tx.batch_execute(&create(half))?;
    tx.commit()?;
    Ok(())
}

/// Builds whatever half is missing, one after the other, and clears the mark.
pub(super) fn end(tx: &mut Tx<'_>) -> Result<()> {
    tx.batch_execute(&SORT_MEMORY.replace("SET", "SET LOCAL"))?;
    for half in 0..HALVES.len() {
        tx.batch_execute(&create(half))?;
    }
    tx.execute("DELETE FROM meta WHERE key = $1", &[&MARK])?;
    Ok(())
}
