//! Two hosts, one PostgreSQL catalog, two daemons: each sees the other's live
//! sessions, and a cancel given to one is carried out by the other, the only
//! one that touches its processes.

use std::time::{Duration, Instant};

use ccsm_testkit::pg::PgCluster;
use serde_json::{json, Value};

use crate::harness::Daemon;

fn rows_of(v: &Value, session: &str) -> Vec<Value> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["sessionId"] == session)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_running_on_one_host_shows_and_is_cancelled_from_another() {
    let pg = PgCluster::start();
    let url = pg.database("team");
    let a = Daemon::start_on_team(&url, "host-a").await;
    let b = Daemon::start_on_team(&url, "host-b").await;
    let id = a.start_session(Some("hello from A"), json!({})).await;
    a.wait_turns(&id, 1).await;

    // On B's API within 2 s, with its host.
    let started = Instant::now();
    let seen = b
        .get_until("/api/claude/running?hosts=all", "A's session on B", |v| {
            !rows_of(v, &id).is_empty()
        })
        .await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "seen after {waited:?}");
    let row = &rows_of(&seen, &id)[0];
    assert_eq!(row["host"], "host-a", "{row}");
    // Only A's own rows by name; B's own table does not list it.
    let only_a = b.get("/api/claude/running?hosts=host-a").await.unwrap();
    assert_eq!(rows_of(&only_a, &id).len(), 1);
    let mine = b.get("/api/claude/running").await.unwrap();
    assert!(rows_of(&mine, &id).is_empty(), "{mine}");

    // B's cancel is forwarded; A stops the process.
    let fwd = b
        .post(&format!("/api/claude/sessions/{id}/cancel"), json!({}))
        .await
        .expect("cancel through B");
    assert_eq!(fwd["forwardedTo"], "host-a", "{fwd}");
    a.wait_status(&id, "cancelled on A", |s| {
        ["cancelled", "exited"].contains(&s["status"]["state"].as_str().unwrap_or(""))
    })
    .await;
    b.get_until("/api/claude/running?hosts=all", "gone from B's view", |v| {
        rows_of(v, &id)
            .iter()
            .all(|r| !["idle", "busy", "starting"].contains(&r["status"].as_str().unwrap_or("")))
    })
    .await;
    // A cancel of a session no host runs is refused, not forwarded.
    let (status, _) = b
        .raw(
            "POST",
            "/api/claude/sessions/no-such-session/cancel",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let health = b.get("/health").await.unwrap();
    assert_eq!(health["store"]["host"], "host-b");
    assert_eq!(health["store"]["available"], true);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_whose_database_goes_away_keeps_its_sessions_and_recovers() {
    let mut pg = PgCluster::start();
    let url = pg.database("team");
    let a = Daemon::start_on_team(&url, "host-a").await;
    let id = a.start_session(Some("before"), json!({})).await;
    a.wait_turns(&id, 1).await;
    a.get_until("/health", "the store answers", |h| {
        h["store"]["available"] == true
    })
    .await;

    pg.kill();
    let h = a
        .get_until("/health", "the store reported unavailable", |h| {
            h["store"]["available"] == false
        })
        .await;
    assert!(h["store"]["problem"].is_string(), "{h}");
    // The session lives on and takes a turn while the database is away.
    a.ok(
        &format!("/api/claude/sessions/{id}/messages"),
        json!({"prompt": "while the database is away"}),
    )
    .await;
    a.wait_turns(&id, 2).await;
    assert!(crate::harness::last_request_text(&a.model).contains("while the database is away"));

    pg.start_server();
    a.get_until("/health", "the store answers again", |h| {
        h["store"]["available"] == true
    })
    .await;
    // Its live table is published again: another host sees the session.
    let b = Daemon::start_on_team(&url, "host-b").await;
    b.get_until("/api/claude/running?hosts=all", "A's session on B", |v| {
        !rows_of(v, &id).is_empty()
    })
    .await;
    b.stop().await;
    a.stop().await;
}
