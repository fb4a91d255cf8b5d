//! ccsm-transcripts against the official Agent SDK (run under Node): on the
//! recorded fixture and on directories made live by the real CLI, both must read
//! the same sessions, fields and message uuids in the same order.
#![allow(clippy::unwrap_used)] // a test that meets bad data should panic

use std::io::Write as _;
use std::path::Path;

use ccsm_testkit::{
    copy_tree, fixture_dir, sdk_view, MockModel, Reply, Rule, Scenario, TestEnv, ToolCall,
};
use ccsm_transcripts::{ClaudeDir, MessageOptions};
use serde_json::{json, Value};

fn ours(dir: &ClaudeDir, ids: &[String]) -> Value {
    let sessions = dir.list_sessions(None, None, 0).unwrap();
    let page = dir.list_sessions(None, Some(3), 1).unwrap();
    let mut info = serde_json::Map::new();
    let mut messages = serde_json::Map::new();
    let mut system = serde_json::Map::new();
    let mut subagents = serde_json::Map::new();
    let brief = |m: Vec<ccsm_transcripts::SessionMessage>| -> Value {
        m.into_iter()
            .map(|m| json!({"type": m.kind, "uuid": m.uuid}))
            .collect()
    };
    // The default listing as the SDK gives it, with each message's time and meta flag.
    let full = |m: Vec<ccsm_transcripts::SessionMessage>| -> Value {
        m.into_iter()
            .map(|m| {
                let mut v = json!({"type": m.kind, "uuid": m.uuid, "timestamp": m.timestamp});
                if m.is_meta {
                    v["is_meta"] = json!(true);
                }
                v
            })
            .collect()
    };
    for id in ids {
        info.insert(id.clone(), serde_json::to_value(dir.info(id).ok()).unwrap());
        messages.insert(
            id.clone(),
            full(
                dir.messages(id, MessageOptions::default())
                    .unwrap_or_default(),
            ),
        );
        system.insert(
            id.clone(),
            brief(
                dir.messages(
                    id,
                    MessageOptions {
                        include_system: true,
                        ..Default::default()
                    },
                )
                .unwrap_or_default(),
            ),
        );
        subagents.insert(id.clone(), json!(dir.subagents(id).unwrap_or_default()));
    }
    json!({"sessions": sessions, "page": page, "info": info, "messages": messages,
           "systemMessages": system, "subagents": subagents})
}

/// Compares key by key so a failure names what differs.
fn assert_same(sdk: &Value, ccsm: &Value) {
    for key in [
        "sessions",
        "page",
        "info",
        "messages",
        "systemMessages",
        "subagents",
    ] {
        let (a, b) = (&sdk[key], &ccsm[key]);
        if a == b {
            continue;
        }
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap();
        // Name the first element that differs, then show both whole.
        let first = match (a, b) {
            (Value::Array(x), Value::Array(y)) => (0..x.len().max(y.len()))
                .find(|i| x.get(*i) != y.get(*i))
                .map(|i| format!("element {i}: SDK {:?} / ccsm {:?}", x.get(i), y.get(i))),
            (Value::Object(x), Value::Object(y)) => x
                .keys()
                .chain(y.keys())
                .find(|k| x.get(*k) != y.get(*k))
                .map(|k| format!("{k}: SDK {:?} / ccsm {:?}", x.get(k), y.get(k))),
            _ => None,
        };
        panic!(
            "{key} differs: {}\n--- SDK\n{}\n--- ccsm\n{}",
            first.unwrap_or_default(),
            pretty(a),
            pretty(b)
        );
    }
}

fn ids_of(v: &Value) -> Vec<String> {
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_recorded_fixture_reads_as_the_sdk_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture_dir(), tmp.path()).unwrap();
    let sdk = sdk_view(tmp.path(), &[]);
    let ids = ids_of(&sdk);
    assert_eq!(ids.len(), 13);
    let dir = ClaudeDir::new(tmp.path());
    assert_same(&sdk, &ours(&dir, &ids));
}

