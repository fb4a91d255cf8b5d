//! The conformance suite every [`Store`] backend must pass: one scripted
//! scenario in chapters, by job (`sessions`, `search`, `usage`). Each chapter
//! starts from the store the chapters before it left; a backend's tests call
//! [`run`] on a fresh, empty store, which names the chapter that fails.
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

mod search;
mod sessions;
mod usage;

/// A chapter of the suite: its name and what it runs on the store.
pub type Chapter = (&'static str, fn(&dyn Store));

/// The chapters, in the order they run.
pub const CHAPTERS: &[Chapter] = &[
    (
        "sessions: ingest_read_back_list",
        sessions::ingest_read_back_list,
    ),
    ("sessions: appended_reads", sessions::appended_reads),
    (
        "search: words_phrases_prefixes",
        search::words_phrases_prefixes,
    ),
    ("sessions: metadata", sessions::metadata),
    ("sessions: names", sessions::names),
    ("sessions: labels_everywhere", sessions::labels_everywhere),
    ("search: filters", search::filters),
    ("sessions: sync_digest", sessions::sync_digest),
    ("sessions: gone_sessions", sessions::gone_sessions),
    ("sessions: projects", sessions::projects),
    ("usage: archive_key_and_calls", usage::archive_key_and_calls),
    ("sessions: notes", sessions::notes),
    ("usage: rollup", usage::rollup),
    ("usage: time_zones", usage::time_zones),
    ("usage: full_reread", usage::full_reread),
    ("usage: larger_copy_elsewhere", usage::larger_copy_elsewhere),
    ("usage: forks", usage::forks),
    ("search: interleaved_runs", search::interleaved_runs),
    (
        "search: rare_words_narrow_filters_and_big_rankings",
        search::rare_words_narrow_filters_and_big_rankings,
    ),
    ("sessions: batched_steps", sessions::batched_steps),
    ("sessions: cleanup_and_delete", sessions::cleanup_and_delete),
    ("sessions: daemon_records", sessions::daemon_records),
];

/// Runs every chapter on an empty store, in order; a failure names its chapter.
pub fn run(store: &dyn Store) {
    for (name, chapter) in CHAPTERS {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chapter(store)));
        if let Err(panic) = outcome {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("conformance chapter {name} failed: {why}");
        }
    }
}
