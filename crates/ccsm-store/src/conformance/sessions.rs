#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

pub(super) fn ingest_read_back_list(store: &dyn Store) {
    // Ingest, read back, list newest first.
    ingest(
        store,
        session("s-a", "/src/a", 1_000),
        true,
        vec![
            chunk("u1", "user", "please deploy the login page"),
            chunk(
                "u2",
                "tool",
                r#"Bash {"command":"kubectl rollout restart deploy/web"}"#,
            ),
        ],
        vec![
            call("m1:r1", 20, 0.5),
            call("m1:r1", 10, 0.25),
            call("m2:r2", 5, 0.1),
        ],
    );
    ingest(
        store,
        session("s-b", "/src/b", 2_000),
        true,
        vec![chunk("u3", "user", "refactor the parser")],
        vec![],
    );
    let a = store.session("s-a").unwrap().expect("s-a");
    assert_eq!(a.project_path.as_deref(), Some("/src/a"));
    assert_eq!(a.output_tokens, 25, "the larger copy of a call wins");
    assert!((a.cost_usd - 0.6).abs() < 1e-9);
    assert_eq!(a.files_touched, 1);
    let list = store.list(&ListFilter::default()).unwrap();
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["s-b", "s-a"]
    );
    let only_a = store
        .list(&ListFilter {
            project_path: Some("/src/a".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(only_a.len(), 1);
}

pub(super) fn appended_reads(store: &dyn Store) {
    // An appended read adds to the counters and the text.
    let mut more = session("s-a", "/src/a", 3_000);
    more.messages = 1;
    more.user_turns = 1;
    more.tool_calls = 0;
    ingest(
        store,
        more,
        false,
        vec![chunk("u4", "user", "now add the zebra feature")],
        vec![call("m3:r3", 7, 0.2)],
    );
    let a = store.session("s-a").unwrap().unwrap();
    assert_eq!(a.messages, 3);
    assert_eq!(a.output_tokens, 32);
    assert_eq!(ids(&search(store, "zebra")), vec!["s-a"]);
    assert_eq!(ids(&search(store, "deploy")), vec!["s-a"]);
}

pub(super) fn metadata(store: &dyn Store) {
    // ccsm's metadata.
    store
        .save_session(
            "s-b",
            &["urgent".into(), "parser".into()],
            Some("the big parser rewrite"),
        )
        .unwrap();
    let b = store.load_session("s-b").unwrap();
    assert_eq!(b.tags, vec!["parser", "urgent"]);
    assert_eq!(b.description.as_deref(), Some("the big parser rewrite"));
    store.remove_tags("s-b", &["urgent".into()]).unwrap();
    assert_eq!(store.session("s-b").unwrap().unwrap().tags, vec!["parser"]);
    assert!(store.add_tags("missing", &["x".into()]).is_err());
    assert!(store.set_description("missing", Some("x")).is_err());
}

pub(super) fn names(store: &dyn Store) {
    // Names: a conversation's chain of session ids.
    store.save_name("work", "s-a").unwrap();
    store.save_name("work", "s-a").unwrap(); // the same id is not repeated
    store.save_name("work", "s-b").unwrap();
    assert!(store.exists("work").unwrap());
    assert_eq!(
        store.name("work").unwrap().unwrap().sessions,
        vec!["s-a", "s-b"]
    );
    assert_eq!(store.names().unwrap().len(), 1);
    assert_eq!(store.session("s-a").unwrap().unwrap().names, vec!["work"]);
}

pub(super) fn labels_everywhere(store: &dyn Store) {
    // A session's tags, names and touched files read the same by id, in a
    // listing and in a search hit, after every change to them; a name given
    // before its session is indexed, or kept when it is deleted, is its own
    // when it is indexed (again); its tags go with it.
    store.save_name("later", "s-late").unwrap();
    let index_late = || {
        let text = vec![chunk("l1", "user", "zanzibarq notes")];
        ingest(
            store,
            session("s-late", "/src/late", 1_500),
            true,
            text,
            vec![],
        );
    };
    index_late();
    store
        .add_tags("s-late", &["beta".into(), "alpha".into()])
        .unwrap();
    store.save_name("also", "s-late").unwrap();
    let want = |tags: &[&str], names: &[&str]| {
        let by_id = store.session("s-late").unwrap().unwrap();
        let listed = store.list(&ListFilter::default()).unwrap();
        let listed = listed.into_iter().find(|s| s.id == "s-late").unwrap();
        let hit = search(store, "zanzibarq").pop().unwrap().session;
        let filtered = search(store, "project:/src/late").pop().unwrap().session;
        for s in [by_id, listed, hit, filtered] {
            assert_eq!(s.tags, tags, "tags");
            assert_eq!(s.names, names, "names");
            assert_eq!(s.files_touched, 1);
        }
    };
    want(&["alpha", "beta"], &["also", "later"]);
    store.remove_tags("s-late", &["beta".into()]).unwrap();
    assert!(store.remove_name("also").unwrap());
    want(&["alpha"], &["later"]);
    assert!(store.delete("s-late").unwrap());
    index_late();
    want(&[], &["later"]);
    assert!(store.remove_name("later").unwrap());
    want(&[], &[]);
    assert!(store.delete("s-late").unwrap());
}

pub(super) fn sync_digest(store: &dyn Store) {
    // The sync digest: kept until sessions are written.
    store.set_sync_digest("d-1").unwrap();
    assert_eq!(store.sync_digest().unwrap().as_deref(), Some("d-1"));
    store.mark_gone("s-b", false).unwrap();
    assert_eq!(
        store.sync_digest().unwrap(),
        None,
        "marking gone forgets it"
    );
    store.set_sync_digest("d-2").unwrap();
    ingest(
        store,
        session("s-tmp", "/src/t", 1_500),
        true,
        vec![],
        vec![],
    );
    assert_eq!(store.sync_digest().unwrap(), None, "an ingest forgets it");
    store.set_sync_digest("d-3").unwrap();
    assert!(store.delete("s-tmp").unwrap());
    assert_eq!(store.sync_digest().unwrap(), None, "a delete forgets it");
}

pub(super) fn gone_sessions(store: &dyn Store) {
    // Gone from the CLI's dir: kept, searchable, listed on request.
    store.mark_gone("s-b", true).unwrap();
    assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1);
    let all = store
        .list(&ListFilter {
            include_gone: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(store.count_present().unwrap(), 1);
    assert_eq!(ids(&search(store, "is:gone refactor")), vec!["s-b"]);
}

pub(super) fn projects(store: &dyn Store) {
    // Projects: present sessions, and gone ones on request.
    let present = store.projects(false).unwrap();
    assert_eq!(present.len(), 1, "{present:?}");
    assert_eq!(
        (
            present[0].project_dir.as_str(),
            present[0].project_path.as_deref(),
            present[0].sessions,
            present[0].gone,
            present[0].size,
            present[0].last_modified
        ),
        ("-src-a", Some("/src/a"), 1, 0, 100, 3_000)
    );
    let with_gone = store.projects(true).unwrap();
    assert_eq!(
        with_gone
            .iter()
            .map(|p| (p.project_dir.as_str(), p.sessions, p.gone))
            .collect::<Vec<_>>(),
        vec![("-src-a", 1, 0), ("-src-b", 0, 1)],
        "newest first"
    );
    assert!(
        store
            .file_state("/cfg/projects/x/s-b.jsonl")
            .unwrap()
            .is_none(),
        "a return is read anew"
    );
    assert!(store
        .file_state("/cfg/projects/x/s-a.jsonl")
        .unwrap()
        .is_some());

    store.optimize().unwrap();
    assert_eq!(
        ids(&search(store, "zebra")),
        vec!["s-a"],
        "optimize keeps what it merges"
    );
}

pub(super) fn notes(store: &dyn Store) {
    // Notes: ccsm's own, kept through re-reads.
    store
        .set_notes("s-a", Some("ask Ana about the flag"))
        .unwrap();
    assert!(store.set_notes("missing", Some("x")).is_err());
}

pub(super) fn batched_steps(store: &dyn Store) {
    // Several steps in one transaction, one session twice (a full re-read after
    // an earlier step of the same batch): the last step's text is what is found,
    // and an archive key written with a step is kept by later steps.
    let step = |id: &str, at: i64, full: bool, word: &str, key: Option<&str>| {
        let mut s = session(id, "/src/m", at);
        s.messages = 1;
        Ingest {
            file: FileState {
                path: s.file_path.clone(),
                session_id: id.into(),
                size: s.file_size,
                mtime: at,
                offset: s.file_size,
                head_hash: "4:abcd".into(),
            },
            session: s,
            full,
            text: vec![chunk(&format!("{id}-{at}"), "user", word)],
            archive_key: key.map(str::to_owned),
            ..Default::default()
        }
    };
    store
        .ingest_many(&[
            step("s-m", 9_000, true, "walrus", Some("s-m-1")),
            step("s-n", 9_001, true, "walrus", None),
            step("s-m", 9_002, true, "narwhal", None),
            step("s-n", 9_003, false, "narwhal", None),
        ])
        .unwrap();
    assert_eq!(ids(&search(store, "walrus")), vec!["s-n"]);
    assert_eq!(ids(&search(store, "narwhal")), vec!["s-n", "s-m"]);
    let m = store.session("s-m").unwrap().unwrap();
    assert_eq!((m.messages, m.archive_key.as_deref()), (1, Some("s-m-1")));
    assert_eq!(store.session("s-n").unwrap().unwrap().messages, 2);
    assert!(store.delete("s-m").unwrap() && store.delete("s-n").unwrap());
}

pub(super) fn cleanup_and_delete(store: &dyn Store) {
    // Cleanup and delete: the catalog only.
    let removed = store.cleanup_old_sessions(1, 2_001 + 86_400_000).unwrap();
    assert_eq!(removed, vec!["s-b"]);
    assert!(store.session("s-b").unwrap().is_none());
    assert!(store.delete("s-a").unwrap());
    assert!(!store.delete("s-a").unwrap());
    store.refresh_usage("tz-1", &day_of).unwrap();
    assert!(store.usage_rows(None, true).unwrap().is_empty());
    assert!(search(store, "rewritten").is_empty());
    assert!(store.remove_name("work").unwrap());
    assert!(!store.exists("work").unwrap());
}

/// The daemon's records: put, replace, list by kind, delete; kinds do not mix.
pub(super) fn daemon_records(store: &dyn Store) {
    store.put_record("run", "a", r#"{"n":1}"#).unwrap();
    store.put_record("run", "b", r#"{"n":2}"#).unwrap();
    store.put_record("spec", "a", r#"{"s":1}"#).unwrap();
    store.put_record("run", "a", r#"{"n":3}"#).unwrap();
    let runs = store.records("run").unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.contains(&("a".into(), r#"{"n":3}"#.into())));
    assert_eq!(
        store.records("spec").unwrap(),
        vec![("a".to_string(), r#"{"s":1}"#.to_string())]
    );
    assert!(store.delete_record("run", "a").unwrap());
    assert!(!store.delete_record("run", "a").unwrap());
    assert_eq!(store.records("run").unwrap().len(), 1);
    assert!(store.records("nothing").unwrap().is_empty());
}