/// The real CLI in `cwd`; returns the session id (JSON output is asked for here).
fn run(env: &TestEnv, model: &MockModel, cwd: &Path, args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.extend(["--output-format", "json"]);
    let mut cmd = env.claude(model, &args);
    cmd.current_dir(cwd);
    let out = ccsm_testkit::CliRun::from(ccsm_testkit::run_with_deadline(
        cmd,
        std::time::Duration::from_secs(60),
    ));
    assert!(out.status.success(), "{out:?}");
    out.session_id().unwrap()
}

#[test]
fn a_live_directory_and_ccsm_changes_read_as_the_sdk_reads_them() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let a = run(&env, &model, &env.project, &["-p", "My name is Alice"]);
    run(
        &env,
        &model,
        &env.project,
        &["-p", "What is my name?", "--resume", &a],
    );
    let forked = run(
        &env,
        &model,
        &env.project,
        &["-p", "fork here", "--resume", &a, "--fork-session"],
    );
    let weird = env.mkdir("my project (v2)/ünïcode");
    let w = run(&env, &model, &weird, &["-p", "Unicode path"]);
    let tool = run(
        &env,
        &model,
        &env.project,
        &["-p", "BASH echo hi", "--allowed-tools", "Bash"],
    );
    // A compaction: /compact, then a turn after it.
    let compacted = run(&env, &model, &env.project, &["-p", "before compaction"]);
    run(
        &env,
        &model,
        &env.project,
        &["-p", "/compact", "--resume", &compacted],
    );
    run(
        &env,
        &model,
        &env.project,
        &["-p", "after compaction", "--resume", &compacted],
    );
    assert!(std::fs::read_to_string(
        ClaudeDir::new(&env.config_dir)
            .find(&compacted)
            .unwrap()
            .path
    )
    .unwrap()
    .contains("compact_boundary"));

    let dir = ClaudeDir::new(&env.config_dir);
    dir.rename(&a, "Alice's session").unwrap();
    dir.tag(&a, Some("important")).unwrap();
    dir.tag(&w, Some("temp")).unwrap();
    dir.tag(&w, None).unwrap();
    dir.set_archived(&tool, true).unwrap();
    let ccsm_fork = dir.fork(&a, None, None).unwrap();

    // Damage: a garbage line, a torn last line, an empty file, a stray .jsonl.
    let fa = dir.find(&forked).unwrap().path;
    let mut f = std::fs::OpenOptions::new().append(true).open(&fa).unwrap();
    f.write_all(b"this is not json\n{\"type\":\"user\",\"message\":{\"content\":\"torn")
        .unwrap();
    let pdir = fa.parent().unwrap();
    std::fs::write(pdir.join(format!("{}.jsonl", uuid::Uuid::new_v4())), b"").unwrap();
    std::fs::write(pdir.join("notes.jsonl"), b"{\"type\":\"user\"}\n").unwrap();

    let sdk = sdk_view(&env.config_dir, &[]);
    let ids = ids_of(&sdk);
    for id in [&a, &forked, &w, &tool, &ccsm_fork, &compacted] {
        assert!(ids.contains(id), "the SDK lists {id}");
    }
    assert_same(&sdk, &ours(&dir, &ids));

    let info = dir.info(&a).unwrap();
    assert_eq!(info.custom_title.as_deref(), Some("Alice's session"));
    assert_eq!(info.tag.as_deref(), Some("important"));
    assert_eq!(dir.info(&w).unwrap().tag, None);
    assert_eq!(dir.info(&tool).unwrap().archived, Some(true));
    assert_eq!(
        dir.info(&ccsm_fork).unwrap().custom_title.as_deref(),
        Some("Alice's session (fork)")
    );
}

