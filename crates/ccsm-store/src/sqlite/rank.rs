//! `ccsm_rank(text_fts)`: the score a ranked search orders by, as an FTS5
//! auxiliary function of ccsm's own.
//!
//! FTS5's `bm25` counts, for its IDF, every row of the index that holds each
//! phrase of the query (`xQueryPhrase`), whatever rows the query looks at: for a
//! word that is everywhere that is a scan of its whole doclist on every search,
//! growing with the history (15 ms of 17-22 at 1 GiB). `ccsm_rank` scores a row
//! from its own phrase instances only: per phrase and column, a saturating term
//! frequency (BM25's `tf (k1 + 1) / (tf + k1)`, without the length part, which
//! would read each row's size), titles and prompts weighing ten times a body;
//! each phrase weighs the same unless the call gives weights (one number per
//! phrase after the table). Lower is better, as FTS5's `rank`.
//!
//! SQLite's C API is the only way to add one (rusqlite has no FTS5 extension
//! API), hence the `unsafe` below: a pointer to FTS5's API is fetched with
//! `SELECT fts5(?1)` and the function is registered on each connection.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::ptr;

use rusqlite::{ffi, Connection};

/// Column weights: `title` (titles and prompts), then `body`.
const WEIGHTS: [f64; 2] = [10.0, 1.0];
const K1: f64 = 1.2;

/// The function FTS5 calls for each row it scores.
unsafe extern "C" fn ccsm_rank(
    api: *const ffi::Fts5ExtensionApi,
    fts: *mut ffi::Fts5Context,
    ctx: *mut ffi::sqlite3_context,
    n_val: c_int,
    vals: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: FTS5 passes a valid API table and context for the call's duration,
    // and `vals` holds `n_val` values.
    unsafe {
        let api = &*api;
        let (Some(phrase_count), Some(inst_count), Some(inst)) =
            (api.xPhraseCount, api.xInstCount, api.xInst)
        else {
            ffi::sqlite3_result_double(ctx, 0.0);
            return;
        };
        let phrases = usize::try_from(phrase_count(fts)).unwrap_or(0);
        let mut tf = vec![[0f64; 2]; phrases];
        let mut n: c_int = 0;
        if inst_count(fts, &mut n) != ffi::SQLITE_OK {
            ffi::sqlite3_result_double(ctx, 0.0);
            return;
        }
        for i in 0..n {
            let (mut p, mut c, mut o): (c_int, c_int, c_int) = (0, 0, 0);
            if inst(fts, i, &mut p, &mut c, &mut o) != ffi::SQLITE_OK {
                continue;
            }
            if let (Ok(p), Ok(c)) = (usize::try_from(p), usize::try_from(c)) {
                if let Some(slot) = tf.get_mut(p).and_then(|t| t.get_mut(c.min(1))) {
                    *slot += 1.0;
                }
            }
        }
        let mut score = 0.0;
        for (p, cols) in tf.iter().enumerate() {
            let weight = match c_int::try_from(p) {
                Ok(i) if i < n_val => ffi::sqlite3_value_double(*vals.add(p)),
                _ => 1.0,
            };
            for (c, &t) in cols.iter().enumerate() {
                if t > 0.0 {
                    score += weight * WEIGHTS[c] * t * (K1 + 1.0) / (t + K1);
                }
            }
        }
        ffi::sqlite3_result_double(ctx, -score);
    }
}

/// Adds `ccsm_rank` to a connection (every connection that searches).
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is this open connection's; the statement is finalized
    // before returning; the API pointer FTS5 writes lives as long as the
    // connection, which is when the function can be called.
    unsafe {
        let db = conn.handle();
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(
            db,
            c"SELECT fts5(?1)".as_ptr(),
            -1,
            &mut stmt,
            ptr::null_mut(),
        );
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("fts5 is not available".into()),
            ));
        }
        let mut api: *mut ffi::fts5_api = ptr::null_mut();
        ffi::sqlite3_bind_pointer(
            stmt,
            1,
            (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(stmt);
        ffi::sqlite3_finalize(stmt);
        let create = api.as_ref().and_then(|a| a.xCreateFunction);
        let Some(create) = create else {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ERROR),
                Some("fts5 gave no extension API".into()),
            ));
        };
        let rc = create(
            api,
            c"ccsm_rank".as_ptr(),
            ptr::null_mut(),
            Some(ccsm_rank),
            None,
        );
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(rc),
                Some("registering ccsm_rank".into()),
            ));
        }
    }
    Ok(())
}
