//! The `ccsm` command line, driven as a user would, against the real CLI and the
//! scripted model.
#![allow(clippy::unwrap_used)] // a test that meets bad data should panic

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

mod hostile;
mod json_snapshots;
mod layout;
mod postgres;
mod resources;
mod trust;

use ccsm_testkit::{claude_cli, run_with_deadline, wait_for, CliRun, MockModel, Scenario, TestEnv};

fn ccsm(env: &TestEnv, model: &MockModel, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    env.configure(&mut c, model);
    c.env("CCSM_CLAUDE_PATH", claude_cli()).args(args);
    c
}

fn run(env: &TestEnv, model: &MockModel, args: &[&str]) -> CliRun {
    let mut c = ccsm(env, model, args);
    c.stdin(Stdio::null());
    CliRun::from(run_with_deadline(c, Duration::from_secs(60)))
}

#[test]
fn version_and_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_ccsm"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ccsm 0."));
    let out = Command::new(env!("CARGO_BIN_EXE_ccsm"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "chat"] {
        assert!(help.contains(cmd), "{help}");
    }
}

#[test]
fn run_streams_the_reply_and_ends_with_a_summary() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let r = run(&env, &model, &["run", "hello there"]);
    assert!(r.status.success(), "{r:?}");
    assert_eq!(r.stdout.trim(), "echo: hello there");
    let id = env.transcripts()[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(r.stderr.contains(&format!("session {id}")), "{}", r.stderr);
    assert!(
        r.stderr.contains("1 turn(s)") && r.stderr.contains("tokens") && r.stderr.contains('$')
    );
}

#[test]
fn run_shows_tool_calls_compactly() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let r = run(
        &env,
        &model,
        &["run", "BASH echo from-the-tool", "--allowed-tools", "Bash"],
    );
    assert!(r.status.success(), "{r:?}");
    assert!(
        r.stdout.contains("⏺ Bash(echo from-the-tool)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("⎿ from-the-tool"), "{}", r.stdout);
}

#[test]
fn run_json_prints_the_raw_stream() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let r = run(&env, &model, &["run", "--json", "hi"]);
    assert!(r.status.success());
    let lines = r.json_lines();
    assert_eq!(lines.len(), r.stdout.lines().count(), "only JSON on stdout");
    assert_eq!(lines[0]["subtype"], "init");
    assert_eq!(lines.last().unwrap()["type"], "result");
    assert_eq!(lines.last().unwrap()["result"], "echo: hi");
}

#[test]
fn run_resume_and_fork_carry_the_history() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let first = run(&env, &model, &["run", "--json", "My name is Alice"]);
    let id = first.session_id().unwrap();
    let r = run(
        &env,
        &model,
        &["run", "--json", "--resume", &id, "Who am I?"],
    );
    assert_eq!(r.session_id().unwrap(), id);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts(), vec!["My name is Alice", "Who am I?"]);

    let r = run(
        &env,
        &model,
        &["run", "--json", "--continue", "--fork", "Fork it"],
    );
    assert_ne!(r.session_id().unwrap(), id);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts()[0], "My name is Alice");
}

#[test]
fn run_reports_an_api_error_with_a_nonzero_exit() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let mut c = ccsm(&env, &model, &["run", "FAIL 500"]);
    c.env("CLAUDE_CODE_MAX_RETRIES", "0").stdin(Stdio::null());
    let r = CliRun::from(run_with_deadline(c, Duration::from_secs(60)));
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    assert!(
        r.stderr.contains("error:") && r.stderr.contains("500"),
        "{}",
        r.stderr
    );
}

#[test]
fn run_ctrl_c_interrupts_cleanly_and_exits_nonzero() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let mut c = ccsm(&env, &model, &["run", "SLOW 40"]);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id();
    wait_for("the slow request", Duration::from_secs(30), || {
        (!model.message_requests().is_empty()).then_some(())
    });
    let claude_pids = ccsm_claude::process::descendants(pid);
    assert!(!claude_pids.is_empty());
    // What a terminal's Ctrl-C does: SIGINT to ccsm (the CLI has its own group).
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("ccsm exits after Ctrl-C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    for p in claude_pids {
        assert!(!ccsm_testkit::fake::process_alive(p), "{p} outlived ccsm");
    }
}

#[test]
fn chat_keeps_context_and_switches_model_at_runtime() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let mut c = ccsm(&env, &model, &["chat"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\n/model claude-next-1\nsecond\n/permissions acceptEdits\nthird\n")
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["echo: first", "echo: second", "echo: third"]
    );
    assert!(stderr.contains("model: claude-next-1"));
    assert!(stderr.contains("permission mode: acceptEdits"));
    let reqs = model.message_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].model.as_deref(), Some("claude-next-1"));
    assert_eq!(reqs[2].user_prompts(), vec!["first", "second", "third"]);
    // The CLI checks a new model with a one-token probe before using it.
    assert_eq!(
        model.probe_requests()[0].model.as_deref(),
        Some("claude-next-1")
    );
}

