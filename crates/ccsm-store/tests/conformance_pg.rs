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
