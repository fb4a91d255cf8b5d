//! A session's metrics: its samples at the configured rate while live, and what
//! its transcript says it did, exactly.

use std::time::Duration;

use serde_json::json;

use crate::harness::Daemon;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_exactly_what_the_session_did_and_sample_at_the_configured_rate() {
    let d = Daemon::start_with(|c| c.metrics_interval = Duration::from_millis(200)).await;
    let p = d.env.project.display().to_string();
    let id = d
        .start_session(
            Some("BASH echo hello"),
            json!({"allowed_tools": ["Bash", "Write", "Read"]}),
        )
        .await;
    d.wait_turns(&id, 1).await;
    let live_from = std::time::Instant::now();
    let mut turns = 1;
    for prompt in [
        format!("WRITE {p}/a.txt first"),
        format!("WRITE {p}/b.txt second"),
        format!("READ {p}/missing.txt"),
    ] {
        d.ok(
            &format!("/api/claude/sessions/{id}/messages"),
            json!({ "prompt": prompt }),
        )
        .await;
        turns += 1;
        d.wait_turns(&id, turns).await;
    }
    assert!(d.env.project.join("a.txt").is_file() && d.env.project.join("b.txt").is_file());
    // Live (idle) a while longer: the sampler keeps its rate.
    let metrics = format!("/api/claude/sessions/{id}/metrics?hours=1");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let v = loop {
        let (status, v) = d.raw("GET", &metrics, None).await;
        assert_eq!(status, 200, "{v:#}");
        if v["data"]["points"].as_array().map(Vec::len) >= Some(15) {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "no 15 samples: {v:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = live_from.elapsed();
    let s = &v["summary"];
    assert_eq!(
        s, &v["data"]["summary"],
        "beside data, as the seed reads it"
    );
    assert_eq!(s["turns"], 4, "{s:#}");
    assert_eq!(s["commands_executed"], 1, "{s:#}");
    assert_eq!(s["files_created"], 2, "{s:#}");
    assert_eq!(s["files_modified"], 0, "{s:#}");
    assert_eq!(s["tool_calls"], 4, "{s:#}");
    assert_eq!(s["tool_errors"], 1, "{s:#}");
    assert_eq!(s["error_rate"], 0.25, "{s:#}");
    assert!(s["duration_hours"].as_f64() > Some(0.0));
    assert!(s["response_p50_ms"].as_i64().is_some(), "{s:#}");

    let points = v["data"]["points"].as_array().expect("points");
    assert_eq!(s["total_data_points"], points.len());
    // Sampled from the first turn on, once per 200 ms (never more often).
    let expected = elapsed.as_millis() as usize / 200;
    assert!(
        points.len() <= expected + 20,
        "{} points in {elapsed:?} at 200 ms",
        points.len()
    );
    let ats: Vec<i64> = points.iter().filter_map(|p| p["at"].as_i64()).collect();
    let mut gaps: Vec<i64> = ats.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    assert!(
        (150..=400).contains(&median),
        "median gap {median} ms: {gaps:?}"
    );
    assert!(
        points
            .iter()
            .all(|p| p["memoryBytes"].as_u64() > Some(1 << 20)),
        "the CLI's memory is in every point"
    );

    for bad in [
        "hours=0",
        "hours=-1",
        "hours=abc",
        "hours=100000",
        "minutes=5",
    ] {
        let (status, v) = d
            .raw(
                "GET",
                &format!("/api/claude/sessions/{id}/metrics?{bad}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let _ = d.stop().await;
}

/// A one-shot HTTP receiver: the body of the first POST it gets.
async fn webhook() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut c, _)) = l.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Headers, then as many body bytes as Content-Length says.
        loop {
            let Ok(n) = c.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .and_then(|v| v.trim().parse::<usize>().ok())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    let _ = c
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    let _ = tx.send(body.to_owned());
                    return;
                }
            }
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cost_budget_alert_fires_on_the_websocket_is_kept_calls_the_webhook_and_cancels() {
    let (url, hook) = webhook().await;
    let d = Daemon::start_with(|c| c.webhook = Some(url)).await;
    let mut ws = d.ws("").await;
    let id = d
        .start_session(
            Some("hello"),
            json!({"limits": {"max_cost_usd": 0.000001, "action": "cancel"}}),
        )
        .await;
    let frames = ws.until("alert").await;
    let alert = frames.last().expect("an alert");
    assert_eq!(alert["session"], id.as_str(), "{alert}");
    assert_eq!(alert["event"]["limit"], "cost", "{alert}");
    assert_eq!(alert["event"]["action"], "cancel");
    d.wait_status(&id, "cancelled by its budget", |s| {
        s["status"]["state"] == "cancelled"
    })
    .await;
    let listed = d.get("/api/claude/alerts").await.expect("alerts");
    assert_eq!(listed[0]["sessionId"], id.as_str(), "{listed:#}");
    assert_eq!(listed[0]["limit"], "cost");
    let mine = d
        .get(&format!("/api/claude/alerts?session={id}&limit=5"))
        .await
        .expect("alerts");
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    let body = tokio::time::timeout(Duration::from_secs(30), hook)
        .await
        .expect("the webhook is called")
        .expect("a body");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(v["alert"]["limit"], "cost", "{v}");
    assert_eq!(v["alert"]["sessionId"], id.as_str());
    for bad in ["limit=0", "limit=5000", "session=not-a-session!", "x=1"] {
        let (status, v) = d
            .raw("GET", &format!("/api/claude/alerts?{bad}"), None)
            .await;
        assert!((400..500).contains(&status), "{bad}: {status} {v}");
    }
    let _ = d.stop().await;
}