// ------------------------------------------------ sessions, projects and usage

fn ccsm_at(config: &std::path::Path, args: &[&str]) -> CliRun {
    // ccsm's own data (the catalog) inside the temp dir, never the user's.
    ccsm_with_home(config, &config.join(".ccsm"), args)
}

/// `ccsm --config-dir CONFIG ARGS` with ccsm's data dir at `home`.
fn ccsm_with_home(config: &std::path::Path, home: &std::path::Path, args: &[&str]) -> CliRun {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.arg("--config-dir")
        .arg(config)
        .args(args)
        .stdin(Stdio::null());
    for k in TestEnv::leaky_vars() {
        c.env_remove(k);
    }
    // No config file of the user's: a test's defaults are its own.
    c.env("CCSM_HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("CCSM_CONFIG");
    CliRun::from(run_with_deadline(c, Duration::from_secs(60)))
}

#[test]
fn usage_and_projects_from_the_catalog_equal_the_files_reports_as_files_change() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    ccsm_testkit::corpus::generate(&cfg, &ccsm_testkit::corpus::CorpusSpec::sized(2 << 20, 7))
        .unwrap();
    let reports = ["session", "daily", "monthly", "models"];
    let same = |when: &str| {
        for r in reports {
            let catalog = ccsm_at(&cfg, &["usage", r, "--json"]);
            let files = ccsm_at(&cfg, &["--direct", "usage", r, "--json"]);
            assert!(
                catalog.status.success() && files.status.success(),
                "{catalog:?}"
            );
            // Not assert_eq: the reports are long.
            assert!(catalog.stdout == files.stdout, "{when}: usage {r} differs");
        }
        let catalog = ccsm_at(&cfg, &["projects", "list", "--json"]);
        let files = ccsm_at(&cfg, &["--direct", "projects", "list", "--json"]);
        assert!(catalog.status.success(), "{catalog:?}");
        assert_eq!(catalog.stdout, files.stdout, "{when}: projects differ");
    };
    same("first index");
    let total = |args: &[&str]| {
        json_of(&ccsm_at(&cfg, args))["totals"]["outputTokens"]
            .as_u64()
            .unwrap()
    };
    let before = total(&["usage", "session", "--json"]);

    // A subagent's transcript grows: its calls count to its session.
    let sub = cfg.join("projects/-home-dev-src-alpha/98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48/subagents/agent-a5bbca28db8f36e17.jsonl");
    let text = std::fs::read_to_string(&sub).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"usage\"") && l.contains("\"assistant\""))
        .expect("a usage line in the subagent's transcript");
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["message"]["id"] = "msg_added_by_the_test".into();
    v["requestId"] = "req_added_by_the_test".into();
    v["message"]["usage"]["output_tokens"] = 1000.into();
    let mut f = std::fs::OpenOptions::new().append(true).open(&sub).unwrap();
    writeln!(f, "{v}").unwrap();
    drop(f);
    same("after a subagent grew");
    assert_eq!(total(&["usage", "session", "--json"]), before + 1000);

    // A transcript deleted (as the CLI's cleanup does): left out like the files'
    // report leaves it out, still counted on request.
    // (A generated one: none of its calls is copied into another transcript.)
    let gone = ccsm_testkit::transcripts_in(&cfg)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("project-000"))
        .unwrap();
    std::fs::remove_file(&gone).unwrap();
    same("after a delete");
    let with_gone = total(&["usage", "session", "--json", "--include-gone"]);
    assert!(
        with_gone > total(&["usage", "session", "--json"]),
        "{with_gone}"
    );
    let r = ccsm_at(&cfg, &["--direct", "usage", "session", "--include-gone"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(r.stderr.contains("needs the catalog"), "{}", r.stderr);
    // An original whose fork repeats its calls is deleted (the fixture's pair: equal
    // copies count to the smaller path while both are there): the fork's copies
    // count now, as in the files' report.
    std::fs::remove_file(
        cfg.join("projects/-home-dev-src-alpha/781747e8-b0e0-40d8-9bb1-39f1bd4475b1.jsonl"),
    )
    .unwrap();
    same("after an original with a fork was deleted");
    // Projects count the deleted session only on request, as gone.
    let projects = json_of(&ccsm_at(
        &cfg,
        &["projects", "list", "--json", "--include-gone"],
    ));
    let dir = gone
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let p = projects
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["dirName"] == dir.as_str())
        .expect("the project is listed");
    assert_eq!(p["goneSessions"], 1, "{p}");
    let present = json_of(&ccsm_at(&cfg, &["projects", "list", "--json"]));
    let q = present
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["dirName"] == dir.as_str());
    assert_eq!(
        q.map_or(0, |q| q["sessions"].as_u64().unwrap()) + 1,
        p["sessions"].as_u64().unwrap()
    );
}

