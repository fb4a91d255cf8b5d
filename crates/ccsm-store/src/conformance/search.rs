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

pub(super) fn rare_words_narrow_filters_and_big_rankings(store: &dyn Store) {
    // An old session with a rare word; a narrow filter's only session, old too;
    // then many recent sessions with a common word (indexed oldest first, as a
    // sync does).
    ingest(
        store,
        session("s-rare", "/src/wide", 10_000),
        true,
        vec![chunk("r1", "user", "quokka and one zebrafish")],
        vec![],
    );
    let mut narrow = session("s-narrow", "/src/narrow", 10_500);
    narrow.tools = vec!["Grep".into()];
    ingest(
        store,
        narrow,
        true,
        vec![chunk("n1", "user", "quokka in a corner")],
        vec![],
    );
    for i in 0..40 {
        ingest(
            store,
            session(&format!("s-w{i:02}"), "/src/wide", 20_000 + i),
            true,
            vec![chunk(&format!("w{i}"), "user", "quokka everywhere today")],
            vec![],
        );
    }
    assert_eq!(
        ids(&search(store, "zebrafish project:/src/wide")),
        vec!["s-rare"]
    );
    assert_eq!(
        ids(&search(store, "quokka has:tool:Grep")),
        vec!["s-narrow"]
    );
    assert_eq!(
        ids(&search(store, "quokka project:/src/narrow")),
        vec!["s-narrow"]
    );
    assert!(search(store, "quokka cost>100000").is_empty());
    assert!(search(store, "quokka has:tool:Nothing").is_empty());
    let mut newest = SearchQuery::parse("quokka").unwrap();
    newest.limit = 3;
    assert_eq!(
        ids(&store.search(&newest).unwrap()),
        vec!["s-w39", "s-w38", "s-w37"]
    );

    // Ranked: one chatty session says a word more often than a ranking looks
    // at; the other sessions that say it still come, up to the limit.
    let chatty: Vec<TextChunk> = (0..1100)
        .map(|i| chunk(&format!("c{i}"), "assistant", "wombat wombat again"))
        .collect();
    for (i, id) in ["s-r1", "s-r2", "s-r3"].iter().enumerate() {
        ingest(
            store,
            session(id, "/src/rank", 30_000 + i as i64),
            true,
            vec![chunk(&format!("{id}-1"), "user", "a wombat once")],
            vec![],
        );
    }
    ingest(
        store,
        session("s-chatty", "/src/rank", 40_000),
        true,
        chatty,
        vec![],
    );
    let mut ranked = SearchQuery::parse("wombat").unwrap();
    ranked.rank = true;
    ranked.limit = 4;
    let got = store.search(&ranked).unwrap();
    let mut got_ids = ids(&got);
    got_ids.sort_unstable();
    assert_eq!(got_ids, vec!["s-chatty", "s-r1", "s-r2", "s-r3"]);
    // What a session is called weighs more than how often a body says it.
    let mut titled = session("s-titled", "/src/rank", 50_000);
    titled.custom_title = Some("kangaroo plans".into());
    ingest(
        store,
        titled,
        true,
        vec![chunk("t1", "user", "nothing here")],
        vec![],
    );
    ingest(
        store,
        session("s-body", "/src/rank", 50_001),
        true,
        vec![chunk(
            "b1",
            "assistant",
            "kangaroo kangaroo kangaroo kangaroo",
        )],
        vec![],
    );
    let mut ranked = SearchQuery::parse("kangaroo").unwrap();
    ranked.rank = true;
    assert_eq!(
        ids(&store.search(&ranked).unwrap()),
        vec!["s-titled", "s-body"]
    );
    assert_eq!(ids(&search(store, "kangaroo")), vec!["s-body", "s-titled"]);
    for id in [
        "s-rare", "s-narrow", "s-chatty", "s-r1", "s-r2", "s-r3", "s-titled", "s-body",
    ] {
        assert!(store.delete(id).unwrap());
    }
    for i in 0..40 {
        assert!(store.delete(&format!("s-w{i:02}")).unwrap());
    }
}
