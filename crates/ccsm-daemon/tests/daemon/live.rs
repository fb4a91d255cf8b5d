//! The process table, cancel and approvals, with the real CLI.

use std::time::Duration;

use ccsm_claude::process::marked_with_prefix;
use ccsm_testkit::fake::process_alive;
use ccsm_testkit::wait_for;
use serde_json::{json, Value};

use crate::harness::Daemon;

async fn rows(d: &Daemon) -> Vec<Value> {
    d.get("/api/claude/running?all=true")
        .await
        .expect("the process table")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn wait_rows(d: &Daemon, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = rows(d).await;
        if check(&r) {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {r:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_process_table_lists_a_claude_p_started_outside_and_drops_it_and_stale_files() {
    let d = Daemon::start().await;
    let mut outside = d
        .env
        .claude(
            &d.model,
            &[
                "-p",
                "SLOW 12",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claude -p");
    let pid = outside.id();
    let r = wait_rows(&d, "the outside claude -p is listed busy", |r| {
        r.iter().any(|x| {
            x["pid"] == pid && x["status"]["state"] == "busy" && x["sessionId"].is_string()
        })
    })
    .await;
    let row = r.iter().find(|x| x["pid"] == pid).expect("its row");
    assert_eq!(row["startedBy"], "sdk");
    assert_eq!(row["projectPath"], json!(d.env.project));
    assert!(row["memoryBytes"].as_u64() > Some(1 << 20), "{row}");
    let status = outside.wait().expect("claude -p ends");
    assert!(status.success());
    wait_rows(&d, "the ended claude -p leaves the table", |r| {
        !r.iter().any(|x| x["pid"] == pid)
    })
    .await;

    // A CLI killed with SIGKILL leaves its registry file; it is not running.
    let mut killed = d
        .env
        .claude(&d.model, &["-p", "SLOW 40"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claude -p");
    let kpid = killed.id();
    let file = d.env.config_dir.join(format!("sessions/{kpid}.json"));
    wait_for("the registry file", Duration::from_secs(30), || {
        file.exists().then_some(())
    });
    wait_rows(&d, "listed while alive", |r| {
        r.iter().any(|x| x["pid"] == kpid)
    })
    .await;
    killed.kill().expect("SIGKILL");
    let _ = killed.wait();
    assert!(file.exists(), "SIGKILL leaves the registry file");
    wait_rows(&d, "a stale registry file is not listed", |r| {
        !r.iter().any(|x| x["pid"] == kpid)
    })
    .await;
    // `ccsm ps` without a daemon shows the same (nothing running now).
    let table = d.fleet.service().processes(&mut d.fleet.service().meters());
    assert!(
        table.iter().all(|p| p.pid != kpid && p.pid != pid),
        "{table:?}"
    );
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_of_one_and_of_all_leaves_no_process_and_keeps_the_partial_output() {
    let d = Daemon::start().await;
    // A tool that starts its own process group (setsid), so the CLI's group
    // signal cannot reach it: the marker sweep must.
    let id = d
        .start_session(
            Some("BASH setsid sleep 300; echo never"),
            json!({"allowed_tools": ["Bash"]}),
        )
        .await;
    let run = d.fleet.get(&id).expect("the run");
    let marker = format!("{}.", run.run_id);
    wait_for("the tool's sleep runs", Duration::from_secs(60), || {
        let pids = marked_with_prefix(&marker);
        pids.iter()
            .any(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.starts_with("sleep"))
            })
            .then_some(())
    });
    let v = d
        .ok(&format!("/api/claude/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(v["status"]["state"], "cancelled", "{v}");
    assert!(
        marked_with_prefix(&marker).is_empty(),
        "no process of the run is left"
    );
    let transcript = std::fs::read_to_string(d.transcript(&id)).expect("the transcript");
    assert!(
        transcript.contains("setsid sleep 300"),
        "the partial turn is kept"
    );
    let status = d.status(&id).await;
    assert_eq!(status["status"]["state"], "cancelled");

    // Two slow sessions, cancelled at once.
    let a = d.start_session(Some("SLOW 40"), json!({})).await;
    let b = d.start_session(Some("SLOW 40"), json!({})).await;
    for x in [&a, &b] {
        d.wait_status(x, "busy", |s| s["status"]["state"] == "busy")
            .await;
    }
    let pids: Vec<u64> = [&a, &b]
        .iter()
        .map(|x| d.fleet.get(x).expect("run").pid().expect("pid") as u64)
        .collect();
    let all = d.ok("/api/claude/running/cancel", json!({})).await;
    let states: Vec<&str> = all
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|v| v["status"]["state"].as_str())
        .collect();
    assert_eq!(states, vec!["cancelled", "cancelled"]);
    for p in pids {
        assert!(!process_alive(p as u32), "pid {p} is gone");
    }
    let _ = d.stop().await;
}

async fn approval_for(d: &Daemon, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = d
            .get(&format!("/api/claude/approvals?session={id}"))
            .await
            .expect("approvals");
        if let Some(a) = list.as_array().and_then(|l| l.first()) {
            return a.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no approval came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permission_request_is_answered_over_the_api_both_ways() {
    let d = Daemon::start().await;
    let yes = d.env.project.join("allowed.txt");
    let id = d
        .start_session(Some(&format!("WRITE {} hello", yes.display())), json!({}))
        .await;
    let mut ws = d.ws(&format!("?ids={id}")).await;
    let a = approval_for(&d, &id).await;
    assert_eq!(a["toolName"], "Write");
    assert_eq!(a["input"]["file_path"], json!(yes));
    let s = d.status(&id).await;
    assert_eq!(s["status"]["state"], "waiting", "{s}");
    // Kept in the catalog while it waits, for a daemon that comes back.
    let (held, _) = d
        .fleet
        .service()
        .load_records::<Value>("approval")
        .expect("records");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].1["id"], a["id"]);
    d.ok(
        &format!("/api/claude/approvals/{}", a["id"].as_str().expect("id")),
        json!({"allow": true}),
    )
    .await;
    let frames = ws.until("claude-complete").await;
    assert!(frames
        .iter()
        .any(|f| f["type"] == "approval" && f["event"]["kind"] == "permissionRequest"));
    assert!(frames.iter().any(|f| f["type"] == "approval"
        && f["event"]["kind"] == "permissionDecided"
        && f["event"]["allow"] == true));
    assert_eq!(
        std::fs::read_to_string(&yes).expect("written").trim(),
        "hello"
    );
    d.wait_turns(&id, 1).await;

    let no = d.env.project.join("denied.txt");
    d.ok(
        &format!("/api/claude/sessions/{id}/messages"),
        json!({"prompt": format!("WRITE {} nope", no.display())}),
    )
    .await;
    let a = approval_for(&d, &id).await;
    d.ok(
        &format!("/api/claude/approvals/{}", a["id"].as_str().expect("id")),
        json!({"allow": false, "message": "not today"}),
    )
    .await;
    d.wait_turns(&id, 2).await;
    assert!(!no.exists(), "a denied tool does not run");
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unanswered_permission_request_times_out_as_configured() {
    let d = Daemon::start_with(|c| c.approval_timeout = Duration::from_secs(1)).await;
    let file = d.env.project.join("late.txt");
    let id = d
        .start_session(Some(&format!("WRITE {} late", file.display())), json!({}))
        .await;
    let mut ws = d.ws(&format!("?ids={id}")).await;
    let frames = ws.until("claude-complete").await;
    assert!(frames
        .iter()
        .any(|f| f["event"]["kind"] == "permissionDecided" && f["event"]["allow"] == false));
    assert!(!file.exists(), "denied by default");
    assert!(d
        .get("/api/claude/approvals")
        .await
        .expect("approvals")
        .as_array()
        .is_some_and(Vec::is_empty));
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_live_in_another_process_is_not_resumed_in_place_but_can_be_forked() {
    let d = Daemon::start().await;
    let id = "5d1b8a9e-3c1f-4c8e-9a57-2b7d0e4f6a11";
    let mut outside = d
        .env
        .claude(&d.model, &["-p", "SLOW 40", "--session-id", id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claude -p");
    wait_rows(&d, "the outside session is live", |r| {
        r.iter().any(|x| x["sessionId"] == id)
    })
    .await;
    let body = json!({"working_directory": d.env.project, "resume": id, "prompt": "hi"});
    match d.post("/api/claude/sessions", body.clone()).await {
        Err(ccsm_daemon::client::ClientError::Api {
            status,
            kind,
            message,
        }) => {
            assert_eq!((status, kind.as_str()), (409, "conflict"), "{message}");
            assert!(message.contains("fork"), "{message}");
        }
        other => panic!("resuming a live session in place must be refused: {other:?}"),
    }
    let mut fork = body;
    fork["fork"] = json!(true);
    let started = d.ok("/api/claude/sessions", fork).await;
    assert_ne!(started["sessionId"], id);
    let _ = outside.kill();
    let _ = outside.wait();
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crossed_limit_raises_an_alert_and_runs_its_action() {
    let d = Daemon::start().await;
    let id = d
        .start_session(
            Some("SLOW 60"),
            json!({"limits": {"max_runtime_secs": 1, "action": "cancel"}}),
        )
        .await;
    let mut ws = d.ws(&format!("?ids={id}")).await;
    let frames = ws.until("alert").await;
    let alert = frames.last().expect("an alert");
    assert_eq!(alert["event"]["limit"], "runtime", "{alert}");
    assert_eq!(alert["event"]["action"], "cancel");
    d.wait_status(&id, "cancelled by its limit", |s| {
        s["status"]["state"] == "cancelled"
    })
    .await;
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn model_and_permission_mode_switch_clear_starts_afresh_and_idle_sessions_close() {
    let d = Daemon::start_with(|c| c.idle_timeout = Duration::from_secs(2)).await;
    let id = d
        .start_session(
            Some("one"),
            json!({"model": "claude-first-1", "name": "sw"}),
        )
        .await;
    d.wait_turns(&id, 1).await;
    d.ok(
        "/api/claude/sessions/sw/model",
        json!({"model": "claude-second-2"}),
    )
    .await;
    d.ok(
        "/api/claude/sessions/sw/permission-mode",
        json!({"mode": "acceptEdits"}),
    )
    .await;
    d.ok("/api/claude/sessions/sw/messages", json!({"prompt": "two"}))
        .await;
    d.wait_turns(&id, 2).await;
    let reqs = d.model.message_requests();
    assert_eq!(
        reqs.last().and_then(|r| r.model.as_deref()),
        Some("claude-second-2")
    );
    let fresh = d.ok("/api/claude/sessions/sw/clear", json!({})).await;
    let fresh_id = fresh["sessionId"].as_str().expect("id").to_owned();
    assert_ne!(fresh_id, id);
    assert_eq!(fresh["name"], "sw", "the name moves to the fresh session");
    d.ok(
        "/api/claude/sessions/sw/messages",
        json!({"prompt": "three"}),
    )
    .await;
    d.wait_turns(&fresh_id, 1).await;
    let seen = crate::harness::last_request_text(&d.model);
    assert!(seen.contains("three") && !seen.contains("two"), "{seen}");
    // Idle past the timeout: closed, and resumed by the next prompt.
    let closed = d
        .wait_status(&fresh_id, "closed when idle", |s| {
            s["status"]["state"] == "exited"
        })
        .await;
    assert_eq!(closed["status"]["code"], 0, "{closed}");
    d.ok(
        "/api/claude/sessions/sw/messages",
        json!({"prompt": "four"}),
    )
    .await;
    d.wait_status(&fresh_id, "resumed", |s| {
        s["turns"] == 2 && s["status"]["state"] == "idle"
    })
    .await;
    assert!(crate::harness::last_request_text(&d.model).contains("three"));
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_the_daemon_did_not_start_is_stopped_only_by_pid_when_asked() {
    let d = Daemon::start().await;
    let mut outside = d
        .env
        .claude(&d.model, &["-p", "SLOW 60"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claude -p");
    let pid = outside.id();
    wait_rows(&d, "listed", |r| r.iter().any(|x| x["pid"] == pid)).await;
    // A pid that is not a Claude Code process is refused.
    let me = std::process::id();
    assert!(d
        .post(&format!("/api/claude/running/{me}/signal"), json!({}))
        .await
        .is_err());
    let v = d
        .ok(
            &format!("/api/claude/running/{pid}/signal"),
            json!({"signal": "SIGTERM"}),
        )
        .await;
    assert_eq!(v["stoppedWith"], "SIGTERM", "{v}");
    let status = outside.wait().expect("it ends");
    assert!(!status.success());
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_sse_and_websocket_streams_do_not_hold_the_daemon_when_it_stops() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let d = Daemon::start().await;
    let id = d.start_session(None, json!({"name": "streamed"})).await;
    let _ws = d.ws("").await;
    let mut sse = tokio::net::TcpStream::connect(d.addr)
        .await
        .expect("connect");
    let req = format!(
        "GET /api/claude/sessions/{id}/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        d.addr
    );
    sse.write_all(req.as_bytes()).await.expect("request");
    let mut buf = [0u8; 256];
    let n = sse.read(&mut buf).await.expect("the stream's head");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
    let started = std::time::Instant::now();
    let _ = d.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

/// The registry has no usage: the table reads an outside session's tokens, cost and
/// model from its transcript as it grows, and they are what the usage report says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outside_sessions_tokens_cost_and_model_come_from_its_transcript() {
    let d = Daemon::start().await;
    // A tool call first (its model call is in the transcript), then a tool that
    // keeps the process running while the table is read.
    let mut outside = d
        .env
        .claude(&d.model, &["-p", "BASH sleep 10", "--allowedTools", "Bash"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("claude -p");
    let pid = outside.id();
    let r = wait_rows(&d, "the outside session with its usage", |r| {
        r.iter()
            .any(|x| x["pid"] == pid && x["tokens"].as_u64() > Some(0))
    })
    .await;
    let row = r.iter().find(|x| x["pid"] == pid).expect("its row");
    let id = row["sessionId"].as_str().expect("session id");
    let report = d
        .fleet
        .service()
        .usage(&Default::default(), ccsm_service::Source::Files)
        .expect("usage");
    let s = report
        .sessions()
        .into_iter()
        .find(|s| s.session_id == id)
        .expect("the session in the usage report");
    assert_eq!(row["tokens"].as_u64(), Some(s.row.total_tokens), "{row}");
    let cost = row["costUsd"].as_f64().expect("a cost");
    assert!(
        (cost - s.row.total_cost).abs() < 1e-9,
        "{cost} vs {}",
        s.row.total_cost
    );
    assert_eq!(
        row["model"].as_str(),
        s.row.models_used.first().map(String::as_str)
    );
    assert!(row["model"].is_string(), "{row}");
    assert!(outside.wait().expect("it ends").success());
    let _ = d.stop().await;
}

/// Ends the CLI's own background daemon of a test's config dir, whatever happened
/// (it outlives the test otherwise, and respawns killed workers).
struct BgDaemon<'a>(&'a Daemon);

impl Drop for BgDaemon<'_> {
    fn drop(&mut self) {
        let _ = ccsm_testkit::run_with_deadline(
            self.0
                .env
                .claude(&self.0.model, &["daemon", "stop", "--any"]),
            Duration::from_secs(60),
        );
    }
}

/// A background session is the CLI daemon's (a signal would only make it respawn
/// the worker): the daemon stops it with the CLI's own `claude stop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_background_session_is_stopped_with_the_clis_own_claude_stop() {
    let d = Daemon::start().await;
    // What a background worker needs offline: a trusted folder and an approved key.
    let settings = d.env.config_dir.join(".claude.json");
    let mut v: Value = std::fs::read(&settings)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    v["projects"][d.env.project.display().to_string()]["hasTrustDialogAccepted"] = json!(true);
    v["customApiKeyResponses"] = json!({"approved": ["sk-ant-test-bench"], "rejected": []});
    std::fs::write(&settings, v.to_string()).expect("writing .claude.json");
    let cleanup = BgDaemon(&d);
    d.env.run_claude(&d.model, &["--bg", "SLOW 400"]);
    let r = wait_rows(&d, "the background session is listed", |r| {
        r.iter().any(|x| x["startedBy"] == "background")
    })
    .await;
    let row = r
        .iter()
        .find(|x| x["startedBy"] == "background")
        .expect("its row");
    let pid = row["pid"].as_u64().expect("pid");
    let job = row["jobId"]
        .as_str()
        .expect("a background session has a job id");
    let v = d
        .ok(&format!("/api/claude/running/{pid}/signal"), json!({}))
        .await;
    assert_eq!(v["stoppedWith"], "claude stop", "{v}");
    assert_eq!(v["jobId"], job);
    wait_rows(&d, "the stopped background session leaves the table", |r| {
        !r.iter().any(|x| x["pid"] == pid)
    })
    .await;
    let pid = u32::try_from(pid).expect("pid");
    wait_for("the worker to end", Duration::from_secs(30), || {
        (!process_alive(pid)).then_some(())
    });
    drop(cleanup);
    let _ = d.stop().await;
}