fn json_of(r: &CliRun) -> serde_json::Value {
    assert!(r.status.success(), "{r:?}");
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn sessions_json_uses_the_sdks_names_and_agrees_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), tmp.path()).unwrap();
    let sdk = ccsm_testkit::sdk_view(tmp.path(), &[]);
    let list = json_of(&ccsm_at(tmp.path(), &["sessions", "list", "--json"]));
    assert_eq!(list, sdk["sessions"]);
    let page = json_of(&ccsm_at(
        tmp.path(),
        &[
            "sessions", "list", "--json", "--limit", "3", "--offset", "1",
        ],
    ));
    assert_eq!(page, sdk["page"]);
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let info = json_of(&ccsm_at(tmp.path(), &["sessions", "info", id, "--json"]));
    assert_eq!(info, sdk["info"][id]);
    let msgs = json_of(&ccsm_at(
        tmp.path(),
        &["sessions", "messages", id, "--json"],
    ));
    let brief: Vec<serde_json::Value> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::json!({"type": m["type"], "uuid": m["uuid"], "timestamp": m["timestamp"]}))
        .collect();
    assert_eq!(serde_json::Value::from(brief), sdk["messages"][id]);
    assert_eq!(msgs[0]["session_id"], id);
    assert!(msgs[0]["message"]["content"].is_string());
    let subs = json_of(&ccsm_at(
        tmp.path(),
        &[
            "sessions",
            "subagents",
            "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48",
            "--json",
        ],
    ));
    assert_eq!(subs, serde_json::json!(["a5bbca28db8f36e17"]));
    let projects = json_of(&ccsm_at(tmp.path(), &["projects", "list", "--json"]));
    let paths: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["path"].as_str())
        .collect();
    assert!(paths.contains(&"/home/dev/src/my project (v2)/ünïcode"));
    assert_eq!(paths.len(), 3);
}

