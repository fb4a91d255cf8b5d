#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

pub(super) fn words_phrases_prefixes(store: &dyn Store) {
    // Words, phrases, prefixes; a phrase said only in a tool input.
    assert_eq!(ids(&search(store, r#""rollout restart""#)), vec!["s-a"]);
    assert_eq!(ids(&search(store, "refac*")), vec!["s-b"]);
    assert!(search(store, "nonexistentword").is_empty());
    assert!(search(store, "deploy")
        .first()
        .unwrap()
        .snippet
        .contains("[deploy]"));
    // Newest first by default; every session matching.
    assert_eq!(ids(&search(store, "summary")), vec!["s-a", "s-b"]);
}

pub(super) fn filters(store: &dyn Store) {
    // Every filter.
    assert_eq!(ids(&search(store, "project:/src/a")), vec!["s-a"]);
    assert_eq!(ids(&search(store, "project:b")), vec!["s-b"]);
    assert_eq!(ids(&search(store, "tag:parser")), vec!["s-b"]);
    assert_eq!(ids(&search(store, "name:work summary")), vec!["s-a", "s-b"]);
    assert_eq!(ids(&search(store, "model:sonnet")).len(), 2);
    assert_eq!(ids(&search(store, "branch:main")).len(), 2);
    assert!(search(store, "branch:dev").is_empty());
    assert_eq!(ids(&search(store, "cost>0.5")), vec!["s-a"]);
    assert_eq!(ids(&search(store, "cost<0.5")), vec!["s-b"]);
    assert_eq!(ids(&search(store, "has:tool:Bash")).len(), 2);
    assert!(search(store, "has:tool:Write").is_empty());
    assert!(search(store, "after:2100-01-01").is_empty());
    assert_eq!(search(store, "before:2100-01-01").len(), 2);
    assert!(search(store, "is:archived").is_empty());
}

pub(super) fn interleaved_runs(store: &dyn Store) {
    // Runs of text interleave (a session appended to after another was indexed):
    // newest-first search still finds every session, once, and honours limits.
    ingest(
        store,
        session("s-x", "/src/x", 6_000),
        true,
        vec![chunk("x1", "user", "needle in x")],
        vec![],
    );
    ingest(
        store,
        session("s-y", "/src/y", 7_000),
        true,
        vec![chunk("y1", "user", "needle in y")],
        vec![],
    );
    let mut x2 = session("s-x", "/src/x", 8_000);
    x2.messages = 1;
    ingest(
        store,
        x2,
        false,
        vec![chunk("x2", "user", "more needle talk")],
        vec![],
    );
    assert_eq!(ids(&search(store, "needle")), vec!["s-x", "s-y"]);
    store.tidy().unwrap();
    assert_eq!(
        ids(&search(store, "needle")),
        vec!["s-x", "s-y"],
        "a merge step keeps what it merges"
    );
    assert_eq!(ids(&search(store, "needl*")), vec!["s-x", "s-y"]);
    assert_eq!(ids(&search(store, "needle in")), vec!["s-x", "s-y"]);
    assert_eq!(ids(&search(store, "needle project:/src/y")), vec!["s-y"]);
    assert_eq!(ids(&search(store, "talk project:/src/x")), vec!["s-x"]);
    let mut one = SearchQuery::parse("needle").unwrap();
    one.limit = 1;
    assert_eq!(store.search(&one).unwrap().len(), 1);
    assert!(store.delete("s-x").unwrap() && store.delete("s-y").unwrap());
}
