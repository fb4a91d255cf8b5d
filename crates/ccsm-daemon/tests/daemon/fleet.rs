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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_supervised_session_killed_with_sigkill_is_restarted_and_resumes_its_conversation() {
    let d = Daemon::start().await;
    let id = d
        .start_session(
            Some("the password is swordfish"),
            json!({"name": "keeper", "supervise": {"max_restarts": 3, "backoff_ms": 50}}),
        )
        .await;
    let first = d.wait_turns(&id, 1).await;
    let pid = first["pid"].as_u64().expect("a pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    let s = d
        .wait_status("keeper", "restarted with a new process", |s| {
            s["restarts"] == 1
                && s["status"]["state"] == "idle"
                && s["pid"].as_u64() != Some(pid as u64)
        })
        .await;
    assert_eq!(s["sessionId"], json!(id));
    d.ok(
        "/api/claude/sessions/keeper/messages",
        json!({"prompt": "what is the password?"}),
    )
    .await;
    d.wait_status(&id, "the turn after the restart", |s| {
        s["turns"].as_u64() >= Some(2) && s["status"]["state"] == "idle"
    })
    .await;
    assert!(last_request_text(&d.model).contains("swordfish"));
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_loop_stops_after_the_limit_and_is_reported() {
    let d = Daemon::start_with(|c| {
        c.claude = Some(ccsm_testkit::fake::fake_claude());
        c.env
            .push(("FAKE_CLAUDE_FAULT".into(), "crash-on-start".into()));
    })
    .await;
    let started = d
        .ok(
            "/api/claude/sessions",
            json!({"working_directory": d.env.project, "name": "crashy",
                   "supervise": {"max_restarts": 2, "backoff_ms": 20}}),
        )
        .await;
    let id = started["sessionId"].as_str().expect("id").to_owned();
    let mut ws = d.ws(&format!("?ids={id}")).await;
    let frames = ws.until("alert").await;
    let alert = frames.last().expect("the alert");
    assert_eq!(alert["event"]["limit"], "restarts", "{alert}");
    assert_eq!(alert["event"]["action"], "stopped");
    let s = d
        .wait_status(&id, "ended", |s| {
            ["exited", "cancelled"].contains(&s["status"]["state"].as_str().unwrap_or(""))
        })
        .await;
    assert_eq!(s["restarts"], 2, "{s}");
    assert!(
        frames
            .iter()
            .filter(|f| f["type"] == "claude-error")
            .count()
            >= 3
    );
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_sessions_at_once_each_get_their_own_answers() {
    let d = Daemon::start().await;
    let starts = (0..20).map(|i| {
        let d = &d;
        async move {
            let prompt = format!("session number {i} here");
            (d.start_session(Some(&prompt), json!({})).await, prompt)
        }
    });
    let ids = futures::future::join_all(starts).await;
    for (id, prompt) in &ids {
        d.wait_turns(id, 1).await;
        let out = d.client().clone();
        let path = format!("/api/claude/sessions/{id}/output");
        let _ = out;
        let text = tokio::task::spawn_blocking({
            let addr = d.addr;
            move || {
                ureq::get(format!("http://{addr}{path}"))
                    .call()
                    .expect("output")
                    .into_body()
                    .read_to_string()
                    .expect("text")
            }
        })
        .await
        .expect("task");
        assert!(text.contains(&format!("echo: {prompt}")), "{id}: {text}");
        for (other, other_prompt) in &ids {
            if other != id {
                assert!(
                    !text.contains(&format!("echo: {other_prompt}\"")),
                    "{id} got {other}'s answer"
                );
            }
        }
    }
    let _ = d.stop().await;
}