/// The model calls three tools in one message: the CLI writes each call as its own
/// line and hangs each result off its own call, so two results sit on side
/// branches. The SDK puts them back; so must ccsm (and a fork must keep them).
#[test]
fn parallel_tool_calls_recorded_with_the_real_cli_read_as_the_sdk_reads_them() {
    let env = TestEnv::new();
    std::fs::write(env.project.join("notes.txt"), "remember the milk\n").unwrap();
    let calls = vec![
        ToolCall {
            name: "Bash".into(),
            input: json!({"command": "echo first-call", "description": "first"}),
        },
        ToolCall {
            name: "Read".into(),
            input: json!({"file_path": env.project.join("notes.txt")}),
        },
        ToolCall {
            name: "Bash".into(),
            input: json!({"command": "echo third-call", "description": "third"}),
        },
    ];
    let model = MockModel::start(
        Scenario::echo().rule(
            Rule::when_contains("three at once")
                .then(Reply::ToolUses {
                    calls,
                    text: Some("Running three tools.".into()),
                })
                .then(Reply::EchoToolResult),
        ),
    );
    let id = run(
        &env,
        &model,
        &env.project,
        &["-p", "three at once", "--allowed-tools", "Bash Read"],
    );
    run(
        &env,
        &model,
        &env.project,
        &["-p", "and then?", "--resume", &id],
    );
    let dir = ClaudeDir::new(&env.config_dir);
    let msgs = dir.messages(&id, MessageOptions::default()).unwrap();
    let results: Vec<String> = msgs
        .iter()
        .flat_map(|m| m.message["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .map(|b| b["tool_use_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        results.len(),
        3,
        "every tool result is a message: {msgs:#?}"
    );
    let sdk = sdk_view(&env.config_dir, &[]);
    assert_same(&sdk, &ours(&dir, &ids_of(&sdk)));
    assert!(
        sdk["texts"][&id].to_string().contains("first-call"),
        "the SDK shows the side branch's result"
    );

    // A fork keeps every call with its result (the API refuses a tool_use without one).
    let fork = dir.fork(&id, None, None).unwrap();
    let forked = dir.messages(&fork, MessageOptions::default()).unwrap();
    assert_eq!(forked.len(), msgs.len());
    let out = run(
        &env,
        &model,
        &env.project,
        &["-p", "after the fork", "--resume", &fork],
    );
    assert_eq!(out, fork);
}

#[test]
fn a_ccsm_fork_is_resumed_by_the_real_cli_with_its_history() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let a = run(&env, &model, &env.project, &["-p", "first words"]);
    run(
        &env,
        &model,
        &env.project,
        &["-p", "second words", "--resume", &a],
    );
    let dir = ClaudeDir::new(&env.config_dir);
    // Cut after the first answer: the fork holds only the first exchange.
    let msgs = dir.messages(&a, MessageOptions::default()).unwrap();
    let first_answer = msgs.iter().find(|m| m.kind == "assistant").unwrap();
    let fork = dir.fork(&a, Some(&first_answer.uuid), Some("Cut")).unwrap();
    let before = std::fs::read(dir.find(&a).unwrap().path).unwrap();
    let out = run(
        &env,
        &model,
        &env.project,
        &["-p", "after the fork", "--resume", &fork],
    );
    assert_eq!(out, fork);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts(), vec!["first words", "after the fork"]);
    assert_eq!(
        std::fs::read(dir.find(&a).unwrap().path).unwrap(),
        before,
        "the original is unchanged"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.find(&fork).unwrap().path)
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn deleting_leaves_no_file_behind() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture_dir(), tmp.path()).unwrap();
    let dir = ClaudeDir::new(tmp.path());
    let id = "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48"; // has a subagent sidecar dir
    let f = dir.find(id).unwrap();
    assert!(f.sidecar_dir().is_dir());
    dir.delete(id).unwrap();
    assert!(!f.path.exists() && !f.sidecar_dir().exists());
    assert!(matches!(
        dir.info(id),
        Err(ccsm_transcripts::Error::NotFound(_))
    ));
    let sdk = sdk_view(tmp.path(), &[]);
    assert!(!ids_of(&sdk).contains(&id.to_owned()));
}

