//! The conformance suite on the PostgreSQL backend, against a throwaway cluster
//! (`initdb` in a temp dir, a Unix socket): the same chapters as SQLite's.

use ccsm_store::Store as _;
use ccsm_testkit::pg::PgCluster;

#[test]
fn postgres_passes_the_conformance_suite_and_reopens() {
    let pg = PgCluster::start();
    let url = pg.database("conformance");
    {
        let store = ccsm_store::PgStore::open(&url).expect("open");
        ccsm_store::conformance::run(&store);
        store.put_record("k", "one", "{}").expect("write");
    }
    // Opened again (by URL): the schema is not made twice, what was written is there.
    let again = ccsm_store::open_url(&url).expect("reopen");
    assert_eq!(
        again.records("k").expect("read"),
        vec![("one".to_owned(), "{}".to_owned())]
    );
}

/// Enough rows that a word is common (the PostgreSQL backend then walks from
/// the newest row, or looks into each allowed session, instead of reading every
/// match through GIN): both backends give the same answers.
#[test]
fn a_common_word_is_answered_as_sqlite_answers_it() {
    use ccsm_store::{FileState, Ingest, SearchQuery, SessionRecord, TextChunk};
    let pg = PgCluster::start();
    let url = pg.database("common");
    let p = ccsm_store::PgStore::open(&url).expect("open");
    let s = ccsm_store::SqliteStore::memory().expect("open");
    let stores: [&dyn ccsm_store::Store; 2] = [&s, &p];
    // Session `i`'s text, written whole (`full`) or added to, as of `at`.
    let batch = |i: i64, full: bool, at: i64, text: Vec<TextChunk>| {
        let id = format!("s{i:04}");
        Ingest {
            session: SessionRecord {
                id: id.clone(),
                project_dir: format!("-src-p{}", i % 7),
                project_path: Some(format!("/src/p{}", i % 7)),
                file_path: format!("/cfg/{id}.jsonl"),
                summary: format!("summary {i}"),
                last_modified: at,
                tools: if i % 5 == 0 {
                    vec!["Grep".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            },
            full,
            text,
            file: FileState {
                path: format!("/cfg/{id}.jsonl"),
                session_id: id,
                size: 1 + u64::from(!full),
                offset: 1 + u64::from(!full),
                ..Default::default()
            },
            ..Default::default()
        }
    };
    let chunk = |i: i64, uuid: String, ts: i64, text: String| TextChunk {
        uuid: format!("s{i:04}-{uuid}"),
        kind: "assistant".into(),
        ts,
        text,
    };
    for i in 0..400i64 {
        let text: Vec<TextChunk> = (0..8)
            .map(|k| {
                let words = if i % 97 == 0 && k == 3 {
                    "a common word and a zebu".into()
                } else {
                    format!("common word number {k} of {i}")
                };
                chunk(i, k.to_string(), i, words)
            })
            .collect();
        for st in stores {
            st.ingest(&batch(i, true, 1_000 + i, text.clone()))
                .expect("ingest");
        }
    }
    // Older sessions written to again, after the others (their text in two
    // runs, apart): one with the word, one without it.
    for (i, words) in [
        (10i64, "common again"),
        (200, "nothing here"),
        (300, "common at last"),
    ] {
        let text: Vec<TextChunk> = (0..30)
            .map(|k| chunk(i, format!("more-{k}"), 5_000 + i, words.into()))
            .collect();
        for st in stores {
            st.ingest(&batch(i, false, 5_000 + i, text.clone()))
                .expect("append");
        }
    }
    for st in stores {
        st.optimize().expect("optimize");
    }
    let ids = |st: &dyn ccsm_store::Store, text: &str, rank: bool| -> Vec<String> {
        let mut q = SearchQuery::parse(text).expect("query");
        q.rank = rank;
        let mut v: Vec<String> = st
            .search(&q)
            .expect("search")
            .into_iter()
            .map(|h| h.session.id)
            .collect();
        if rank {
            v.sort();
        }
        v
    };
    for (text, rank) in [
        ("common", false),
        ("common has:tool:Grep", false),
        ("common project:/src/p3", false),
        ("\"common word\"", false),
        ("comm*", false),
        ("zebu", false),
        ("common zebu", false),
        ("common has:tool:Nothing", false),
        ("zebu", true),
    ] {
        let a = ids(&s, text, rank);
        assert!(!a.is_empty() || text.contains("Nothing"), "{text}");
        assert_eq!(a, ids(&p, text, rank), "{text} (rank {rank})");
    }
    // Newest match first: the sessions written to last with the word; the one
    // written to last without it is found where its older text is.
    let newest = ids(&p, "common", false);
    assert_eq!(newest[..3], ["s0300", "s0010", "s0399"], "{newest:?}");
    assert!(!newest.contains(&"s0200".to_owned()), "{newest:?}");
    let mut q = SearchQuery::parse("common").expect("query");
    q.rank = true;
    assert_eq!(p.search(&q).expect("ranked").len(), 20);
}

/// A catalog built from nothing is loaded without its word index, which is
/// built whole at the end; a load cut short leaves it out, searches still
/// answer, and the next sync of the host that made it puts it back.
#[test]
fn a_bulk_load_builds_the_word_index_at_the_end_and_a_cut_short_one_is_mended() {
    use ccsm_store::{FileState, Ingest, SearchQuery, SessionRecord, TextChunk};
    let pg = PgCluster::start();
    let url = pg.database("bulk");
    let a = ccsm_store::PgStore::open_as(&url, "host-a", None).expect("open");
    let b = ccsm_store::PgStore::open_as(&url, "host-b", None).expect("open");
    let mut sql = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut indexed = || -> bool {
        // Both halves of it (migration 6), built on two connections at once.
        sql.query_one(
            "SELECT to_regclass('texts_tsv_0') IS NOT NULL AND to_regclass('texts_tsv_1') IS NOT NULL",
            &[],
        )
            .expect("ask")
            .get(0)
    };
    let ingest = |st: &ccsm_store::PgStore, id: &str, text: &str| {
        st.ingest(&Ingest {
            session: SessionRecord {
                id: id.into(),
                project_dir: "-src".into(),
                file_path: format!("/cfg/{id}.jsonl"),
                last_modified: 1,
                ..Default::default()
            },
            full: true,
            text: vec![TextChunk {
                uuid: format!("{id}-0"),
                kind: "user".into(),
                ts: 1,
                text: text.into(),
            }],
            file: FileState {
                path: format!("/cfg/{id}.jsonl"),
                session_id: id.into(),
                size: 1,
                offset: 1,
                ..Default::default()
            },
            ..Default::default()
        })
        .expect("ingest")
    };
    let found = |st: &ccsm_store::PgStore, q: &str| -> usize {
        st.search(&SearchQuery::parse(q).expect("query"))
            .expect("search")
            .len()
    };
    // A little to write, or into a catalog with rows: no bulk load.
    assert!(!a.begin_bulk(false).expect("begin"));
    assert!(indexed());
    assert!(a.begin_bulk(true).expect("begin"), "empty and much: bulk");
    assert!(!indexed(), "the index is dropped for the load");
    ingest(&a, "s1", "the quick brown fox");
    // Cut short (no end): a search still answers, from every row.
    assert_eq!(found(&a, "fox"), 1);
    // Another host, while the load may still be under way, leaves it be.
    assert!(!b.begin_bulk(false).expect("begin"));
    assert!(!indexed());
    // The host that made it mends it at its next sync, bulk or not.
    assert!(!a.begin_bulk(true).expect("begin"), "not empty: no bulk");
    assert!(indexed(), "put back");
    assert_eq!(found(&a, "fox"), 1);
    // A whole load: dropped, then built at the end.
    a.drop_all().expect("drop");
    let a = ccsm_store::PgStore::open_as(&url, "host-a", None).expect("open");
    assert!(a.begin_bulk(true).expect("begin"));
    ingest(&a, "s2", "a slow green turtle");
    a.end_bulk().expect("end");
    assert!(indexed());
    assert_eq!(found(&a, "turtle"), 1);
    // Two hosts ending a load at once (the one that made it, and one that
    // found its mark stale) both succeed: each half is built once.
    let b = ccsm_store::PgStore::open_as(&url, "host-b", None).expect("open");
    for n in 0..200 {
        ingest(
            &a,
            &format!("t{n}"),
            &format!("word{n} and common words {n}"),
        );
    }
    let mut other_sql = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    for round in 0..8 {
        other_sql
            .batch_execute("DROP INDEX texts_tsv_0; DROP INDEX texts_tsv_1")
            .expect("drop");
        std::thread::scope(|s| {
            let other = s.spawn(|| b.end_bulk());
            let mine = a.end_bulk();
            let theirs = other.join().expect("join");
            assert!(
                mine.is_ok() && theirs.is_ok(),
                "round {round}: {mine:?} {theirs:?}"
            );
        });
        assert!(indexed(), "round {round}");
    }
    assert_eq!(found(&b, "word7"), 1);
}

/// A daemon waiting for a command is woken by the write of another host's
/// store (PostgreSQL's `LISTEN`), not at its next look; a wait with nothing
/// written ends at its timeout; and after the server restarts, the next wait
/// fails clearly and the one after listens again.
#[test]
fn a_wait_for_shared_records_is_woken_by_another_hosts_write() {
    use std::time::{Duration, Instant};
    let mut pg = PgCluster::start();
    let url = pg.database("listen");
    let waiter = std::sync::Arc::new(ccsm_store::PgStore::open_as(&url, "host-a", None).unwrap());
    let writer = ccsm_store::PgStore::open_as(&url, "host-b", None).unwrap();
    let t0 = Instant::now();
    assert!(!waiter
        .wait_shared("command:host-a", Duration::from_millis(300))
        .unwrap());
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "waited its timeout"
    );

    let wake = |waiter: std::sync::Arc<ccsm_store::PgStore>| {
        std::thread::spawn(move || {
            let t = Instant::now();
            let woke = waiter.wait_shared("command:host-a", Duration::from_secs(20));
            (woke, t.elapsed())
        })
    };
    // Listening before the write: the first wait made the connection.
    let h = wake(waiter.clone());
    // Another kind's write does not wake it; a command for host-a does.
    writer.put_shared("live", "host-b", "{}").unwrap();
    writer.put_shared("command:host-a", "c1", "{}").unwrap();
    let (woke, took) = h.join().unwrap();
    assert!(woke.unwrap(), "woken by the command");
    assert!(
        took < Duration::from_secs(5),
        "woken at once, not at its timeout: {took:?}"
    );
    // The other kind it heard of is kept for a wait on that kind.
    assert!(waiter
        .wait_shared("live", Duration::from_millis(10))
        .unwrap());

    pg.stop();
    pg.start_server();
    assert!(
        waiter
            .wait_shared("command:host-a", Duration::from_millis(200))
            .is_err(),
        "a wait on a connection the restart closed says so"
    );
    let h = wake(waiter.clone());
    let writer = ccsm_store::PgStore::open_as(&url, "host-b", None).unwrap();
    // Until the waiter listens again, a write may come before it: write until woken.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !h.is_finished() && Instant::now() < deadline {
        writer.put_shared("command:host-a", "c2", "{}").unwrap();
        std::thread::yield_now();
    }
    let (woke, _) = h.join().unwrap();
    assert!(woke.unwrap(), "listening again after the restart");
}

