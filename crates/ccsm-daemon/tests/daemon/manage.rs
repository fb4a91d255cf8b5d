//! Sessions changed as resources: PUT, DELETE (and purge, restorable), clone,
//! export and import through the API, analytics.

use serde_json::{json, Value};

use crate::harness::Daemon;

fn session_of(
    env: &ccsm_testkit::TestEnv,
    model: &ccsm_testkit::MockModel,
    prompt: &str,
) -> String {
    let r = env.run_claude(model, &["-p", prompt, "--output-format", "json"]);
    r.session_id().expect("a session id")
}

async fn bytes(d: &Daemon, path: &str, body: Value) -> (u16, Vec<u8>) {
    let (status, _, b) = d
        .send(
            "POST",
            path,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await;
    (status, b)
}

async fn upload(d: &Daemon, path: &str, body: Vec<u8>) -> (u16, Value) {
    let (status, _, b) = d.send("POST", path, "application/zstd", body).await;
    let v: Value = serde_json::from_slice(&b).expect("an envelope");
    crate::contract::check("POST", path, status, &v);
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_delete_clone_export_and_import_through_the_api() {
    let d = Daemon::start().await;
    let a = session_of(&d.env, &d.model, "alpha words to keep");

    let (status, v) = d
        .raw(
            "PUT",
            &format!("/api/claude/sessions/{a}"),
            Some(json!({"name": "Renamed", "description": "the first", "tags": ["x", "y"], "notes": "remember"})),
        )
        .await;
    assert_eq!(status, 200, "{v:#}");
    let one = d
        .get(&format!("/api/claude/sessions/{a}"))
        .await
        .expect("one");
    assert_eq!(one["customTitle"], "Renamed", "{one:#}");
    assert_eq!(one["description"], "the first");
    assert_eq!(one["tags"], json!(["x", "y"]));
    assert_eq!(one["notes"], "remember");
    d.raw(
        "PUT",
        &format!("/api/claude/sessions/{a}"),
        Some(json!({"tags": ["y"], "append_notes": "and this"})),
    )
    .await;
    let one = d
        .get(&format!("/api/claude/sessions/{a}"))
        .await
        .expect("one");
    assert_eq!(one["tags"], json!(["y"]));
    let notes = one["notes"].as_str().expect("notes");
    assert!(
        notes.starts_with("remember") && notes.ends_with("and this"),
        "added to, not replaced: {notes:?}"
    );

    // Clone into another folder, with a title.
    let there = d.env.mkdir("cloned-here");
    let (status, v) = d
        .raw(
            "POST",
            &format!("/api/claude/sessions/{a}/clone"),
            Some(json!({"to": there, "name": "The clone"})),
        )
        .await;
    assert_eq!(status, 201, "{v:#}");
    let c = v["session"]["id"]
        .as_str()
        .expect("the clone's id")
        .to_owned();
    assert_ne!(c, a);
    assert!(d
        .transcript(&c)
        .starts_with(d.env.config_dir.join("projects")));
    let (status, _) = d
        .raw(
            "POST",
            &format!("/api/claude/sessions/{a}/clone"),
            Some(json!({"to": "/etc"})),
        )
        .await;
    assert_eq!(status, 400, "a system place is refused");

    // Export, purge (archived), import back.
    let (status, bundle) = bytes(
        &d,
        &format!("/api/claude/sessions/{a}/export"),
        json!({"redact": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(bundle.len() > 100, "a bundle");
    let file = d.transcript(&a);
    let (status, v) = d
        .raw(
            "DELETE",
            &format!("/api/claude/sessions/{a}?purge=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v:#}");
    assert_eq!(v["data"]["purged"]["archived"], true, "{v:#}");
    assert!(!file.exists(), "the transcript is gone");
    let (status, v) = upload(&d, "/api/claude/sessions/import", b"not a bundle".to_vec()).await;
    assert_eq!(status, 400, "{v:#}");
    assert!(!file.exists(), "nothing written from a bad bundle");
    let (status, v) = upload(&d, "/api/claude/sessions/import", bundle).await;
    assert_eq!(status, 201, "{v:#}");
    assert_eq!(v["data"]["sessions"][0]["sessionId"], a.as_str());
    assert!(file.exists(), "back where it was");
    let (status, _) = d
        .raw("DELETE", &format!("/api/claude/sessions/{a}"), None)
        .await;
    assert_eq!(
        status, 409,
        "not the daemon's: nothing to terminate without purge"
    );

    // A fleet session: settings change, then it is terminated and forgotten.
    let id = d
        .start_session(None, json!({"agents": [{"agent_type": "QUALITY"}]}))
        .await;
    let (status, v) = d
        .raw(
            "PUT",
            &format!("/api/claude/sessions/{id}"),
            Some(json!({"model": "haiku", "agents": [{"agent_type": "DOCUMENTATION"}], "environment_variables": {"A": "1"}})),
        )
        .await;
    assert_eq!(status, 200, "{v:#}");
    let ag = d
        .get(&format!("/api/claude/sessions/{id}/agents"))
        .await
        .expect("agents");
    assert_eq!(ag["active"][0]["name"], "technical-documentation", "{ag:#}");
    let (status, v) = d
        .raw(
            "PUT",
            &format!("/api/claude/sessions/{id}"),
            Some(json!({"permission_mode": "sideways"})),
        )
        .await;
    assert_eq!(status, 400, "{v:#}");
    let (status, v) = d
        .raw("DELETE", &format!("/api/claude/sessions/{id}"), None)
        .await;
    assert_eq!(status, 200, "{v:#}");
    let gone = d.get(&format!("/api/claude/sessions/{id}/status")).await;
    assert!(gone.is_err(), "forgotten by the daemon: {gone:?}");

    // Analytics of what is there.
    let an = d
        .get("/api/claude/analytics?days=7")
        .await
        .expect("analytics");
    assert!(an["sessions"]["total"].as_u64() >= Some(2), "{an:#}");
    // Projects by their folder, as people know them (not Claude Code's
    // encoded directory name).
    let projects = an["projects"].as_array().expect("projects");
    assert!(!projects.is_empty(), "{an:#}");
    for p in projects {
        let folder = p["projectPath"].as_str().expect("a path");
        assert!(std::path::Path::new(folder).is_dir(), "{folder} in {an:#}");
    }
    assert!(
        an["daily"].as_array().is_some_and(|p| !p.is_empty()),
        "{an:#}"
    );
    assert!(an["live"].is_object() && an["agentUsage"].is_object());
    for bad in ["days=0", "days=x", "top=0", "top=1000", "weeks=2"] {
        let (status, v) = d
            .raw("GET", &format!("/api/claude/analytics?{bad}"), None)
            .await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let _ = d.stop().await;
}
