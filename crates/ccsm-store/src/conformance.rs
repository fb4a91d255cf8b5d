//! The conformance suite: one scripted scenario every [`Store`] backend must pass.
//! A backend's tests call [`run`] on a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a suite that meets a broken store panics

use crate::{
    CallRecord, FileState, Ingest, ListFilter, SearchQuery, SessionRecord, Store, TextChunk,
};

fn session(id: &str, project: &str, modified: i64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        project_dir: format!("-{}", project.trim_start_matches('/').replace('/', "-")),
        project_path: Some(project.into()),
        file_path: format!("/cfg/projects/x/{id}.jsonl"),
        summary: format!("summary of {id}"),
        first_prompt: Some(format!("first prompt of {id}")),
        git_branch: Some("main".into()),
        cwd: Some(project.into()),
        last_modified: modified,
        file_size: 100,
        messages: 2,
        user_turns: 1,
        tool_calls: 1,
        models: vec!["claude-sonnet-4-5".into()],
        tools: vec!["Bash".into()],
        first_activity: Some(modified - 1000),
        last_activity: Some(modified),
        ..Default::default()
    }
}

fn chunk(uuid: &str, kind: &str, text: &str) -> TextChunk {
    TextChunk {
        uuid: uuid.into(),
        kind: kind.into(),
        ts: 1,
        text: text.into(),
    }
}

fn call(key: &str, output: u64, cost: f64) -> CallRecord {
    CallRecord {
        key: Some(key.into()),
        ts: 1_700_000_000_000,
        model: "claude-sonnet-4-5".into(),
        input: 10,
        output,
        cache_5m: 1,
        cache_1h: 0,
        cache_read: 5,
        cost: Some(cost),
    }
}

fn ingest(
    store: &dyn Store,
    s: SessionRecord,
    full: bool,
    text: Vec<TextChunk>,
    calls: Vec<CallRecord>,
) {
    let file = FileState {
        path: s.file_path.clone(),
        session_id: s.id.clone(),
        size: s.file_size,
        mtime: s.last_modified,
        offset: s.file_size,
        head_hash: "4:abcd".into(),
    };
    store
        .ingest(&Ingest {
            session: s,
            full,
            text,
            calls,
            files_touched: vec!["/src/a/main.rs".into()],
            file,
            ..Default::default()
        })
        .expect("ingest");
}

/// A subagent transcript of `session`: its calls count to that session.
fn ingest_subagent(store: &dyn Store, session: &str, full: bool, calls: Vec<CallRecord>) {
    let path = format!("/cfg/projects/x/{session}/subagents/agent-1.jsonl");
    store
        .ingest(&Ingest {
            session: SessionRecord {
                id: session.into(),
                ..Default::default()
            },
            full,
            text: vec![],
            calls,
            files_touched: vec![],
            file: FileState {
                path: path.clone(),
                session_id: session.into(),
                size: 10,
                mtime: 1,
                offset: 10,
                head_hash: "4:abcd".into(),
            },
            subagent: true,
            ..Default::default()
        })
        .expect("ingest subagent");
}

fn day_of(ms: i64) -> String {
    format!("d{}", ms / 86_400_000)
}

fn ids(hits: &[crate::SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.session.id.as_str()).collect()
}

fn search(store: &dyn Store, q: &str) -> Vec<crate::SearchHit> {
    store
        .search(&SearchQuery::parse(q).expect("query"))
        .expect("search")
}

/// Runs the whole scenario on an empty store.
pub fn run(store: &dyn Store) {
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

    // ccsm's metadata.
    let dyn_store: &dyn Store = store;
    dyn_store
        .save_session(
            "s-b",
            &["urgent".into(), "parser".into()],
            Some("the big parser rewrite"),
        )
        .unwrap();
    let b = dyn_store.load_session("s-b").unwrap();
    assert_eq!(b.tags, vec!["parser", "urgent"]);
    assert_eq!(b.description.as_deref(), Some("the big parser rewrite"));
    store.remove_tags("s-b", &["urgent".into()]).unwrap();
    assert_eq!(store.session("s-b").unwrap().unwrap().tags, vec!["parser"]);
    assert!(store.add_tags("missing", &["x".into()]).is_err());
    assert!(store.set_description("missing", Some("x")).is_err());

    // Names: a conversation's chain of session ids.
    store.save_name("work", "s-a").unwrap();
    store.save_name("work", "s-a").unwrap(); // the same id is not repeated
    store.save_name("work", "s-b").unwrap();
    assert!(dyn_store.exists("work").unwrap());
    assert_eq!(
        store.name("work").unwrap().unwrap().sessions,
        vec!["s-a", "s-b"]
    );
    assert_eq!(store.names().unwrap().len(), 1);
    assert_eq!(store.session("s-a").unwrap().unwrap().names, vec!["work"]);

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

    // Notes: ccsm's own, kept through re-reads.
    store
        .set_notes("s-a", Some("ask Ana about the flag"))
        .unwrap();
    assert!(store.set_notes("missing", Some("x")).is_err());

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
    let rows = store.usage_rows(None, false).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].output, 100);

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
    let rows = store.usage_rows(None, false).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].session_id.as_str(), rows[0].output), ("s-c", 150));
    assert!(store.delete("s-c").unwrap());

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
    assert_eq!(
        out("s-fork"),
        40,
        "the original is gone: the fork's copy counts"
    );
    store.refresh_usage("tz-1", &day_of).unwrap();
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
    assert_eq!(fork_rows(store), 40);
    // The fork forgotten: nothing else has the call.
    assert!(store.delete("s-fork").unwrap());
    assert_eq!(out("s-orig"), 1);
    assert!(store.delete("s-orig").unwrap());

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

    // The project filter uses the index.
    let q = SearchQuery::parse("project:/src/a").unwrap();
    let plan = store.explain_search(&q).unwrap();
    assert!(plan.contains("sessions_project"), "plan: {plan}");

    // Cleanup and delete: the catalog only.
    let removed = dyn_store
        .cleanup_old_sessions(1, 2_001 + 86_400_000)
        .unwrap();
    assert_eq!(removed, vec!["s-b"]);
    assert!(store.session("s-b").unwrap().is_none());
    assert!(store.delete("s-a").unwrap());
    assert!(!store.delete("s-a").unwrap());
    store.refresh_usage("tz-1", &day_of).unwrap();
    assert!(store.usage_rows(None, true).unwrap().is_empty());
    assert!(search(store, "rewritten").is_empty());
    assert!(store.remove_name("work").unwrap());
    assert!(!dyn_store.exists("work").unwrap());
}
