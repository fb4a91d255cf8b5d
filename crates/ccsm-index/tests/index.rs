//! The indexer against the recorded fixture and directories the real CLI writes.
#![allow(clippy::unwrap_used)] // a test that meets bad data should panic

use std::io::Write as _;

use ccsm_index::Indexer;
use ccsm_store::{ListFilter, SearchQuery, SqliteStore, Store};
use ccsm_testkit::{
    copy_tree, fixture_dir, run_with_deadline, CliRun, MockModel, Scenario, TestEnv,
};
use ccsm_transcripts::ClaudeDir;

fn nothing(_: u64, _: u64) {}

fn claude(env: &TestEnv, model: &MockModel, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend(["--output-format", "json"]);
    let r = CliRun::from(run_with_deadline(
        env.claude(model, &a),
        std::time::Duration::from_secs(60),
    ));
    assert!(r.status.success(), "{r:?}");
    r.session_id().unwrap()
}

fn search(store: &dyn Store, q: &str) -> Vec<String> {
    store
        .search(&SearchQuery::parse(q).unwrap())
        .unwrap()
        .into_iter()
        .map(|h| h.session.id)
        .collect()
}

#[test]
fn indexing_the_fixture_lists_what_the_transcripts_reader_lists() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture_dir(), tmp.path()).unwrap();
    let dir = ClaudeDir::new(tmp.path());
    let store = SqliteStore::memory().unwrap();
    let report = Indexer::new(dir.clone()).sync(&store, &nothing).unwrap();
    assert_eq!(report.new, 13);
    let direct = dir.list_sessions(None, None, 0).unwrap();
    let catalog = store.list(&ListFilter::default()).unwrap();
    assert_eq!(direct.len(), catalog.len());
    for (d, c) in direct.iter().zip(&catalog) {
        assert_eq!(d.session_id, c.id);
        assert_eq!(d.summary, c.summary);
        assert_eq!(d.last_modified, c.last_modified);
        assert_eq!(d.file_size, c.file_size);
        assert_eq!(d.custom_title, c.custom_title);
        assert_eq!(d.first_prompt, c.first_prompt);
        assert_eq!(d.git_branch, c.git_branch);
        assert_eq!(d.cwd, c.cwd);
        assert_eq!(d.tag, c.native_tag);
        assert_eq!(d.created_at, c.created_at);
    }
    // A second run reads nothing.
    let again = Indexer::new(dir.clone()).sync(&store, &nothing).unwrap();
    assert_eq!(again.unchanged, 13);
    assert!(again.read_files.is_empty());
    // A session forgotten by the catalog (its file still there) comes back.
    let first = catalog[0].id.clone();
    assert!(store.delete(&first).unwrap());
    let back = Indexer::new(dir).sync(&store, &nothing).unwrap();
    assert_eq!((back.new, back.unchanged), (1, 12));
    assert!(store.session(&first).unwrap().is_some());
}

#[test]
fn a_resumed_session_is_re_read_alone_and_rewrites_are_detected() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let a = claude(&env, &model, &["-p", "alpha words here"]);
    let b = claude(&env, &model, &["-p", "beta words here"]);
    let dir = ClaudeDir::new(&env.config_dir);
    let store = SqliteStore::memory().unwrap();
    let idx = Indexer::new(dir.clone());
    idx.sync(&store, &nothing).unwrap();
    let before = store.session(&a).unwrap().unwrap();

    claude(
        &env,
        &model,
        &["-p", "gamma appended later", "--resume", &a],
    );
    let r = idx.sync(&store, &nothing).unwrap();
    let fa = dir.find(&a).unwrap().path;
    assert_eq!(
        r.read_files,
        vec![fa.clone()],
        "only the appended file is read"
    );
    assert_eq!(r.appended, 1);
    assert!(
        r.bytes_read < std::fs::metadata(&fa).unwrap().len(),
        "from the old offset, not the start"
    );
    let after = store.session(&a).unwrap().unwrap();
    assert_eq!(after.user_turns, before.user_turns + 1);
    assert!(after.messages > before.messages);
    assert_eq!(search(&store, "gamma"), vec![a.clone()]);
    assert_eq!(search(&store, "alpha"), vec![a.clone()]);

    // Rewritten: the same size is not enough to hide it.
    let fb = dir.find(&b).unwrap().path;
    let text = std::fs::read_to_string(&fb)
        .unwrap()
        .replace("beta words here", "delta words here");
    std::fs::write(&fb, text).unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.rewritten, 1);
    assert_eq!(search(&store, "delta"), vec![b.clone()]);
    assert!(search(&store, "beta").is_empty());
    // Truncated.
    let lines: Vec<String> = std::fs::read_to_string(&fb)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::write(&fb, format!("{}\n", lines[..lines.len() / 2].join("\n"))).unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.rewritten, 1);
    // A torn last line waits until it is whole.
    let mut f = std::fs::OpenOptions::new().append(true).open(&fa).unwrap();
    f.write_all(b"{\"type\":\"user\",\"uuid\":\"x\",\"message\":{\"content\":\"epsilon")
        .unwrap();
    idx.sync(&store, &nothing).unwrap();
    assert!(search(&store, "epsilon").is_empty());
    f.write_all(b" arrives\"}}\n").unwrap();
    idx.sync(&store, &nothing).unwrap();
    assert_eq!(search(&store, "epsilon"), vec![a.clone()]);
}