#[test]
fn damaged_input_gives_sensible_results_or_clear_errors() {
    let missing = ClaudeDir::new("/nonexistent/claude-config");
    let err = missing.list_sessions(None, None, 0).unwrap_err();
    assert!(
        err.to_string().contains("no Claude Code config dir"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = ClaudeDir::new(tmp.path());
    assert!(
        dir.list_sessions(None, None, 0).unwrap().is_empty(),
        "no projects yet"
    );
    assert!(matches!(
        dir.info("../../etc/passwd"),
        Err(ccsm_transcripts::Error::InvalidId(_))
    ));
    let id = uuid::Uuid::new_v4().to_string();
    assert!(matches!(
        dir.info(&id),
        Err(ccsm_transcripts::Error::NotFound(_))
    ));
    let p = tmp.path().join("projects/-x");
    std::fs::create_dir_all(&p).unwrap();
    let garbage = uuid::Uuid::new_v4().to_string();
    std::fs::write(
        p.join(format!("{garbage}.jsonl")),
        "\u{0}\u{1}garbage\n{\"type\":\"user\",\"uuid\":\"u1\",\"parentUuid\":null,\"message\":{\"role\":\"user\",\"content\":\"hello\"},\"sessionId\":\"x\"}\n{\"type\":\"assistant\",\"uuid\":\"u2\",\"parentUuid\":\"u1\",\"mess",
    )
    .unwrap();
    let info = dir.info(&garbage).unwrap();
    assert_eq!(info.first_prompt.as_deref(), Some("hello"));
    let msgs = dir.messages(&garbage, MessageOptions::default()).unwrap();
    assert_eq!(msgs.len(), 1, "the torn assistant line is skipped");
    assert!(dir.rename(&garbage, "   ").is_err());
}

fn token_view(sessions: &Value) -> std::collections::BTreeMap<String, [u64; 5]> {
    sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap();
            (
                s["sessionId"].as_str().unwrap().to_owned(),
                [
                    n("inputTokens"),
                    n("outputTokens"),
                    n("cacheCreationTokens"),
                    n("cacheReadTokens"),
                    n("totalTokens"),
                ],
            )
        })
        .collect()
}

fn usage_json(dir: &ClaudeDir) -> Value {
    let d = dir
        .usage(
            &ccsm_transcripts::usage::UsageFilter::default(),
            ccsm_transcripts::pricing::PricingTable::builtin(),
        )
        .unwrap();
    json!({"sessions": d.sessions(), "totals": d.totals()})
}

#[test]
fn usage_tokens_equal_ccusage_on_a_generated_corpus_and_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    ccsm_testkit::corpus::generate(
        tmp.path(),
        &ccsm_testkit::corpus::CorpusSpec::sized(24 << 20, 11),
    )
    .unwrap();
    copy_tree(
        &fixture_dir().join("projects"),
        &tmp.path().join("projects"),
    )
    .unwrap();
    let theirs = ccsm_testkit::ccusage(tmp.path(), "session");
    let ours = usage_json(&ClaudeDir::new(tmp.path()));
    let (a, b) = (
        token_view(&theirs["sessions"]),
        token_view(&ours["sessions"]),
    );
    assert!(a.len() > 20, "the corpus has sessions ({})", a.len());
    for (id, t) in &a {
        assert_eq!(b.get(id), Some(t), "tokens of session {id}");
    }
    assert_eq!(a.len(), b.len());
    for k in [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ] {
        assert_eq!(theirs["totals"][k], ours["totals"][k], "totals.{k}");
    }
}

/// A transcript whose last line has no final newline: rename and tag used to glue
/// their line onto it, and the last message disappeared.
#[test]
fn rename_and_tag_keep_a_last_line_without_its_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("projects/-x");
    std::fs::create_dir_all(&p).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let user = json!({"type": "user", "uuid": "u1", "parentUuid": null, "sessionId": id,
        "message": {"role": "user", "content": "hello"}});
    let reply = json!({"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": id,
        "message": {"id": "m1", "role": "assistant", "content": [{"type": "text", "text": "hi"}]}});
    std::fs::write(p.join(format!("{id}.jsonl")), format!("{user}\n{reply}")).unwrap();
    let dir = ClaudeDir::new(tmp.path());
    dir.rename(&id, "Greeting").unwrap();
    dir.tag(&id, Some("kept")).unwrap();
    let msgs = dir.messages(&id, MessageOptions::default()).unwrap();
    assert_eq!(msgs.len(), 2, "the last message is still there");
    let info = dir.info(&id).unwrap();
    assert_eq!(info.custom_title.as_deref(), Some("Greeting"));
    assert_eq!(info.tag.as_deref(), Some("kept"));
}

