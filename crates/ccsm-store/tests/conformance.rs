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
