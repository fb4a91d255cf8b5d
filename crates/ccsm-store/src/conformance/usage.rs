#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

pub(super) fn archive_key_and_calls(store: &dyn Store) {
    // Archive key, usage calls.
    store.set_archive("s-a", "s-a-100-3000").unwrap();
    assert_eq!(
        store
            .session("s-a")
            .unwrap()
            .unwrap()
            .archive_key
            .as_deref(),
        Some("s-a-100-3000")
    );
    assert_eq!(store.calls(None, None).unwrap().len(), 3);
}

/// The per-day sums a store keeps (if it keeps them) are the rollup's rows
/// of present sessions summed, whatever was written since.
fn days_agree(store: &dyn Store) {
    let Some(days) = store.usage_days().unwrap() else {
        return;
    };
    type Sums = [u64; 6];
    let sums = |r: &crate::UsageRow| -> Sums {
        [
            r.calls,
            r.input,
            r.output,
            r.cache_5m,
            r.cache_1h,
            r.cache_read,
        ]
    };
    let mut want: std::collections::BTreeMap<(String, String), Sums> = Default::default();
    for r in store.usage_rows(None, false).unwrap() {
        let e = want.entry((r.day.clone(), r.model.clone())).or_default();
        for (a, b) in e.iter_mut().zip(sums(&r)) {
            *a += b;
        }
    }
    want.retain(|_, v| v[0] != 0);
    let got: std::collections::BTreeMap<(String, String), Sums> = days
        .iter()
        .map(|r| ((r.day.clone(), r.model.clone()), sums(r)))
        .collect();
    assert_eq!(got, want, "the per-day sums are the rollup's");
}

pub(super) fn rollup(store: &dyn Store) {
    // The usage rollup: per session, model and day; subagent calls count to
    // their session; only what changed is rolled up again.
    let mut sub = call("m7:r7", 100, 1.0);
    sub.ts += 86_400_000; // the next day
    ingest_subagent(store, "s-a", true, vec![sub]);
    // A subagent's text is found as its session's.
    store
        .ingest(&Ingest {
            session: SessionRecord {
                id: "s-a".into(),
                ..Default::default()
            },
            full: false,
            text: vec![chunk("sub-1", "assistant", "the platypus cache is warm")],
            file: FileState {
                path: "/cfg/projects/x/s-a/subagents/agent-1.jsonl".into(),
                session_id: "s-a".into(),
                size: 20,
                mtime: 2,
                offset: 20,
                head_hash: "4:abcd".into(),
            },
            subagent: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&search(store, "platypus")), vec!["s-a"]);
    assert_eq!(store.session("s-a").unwrap().unwrap().output_tokens, 132);
    assert!(store.refresh_usage("tz-1", &day_of).unwrap() >= 1);
    assert_eq!(
        store.refresh_usage("tz-1", &day_of).unwrap(),
        0,
        "nothing changed"
    );
    let rows = store.usage_rows(None, false).unwrap();
    let day0 = day_of(1_700_000_000_000);
    let a0 = rows
        .iter()
        .find(|r| r.session_id == "s-a" && r.day == day0)
        .unwrap();
    assert_eq!((a0.calls, a0.output, a0.input), (3, 32, 30));
    assert_eq!(a0.project_dir, "-src-a");
    let a1 = rows
        .iter()
        .find(|r| r.session_id == "s-a" && r.day != day0)
        .unwrap();
    assert_eq!((a1.calls, a1.output), (1, 100));
    assert!(
        rows.iter().all(|r| r.session_id != "s-b"),
        "gone sessions are left out"
    );
    assert!(
        store
            .usage_rows(Some(&["-src-b".to_owned()]), true)
            .unwrap()
            .is_empty(),
        "s-b made no calls"
    );
}

pub(super) fn time_zones(store: &dyn Store) {
    // Another time zone: everything is rolled up again.
    let shifted = |ms: i64| day_of(ms + 43_200_000);
    assert!(store.refresh_usage("tz-2", &shifted).unwrap() >= 1);
    let rows2 = store.usage_rows(None, false).unwrap();
    let days = |rows: &[crate::UsageRow]| {
        let mut d: Vec<String> = rows.iter().map(|r| r.day.clone()).collect();
        d.sort();
        d.dedup();
        d
    };
    assert_eq!(
        days(&rows2),
        vec![
            day_of(1_700_000_000_000 + 86_400_000),
            day_of(1_700_000_000_000 + 2 * 86_400_000)
        ]
    );
    assert_eq!(rows2.iter().map(|r| r.output).sum::<u64>(), 132);
    store.refresh_usage("tz-1", &day_of).unwrap();
    days_agree(store);
}