/// One bad line (a lone `\ud800` as JavaScript writes for a cut emoji, an invalid
/// UTF-8 byte, `1e400`) made `sessions messages` fail for the whole session. The
/// SDK reads such lines as JavaScript does; so does ccsm now.
#[test]
fn lines_javascript_reads_but_serde_does_not_read_as_the_sdk_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("projects/-home-dev-p");
    std::fs::create_dir_all(&p).unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let line = |uuid: &str, parent: &str, kind: &str, text: &str| {
        format!(
            r#"{{"type":"{kind}","uuid":"{uuid}","parentUuid":{parent},"sessionId":"{id}","timestamp":"2026-11-20T10:00:0{n}.000Z","cwd":"/home/dev/p","message":{{"role":"{kind}","content":[{{"type":"text","text":"{text}"}}]}}}}"#,
            n = uuid.len() % 10
        )
    };
    let mut bytes = Vec::new();
    bytes.extend(line("u1", "null", "user", "hello").as_bytes());
    bytes.push(b'\n');
    bytes.extend(line("a1", r#""u1""#, "assistant", r"a cut emoji \ud83d").as_bytes());
    bytes.push(b'\n');
    let bad_byte = line("u22", r#""a1""#, "user", "a stray byte X");
    bytes.extend(bad_byte.replace("byte X", "byte \u{1}").as_bytes());
    let at = bytes.iter().rposition(|b| *b == 1).unwrap();
    bytes[at] = 0xff;
    bytes.push(b'\n');
    let big = line("a333", r#""u22""#, "assistant", "big").replace(
        r#""role":"assistant""#,
        r#""role":"assistant","usage":{"input_tokens":1e400,"output_tokens":1}"#,
    );
    bytes.extend(big.as_bytes());
    bytes.push(b'\n');
    std::fs::write(p.join(format!("{id}.jsonl")), &bytes).unwrap();
    let dir = ClaudeDir::new(tmp.path());
    let msgs = dir.messages(&id, MessageOptions::default()).unwrap();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    let sdk = sdk_view(tmp.path(), &[]);
    assert_same(&sdk, &ours(&dir, &ids_of(&sdk)));
}

/// The process table's tokens and cost of a session ccsm did not start come from a
/// tally that reads only what was appended: it must say what the usage report says,
/// however the writes fell (a line cut in two waits for its end).
#[test]
fn a_tally_read_as_the_file_grows_equals_the_usage_report() {
    let corpus = tempfile::tempdir().unwrap();
    ccsm_testkit::corpus::generate(
        corpus.path(),
        &ccsm_testkit::corpus::CorpusSpec::sized(4 << 20, 5),
    )
    .unwrap();
    let biggest = walk_files(&corpus.path().join("projects"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let bytes = std::fs::read(&biggest).unwrap();
    let id = biggest.file_stem().unwrap().to_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("projects/-p");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join(format!("{id}.jsonl"));
    let pricing = ccsm_transcripts::pricing::PricingTable::builtin();
    let mut tally = ccsm_transcripts::tally::Tally::new(&file);
    assert!(tally.advance(&pricing).is_err(), "no file yet");
    let mut f = std::fs::File::create(&file).unwrap();
    // Cuts at odd places: mid-line, mid-UTF-8, right after a newline.
    let mut at = 0;
    for cut in [
        1,
        777,
        bytes.len() / 3,
        bytes.len() / 2 + 13,
        bytes.len() - 2,
    ] {
        f.write_all(&bytes[at..cut]).unwrap();
        at = cut;
        tally.advance(&pricing).unwrap();
    }
    f.write_all(&bytes[at..]).unwrap();
    tally.advance(&pricing).unwrap();
    tally.advance(&pricing).unwrap();

    let report = usage_json(&ClaudeDir::new(dir.path()));
    let row = &report["sessions"][0];
    assert_eq!(row["sessionId"], id.as_str());
    let t = tally.tokens();
    assert!(t.total() > 0, "the session has usage");
    assert_eq!(
        [
            t.input_tokens,
            t.output_tokens,
            t.cache_creation_tokens,
            t.cache_read_tokens,
            t.total()
        ],
        token_view(&report["sessions"])[&id]
    );
    let cost = row["totalCost"].as_f64().unwrap();
    assert!(
        (tally.cost_usd() - cost).abs() < 1e-9,
        "{} vs {cost}",
        tally.cost_usd()
    );
    assert!(tally.model().is_some());

    // Replaced by a shorter file (a rewrite): counted again from its start.
    std::fs::write(&file, b"").unwrap();
    tally.advance(&pricing).unwrap();
    assert_eq!(tally.tokens().total(), 0);
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
