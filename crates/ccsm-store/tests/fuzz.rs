//! Property tests (proptest) for the search language: any text parses or is refused
//! with a clear message, and any query that parses runs (no raw FTS5 or SQLite
//! error reaches the user). Briefly in `scripts/test`; longer by hand
//! (`docs/fuzzing.md`).
#![allow(clippy::unwrap_used)]

use ccsm_store::{SearchQuery, SqliteStore, Store};
use proptest::prelude::*;

fn store() -> &'static SqliteStore {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, SqliteStore)> =
        std::sync::OnceLock::new();
    &STORE
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let s = SqliteStore::open(&tmp.path().join("c.db")).unwrap();
            (tmp, s)
        })
        .1
}

/// Words, operators, quotes and filters, as people and scripts type them.
fn query() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-zA-Z0-9]{1,8}",
        "[a-z]{1,5}\\*",
        "\"[a-z ]{0,10}\"",
        prop::sample::select(vec![
            "AND",
            "OR",
            "NOT",
            "NEAR",
            "(",
            ")",
            "*",
            "^",
            "-",
            "+",
            ":",
            "\"",
            "'",
            "{",
            "}",
            "project:~/x",
            "tag:",
            "name:a",
            "model:",
            "branch:b",
            "after:2026-01-01",
            "before:20260101",
            "after:nope",
            "cost>1",
            "cost<x",
            "cost>",
            "has:tool:Bash",
            "is:archived",
            "is:gone",
            "is:x",
            "title:x",
            "ünïcode",
            "日本語",
            "\u{0}",
        ])
        .prop_map(str::to_owned),
        "[ -~]{1,6}",
    ];
    prop::collection::vec(part, 0..12).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_query_parses_or_is_refused_and_a_parsed_one_runs(q in query(), rank in any::<bool>()) {
        if let Ok(mut parsed) = SearchQuery::parse(&q) {
            parsed.rank = rank;
            parsed.limit = 5;
            if let Err(e) = store().search(&parsed) {
                prop_assert!(false, "{q:?} parsed but failed to run: {e}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(q in "\\PC{0,200}") {
        let _ = SearchQuery::parse(&q);
    }
}
