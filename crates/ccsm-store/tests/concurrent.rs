//! A search answers while a long ingest is writing: the writer holds the
//! catalog's write lock for each of a 1 GiB ingest's transactions, and readers have
//! connections of their own (WAL), so they neither wait for it nor see it
//! half-done.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ccsm_store::{FileState, Ingest, SearchQuery, SessionRecord, SqliteStore, Store, TextChunk};

/// The ingest's size; `CCSM_TEST_INGEST_MIB` makes it smaller for a quick run.
fn ingest_bytes() -> usize {
    std::env::var("CCSM_TEST_INGEST_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024)
        << 20
}

fn session(id: &str, text: Vec<TextChunk>) -> Ingest {
    let file_path = format!("/cfg/projects/-p/{id}.jsonl");
    Ingest {
        session: SessionRecord {
            id: id.into(),
            project_dir: "-p".into(),
            project_path: Some("/p".into()),
            file_path: file_path.clone(),
            summary: format!("summary of {id}"),
            last_modified: 1_000,
            messages: text.len() as u64,
            ..Default::default()
        },
        full: true,
        text,
        file: FileState {
            path: file_path,
            session_id: id.into(),
            size: 1,
            mtime: 1_000,
            offset: 1,
            head_hash: "1:aa".into(),
        },
        ..Default::default()
    }
}

/// Sessions of 4 KiB messages of pseudo-words, about `bytes` of text in all,
/// their ids starting with `prefix`.
fn history(prefix: &str, bytes: usize, seed: &mut u64, vocabulary: &[String]) -> Vec<Ingest> {
    let mut word = || {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        vocabulary[(*seed >> 33) as usize % vocabulary.len()].as_str()
    };
    let mut out = Vec::new();
    let mut written = 0;
    while written < bytes {
        let mut chunks = Vec::new();
        for m in 0..64 {
            let mut text = String::with_capacity(4200);
            while text.len() < 4096 {
                text.push_str(word());
            }
            written += text.len();
            chunks.push(TextChunk {
                uuid: format!("{prefix}u{}-{m}", out.len()),
                kind: "assistant".into(),
                ts: 1,
                text,
            });
        }
        out.push(session(&format!("{prefix}{}", out.len()), chunks));
    }
    out
}

/// Transactions the ingest is written in (the indexer's batches are smaller).
const TRANSACTIONS: usize = 16;

#[test]
fn a_search_answers_while_a_1_gib_ingest_is_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.db");
    let store = SqliteStore::open(&path).expect("open");
    let chunk = |text: &str| TextChunk {
        uuid: "n1".into(),
        kind: "user".into(),
        ts: 1,
        text: text.into(),
    };
    store
        .ingest(&session("needle", vec![chunk("find the walrus here")]))
        .expect("ingest the needle");
    let query = SearchQuery::parse("walrus").expect("query");
    let started = Instant::now();
    let hits = store.search(&query).expect("search before");
    let normal = started.elapsed();
    assert_eq!(hits.len(), 1);

    // Words of 6 to 14 characters, as in code and tool output.
    let vocabulary: Vec<String> = (0..20_000u64)
        .map(|n| format!("w{n:x}{} ", "x".repeat((n % 9) as usize)))
        .collect();
    let tx_bytes = ingest_bytes() / TRANSACTIONS;
    let committed = AtomicUsize::new(0);
    let (starting, next) = std::sync::mpsc::channel::<usize>();
    std::thread::scope(|s| {
        let (store, committed, vocabulary) = (&store, &committed, &vocabulary);
        let writer = s.spawn(move || -> ccsm_store::Result<()> {
            let mut seed = 42;
            for t in 0..TRANSACTIONS {
                let batches = history(&format!("bulk-{t}-"), tx_bytes, &mut seed, vocabulary);
                let _ = starting.send(t);
                store.ingest_many(&batches)?;
                committed.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        });
        // In each transaction, once it holds the write lock (another connection
        // cannot take it), a search answers before it commits.
        let probe = rusqlite::Connection::open(&path).expect("probe");
        probe.busy_timeout(Duration::ZERO).expect("no wait");
        let mut slowest = Duration::ZERO;
        while let Ok(t) = next.recv() {
            let deadline = Instant::now() + Duration::from_secs(60);
            while probe.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok() {
                assert_eq!(
                    committed.load(Ordering::SeqCst),
                    t,
                    "transaction {t} ended before it was seen writing"
                );
                assert!(Instant::now() < deadline, "transaction {t} never started");
                std::thread::yield_now();
            }
            let started = Instant::now();
            let hits = store.search(&query).expect("search during the ingest");
            let took = started.elapsed();
            slowest = slowest.max(took);
            assert_eq!(
                committed.load(Ordering::SeqCst),
                t,
                "the search waited for transaction {t} ({took:?}, {normal:?} before the ingest)"
            );
            assert_eq!(
                hits.iter()
                    .map(|h| h.session.id.as_str())
                    .collect::<Vec<_>>(),
                vec!["needle"],
                "the search sees the last commit, not the ingest half-done"
            );
            let read = store.session("needle").expect("read during the ingest");
            assert!(read.is_some());
        }
        writer.join().expect("writer").expect("ingest");
        eprintln!(
            "search: {normal:?} before the ingest, the slowest of {TRANSACTIONS} during it {slowest:?}"
        );
        assert!(
            slowest < normal * 20 + Duration::from_millis(500),
            "a search took {slowest:?} during the ingest, {normal:?} before it"
        );
    });
    // And once it committed, its text is found.
    let q = SearchQuery::parse("w1x").expect("query");
    assert!(!store.search(&q).expect("search after").is_empty());
}
