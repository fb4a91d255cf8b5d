//! Configured sessions and their agents, as the seed's clients use them: the
//! agents reach the real CLI as `--agents`, and a change takes effect at the
//! next turn.

use serde_json::json;

use crate::harness::Daemon;

/// The tools (and system prompt) the CLI sent with its last conversation turn.
fn last_request_body(d: &Daemon) -> String {
    d.model
        .message_requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default()
}

async fn turn(d: &Daemon, id: &str, prompt: &str, turns: u64) {
    d.ok(
        &format!("/api/claude/sessions/{id}/messages"),
        json!({ "prompt": prompt }),
    )
    .await;
    d.wait_turns(id, turns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_configured_sessions_agents_reach_the_cli_and_change_at_the_next_turn() {
    let d = Daemon::start().await;
    // The seed's body, as is.
    let body = json!({
        "name": "my-project-session",
        "working_directory": d.env.project,
        "description": "Development session for my project",
        "git_enabled": true,
        "auto_save": true,
        "save_interval_seconds": 60,
        "max_memory_mb": 2048,
        "max_agents": 10,
        "agents": [{
            "agent_type": "BACKEND", "name": "backend-services", "enabled": true,
            "priority": 2, "max_memory_mb": 512, "timeout_seconds": 300, "retry_attempts": 3
        }],
        "environment_variables": {"NODE_ENV": "development"}
    });
    let (status, created) = d.raw("POST", "/api/claude/sessions", Some(body)).await;
    assert_eq!(status, 201, "{created:#}");
    assert_eq!(created["success"], true);
    let id = created["session"]["id"]
        .as_str()
        .expect("session.id")
        .to_owned();
    assert_eq!(created["data"]["sessionId"], id.as_str());
    assert_eq!(
        created["data"]["status"]["state"], "configured",
        "{created:#}"
    );
    assert!(d.model.message_requests().is_empty(), "not started yet");
    let a = d
        .get(&format!("/api/claude/sessions/{id}/agents"))
        .await
        .expect("agents");
    assert_eq!(a["active"][0]["name"], "backend-services", "{a:#}");

    // Its first message starts it, with the agent.
    turn(&d, &id, "remember OSPREY", 1).await;
    let sent = last_request_body(&d);
    assert!(
        sent.contains("backend-services"),
        "the CLI offers the agent"
    );
    assert!(!sent.contains("security-architecture"));

    // Activated by type on the live session: from the next turn.
    let a = d
        .ok(
            &format!("/api/claude/sessions/{id}/agents/security/activate"),
            json!({}),
        )
        .await;
    assert_eq!(a["restartPending"], true, "{a:#}");
    turn(&d, &id, "and now?", 1).await;
    let sent = last_request_body(&d);
    assert!(
        sent.contains("now available for the Agent tool:\\n- security-architecture"),
        "the CLI announced the new agent"
    );
    assert!(sent.contains("OSPREY"), "the conversation was resumed");

    // Deactivated: gone at the next turn.
    d.ok(
        &format!("/api/claude/sessions/{id}/agents/BACKEND/deactivate"),
        json!({}),
    )
    .await;
    turn(&d, &id, "once more", 1).await;
    let sent = last_request_body(&d);
    assert!(
        sent.contains("no longer available:\\n- backend-services"),
        "the CLI withdrew the agent"
    );

    // BACKEND activated again on the live session: the next turn's CLI has it.
    d.ok(
        &format!("/api/claude/sessions/{id}/agents/BACKEND/activate"),
        json!({}),
    )
    .await;
    turn(&d, &id, "back again?", 1).await;
    let sent = last_request_body(&d);
    assert!(
        sent.contains("now available for the Agent tool:\\n- backend-services"),
        "the CLI announced BACKEND again"
    );

    // What an agent requires comes with it (api needs backend).
    let a = d
        .ok(
            &format!("/api/claude/sessions/{id}/agents/api/activate"),
            json!({}),
        )
        .await;
    let names: Vec<&str> = a["active"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["name"].as_str())
        .collect();
    let (b, api) = (
        names.iter().position(|n| *n == "backend-services"),
        names
            .iter()
            .position(|n| *n == "api-integration-specialist"),
    );
    assert!(b.is_some() && b < api, "required first: {names:?}");

    // A cycle among the user's own agents is refused, nothing changes.
    let dir = d.env.config_dir.join("agents");
    std::fs::create_dir_all(&dir).expect("agents dir");
    for (n, r) in [("cyc-a", "cyc-b"), ("cyc-b", "cyc-a")] {
        std::fs::write(
            dir.join(format!("{n}.md")),
            format!("---\nname: {n}\ndescription: loops\nrequires: {r}\n---\nYou loop.\n"),
        )
        .expect("agent file");
    }
    let err = d
        .post(
            &format!("/api/claude/sessions/{id}/agents/cyc-a/activate"),
            json!({}),
        )
        .await
        .expect_err("a cycle is refused");
    assert!(err.to_string().contains("cycle"), "{err}");
    let after = d
        .get(&format!("/api/claude/sessions/{id}/agents"))
        .await
        .expect("agents");
    assert!(!after.to_string().contains("cyc-a"), "{after:#}");
    let types = d.get("/api/claude/agent-types").await.expect("types");
    assert!(
        types.as_array().map(Vec::len) >= Some(14),
        "12 built-in + the user's 2"
    );
    for bad in ["nope", "NOT_A_TYPE"] {
        assert!(d
            .post(
                &format!("/api/claude/sessions/{id}/agents/{bad}/activate"),
                json!({})
            )
            .await
            .is_err());
    }
    let _ = d.stop().await;
}