#[test]
fn changes_through_the_cli_are_read_back_by_the_sdk() {
    let tmp = tempfile::tempdir().unwrap();
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), tmp.path()).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let ok = |args: &[&str]| {
        let r = ccsm_at(tmp.path(), args);
        assert!(r.status.success(), "{args:?}: {r:?}");
        r
    };
    ok(&["sessions", "rename", id, "Who is Alice"]);
    ok(&["sessions", "tag", id, "people"]);
    ok(&["sessions", "archive", id]);
    let fork = ok(&["sessions", "fork", id, "--title", "Alice again"])
        .stdout
        .trim()
        .to_owned();
    let sdk = ccsm_testkit::sdk_view(tmp.path(), &[id, &fork]);
    assert_eq!(sdk["info"][id]["customTitle"], "Who is Alice");
    assert_eq!(sdk["info"][id]["tag"], "people");
    assert_eq!(sdk["info"][id]["archived"], true);
    assert_eq!(sdk["info"][&fork]["customTitle"], "Alice again (fork)");
    assert_eq!(sdk["messages"][&fork].as_array().unwrap().len(), 4);
    ok(&["sessions", "tag", id, "--clear"]);
    ok(&["sessions", "unarchive", id]);
    let sdk = ccsm_testkit::sdk_view(tmp.path(), &[id]);
    assert!(sdk["info"][id].get("tag").is_none());
    assert_eq!(sdk["info"][id]["archived"], false);
    ok(&["sessions", "rm", &fork]);
    // Gone from Claude Code's files; the catalog keeps its archived copy.
    let r = ccsm_at(tmp.path(), &["--direct", "sessions", "info", &fork]);
    assert_eq!(r.status.code(), Some(1));
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn bad_input_to_session_commands_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["sessions", "info", "../../etc/passwd"],
            "not a session id",
        ),
        (
            vec![
                "sessions",
                "rename",
                "8b005bc5-61e3-4739-9e48-d98f4b9cdda6",
                "x",
            ],
            "not found",
        ),
        (vec!["usage", "daily", "--since", "yesterday"], "not a date"),
    ] {
        std::fs::create_dir_all(tmp.path().join("projects")).unwrap();
        let r = ccsm_at(tmp.path(), &args);
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    let missing = tmp.path().join("no-such-config");
    let r = ccsm_at(&missing, &["sessions", "list"]);
    assert!(
        !missing.exists(),
        "nothing is created for a missing config dir"
    );
    assert!(
        r.stderr.contains("no Claude Code config dir"),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_json_has_ccusages_shape_and_totals() {
    let tmp = tempfile::tempdir().unwrap();
    ccsm_testkit::corpus::generate(
        tmp.path(),
        &ccsm_testkit::corpus::CorpusSpec::sized(6 << 20, 3),
    )
    .unwrap();
    for (report, list) in [
        ("session", "sessions"),
        ("daily", "daily"),
        ("monthly", "monthly"),
    ] {
        let theirs = ccsm_testkit::ccusage(tmp.path(), report);
        let ours = json_of(&ccsm_at(tmp.path(), &["usage", report, "--json"]));
        assert_eq!(
            ours[list].as_array().unwrap().len(),
            theirs[list].as_array().unwrap().len(),
            "{report}"
        );
        for k in [
            "inputTokens",
            "outputTokens",
            "cacheCreationTokens",
            "cacheReadTokens",
            "totalTokens",
        ] {
            assert_eq!(
                ours["totals"][k], theirs["totals"][k],
                "{report} totals.{k}"
            );
        }
        let first_keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v[list][0].as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let (o, t) = (first_keys(&ours), first_keys(&theirs));
        for k in &t {
            assert!(
                o.contains(k),
                "{report}: ccusage's field {k} is missing from ours"
            );
        }
    }
}

#[test]
fn pricing_can_be_replaced_from_a_local_file_and_bad_tables_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ccsm-home");
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let run_with_home = |args: &[&str]| ccsm_with_home(&cfg, &home, args);
    // The shipped table (LiteLLM's snapshot) prices the fixture's model.
    let before = run_with_home(&["usage", "session", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&before.stdout).unwrap();
    assert!(v["totals"].get("unpricedModels").is_none(), "{v}");
    let shipped = (1800.0 * 4.0 + 360.0 * 20.0 + 180.0 * 5.0 + 900.0 * 0.2) / 1e6;
    assert!(
        (v["totals"]["totalCost"].as_f64().unwrap() - shipped).abs() < 1e-9,
        "{v}"
    );

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"models":{"claude-opus-5-5":{"input":-1,"output":1,"cache_write_5m":1,"cache_write_1h":1,"cache_read":1}}}"#).unwrap();
    let r = run_with_home(&["usage", "pricing", "--import", bad.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    assert!(r.stderr.contains("bad price"), "{}", r.stderr);
    assert!(!home.join("pricing.json").exists(), "nothing written");

    let good = tmp.path().join("good.json");
    std::fs::write(&good, r#"{"models":{"claude-opus-5-5":{"input":5,"output":25,"cache_write_5m":6.25,"cache_write_1h":10,"cache_read":0.5}}}"#).unwrap();
    let r = run_with_home(&["usage", "pricing", "--import", good.to_str().unwrap()]);
    assert!(r.status.success(), "{r:?}");
    let after = run_with_home(&["usage", "session", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert!(v["totals"].get("unpricedModels").is_none());
    // 1800 in, 360 out, 180 cache write (5m), 900 cache read.
    let want = (1800.0 * 5.0 + 360.0 * 25.0 + 180.0 * 6.25 + 900.0 * 0.5) / 1e6;
    assert!((v["totals"]["totalCost"].as_f64().unwrap() - want).abs() < 1e-9);
}

// ------------------------------------------------------------------ portability

fn ok_at(config: &std::path::Path, args: &[&str]) -> CliRun {
    let r = ccsm_at(config, args);
    assert!(r.status.success(), "ccsm {args:?}: {r:?}");
    r
}

/// The real CLI against `model`, with another config dir and working dir.
fn claude_in(
    env: &TestEnv,
    model: &MockModel,
    config: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> CliRun {
    // JSON output: the tests read the session id from it.
    let mut args = args.to_vec();
    args.extend(["--output-format", "json"]);
    let mut c = env.claude(model, &args);
    c.env("CLAUDE_CONFIG_DIR", config).current_dir(cwd);
    let r = CliRun::from(run_with_deadline(c, Duration::from_secs(60)));
    assert!(r.status.success(), "claude {args:?}: {r:?}");
    r
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(
        d: &std::path::Path,
        base: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.insert(
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = Default::default();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn export_then_import_elsewhere_and_the_cli_resumes_there() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "My name is Alice"],
    )
    .session_id()
    .unwrap();
    claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "I like tea", "--resume", &id],
    );
    let bundle = env.root().join("alice.ccsm");
    ok_at(
        &env.config_dir,
        &["sessions", "export", &id, "-o", bundle.to_str().unwrap()],
    );

    // Another machine: an empty config dir and the project at another path.
    let other_cfg = env.mkdir("machine-b/config");
    let other_project = env.mkdir("machine-b/src/alice");
    ok_at(
        &other_cfg,
        &[
            "sessions",
            "import",
            bundle.to_str().unwrap(),
            "--to",
            other_project.to_str().unwrap(),
        ],
    );
    let r = claude_in(
        &env,
        &model,
        &other_cfg,
        &other_project,
        &["-p", "What do I like?", "--resume", &id],
    );
    assert_eq!(r.session_id().unwrap(), id);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(
        req.user_prompts(),
        vec!["My name is Alice", "I like tea", "What do I like?"]
    );
    let info = json_of(&ccsm_at(&other_cfg, &["sessions", "info", &id, "--json"]));
    assert_eq!(info["cwd"], other_project.to_str().unwrap());

    // Importing again is refused; --new-ids makes a copy.
    let again = ccsm_at(
        &other_cfg,
        &[
            "sessions",
            "import",
            bundle.to_str().unwrap(),
            "--to",
            other_project.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn a_bundle_carries_tags_description_notes_and_names_to_another_catalog() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let ok = |args: &[&str]| {
        let r = run(&env, &model, args);
        assert!(r.status.success(), "{args:?}: {r:?}");
        r
    };
    ok(&["run", "--session", "tea", "I like tea"]);
    let chain: serde_json::Value =
        serde_json::from_str(&ok(&["names", "show", "tea", "--json"]).stdout).unwrap();
    let id = chain["sessions"][0].as_str().unwrap().to_owned();
    ok(&["sessions", "describe", &id, "tea talk"]);
    ok(&["sessions", "tags", "add", &id, "personal", "drinks"]);
    ok(&[
        "sessions",
        "note",
        &id,
        "the api_key=sk1234567890 is in the vault",
    ]);
    let bundle = env.root().join("tea.ccsm");
    ok(&[
        "sessions",
        "export",
        &id,
        "--redact",
        "-o",
        bundle.to_str().unwrap(),
    ]);

    // Another machine, another catalog.
    let other_cfg = env.mkdir("machine-b/config");
    let imported = json_of(&ccsm_at(
        &other_cfg,
        &["sessions", "import", bundle.to_str().unwrap(), "--json"],
    ));
    assert_eq!(imported[0]["ccsm"]["description"], "tea talk", "{imported}");
    let info = json_of(&ccsm_at(&other_cfg, &["sessions", "info", &id, "--json"]));
    assert_eq!(info["description"], "tea talk");
    assert_eq!(info["tags"], serde_json::json!(["drinks", "personal"]));
    let notes = info["notes"].as_str().unwrap();
    assert!(
        notes.contains("in the vault") && !notes.contains("sk1234567890"),
        "redacted like the transcript: {notes}"
    );
    let names = json_of(&ccsm_at(&other_cfg, &["names", "show", "tea", "--json"]));
    assert_eq!(names["sessions"], serde_json::json!([id]));
}

#[test]
fn damaged_or_hostile_bundles_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &src).unwrap();
    let bundle = tmp.path().join("b.ccsm");
    ok_at(
        &src,
        &[
            "sessions",
            "export",
            "8b005bc5-61e3-4739-9e48-d98f4b9cdda6",
            "-o",
            bundle.to_str().unwrap(),
        ],
    );
    let dest = tmp.path().join("dest");
    std::fs::create_dir_all(dest.join("projects")).unwrap();
    // Flip one byte of the payload.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    let flipped = tmp.path().join("flipped.ccsm");
    std::fs::write(&flipped, &bytes).unwrap();
    let r = ccsm_at(&dest, &["sessions", "import", flipped.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    assert!(snapshot(&dest).is_empty(), "nothing was written");
    // Hostile paths, in a bundle whose manifest would otherwise be fine.
    for evil in ["../escaped.jsonl", "/tmp/absolute.jsonl"] {
        let b = tmp.path().join("evil.ccsm");
        let f = std::fs::File::create(&b).unwrap();
        let enc = zstd_encoder(f);
        let mut tar = tar_builder(enc);
        append_raw(&mut tar, evil, b"{}\n");
        let enc = tar.into_inner().unwrap();
        enc.finish().unwrap();
        let r = ccsm_at(&dest, &["sessions", "import", b.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(1), "{evil}: {r:?}");
        assert!(r.stderr.contains("unsafe path"), "{evil}: {}", r.stderr);
        assert!(snapshot(&dest).is_empty());
        assert!(!tmp.path().join("escaped.jsonl").exists());
    }
}

fn zstd_encoder(f: std::fs::File) -> zstd::Encoder<'static, std::fs::File> {
    zstd::Encoder::new(f, 3).unwrap()
}

fn tar_builder<W: Write>(w: W) -> tar::Builder<W> {
    tar::Builder::new(w)
}

/// Appends an entry with a raw name: tar's own checks would refuse `..` and `/`.
fn append_raw<W: Write>(tar: &mut tar::Builder<W>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_old();
    let raw = &mut h.as_old_mut().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    tar.append(&h, data).unwrap();
}

#[test]
fn a_moved_project_folder_is_followed_and_undo_restores_every_byte() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let old = env.mkdir("src/old-name");
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &old,
        &["-p", "remember the milk"],
    )
    .session_id()
    .unwrap();
    let before = snapshot(&env.config_dir);
    let new = env.root().join("src/new-name");
    std::fs::rename(&old, &new).unwrap();
    let home = env.mkdir("ccsm-home");
    let mv = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.arg("--config-dir")
            .arg(&env.config_dir)
            .args(args)
            .env("CCSM_HOME", &home);
        CliRun::from(run_with_deadline(c, Duration::from_secs(60)))
    };
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let dry = mv(&["projects", "move", o, n, "--dry-run"]);
    assert!(dry.status.success(), "{dry:?}");
    assert_eq!(
        snapshot(&env.config_dir),
        before,
        "a dry run changes nothing"
    );
    assert!(mv(&["projects", "move", o, n]).status.success());
    assert_ne!(snapshot(&env.config_dir), before);
    let undo = mv(&["projects", "move", "--undo"]);
    assert!(undo.status.success(), "{undo:?}");
    assert_eq!(
        snapshot(&env.config_dir),
        before,
        "undo restores every byte"
    );

    let r = mv(&["projects", "move", o, n]);
    assert!(r.status.success(), "{r:?}");
    let cfg = std::fs::read_to_string(env.config_dir.join(".claude.json")).unwrap_or_default();
    assert!(
        !cfg.contains(&format!("\"{o}\"")),
        "the config's project entry moved"
    );
    let r = claude_in(
        &env,
        &model,
        &env.config_dir,
        &new,
        &["-p", "what did I say?", "--continue"],
    );
    assert_eq!(r.session_id().unwrap(), id);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(
        req.user_prompts(),
        vec!["remember the milk", "what did I say?"]
    );
    // Work done since the move is not thrown away by an undo.
    let undo = mv(&["projects", "move", "--undo"]);
    assert_eq!(undo.status.code(), Some(1));
    assert!(
        undo.stderr.contains("changed since the move"),
        "{}",
        undo.stderr
    );
    // The doctor knows the folder is gone no more.
    let doc = mv(&["projects", "doctor", "--json"]);
    assert_eq!(json_of(&doc), serde_json::json!([]));
}

#[test]
fn clone_to_another_folder_resumes_there_and_leaves_the_original_alone() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "the original words"],
    )
    .session_id()
    .unwrap();
    let before_bytes = snapshot(&env.config_dir.join("projects"));
    let before_sdk = ccsm_testkit::sdk_view(&env.config_dir, &[&id]);
    let there = env.mkdir("src/elsewhere");
    let clone = ok_at(
        &env.config_dir,
        &[
            "sessions",
            "clone",
            &id,
            "--to",
            there.to_str().unwrap(),
            "--name",
            "Cloned",
        ],
    )
    .stdout
    .trim()
    .to_owned();
    assert_ne!(clone, id);
    let after: std::collections::BTreeMap<_, _> = snapshot(&env.config_dir.join("projects"))
        .into_iter()
        .filter(|(k, _)| !k.contains(&clone))
        .collect();
    assert_eq!(after, before_bytes, "the original's bytes are unchanged");
    let after_sdk = ccsm_testkit::sdk_view(&env.config_dir, &[&id, &clone]);
    assert_eq!(after_sdk["info"][&id], before_sdk["info"][&id]);
    assert_eq!(after_sdk["texts"][&id], before_sdk["texts"][&id]);
    assert_eq!(after_sdk["texts"][&clone], before_sdk["texts"][&id]);
    assert_eq!(after_sdk["info"][&clone]["customTitle"], "Cloned");
    let r = claude_in(
        &env,
        &model,
        &env.config_dir,
        &there,
        &["-p", "still there?", "--resume", &clone],
    );
    assert_eq!(r.session_id().unwrap(), clone);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(
        req.user_prompts(),
        vec!["the original words", "still there?"]
    );
}

#[test]
fn export_import_with_new_ids_round_trips_what_the_sdk_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let ids = [
        "8b005bc5-61e3-4739-9e48-d98f4b9cdda6",
        "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48",
        "15e81b36-b530-430d-b16c-6579d06b30de",
    ];
    let bundle = tmp.path().join("all.ccsm");
    let mut args = vec!["sessions", "export"];
    args.extend(ids);
    args.extend(["-o", bundle.to_str().unwrap()]);
    ok_at(&cfg, &args);
    let imported = json_of(&ok_at(
        &cfg,
        &[
            "sessions",
            "import",
            bundle.to_str().unwrap(),
            "--new-ids",
            "--json",
        ],
    ));
    let pairs: Vec<(String, String)> = imported
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["originalId"].as_str().unwrap().to_owned(),
                s["sessionId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 3);
    let all: Vec<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let sdk = ccsm_testkit::sdk_view(&cfg, &all);
    for (orig, copy) in &pairs {
        assert_ne!(orig, copy);
        assert!(!sdk["texts"][orig].as_array().unwrap().is_empty());
        // The text is the same but for the session's own id, which paths in it carry.
        let orig_texts: Vec<String> = sdk["texts"][orig]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().replace(orig.as_str(), copy))
            .collect();
        assert_eq!(
            sdk["texts"][copy],
            serde_json::json!(orig_texts),
            "{orig} -> {copy}"
        );
        let uuids = |id: &str| -> Vec<String> {
            sdk["messages"][id]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["uuid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(
            uuids(copy).iter().all(|u| !uuids(orig).contains(u)),
            "every message has a new id"
        );
    }
    assert_eq!(
        sdk["subagents"][&pairs[1].1],
        serde_json::json!(["a5bbca28db8f36e17"])
    );
}

#[test]
fn export_redact_masks_secrets_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let path = ccsm_transcripts::ClaudeDir::new(&cfg)
        .find(id)
        .unwrap()
        .path;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(
        f,
        r#"{{"type":"summary","summary":"key sk-ant-api03-SECRETSECRETSECRET0123","leafUuid":"x"}}"#
    )
    .unwrap();
    let bundle = tmp.path().join("r.ccsm");
    let m = json_of(&ok_at(
        &cfg,
        &[
            "sessions",
            "export",
            id,
            "--redact",
            "-o",
            bundle.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(m["redacted"], true);
    let (_, files) =
        ccsm_transcripts::portable::read_bundle(std::fs::File::open(&bundle).unwrap()).unwrap();
    let all: String = files
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(!all.contains("SECRETSECRET"));
    assert!(all.contains("[REDACTED]"));
}

// ---------------------------------------------------------------------- catalog

#[test]
fn run_session_name_twice_continues_the_same_conversation() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let first = run(&env, &model, &["run", "--session", "groceries", "buy milk"]);
    assert!(first.status.success(), "{first:?}");
    let second = run(&env, &model, &["run", "--session", "groceries", "and eggs"]);
    assert!(second.status.success(), "{second:?}");
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts(), vec!["buy milk", "and eggs"]);
    let names = run(&env, &model, &["names", "show", "groceries", "--json"]);
    let chain: serde_json::Value = serde_json::from_str(&names.stdout).unwrap();
    assert_eq!(
        chain["sessions"].as_array().unwrap().len(),
        1,
        "resumed: one session id"
    );
    let third = run(
        &env,
        &model,
        &["run", "--load-session", "groceries", "and bread"],
    );
    assert!(third.status.success());
    assert_eq!(
        model.message_requests().pop().unwrap().user_prompts().len(),
        3
    );
    let missing = run(&env, &model, &["run", "--load-session", "nope", "hi"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        missing
            .stderr
            .contains("no conversation is saved under the name"),
        "{}",
        missing.stderr
    );
}

#[test]
fn search_describe_tags_and_restore_through_the_cli() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &[
            "-p",
            "BASH echo quokka-marker-77",
            "--allowed-tools",
            "Bash",
        ],
    )
    .session_id()
    .unwrap();
    let other = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "nothing special"],
    )
    .session_id()
    .unwrap();
    let ok = |args: &[&str]| {
        let r = run(&env, &model, args);
        assert!(r.status.success(), "{args:?}: {r:?}");
        r
    };
    let hits = |q: &str| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&["sessions", "search", q, "--json"]).stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| h["sessionId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(hits("\"quokka-marker-77\""), vec![id.clone()]);
    assert_eq!(hits("has:tool:Bash"), vec![id.clone()]);
    let proj = env.project.to_str().unwrap().to_owned();
    assert_eq!(hits(&format!("project:{proj}")).len(), 2);
    // `~` in a quoted query is expanded by ccsm (HOME is <root>/home here).
    assert_eq!(hits("project:~/../project").len(), 2);
    ok(&["sessions", "describe", &other, "the quiet one"]);
    ok(&["sessions", "tags", "add", &other, "calm", "later"]);
    assert_eq!(hits("tag:calm"), vec![other.clone()]);
    ok(&["sessions", "tags", "rm", &other, "calm"]);
    assert!(hits("tag:calm").is_empty());
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["sessions", "info", &other, "--json"]).stdout).unwrap();
    assert_eq!(info["description"], "the quiet one");
    ok(&["sessions", "note", &other, "ask Ana"]);
    ok(&["sessions", "note", &other, "then ship", "--append"]);
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["sessions", "info", &other, "--json"]).stdout).unwrap();
    assert_eq!(info["notes"], "ask Ana\nthen ship");
    assert_eq!(info["tags"], serde_json::json!(["later"]));

    // Claude Code's cleanup deletes it; ccsm keeps it listed, searchable, restorable.
    ccsm_transcripts::ClaudeDir::new(&env.config_dir)
        .delete(&id)
        .unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&ok(&["sessions", "list", "--json"]).stdout).unwrap();
    let gone = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sessionId"] == id.as_str())
        .expect("still listed");
    assert_eq!(gone["gone"], true);
    assert_eq!(hits("quokka is:gone"), vec![id.clone()]);
    ok(&["sessions", "restore", &id]);
    let r = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "welcome back", "--resume", &id],
    );
    assert_eq!(r.session_id().unwrap(), id);
    assert_eq!(
        model.message_requests().pop().unwrap().user_prompts()[0],
        "BASH echo quokka-marker-77"
    );
    // Cleanup forgets catalog entries only (a dry run first).
    let dry = ok(&["sessions", "cleanup", "--older-than", "0", "--dry-run"]);
    assert!(dry.stdout.contains(&id));
    ok(&["sessions", "cleanup", "--older-than", "0"]);
    assert!(
        ccsm_transcripts::ClaudeDir::new(&env.config_dir)
            .find(&id)
            .is_ok(),
        "the CLI's files are untouched"
    );
}