pub(super) fn full_reread(store: &dyn Store) {
    // A full re-read replaces the text and the calls.
    ingest(
        store,
        session("s-a", "/src/a", 4_000),
        true,
        vec![chunk("u9", "user", "rewritten history")],
        vec![],
    );
    assert!(search(store, "zebra").is_empty());
    assert_eq!(ids(&search(store, "rewritten")), vec!["s-a"]);
    assert_eq!(
        ids(&search(store, "platypus")),
        vec!["s-a"],
        "a re-read of the session's transcript keeps its subagents' text"
    );
    let a = store.session("s-a").unwrap().unwrap();
    assert_eq!(a.output_tokens, 100, "the subagent's calls stay");
    assert_eq!(a.description, None);
    assert_eq!(a.notes.as_deref(), Some("ask Ana about the flag"));
    store.refresh_usage("tz-1", &day_of).unwrap();
    days_agree(store);
    let rows = store.usage_rows(None, false).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].output, 100);
}

pub(super) fn larger_copy_elsewhere(store: &dyn Store) {
    // A larger copy of a call in another session takes it over; both sessions'
    // usage is rolled up again.
    let mut bigger = call("m7:r7", 150, 1.5);
    bigger.ts += 86_400_000;
    ingest(
        store,
        session("s-c", "/src/c", 5_000),
        true,
        vec![],
        vec![bigger],
    );
    assert_eq!(store.session("s-a").unwrap().unwrap().output_tokens, 0);
    assert_eq!(store.session("s-c").unwrap().unwrap().output_tokens, 150);
    store.refresh_usage("tz-1", &day_of).unwrap();
    days_agree(store);
    let rows = store.usage_rows(None, false).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].session_id.as_str(), rows[0].output), ("s-c", 150));
    assert!(store.delete("s-c").unwrap());
}

pub(super) fn forks(store: &dyn Store) {
    // A fork repeats its original's calls: they count to the original (it started
    // first) until the original is gone, then to the fork, as the files' report
    // counts them; the original back, they are its own again.
    let mut early = call("fk:0", 1, 0.01);
    early.ts -= 60_000;
    let shared = call("fk:1", 40, 0.4);
    let original = |calls: Vec<CallRecord>| {
        ingest(
            store,
            session("s-orig", "/src/o", 9_100),
            true,
            vec![],
            calls,
        )
    };
    original(vec![early.clone(), shared.clone()]);
    ingest(
        store,
        session("s-fork", "/src/o", 9_200),
        true,
        vec![],
        vec![shared.clone()],
    );
    let out = |id: &str| store.session(id).unwrap().unwrap().output_tokens;
    assert_eq!((out("s-orig"), out("s-fork")), (41, 0));
    store.mark_gone("s-orig", true).unwrap();
    days_agree(store);
    assert_eq!(
        out("s-fork"),
        40,
        "the original is gone: the fork's copy counts"
    );
    store.refresh_usage("tz-1", &day_of).unwrap();
    days_agree(store);
    let fork_rows = |store: &dyn Store| {
        store
            .usage_rows(None, false)
            .unwrap()
            .into_iter()
            .filter(|r| r.session_id == "s-fork")
            .map(|r| r.output)
            .sum::<u64>()
    };
    assert_eq!(fork_rows(store), 40);
    store.mark_gone("s-orig", false).unwrap();
    days_agree(store);
    original(vec![early.clone(), shared.clone()]);
    assert_eq!(
        (out("s-orig"), out("s-fork")),
        (41, 0),
        "back: the original's"
    );
    // The original rewritten without the call: the fork's copy counts.
    original(vec![early.clone()]);
    assert_eq!((out("s-orig"), out("s-fork")), (1, 40));
    store.refresh_usage("tz-1", &day_of).unwrap();
    days_agree(store);
    assert_eq!(fork_rows(store), 40);
    // The fork forgotten: nothing else has the call.
    assert!(store.delete("s-fork").unwrap());
    assert_eq!(out("s-orig"), 1);
    assert!(store.delete("s-orig").unwrap());
}