/// A catalog written before migration 8 (tags, names and touched files only
/// in their own tables) keeps them when this version opens it: the columns
/// that carry them on the session's row are filled from those tables.
#[test]
fn a_catalog_from_before_the_labels_columns_keeps_its_tags_and_names() {
    use ccsm_store::{FileState, Ingest, SessionRecord};
    let pg = PgCluster::start();
    let url = pg.database("labels");
    {
        let store = ccsm_store::PgStore::open(&url).expect("open");
        store
            .ingest(&Ingest {
                session: SessionRecord {
                    id: "s-old".into(),
                    project_dir: "-src".into(),
                    file_path: "/cfg/s-old.jsonl".into(),
                    last_modified: 1,
                    ..Default::default()
                },
                full: true,
                files_touched: vec!["/src/a.rs".into(), "/src/b.rs".into()],
                file: FileState {
                    path: "/cfg/s-old.jsonl".into(),
                    session_id: "s-old".into(),
                    size: 1,
                    offset: 1,
                    ..Default::default()
                },
                ..Default::default()
            })
            .expect("ingest");
        store.add_tags("s-old", &["kept".into()]).expect("tag");
        store.save_name("chain", "s-old").expect("name");
    }
    // What version 7 left: no such columns.
    let mut sql = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    sql.batch_execute(
        "ALTER TABLE sessions DROP COLUMN touched_count, DROP COLUMN tag_list, DROP COLUMN name_list;
         UPDATE ccsm_schema SET version = 7",
    )
    .expect("go back to version 7");
    let store = ccsm_store::PgStore::open(&url).expect("open and migrate");
    let s = store.session("s-old").expect("read").expect("there");
    assert_eq!(s.tags, vec!["kept"]);
    assert_eq!(s.names, vec!["chain"]);
    assert_eq!(s.files_touched, 2);
    let version: i32 = sql
        .query_one("SELECT version FROM ccsm_schema", &[])
        .expect("ask")
        .get(0);
    assert!(version >= 8, "migrated: {version}");
}