#[test]
fn a_session_cleaned_up_by_claude_stays_searchable_and_restores_for_the_cli() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let id = claude(
        &env,
        &model,
        &[
            "-p",
            "BASH echo zebra-in-a-tool-input",
            "--allowed-tools",
            "Bash",
        ],
    );
    let dir = ClaudeDir::new(&env.config_dir);
    let store = SqliteStore::memory().unwrap();
    let mut idx = Indexer::new(dir.clone());
    idx.archive = Some(env.root().join("archive"));
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.archived, 1);
    assert_eq!(
        idx.sync(&store, &nothing).unwrap().archived,
        0,
        "unchanged: not stored twice"
    );
    // Found by a phrase said only in a tool's input.
    assert_eq!(
        search(&store, "\"zebra-in-a-tool-input\" has:tool:Bash"),
        vec![id.clone()]
    );

    // Claude Code's cleanup deletes the transcript.
    dir.delete(&id).unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.gone, 1);
    assert!(store.list(&ListFilter::default()).unwrap().is_empty());
    let all = store
        .list(&ListFilter {
            include_gone: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].gone);
    assert_eq!(search(&store, "zebra is:gone"), vec![id.clone()]);

    let path = idx.restore(&store, &id, false, None).unwrap();
    assert!(path.exists());
    assert!(matches!(
        idx.restore(&store, &id, false, None),
        Err(ccsm_index::Error::Exists(_))
    ));
    claude(&env, &model, &["-p", "are you back?", "--resume", &id]);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts()[0], "BASH echo zebra-in-a-tool-input");
    idx.sync(&store, &nothing).unwrap();
    assert!(!store.session(&id).unwrap().unwrap().gone);

    // One version is kept: the resumed transcript's bundle replaced the first.
    let root = env.root().join("archive");
    let bundles = bundles_of(&root, &id);
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    // A bundle in the first layout (a dir per session) still restores.
    let key = store.session(&id).unwrap().unwrap().archive_key.unwrap();
    let legacy = root.join(&id);
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::rename(&bundles[0], legacy.join(format!("{key}.ccsm"))).unwrap();
    dir.delete(&id).unwrap();
    idx.sync(&store, &nothing).unwrap();
    assert!(idx.restore(&store, &id, false, None).unwrap().exists());
    // Forgetting a session's archive removes it, whichever layout.
    idx.forget_archive(&id).unwrap();
    assert!(bundles_of(&root, &id).is_empty());
}