fn catalog_db(home: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(home.join("catalogs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .expect("a catalog file")
}

#[test]
fn two_processes_indexing_at_once_both_succeed() {
    use ccsm_store::Store as _;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let report = ccsm_testkit::corpus::generate(
        &cfg,
        &ccsm_testkit::corpus::CorpusSpec::sized(16 << 20, 21),
    )
    .unwrap();
    let home = tmp.path().join("home");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ccsm"))
            .arg("--config-dir")
            .arg(&cfg)
            .arg("index")
            .env("CCSM_HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = ccsm_store::SqliteStore::open(&catalog_db(&home)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let all = store.list(&ccsm_store::ListFilter::default()).unwrap();
    assert_eq!(all.len(), report.sessions);
}

#[test]
fn kill_9_while_indexing_loses_nothing_indexed_before() {
    use ccsm_store::Store as _;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let home = tmp.path().join("home");
    let first =
        ccsm_testkit::corpus::generate(&cfg, &ccsm_testkit::corpus::CorpusSpec::sized(4 << 20, 1))
            .unwrap();
    let index = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.arg("--config-dir")
            .arg(&cfg)
            .arg("index")
            .env("CCSM_HOME", &home);
        c
    };
    assert!(index().output().unwrap().status.success());
    // Much more to read, and a kill in the middle of it.
    let more = tmp.path().join("more");
    ccsm_testkit::corpus::generate(&more, &ccsm_testkit::corpus::CorpusSpec::sized(96 << 20, 2))
        .unwrap();
    ccsm_testkit::copy_tree(&more.join("projects"), &cfg.join("projects")).unwrap();
    let db = catalog_db(&home);
    let wal = db.with_extension("db-wal");
    let wal_before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let mut child = index()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the indexer to be writing", Duration::from_secs(60), || {
        let now = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        (now != wal_before || child.try_wait().unwrap().is_some()).then_some(())
    });
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let store = ccsm_store::SqliteStore::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let ids: std::collections::HashSet<String> = store
        .list(&ccsm_store::ListFilter::default())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    for f in &first.files {
        let id = f.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(ids.contains(&id), "{id} was lost");
    }
    drop(store);
    // And the next run finishes the job.
    assert!(index().output().unwrap().status.success());
    let store = ccsm_store::SqliteStore::open(&db).unwrap();
    assert!(
        store
            .list(&ccsm_store::ListFilter::default())
            .unwrap()
            .len()
            > first.sessions
    );
}

