//! The session-server seed's Python client (aiohttp), run as written against the
//! daemon: create a session with a BACKEND agent, navigate it, read its metrics.

use std::time::Duration;

use crate::harness::Daemon;

/// The Python that has aiohttp: `scripts/test` makes it (tools/python/.venv).
fn python() -> std::path::PathBuf {
    let p = std::env::var_os("CCSM_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ccsm_testkit::workspace_root().join("tools/python/.venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, which installs tools/python/requirements.txt",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seeds_python_client_runs_as_is() {
    let d = Daemon::start().await;
    let moved_to = d.env.mkdir("moved-to");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/seed_client.py");
    let mut cmd = std::process::Command::new(python());
    cmd.arg(&script)
        .env("CCSM_URL", format!("http://{}", d.addr))
        .env("WORK_DIR", &d.env.project)
        .env("NEW_PATH", &moved_to)
        .stdin(std::process::Stdio::null());
    let out = tokio::task::spawn_blocking(move || {
        ccsm_testkit::run_with_deadline(cmd, Duration::from_secs(60))
    })
    .await
    .expect("task");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Session created: "))
        .unwrap_or_else(|| panic!("a session was created: {stdout}\n{stderr}"))
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert!(stdout.contains("Refused: /etc: invalidInput"), "{stdout}");
    assert!(
        stdout.contains(&format!("Navigated to: {}", moved_to.display())),
        "{stdout}"
    );
    assert!(stdout.contains("Session duration: 0.00 hours"), "{stdout}");
    assert!(stdout.contains("Data points: 0"), "{stdout}");
    let status = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Status: "))
        .expect("the status");
    let v: serde_json::Value = serde_json::from_str(status).expect("JSON");
    assert_eq!(v["projectPath"], moved_to.display().to_string(), "{v:#}");
    assert_eq!(v["status"]["state"], "configured");
    // The session is the daemon's, with its BACKEND agent, in the new folder.
    let agents = d
        .get(&format!("/api/claude/sessions/{id}/agents"))
        .await
        .expect("agents");
    assert_eq!(
        agents["active"][0]["name"], "backend-services",
        "{agents:#}"
    );
    // Its first message starts it there, with the agent.
    d.ok(
        &format!("/api/claude/sessions/{id}/messages"),
        serde_json::json!({"prompt": "hello"}),
    )
    .await;
    d.wait_turns(&id, 1).await;
    let sent = d
        .model
        .message_requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    assert!(sent.contains("backend-services"));
    let t = d.transcript(&id);
    assert!(
        t.parent()
            .is_some_and(|p| p.ends_with(crate::harness::project_dir_name(&moved_to))),
        "{}",
        t.display()
    );
    let _ = d.stop().await;
}