/// The archive's bundles of a session, in any layout.
fn bundles_of(root: &std::path::Path, id: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(id) && n.ends_with(".ccsm")
            }) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_subagents_text_is_found_as_its_sessions_and_survives_re_reads() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture_dir(), tmp.path()).unwrap();
    let session = "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48";
    let alpha = tmp.path().join("projects/-home-dev-src-alpha");
    let sub = alpha.join(format!("{session}/subagents/agent-a5bbca28db8f36e17.jsonl"));
    let original = std::fs::read_to_string(&sub).unwrap();
    // A reply said only in the subagent's transcript.
    let line = original
        .lines()
        .find(|l| l.contains("\"type\":\"assistant\""))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["uuid"] = "0b8f4f8e-1111-4222-8333-944455556666".into();
    v["message"]["content"] =
        serde_json::json!([{"type": "text", "text": "the quokka module owns retries"}]);
    std::fs::write(&sub, format!("{original}{v}\n")).unwrap();

    let dir = ClaudeDir::new(tmp.path());
    let store = SqliteStore::memory().unwrap();
    let mut idx = Indexer::new(dir.clone());
    let archive = tempfile::tempdir().unwrap();
    idx.archive = Some(archive.path().to_path_buf());
    idx.sync(&store, &nothing).unwrap();
    assert_eq!(search(&store, "quokka"), vec![session.to_owned()]);
    assert_eq!(
        search(&store, "\"quokka module\" project:/home/dev/src/alpha"),
        vec![session.to_owned()]
    );

    // The session's own transcript re-read from the start: the subagent's text stays.
    let main = alpha.join(format!("{session}.jsonl"));
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, text.replacen("survey", "Survey", 1)).unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!((r.rewritten, r.subagent_files), (1, 0), "{r:?}");
    assert_eq!(search(&store, "quokka"), vec![session.to_owned()]);

    // The subagent's transcript rewritten: its old text goes, its new text is found.
    let wombat = original.replace("survey the code base", "survey the wombat");
    std::fs::write(&sub, &wombat).unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.subagent_files, 1, "{r:?}");
    assert!(search(&store, "quokka").is_empty());
    assert_eq!(search(&store, "wombat"), vec![session.to_owned()]);
    // The session's own transcript did not change, its archive did: restored after
    // Claude Code deletes the session, the subagent's transcript is the new one.
    assert_eq!(r.archived, 1, "{r:?}");
    assert_eq!(idx.sync(&store, &nothing).unwrap().archived, 0);
    dir.delete(session).unwrap();
    idx.sync(&store, &nothing).unwrap();
    idx.restore(&store, session, false, None).unwrap();
    assert_eq!(std::fs::read_to_string(&sub).unwrap(), wombat);
}

#[test]
fn a_transcript_larger_than_a_segment_reads_as_a_whole_and_resumes_after_a_torn_line() {
    use ccsm_transcripts::pricing::PricingTable;
    use ccsm_transcripts::usage::UsageFilter;
    let tmp = tempfile::tempdir().unwrap();
    let size = ccsm_index::SEGMENT * 5 / 2;
    let path = ccsm_testkit::corpus::generate_single(tmp.path(), size, 11).unwrap();
    // A word said only at the end, in the last segment.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"type\":\"user\",\"uuid\":\"end-1\",\"message\":{\"content\":\"the capybara protocol\"}}\n")
        .unwrap();
    drop(f);
    let dir = ClaudeDir::new(tmp.path());
    let store = SqliteStore::memory().unwrap();
    let idx = Indexer::new(dir.clone());
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(
        (r.new, r.bytes_read),
        (1, std::fs::metadata(&path).unwrap().len())
    );

    // Every message counted once, across segments.
    let text = std::fs::read_to_string(&path).unwrap();
    let messages = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| matches!(v["type"].as_str(), Some("user" | "assistant")))
        .count() as u64;
    let id = path.file_stem().unwrap().to_string_lossy().into_owned();
    let s = store.session(&id).unwrap().unwrap();
    assert_eq!(s.messages, messages);
    // The usage, as the files' own report (deduplicated across segments) has it.
    let report =
        |d: ccsm_transcripts::usage::UsageData| serde_json::to_string(&d.sessions()).unwrap();
    let files = dir
        .usage(&UsageFilter::default(), PricingTable::builtin())
        .unwrap();
    let catalog = ccsm_index::usage_report(
        &store,
        &dir,
        &ccsm_index::UsageScope {
            filter: &UsageFilter::default(),
            periods: false,
            include_gone: false,
            host: None,
            folders: None,
        },
        PricingTable::builtin(),
    )
    .unwrap();
    assert_eq!(report(catalog), report(files));
    // Text from the last segment is found.
    assert_eq!(search(&store, "capybara"), vec![id.clone()]);

    // A torn last line, then its end: read once, whole.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"type\":\"user\",\"uuid\":\"torn-1\",\"message\":{\"content\":\"pangolin")
        .unwrap();
    idx.sync(&store, &nothing).unwrap();
    assert!(search(&store, "pangolin").is_empty());
    f.write_all(b" arrives\"}}\n").unwrap();
    let r = idx.sync(&store, &nothing).unwrap();
    assert_eq!(r.appended, 1);
    assert_eq!(search(&store, "pangolin"), vec![id.clone()]);
    assert_eq!(store.session(&id).unwrap().unwrap().messages, messages + 1);
}