#[test]
fn folders_mapped_by_hand_into_one_project_are_listed_and_searched_together() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let (old, new) = (tmp.path().join("old/app"), tmp.path().join("new/app"));
    for (dir, id, text) in [
        (&old, "a1111111-1111-4111-8111-111111111111", "quokka notes"),
        (&new, "b2222222-2222-4222-8222-222222222222", "quokka plans"),
        (
            &tmp.path().join("other"),
            "c3333333-3333-4333-8333-333333333333",
            "quokka other",
        ),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        postgres::session_in(&cfg, dir, id, text);
    }
    for dir in [&old, &new] {
        ok_at(&cfg, &["projects", "map", dir.to_str().unwrap(), "app"]);
    }
    let rows = json_of(&ok_at(&cfg, &["projects", "list", "--json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let app = rows.iter().find(|p| p["name"] == "app").unwrap();
    assert_eq!(
        (
            app["sessions"].as_u64(),
            app["folders"].as_array().map(Vec::len)
        ),
        (Some(2), Some(2))
    );
    let ids = |r: CliRun| -> Vec<String> {
        let mut v: Vec<String> = json_of(&r)
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["sessionId"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let both = [
        "a1111111-1111-4111-8111-111111111111",
        "b2222222-2222-4222-8222-222222222222",
    ];
    assert_eq!(
        ids(ok_at(
            &cfg,
            &["sessions", "list", "--project", "app", "--json"]
        )),
        both
    );
    assert_eq!(
        ids(ok_at(
            &cfg,
            &["sessions", "search", "quokka project:app", "--json"]
        )),
        both
    );
    let usage = json_of(&ok_at(
        &cfg,
        &["usage", "daily", "--project", "app", "--json"],
    ));
    assert_eq!(
        usage["totals"]["inputTokens"], 200,
        "two sessions' usage: {usage}"
    );
    let maps = json_of(&ok_at(&cfg, &["projects", "maps", "--json"]));
    assert_eq!(maps.as_array().map(Vec::len), Some(2), "{maps}");
}
