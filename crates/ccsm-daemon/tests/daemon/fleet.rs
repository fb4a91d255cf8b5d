//! Sessions started, steered and followed through the daemon, with the real CLI.

use serde_json::json;

use crate::harness::{last_request_text, output_text, Daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_streams_to_a_websocket_takes_a_second_prompt_forks_and_resumes_after_a_restart()
{
    let d = Daemon::start().await;
    let id = d
        .start_session(Some("remember the word kumquat"), json!({"name": "fruit"}))
        .await;
    let mut ws = d.ws(&format!("?ids={id}")).await;
    let frames = ws.until("claude-complete").await;
    assert!(
        output_text(&frames).contains("echo: remember the word kumquat"),
        "{frames:#?}"
    );
    let seqs: Vec<u64> = frames.iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "numbered in order: {seqs:?}"
    );
    assert!(frames.iter().any(|f| f["type"] == "claude-status"));
    d.wait_turns(&id, 1).await;

    // The next prompt goes to the same live process, addressed by name; the
    // model sees the first turn.
    let pid = d.status(&id).await["pid"].as_u64();
    d.ok(
        "/api/claude/sessions/fruit/messages",
        json!({"prompt": "which word?"}),
    )
    .await;
    let frames = ws.until("claude-complete").await;
    assert!(output_text(&frames).contains("echo: which word?"));
    let s = d.wait_turns(&id, 2).await;
    assert_eq!(
        s["pid"].as_u64(),
        pid,
        "the same process took the second turn"
    );
    assert!(last_request_text(&d.model).contains("kumquat"));
    ws.close().await;

    // A fork is a new session with the same history.
    let fork = d
        .ok(
            &format!("/api/claude/sessions/{id}/fork"),
            json!({"prompt": "forked: which word?"}),
        )
        .await;
    let fork_id = fork["sessionId"].as_str().expect("fork id").to_owned();
    assert_ne!(fork_id, id);
    assert_eq!(fork["from"], json!(id));
    d.wait_turns(&fork_id, 1).await;
    let seen = last_request_text(&d.model);
    assert!(
        seen.contains("forked: which word?") && seen.contains("kumquat"),
        "{seen}"
    );
    assert!(d.env.transcript(&fork_id).is_some());

    // The daemon stops (its sessions close) and a new one resumes the session.
    let (env, model) = d.stop().await;
    let cfg = crate::harness::fleet_config(&env, &model);
    let d = Daemon::serve(env, model, cfg).await;
    let again = d
        .start_session(
            Some("after the restart, which word?"),
            json!({"resume": id}),
        )
        .await;
    assert_eq!(again, id, "resumed in place, same id");
    d.wait_turns(&id, 1).await;
    let seen = last_request_text(&d.model);
    assert!(
        seen.contains("kumquat") && seen.contains("after the restart"),
        "{seen}"
    );
    let _ = d.stop().await;
}