/// Sets the mtimes of a config dir's folders ten seconds back, as if the last
/// change were that old (a quiet signature is kept only once folders settle).
fn settle(config: &std::path::Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
    let projects = config.join("projects");
    let mut dirs = vec![config.join("sessions"), projects.clone()];
    dirs.extend(
        std::fs::read_dir(&projects)
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for d in dirs {
        std::fs::File::open(&d).unwrap().set_modified(past).unwrap();
    }
}

fn user_line(text: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({"type": "user", "uuid": format!("u-{text}"),
            "message": {"role": "user", "content": text}})
    )
}

#[test]
fn a_quiet_config_dir_syncs_without_a_walk_and_still_sees_what_the_cli_writes() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let a = claude(&env, &model, &["-p", "alpha words here"]);
    let b = claude(&env, &model, &["-p", "beta words here"]);
    let dir = ClaudeDir::new(&env.config_dir);
    let store = SqliteStore::memory().unwrap();
    let idx = Indexer::new(dir.clone());
    let fa = dir.find(&a).unwrap().path;
    let append = |text: &str| {
        let mut f = std::fs::OpenOptions::new().append(true).open(&fa).unwrap();
        f.write_all(user_line(text).as_bytes()).unwrap();
    };
    idx.sync(&store, &nothing).unwrap();
    settle(&env.config_dir);
    assert_eq!(idx.sync_quick(&store, &nothing).unwrap().unchanged, 2);

    // Appended in place by a program that is not a running CLI: a quick sync
    // trusts the signature and reads nothing; `ccsm index` (a whole sync) reads it.
    append("zeta by hand");
    let r = idx.sync_quick(&store, &nothing).unwrap();
    assert!(r.read_files.is_empty(), "{r:?}");
    assert_eq!((r.files, r.unchanged), (2, 2));
    assert!(search(&store, "zeta").is_empty());
    assert_eq!(
        idx.sync(&store, &nothing).unwrap().read_files,
        vec![fa.clone()]
    );
    assert_eq!(search(&store, "zeta"), vec![a.clone()]);

    // A running CLI (its registry entry names the session): what it appends is
    // read by the next quick sync, with no folder's mtime moved; that file alone
    // is looked at (another one appended by hand meanwhile is not).
    let cwd = store.session(&a).unwrap().unwrap().cwd.unwrap();
    let entry = env
        .config_dir
        .join("sessions")
        .join(format!("{}.json", std::process::id()));
    std::fs::write(
        &entry,
        serde_json::json!({"pid": std::process::id(), "sessionId": a, "cwd": cwd,
            "kind": "interactive", "status": "busy"})
        .to_string(),
    )
    .unwrap();
    settle(&env.config_dir);
    idx.sync_quick(&store, &nothing).unwrap();
    append("eta while running");
    let fb = dir.find(&b).unwrap().path;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&fb)
        .unwrap()
        .write_all(user_line("kappa by hand").as_bytes())
        .unwrap();
    let r = idx.sync_quick(&store, &nothing).unwrap();
    assert_eq!(r.read_files, vec![fa.clone()]);
    assert_eq!(search(&store, "eta"), vec![a.clone()]);
    assert!(search(&store, "kappa").is_empty());
    assert_eq!(idx.sync(&store, &nothing).unwrap().read_files, vec![fb]);

    // It ends; the real CLI resumes the session later: its start and end move
    // the registry's mtime, and the turn is read.
    std::fs::remove_file(&entry).unwrap();
    settle(&env.config_dir);
    idx.sync_quick(&store, &nothing).unwrap();
    assert!(idx
        .sync_quick(&store, &nothing)
        .unwrap()
        .read_files
        .is_empty());
    claude(&env, &model, &["-p", "theta resumed", "--resume", &a]);
    let r = idx.sync_quick(&store, &nothing).unwrap();
    assert_eq!(r.read_files, vec![fa.clone()]);
    assert_eq!(search(&store, "theta"), vec![a.clone()]);

    // ccsm's own appends (a rename) move their folder's mtime: seen too.
    settle(&env.config_dir);
    idx.sync_quick(&store, &nothing).unwrap();
    dir.rename(&a, "iota title").unwrap();
    idx.sync_quick(&store, &nothing).unwrap();
    assert_eq!(
        store.session(&a).unwrap().unwrap().custom_title.as_deref(),
        Some("iota title")
    );
}
