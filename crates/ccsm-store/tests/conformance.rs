//! The conformance suite on the SQLite backend (file and memory).

#[test]
fn sqlite_in_memory_passes_the_conformance_suite() {
    let store = ccsm_store::SqliteStore::memory().expect("open");
    ccsm_store::conformance::run(&store);
}

#[test]
fn sqlite_on_disk_passes_the_conformance_suite_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.db");
    {
        let store = ccsm_store::SqliteStore::open(&path).expect("open");
        ccsm_store::conformance::run(&store);
    }
    let again = ccsm_store::SqliteStore::open(&path).expect("reopen");
    assert_eq!(again.integrity_check().expect("check"), "ok");
}

#[test]
fn a_catalog_of_the_first_schema_is_migrated_and_its_usage_rolled_up() {
    use ccsm_store::Store as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.db");
    {
        let v1 = ccsm_store::SqliteStore::open_at_version(&path, 1).expect("open v1");
        drop(v1);
        // What a catalog written by the first release holds.
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch(
            "INSERT INTO sessions (id, project_dir, file_path, last_modified)
                 VALUES ('s1', '-p', '/cfg/projects/-p/s1.jsonl', 5);
             INSERT INTO files (path, session_id, size, mtime, offset, head_hash)
                 VALUES ('/cfg/projects/-p/s1.jsonl', 's1', 10, 5, 10, '4:ab');
             INSERT INTO calls (session_id, key, ts, model, input, output, cache_5m, cache_1h, cache_read, cost)
                 VALUES ('s1', 'm:r', 86400000, 'claude-sonnet-4-5', 1, 2, 3, 4, 5, 0.1);",
        )
        .expect("v1 rows");
    }
    let store = ccsm_store::SqliteStore::open(&path).expect("migrate");
    assert_eq!(store.integrity_check().expect("check"), "ok");
    assert_eq!(
        store
            .refresh_usage("fp", &|ms| format!("d{}", ms / 86_400_000))
            .expect("refresh"),
        1,
        "every session with calls is rolled up after the migration"
    );
    let rows = store.usage_rows(None, false).expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].day.as_str(), rows[0].output, rows[0].cache_1h),
        ("d1", 2, 4)
    );
    let s = store.session("s1").expect("read").expect("s1");
    assert_eq!((s.notes, s.cli_cost_usd), (None, None));
}

#[test]
fn subagent_transcripts_indexed_before_migration_3_are_read_again() {
    use ccsm_store::Store as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.db");
    let main = "/cfg/projects/-p/s1.jsonl";
    let sub = "/cfg/projects/-p/s1/subagents/agent-a1.jsonl";
    {
        drop(ccsm_store::SqliteStore::open_at_version(&path, 2).expect("open v2"));
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch(&format!(
            "INSERT INTO files (path, session_id, size, mtime, offset, head_hash)
                 VALUES ('{main}', 's1', 10, 5, 10, '4:ab'), ('{sub}', 's1', 10, 5, 10, '4:ab');"
        ))
        .expect("v2 rows");
    }
    let store = ccsm_store::SqliteStore::open(&path).expect("migrate");
    assert!(store.file_state(main).expect("read").is_some());
    assert!(
        store.file_state(sub).expect("read").is_none(),
        "its text was never indexed: the next sync reads it"
    );
    assert_eq!(store.integrity_check().expect("check"), "ok");
}

#[test]
fn sqlite_answers_a_project_filter_from_its_index() {
    let store = ccsm_store::SqliteStore::memory().expect("open");
    let q = ccsm_store::SearchQuery::parse("project:/src/a").expect("query");
    let plan = store.explain_search(&q).expect("plan");
    assert!(plan.contains("sessions_project"), "plan: {plan}");
}

#[test]
fn sqlite_lists_the_newest_sessions_down_its_index_whatever_the_limit() {
    // With `LIMIT 1` SQLite's planner read every session and sorted them (200 ms
    // at 100k sessions for `sessions list --limit 1`).
    let store = ccsm_store::SqliteStore::memory().expect("open");
    for limit in [1, 5, 50] {
        for include_gone in [true, false] {
            let plan = store
                .explain_list(&ccsm_store::ListFilter {
                    limit: Some(limit),
                    include_gone,
                    ..Default::default()
                })
                .expect("plan");
            assert!(plan.contains("sessions_modified"), "limit {limit}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE FOR ORDER BY"),
                "limit {limit}: {plan}"
            );
        }
    }
}

#[test]
fn a_closed_catalog_leaves_no_log_behind_after_reads_from_its_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalog.db");
    {
        use ccsm_store::Store;
        let store = ccsm_store::SqliteStore::open(&path).expect("open");
        store.set_sync_digest("d").expect("write");
        assert_eq!(store.sync_digest().expect("read").as_deref(), Some("d"));
    }
    // A log left behind would carry pages a damaged file no longer has.
    assert!(!dir.path().join("catalog.db-wal").exists());
}
