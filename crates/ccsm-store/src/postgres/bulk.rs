//! A catalog built from nothing: the full-text index is dropped first and
//! built whole at the end. Row by row, each text row's words went into the GIN
//! index one by one (a wide vocabulary made the build 3.4x SQLite's); built
//! whole, the entries are sorted once. While it is away a search still
//! answers (reading every row); a load cut short leaves a mark, and the next
//! sync of the host that made it, or of any host an hour later, builds the
//! index again.

use super::*;

/// The `meta` key of a bulk load under way: the host making it and since when.
const MARK: &str = "bulk_load";

/// How long another host's bulk load is trusted to be under way.
const STALE_MS: i64 = 3_600_000;

const CREATE: &str = "CREATE INDEX IF NOT EXISTS texts_tsv ON texts USING GIN (tsv)";

pub(super) fn index_exists(c: &mut impl Sql) -> Result<bool> {
    Ok(
        c.query_one("SELECT to_regclass('texts_tsv') IS NOT NULL", &[])?
            .get(0),
    )
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
        tx.batch_execute("DROP INDEX IF EXISTS texts_tsv")?;
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

/// Builds the index whole (with room to sort its entries) and clears the mark.
pub(super) fn end(tx: &mut Tx<'_>) -> Result<()> {
    tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
    tx.batch_execute(CREATE)?;
    tx.execute("DELETE FROM meta WHERE key = $1", &[&MARK])?;
    Ok(())
}
