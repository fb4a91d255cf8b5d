//! The CLI's side of the daemon's resources: the same service functions, from a
//! terminal (`sessions navigate`, `metrics`, `agents`).

use ccsm_testkit::{MockModel, Scenario, TestEnv};

use crate::{ccsm_at, claude_in, json_of, ok_at};

#[test]
fn navigate_moves_a_session_the_cli_resumes_it_there_and_refuses_system_places() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "the first words"],
    )
    .session_id()
    .unwrap();
    let there = env.mkdir("src/moved-here");
    for bad in ["/etc", "/usr/bin"] {
        let r = ccsm_at(&env.config_dir, &["sessions", "navigate", &id, bad]);
        assert!(!r.status.success(), "{bad}: {r:?}");
        assert!(r.stderr.contains("system location"), "{bad}: {}", r.stderr);
    }
    let r = ok_at(
        &env.config_dir,
        &[
            "sessions",
            "navigate",
            &id,
            there.to_str().unwrap(),
            "--json",
        ],
    );
    let v = json_of(&r);
    assert_eq!(v["sessionId"], id.as_str());
    assert_eq!(v["toCwd"], there.to_str().unwrap());
    let r = claude_in(
        &env,
        &model,
        &env.config_dir,
        &there,
        &["-p", "still here?", "--resume", &id],
    );
    assert_eq!(r.session_id().unwrap(), id, "resumed, not a new session");
    let req = model.message_requests().pop().unwrap();
    assert_eq!(req.user_prompts(), vec!["the first words", "still here?"]);
    let sdk = ccsm_testkit::sdk_view(&env.config_dir, &[&id]);
    assert_eq!(sdk["info"][&id]["cwd"], there.to_str().unwrap(), "{sdk:#}");
}

#[test]
fn metrics_and_agents_from_the_terminal() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let p = env.project.display().to_string();
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &[
            "-p",
            &format!("WRITE {p}/x.txt hi"),
            "--allowedTools",
            "Write",
        ],
    )
    .session_id()
    .unwrap();
    let m = json_of(&ok_at(&env.config_dir, &["metrics", &id, "--json"]));
    assert_eq!(m["turns"], 1, "{m:#}");
    assert_eq!(m["filesCreated"], 1, "{m:#}");
    assert_eq!(m["toolCalls"], 1, "{m:#}");
    let table = ok_at(&env.config_dir, &["metrics", &id]).stdout;
    assert!(table.contains("files created"), "{table}");

    let all = json_of(&ok_at(&env.config_dir, &["agents", "list", "--json"]));
    assert_eq!(all.as_array().map(Vec::len), Some(12), "the built-in ones");
    let f = env.root().join("reviewer.md");
    std::fs::write(
        &f,
        "---\nname: reviewer\ndescription: Reviews diffs\ntools: Read, Grep\n---\nReview carefully.\n",
    )
    .unwrap();
    ok_at(&env.config_dir, &["agents", "add", f.to_str().unwrap()]);
    let one = json_of(&ok_at(
        &env.config_dir,
        &["agents", "show", "reviewer", "--json"],
    ));
    assert_eq!(one["tools"], serde_json::json!(["Read", "Grep"]));
    assert_eq!(one["source"], "catalog");
    ok_at(&env.config_dir, &["agents", "rm", "reviewer"]);
    assert!(!ccsm_at(&env.config_dir, &["agents", "show", "reviewer"])
        .status
        .success());
    let bad = env.root().join("bad.md");
    std::fs::write(&bad, "no front matter").unwrap();
    let r = ccsm_at(&env.config_dir, &["agents", "add", bad.to_str().unwrap()]);
    assert!(
        !r.status.success() && r.stderr.contains("not an agent definition"),
        "{r:?}"
    );
}

/// The recorded fixture's session ran one `general-purpose` subagent: its run,
/// tokens and cost are counted under its type.
#[test]
fn metrics_count_each_agent_types_runs_tokens_and_cost() {
    let env = TestEnv::new();
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &env.config_dir).unwrap();
    let m = json_of(&ok_at(
        &env.config_dir,
        &["metrics", "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48", "--json"],
    ));
    assert_eq!(m["subagentRuns"], 1, "{m:#}");
    let a = &m["agents"]["general-purpose"];
    assert_eq!(a["runs"], 1, "{m:#}");
    assert!(a["tokens"].as_u64() > Some(0), "{m:#}");
    assert!(a["costUsd"].as_f64() > Some(0.0), "{m:#}");
}
