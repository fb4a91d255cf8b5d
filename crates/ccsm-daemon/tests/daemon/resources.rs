//! Every session as a resource: the catalog's list and one session, navigation
//! to another folder (the path validator first), system status.

use serde_json::{json, Value};

use crate::harness::{last_request_text, Daemon};

async fn raw(d: &Daemon, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    d.raw(method, path, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_path_validator_reports_and_refuses_system_places_traversal_and_escaping_links() {
    let d = Daemon::start().await;
    let p = d.env.project.display().to_string();
    let v = d.ok("/api/claude/validate-path", json!({"path": p})).await;
    assert_eq!(v["valid"], true, "{v:#}");
    for k in ["exists", "isDir", "readable", "writable", "executable"] {
        assert_eq!(v[k], true, "{k}: {v:#}");
    }
    assert_eq!(v["restricted"], false);
    assert!(v["disk"]["freeBytes"].as_u64() > Some(0), "{v:#}");
    assert!(v["git"].is_null(), "not a repository: {v:#}");

    // A repository: its branch, and dirty once a file is added.
    let repo = d.env.mkdir("repo");
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &d.env.home)
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "trunk"]);
    let r = d
        .ok("/api/claude/validate-path", json!({"path": repo}))
        .await;
    assert_eq!(r["git"]["branch"], "trunk", "{r:#}");
    assert_eq!(r["git"]["dirty"], false, "{r:#}");
    std::fs::write(repo.join("a.txt"), "x").expect("write");
    let r = d
        .ok("/api/claude/validate-path", json!({"path": repo}))
        .await;
    assert_eq!(r["git"]["dirty"], true, "{r:#}");

    let link = d.env.root().join("to-etc");
    std::os::unix::fs::symlink("/etc", &link).expect("symlink");
    let cases = [
        ("/etc", "restricted"),
        ("/", "restricted"),
        ("/proc/self", "restricted"),
        ("/usr/share", "restricted"),
        // The daemon's own user's (this test process's) home.
        (
            &format!("{}/.ssh", std::env::var("HOME").unwrap_or_default()) as &str,
            "restricted",
        ),
        (&format!("{p}/../project"), "traversal"),
        (&link.display().to_string(), "symlinkEscape"),
        ("relative/dir", "relative"),
        ("/tmp/a\u{1}b", "invalidCharacters"),
        ("", "empty"),
        (&format!("{p}/missing"), "notFound"),
    ];
    let paths: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let all = d
        .ok("/api/claude/validate-paths", json!({"paths": paths}))
        .await;
    for (i, (path, kind)) in cases.iter().enumerate() {
        let r = &all[i];
        assert_eq!(r["valid"], false, "{path}: {r:#}");
        assert!(
            r["problems"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|x| x["kind"] == *kind)),
            "{path} should be {kind}: {r:#}"
        );
    }
    let many: Vec<String> = (0..101).map(|i| format!("/tmp/{i}")).collect();
    let (status, v) = raw(
        &d,
        "POST",
        "/api/claude/validate-paths",
        Some(json!({"paths": many})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn navigate_moves_a_session_and_the_real_cli_resumes_it_there_with_its_history() {
    let d = Daemon::start().await;
    let id = d
        .start_session(Some("remember the word PELICAN"), json!({"name": "nav"}))
        .await;
    d.wait_turns(&id, 1).await;
    let before = d.transcript(&id);

    // Refused: nothing stops, nothing moves.
    let link = d.env.root().join("escape");
    std::os::unix::fs::symlink("/etc", &link).expect("symlink");
    let p = d.env.project.display().to_string();
    for bad in [
        "/etc".to_owned(),
        format!("{p}/../elsewhere"),
        link.display().to_string(),
    ] {
        let (status, v) = raw(
            &d,
            "POST",
            &format!("/api/claude/sessions/{id}/navigate"),
            Some(json!({"path": bad})),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["kind"], "invalidInput", "{v}");
        assert!(before.is_file(), "{bad}: the transcript stays");
        assert_eq!(d.status(&id).await["status"]["state"], "idle");
    }

    let elsewhere = d.env.mkdir("elsewhere");
    let (status, v) = raw(
        &d,
        "POST",
        &format!("/api/claude/sessions/{id}/navigate"),
        Some(json!({"path": elsewhere, "validate_permissions": true, "update_git_state": true})),
    )
    .await;
    assert_eq!(status, 200, "{v:#}");
    assert_eq!(v["success"], true);
    assert_eq!(
        v["session"]["id"],
        id.as_str(),
        "beside data, as the seed reads it"
    );
    assert_eq!(v["data"]["sessionId"], id.as_str());
    assert_eq!(v["data"]["pathCheck"]["valid"], true);
    assert!(!before.exists(), "the old transcript is gone");
    let after = d.transcript(&id);
    assert!(
        after.starts_with(
            d.env
                .config_dir
                .join("projects")
                .join(crate::harness::project_dir_name(&elsewhere))
        ),
        "{}",
        after.display()
    );
    let s = d.status(&id).await;
    assert_eq!(s["projectPath"], json!(elsewhere), "{s:#}");

    // The next turn runs there, with the history.
    d.ok(
        &format!("/api/claude/sessions/{id}/messages"),
        json!({"prompt": "which word?"}),
    )
    .await;
    d.wait_turns(&id, 1).await;
    let seen = last_request_text(&d.model);
    assert!(
        seen.contains("PELICAN"),
        "the earlier turn is resumed: {seen}"
    );
    let text = std::fs::read_to_string(d.transcript(&id)).expect("transcript");
    let cwd = format!("\"cwd\":\"{}\"", elsewhere.display());
    assert!(
        text.contains(&cwd),
        "new lines are written in the new folder"
    );
    assert!(
        !text.contains(&format!("\"cwd\":\"{p}\"")),
        "old lines were rewritten"
    );
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_are_listed_with_filters_and_pages_and_one_shows_its_live_state() {
    let d = Daemon::start().await;
    for w in ["alpha", "bravo", "charlie"] {
        d.env.run_claude(&d.model, &["-p", &format!("word {w}")]);
    }
    let live = d.start_session(Some("word delta"), json!({})).await;
    d.wait_turns(&live, 1).await;

    let page = d.get("/api/claude/sessions?limit=2").await.expect("list");
    assert_eq!(page["total"], 4, "{page:#}");
    assert_eq!(page["sessions"].as_array().map(Vec::len), Some(2));
    let rest = d
        .get("/api/claude/sessions?limit=2&offset=2")
        .await
        .expect("list");
    assert_eq!(rest["sessions"].as_array().map(Vec::len), Some(2));
    let ids: Vec<&str> = page["sessions"]
        .as_array()
        .into_iter()
        .chain(rest["sessions"].as_array())
        .flatten()
        .filter_map(|s| s["sessionId"].as_str())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4, "pages do not overlap: {ids:?}");
    assert_eq!(ids[0], live, "newest first");

    let hit = d.get("/api/claude/sessions?q=bravo").await.expect("q");
    assert_eq!(hit["total"], 1, "{hit:#}");
    let only = d
        .get("/api/claude/sessions?status=live")
        .await
        .expect("live");
    assert_eq!(only["total"], 1, "{only:#}");
    assert_eq!(only["sessions"][0]["sessionId"], live.as_str());
    let p = d.env.project.display().to_string();
    let proj = d
        .get(&format!("/api/claude/sessions?project={p}&limit=10"))
        .await
        .expect("project");
    assert_eq!(proj["total"], 4);
    let none = d
        .get("/api/claude/sessions?after=2999-01-01")
        .await
        .expect("after");
    assert_eq!(none["total"], 0);

    // Its folder's git state comes with it.
    let inited = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&d.env.project)
        .env("HOME", &d.env.home)
        .status()
        .expect("git");
    assert!(inited.success());
    let one = d
        .get(&format!("/api/claude/sessions/{live}"))
        .await
        .expect("one");
    assert_eq!(one["git"]["root"], p.as_str(), "{one:#}");
    assert_eq!(one["git"]["dirty"], false, "{one:#}");
    assert_eq!(one["id"], live.as_str());
    assert!(
        one["firstPrompt"]
            .as_str()
            .is_some_and(|t| t.contains("delta")),
        "{one:#}"
    );
    assert_eq!(one["run"]["status"]["state"], "idle", "{one:#}");
    assert!(one["stats"]["userTurns"].as_u64() >= Some(1), "{one:#}");
    let other = &ids[1];
    let o = d
        .get(&format!("/api/claude/sessions/{other}"))
        .await
        .expect("one");
    assert!(o["run"].is_null() && o["process"].is_null(), "{o:#}");

    for bad in [
        "/api/claude/sessions?limit=0",
        "/api/claude/sessions?limit=5000",
        "/api/claude/sessions?status=sleeping",
        "/api/claude/sessions?after=yesterday",
        "/api/claude/sessions?cost_gt=-1",
        "/api/claude/sessions?offset=-3",
        "/api/claude/sessions?colour=red",
        "/api/claude/sessions?q=%22unclosed",
        "/api/claude/sessions/not-a-session",
        "/api/claude/sessions/00000000-0000-4000-8000-000000000000",
    ] {
        let (status, v) = raw(&d, "GET", bad, None).await;
        assert!((400..500).contains(&status), "{bad}: {status} {v}");
        assert_eq!(v["success"], false, "{bad}");
    }
    let _ = d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn system_status_names_the_cli_the_catalog_and_the_load() {
    let d = Daemon::start().await;
    d.env.run_claude(&d.model, &["-p", "hello"]);
    let s = d.get("/api/claude/system-status").await.expect("status");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        s["cli"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.")),
        "{s:#}"
    );
    assert_eq!(s["catalog"]["backend"], "sqlite");
    assert!(s["catalog"]["sessions"].as_u64() >= Some(1), "{s:#}");
    assert!(s["load"][0].as_f64().is_some() && s["cpus"].as_u64() >= Some(1));
    let _ = d.stop().await;
}
