//! `kill -9` of the daemon mid-run, then a restart: what it left running is
//! stopped by marker, its runs are `interrupted`, supervised ones come back.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ccsm_claude::process::marked_with_prefix;
use ccsm_daemon::client::Client;
use ccsm_testkit::fake::process_alive;
use ccsm_testkit::{wait_for, MockModel, Scenario, TestEnv};
use serde_json::{json, Value};

pub fn ccsm_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("ccsm");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --bins first (scripts/test does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn serve(env: &TestEnv, model: &MockModel, port: u16) -> (Child, Client) {
    let mut cmd = Command::new(ccsm_bin());
    env.configure(&mut cmd, model);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--claude")
        .arg(ccsm_testkit::claude_cli())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd.spawn().expect("ccsm serve");
    let client = Client::new(&format!("127.0.0.1:{port}"), None);
    wait_for("the daemon answers", Duration::from_secs(30), || {
        client.get::<Value>("/health").ok()
    });
    (child, client)
}

fn marker_of(pid: u32) -> String {
    let env = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"CCSM_RUN_ID="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("a run marker")
}

fn status(c: &Client, id: &str) -> Value {
    c.get(&format!("/api/claude/sessions/{id}/status"))
        .expect("status")
}

#[test]
fn after_a_kill_9_of_the_daemon_runs_are_interrupted_no_orphan_is_left_supervised_ones_come_back() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let (mut daemon, c) = serve(&env, &model, free_port());
    let start = |body: Value| -> String {
        let v: Value = c.post("/api/claude/sessions", &body).expect("start");
        v["sessionId"].as_str().expect("id").to_owned()
    };
    let plain = start(json!({"working_directory": env.project, "prompt": "SLOW 60"}));
    let kept = start(
        json!({"working_directory": env.project, "prompt": "remember 4711",
                            "name": "kept", "supervise": {"backoff_ms": 50}}),
    );
    let busy = wait_for("the plain run is busy", Duration::from_secs(60), || {
        let s = status(&c, &plain);
        (s["status"]["state"] == "busy").then_some(s)
    });
    wait_for(
        "the supervised run did its turn",
        Duration::from_secs(60),
        || {
            let s = status(&c, &kept);
            (s["turns"] == 1 && s["status"]["state"] == "idle").then_some(())
        },
    );
    let pid = busy["pid"].as_u64().expect("pid") as u32;
    let kept_pid = status(&c, &kept)["pid"].as_u64().expect("pid") as u32;
    let markers: Vec<String> = [pid, kept_pid]
        .iter()
        .map(|p| {
            let m = marker_of(*p);
            m[..m.rfind('.').expect("<run>.<n>") + 1].to_owned()
        })
        .collect();

    daemon.kill().expect("kill -9 the daemon");
    let _ = daemon.wait();

    let (mut daemon, c) = serve(&env, &model, free_port());
    let s = status(&c, &plain);
    assert_eq!(s["status"]["state"], "interrupted", "{s}");
    assert!(!process_alive(pid), "the interrupted run's CLI is stopped");
    let back = wait_for(
        "the supervised run is back",
        Duration::from_secs(60),
        || {
            let s = status(&c, "kept");
            (s["status"]["state"] == "idle" && s["pid"].as_u64() != Some(kept_pid as u64))
                .then_some(s)
        },
    );
    assert_eq!(back["sessionId"], json!(kept));
    // The old processes are gone; only the supervised run's new one is left.
    assert!(
        marked_with_prefix(&markers[0]).is_empty(),
        "no orphan of the plain run"
    );
    let left = marked_with_prefix(&markers[1]);
    assert!(
        left.iter().all(|p| *p != kept_pid),
        "the old supervised CLI is gone: {left:?}"
    );
    let _: Value = c
        .post(
            "/api/claude/sessions/kept/messages",
            &json!({"prompt": "which number?"}),
        )
        .expect("a prompt");
    wait_for("the resumed turn", Duration::from_secs(60), || {
        let s = status(&c, "kept");
        (s["turns"] == 1 && s["status"]["state"] == "idle").then_some(())
    });
    let seen = model
        .message_requests()
        .last()
        .map(|r| r.conversation_text())
        .unwrap_or_default();
    assert!(seen.contains("4711"), "{seen}");

    // The catalog is intact.
    let check = crate::harness::service(&env)
        .check_catalog()
        .expect("check");
    assert!(check.ok, "{check:?}");

    // A clean stop closes what runs: nothing is left.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let st = daemon.wait().expect("the daemon ends");
    assert!(st.success(), "{st:?}");
    for m in &markers {
        assert!(marked_with_prefix(m).is_empty(), "left running: {m}");
    }
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let mut cmd = Command::new(ccsm_bin());
    env.configure(&mut cmd, &model);
    let out = cmd
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .expect("ccsm serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a token"), "{err}");
}
