//! The catalog on PostgreSQL, through the command line: the same history gives
//! the same answers as on SQLite.

use super::*;
use ccsm_testkit::pg::PgCluster;

/// `ccsm ARGS` on `cfg` with the store `url` (`None`: the SQLite default).
fn ccsm_store(cfg: &std::path::Path, url: Option<&str>, args: &[&str]) -> CliRun {
    let mut all: Vec<&str> = Vec::new();
    if let Some(u) = url {
        all.extend(["--store", u]);
    }
    all.extend(args);
    let run = ccsm_at(cfg, &all);
    assert!(run.status.success(), "ccsm {all:?}: {run:?}");
    run
}

fn ids(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| h["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_postgres_store_answers_as_the_sqlite_catalog_does() {
    let pg = PgCluster::start();
    let url = pg.database("cli");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    ccsm_testkit::corpus::generate(&cfg, &ccsm_testkit::corpus::CorpusSpec::sized(3 << 20, 11))
        .unwrap();
    let pg_url = Some(url.as_str());
    for r in ["session", "daily", "monthly", "models"] {
        let a = ccsm_store(&cfg, None, &["usage", r, "--json"]);
        let b = ccsm_store(&cfg, pg_url, &["usage", r, "--json"]);
        assert!(a.stdout == b.stdout, "usage {r} differs");
    }
    let a = ccsm_store(&cfg, None, &["projects", "list", "--json"]);
    let b = ccsm_store(&cfg, pg_url, &["projects", "list", "--json"]);
    // The same projects; on the team's catalog each also says its host.
    let mut b: serde_json::Value = serde_json::from_str(&b.stdout).unwrap();
    for p in b.as_array_mut().unwrap() {
        assert!(p["host"].is_string(), "{p}");
        p.as_object_mut().unwrap().remove("host");
    }
    let a: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(a, b);
    let a = ccsm_store(&cfg, None, &["sessions", "list", "--all", "--json"]);
    let b = ccsm_store(&cfg, pg_url, &["sessions", "list", "--all", "--json"]);
    assert_eq!(ids(&a.stdout), ids(&b.stdout));
    assert!(ids(&a.stdout).len() > 5);
    // Every session listed from PostgreSQL says which host holds it.
    let host: serde_json::Value = serde_json::from_str(&b.stdout).unwrap();
    assert!(host
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["host"].is_string()));
    for q in [
        "refactor",
        "deploy migration",
        "\"torn parser\"",
        "refac*",
        "has:tool:Bash refactor",
        "project:project-000 cache",
        "nonexistentword",
        "cost>1",
    ] {
        let a = ccsm_store(&cfg, None, &["sessions", "search", q, "--json"]);
        let b = ccsm_store(&cfg, pg_url, &["sessions", "search", q, "--json"]);
        assert_eq!(ids(&a.stdout), ids(&b.stdout), "search {q}");
        let snippets: Vec<serde_json::Value> = serde_json::from_str(&b.stdout).unwrap();
        if q == "refactor" {
            assert!(!snippets.is_empty());
            assert!(snippets.iter().all(|h| h["snippet"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("[refactor]")));
        }
    }
    // The config says where the store is, never its password.
    let secret = format!("{url}&password=hunter2");
    let shown = ccsm_store(&cfg, Some(&secret), &["config", "--json"]);
    assert!(!shown.stdout.contains("hunter2"), "{}", shown.stdout);
    assert!(shown.stdout.contains("password=***"), "{}", shown.stdout);
}

#[test]
fn an_unreachable_store_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let url = format!(
        "postgres:///x?host={}&user=ccsm&password=hunter2",
        tmp.path().join("nothing-here").display()
    );
    let run = ccsm_at(&cfg, &["--store", &url, "sessions", "list"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("unavailable"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    let bad = ccsm_at(&cfg, &["--store", "mysql://x", "sessions", "list"]);
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("sqlite:///"), "{}", bad.stderr);
}

/// `ccsm --config-dir CFG --store URL ARGS` as host `host` (its own data dir).
fn on_host(host: &str, cfg: &std::path::Path, url: &str, args: &[&str]) -> CliRun {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.arg("--config-dir")
        .arg(cfg)
        .args(["--store", url])
        .args(args)
        .stdin(Stdio::null());
    for k in TestEnv::leaky_vars() {
        c.env_remove(k);
    }
    let home = cfg.join(".ccsm");
    c.env("CCSM_HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("CCSM_HOST", host)
        .env_remove("CCSM_CONFIG");
    let run = CliRun::from(run_with_deadline(c, Duration::from_secs(60)));
    assert!(run.status.success(), "{host}: ccsm {args:?}: {run:?}");
    run
}

#[test]
fn a_session_recorded_on_one_host_is_found_restored_and_resumed_on_another() {
    let pg = PgCluster::start();
    let url = pg.database("team");
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    // Host A: a conversation, indexed into the team's catalog.
    let id = claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "My name is Alice"],
    )
    .session_id()
    .unwrap();
    claude_in(
        &env,
        &model,
        &env.config_dir,
        &env.project,
        &["-p", "I like tea", "--resume", &id],
    );
    on_host("host-a", &env.config_dir, &url, &["index"]);

    // Host B: another config dir, the project elsewhere, no archive of its own.
    let b_cfg = env.mkdir("machine-b/config");
    let b_project = env.mkdir("machine-b/src/alice");
    let hits = on_host(
        "host-b",
        &b_cfg,
        &url,
        &["sessions", "search", "Alice", "--json"],
    );
    let hits: serde_json::Value = serde_json::from_str(&hits.stdout).unwrap();
    assert_eq!(hits[0]["sessionId"], id.as_str(), "{hits}");
    assert_eq!(hits[0]["host"], "host-a");
    // B's own sync does not take A's sessions for gone.
    let listed = on_host(
        "host-b",
        &b_cfg,
        &url,
        &["sessions", "list", "--host", "host-a", "--json"],
    );
    assert_eq!(ids(&listed.stdout), vec![id.clone()]);
    // The team's usage report counts every host's sessions; by host, that host's.
    for (only, counted) in [
        (None, true),
        (Some("host-a"), true),
        (Some("host-b"), false),
    ] {
        let mut args = vec!["usage", "session", "--json"];
        args.extend(only.map(|h| ["--host", h]).into_iter().flatten());
        let report = on_host("host-b", &b_cfg, &url, &args);
        assert_eq!(
            report.stdout.contains(id.as_str()),
            counted,
            "usage session --host {only:?}: {}",
            report.stdout
        );
    }

    on_host(
        "host-b",
        &b_cfg,
        &url,
        &[
            "sessions",
            "restore",
            &id,
            "--to",
            b_project.to_str().unwrap(),
        ],
    );
    let r = claude_in(
        &env,
        &model,
        &b_cfg,
        &b_project,
        &["-p", "What do I like?", "--resume", &id],
    );
    assert_eq!(r.session_id().unwrap(), id);
    let req = model.message_requests().pop().unwrap();
    assert_eq!(
        req.user_prompts(),
        vec!["My name is Alice", "I like tea", "What do I like?"],
        "B's CLI resumed the conversation A recorded"
    );
    // Indexed on B now: the session is B's, with its new turn.
    on_host("host-b", &b_cfg, &url, &["index"]);
    let info = on_host("host-b", &b_cfg, &url, &["sessions", "info", &id, "--json"]);
    let info: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["host"], "host-b", "{info}");
    assert_eq!(info["cwd"], b_project.to_str().unwrap());
    let found = on_host(
        "host-a",
        &env.config_dir,
        &url,
        &["sessions", "search", "\"What do I like\"", "--json"],
    );
    assert_eq!(ids(&found.stdout), vec![id.clone()], "A finds B's new turn");
}

#[test]
fn killing_the_database_mid_ingest_loses_nothing_committed_and_the_next_sync_completes() {
    let mut pg = PgCluster::start();
    let url = pg.database("crash");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    // Big enough for several commits (a sync commits every 48 MB of transcripts).
    ccsm_testkit::corpus::generate(
        &cfg,
        &ccsm_testkit::corpus::CorpusSpec::sized(110 << 20, 13),
    )
    .unwrap();
    let home = cfg.join(".ccsm");
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.arg("--config-dir")
        .arg(&cfg)
        .args(["--store", &url, "index"])
        .env("CCSM_HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env_remove("CCSM_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in TestEnv::leaky_vars() {
        c.env_remove(k);
    }
    let mut child = c.spawn().unwrap();
    let watcher = ccsm_store::PgStore::open_as(&url, "watcher", None).unwrap();
    let all = ccsm_store::ListFilter {
        include_gone: true,
        ..Default::default()
    };
    use ccsm_store::Store as _;
    let committed: Vec<String> = wait_for("a first commit", Duration::from_secs(300), || {
        let ids: Vec<String> = watcher.list(&all).ok()?.into_iter().map(|s| s.id).collect();
        (!ids.is_empty()).then_some(ids)
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync was still running when the database was killed"
    );
    drop(watcher);
    pg.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("unavailable") || stderr.contains("database"),
        "a clear error: {stderr}"
    );

    pg.start_server();
    let after = ccsm_store::PgStore::open_as(&url, "watcher", None).unwrap();
    let now: std::collections::HashSet<String> = after
        .list(&all)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    for id in &committed {
        assert!(now.contains(id), "committed session {id} lost");
    }
    drop(after);
    let again = ccsm_store(&cfg, Some(&url), &["index"]);
    assert!(again.stderr.contains("indexed"), "{}", again.stderr);
    let a = ccsm_store(&cfg, Some(&url), &["usage", "session", "--json"]);
    let b = ccsm_store(&cfg, None, &["--direct", "usage", "session", "--json"]);
    assert!(
        a.stdout == b.stdout,
        "the catalog's report equals the files'"
    );
}

#[test]
fn store_copy_moves_a_laptops_catalog_into_the_teams_and_back() {
    let pg = PgCluster::start();
    let url = pg.database("copy");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let gone = "15e81b36-b530-430d-b16c-6579d06b30de";
    // The laptop's own catalog (SQLite): ccsm's data, and a session Claude Code
    // no longer has (archived first).
    ok_at(&cfg, &["sessions", "tags", "add", id, "keep-me"]);
    ok_at(&cfg, &["sessions", "note", id, "a note"]);
    ok_at(&cfg, &["sessions", "describe", id, "a description"]);
    ok_at(&cfg, &["sessions", "rm", gone, "--yes"]);

    let first = json_of(&ok_at(&cfg, &["store", "copy", "--to", &url, "--json"]));
    assert_eq!(first["goneAdded"], 1, "{first}");
    assert!(first["archives"].as_u64().unwrap() >= 1, "{first}");
    let again = json_of(&ok_at(&cfg, &["store", "copy", "--to", &url, "--json"]));
    assert_eq!(
        (
            again["goneAdded"].as_u64(),
            again["tags"].as_u64(),
            again["texts"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "a second copy changes nothing: {again}"
    );
    let info = json_of(&ccsm_store(
        &cfg,
        Some(&url),
        &["sessions", "info", id, "--json"],
    ));
    assert_eq!(info["tags"], serde_json::json!(["keep-me"]));
    assert_eq!(info["notes"], "a note");
    assert_eq!(info["description"], "a description");
    let listed = ccsm_store(&cfg, Some(&url), &["sessions", "list", "--all", "--json"]);
    assert!(ids(&listed.stdout).contains(&gone.to_owned()));
    // Another host restores the deleted session from the team's store.
    let other = tmp.path().join("other");
    let dest = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    on_host(
        "host-b",
        &other,
        &url,
        &["sessions", "restore", gone, "--to", dest.to_str().unwrap()],
    );

    // Leaving the team: back into a file of one's own.
    let back = tmp.path().join("back.db");
    let back_url = format!("sqlite://{}", back.display());
    ok_at(
        &cfg,
        &[
            "--store", &url, "store", "copy", "--from", &url, "--to", &back_url,
        ],
    );
    let info = json_of(&ok_at(
        &cfg,
        &["--store", &back_url, "sessions", "info", id, "--json"],
    ));
    assert_eq!(info["tags"], serde_json::json!(["keep-me"]));
    assert_eq!(info["description"], "a description");
    let m = json_of(&ok_at(
        &cfg,
        &["--store", &url, "store", "migrate", "--json"],
    ));
    assert!(m["sessions"].as_u64().unwrap() > 1, "{m}");
}

/// Two hosts with folders of the same path: on the team's catalog they are two
/// projects, each named with its host; one host's sessions stay its own.
#[test]
fn two_hosts_folders_of_one_path_are_two_projects() {
    let pg = PgCluster::start();
    let url = pg.database("paths");
    let tmp = tempfile::tempdir().unwrap();
    let mut sessions = Vec::new();
    for (host, seed) in [("host-a", 21), ("host-b", 22)] {
        let cfg = tmp.path().join(host);
        let spec = ccsm_testkit::corpus::CorpusSpec::sized(1 << 20, seed);
        let report = ccsm_testkit::corpus::generate(&cfg, &spec).unwrap();
        sessions.push(report.sessions);
        on_host(host, &cfg, &url, &["index"]);
    }
    let cfg = tmp.path().join("host-a");
    let listed = on_host("host-a", &cfg, &url, &["projects", "list", "--json"]);
    let projects: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let rows = projects.as_array().unwrap();
    let of = |host: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|p| p["host"] == host).collect()
    };
    let (a, b) = (of("host-a"), of("host-b"));
    assert_eq!(a.len() + b.len(), rows.len(), "every project has its host");
    // Both corpora use /home/dev/src/project-000…: the same path, twice.
    let first = "/home/dev/src/project-000";
    for side in [&a, &b] {
        let same: Vec<_> = side.iter().filter(|p| p["path"] == first).collect();
        assert_eq!(same.len(), 1, "{first} once per host: {projects}");
    }
    let count = |side: &[&serde_json::Value]| -> u64 {
        side.iter().map(|p| p["sessions"].as_u64().unwrap()).sum()
    };
    assert_eq!(count(&a), sessions[0] as u64, "host A's sessions are A's");
    assert_eq!(count(&b), sessions[1] as u64, "host B's sessions are B's");
    let table = on_host(
        "host-b",
        &tmp.path().join("host-b"),
        &url,
        &["projects", "list"],
    );
    assert!(table.stdout.contains("host"), "{}", table.stdout);
}

/// A session of one user turn saying `text` and a reply of 100 input and 10
/// output tokens, launched in `cwd`, in `cfg`.
pub(super) fn session_in(cfg: &std::path::Path, cwd: &std::path::Path, id: &str, text: &str) {
    let cwd = cwd.to_str().unwrap();
    let dir = cfg
        .join("projects")
        .join(ccsm_transcripts::encode_project_dir(cwd));
    std::fs::create_dir_all(&dir).unwrap();
    let line = serde_json::json!({
        "parentUuid": null, "isSidechain": false, "type": "user",
        "message": {"role": "user", "content": text},
        "uuid": "1f300c88-8f1c-4410-9e9a-d882e5f8f448", "timestamp": "2026-11-22T00:24:50.282Z",
        "userType": "external", "cwd": cwd, "sessionId": id, "version": "2.1.330",
    });
    let reply = serde_json::json!({
        "parentUuid": "1f300c88-8f1c-4410-9e9a-d882e5f8f448", "isSidechain": false,
        "type": "assistant", "requestId": format!("req_{id}"),
        "message": {"id": format!("msg_{id}"), "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "noted"}],
            "usage": {"input_tokens": 100, "output_tokens": 10}},
        "uuid": "2f300c88-8f1c-4410-9e9a-d882e5f8f448", "timestamp": "2026-11-22T00:24:51.282Z",
        "userType": "external", "cwd": cwd, "sessionId": id, "version": "2.1.330",
    });
    std::fs::write(
        dir.join(format!("{id}.jsonl")),
        format!("{line}\n{reply}\n"),
    )
    .unwrap();
}

/// `git init` at `dir` with `origin` at `url`.
fn checkout(dir: &std::path::Path, url: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for args in [&["init", "-q"][..], &["remote", "add", "origin", url]] {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .expect("git is needed by this test");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
}

#[test]
fn two_hosts_checkouts_of_one_repository_map_into_one_project_by_git_remote() {
    let pg = PgCluster::start();
    let url = pg.database("mapped");
    let tmp = tempfile::tempdir().unwrap();
    let (cfg_a, cfg_b) = (tmp.path().join("host-a"), tmp.path().join("host-b"));
    // One repository, checked out at two paths with its remote spelt two ways.
    let (repo_a, repo_b) = (tmp.path().join("a/src/app"), tmp.path().join("b/work/app"));
    checkout(&repo_a, "git@github.com:team/app.git");
    checkout(&repo_b, "https://github.com/team/app");
    let (id_a, id_b) = (
        "a1111111-1111-4111-8111-111111111111",
        "b2222222-2222-4222-8222-222222222222",
    );
    session_in(&cfg_a, &repo_a, id_a, "quokka migration plan");
    session_in(&cfg_b, &repo_b, id_b, "wombat migration plan");
    // An unmapped folder of A's stays a project of its own.
    session_in(
        &cfg_a,
        &tmp.path().join("a/scratch"),
        "c3333333-3333-4333-8333-333333333333",
        "numbat migration plan",
    );
    on_host("host-a", &cfg_a, &url, &["index"]);
    on_host("host-b", &cfg_b, &url, &["index"]);
    let projects = |host: &str, cfg: &std::path::Path| -> Vec<serde_json::Value> {
        let r = on_host(host, cfg, &url, &["projects", "list", "--json"]);
        serde_json::from_str(&r.stdout).unwrap()
    };
    assert_eq!(
        projects("host-a", &cfg_a).len(),
        3,
        "three folders, three projects"
    );

    let dry = on_host(
        "host-a",
        &cfg_a,
        &url,
        &["projects", "map", "--git", "--dry-run", "--json"],
    );
    assert!(dry.stdout.contains("github.com/team/app"), "{}", dry.stdout);
    assert_eq!(
        projects("host-a", &cfg_a).len(),
        3,
        "a dry run maps nothing"
    );
    for (host, cfg) in [("host-a", &cfg_a), ("host-b", &cfg_b)] {
        let r = on_host(host, cfg, &url, &["projects", "map", "--git", "--json"]);
        let maps: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(maps.len(), 1, "{host}: only the checkout: {maps:?}");
        assert_eq!(maps[0]["name"], "github.com/team/app");
    }

    // Either host sees one project of both hosts' folders.
    let rows = projects("host-b", &cfg_b);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let app = rows
        .iter()
        .find(|p| p["name"] == "github.com/team/app")
        .unwrap_or_else(|| panic!("no mapped project: {rows:?}"));
    assert_eq!(app["sessions"], 2);
    let mut hosts: Vec<&str> = app["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["host-a", "host-b"]);
    let table = on_host("host-a", &cfg_a, &url, &["projects", "list"]);
    assert!(table.stdout.contains("host-a, host-b"), "{}", table.stdout);

    // Its name finds both hosts' sessions, and only them.
    let listed = on_host(
        "host-b",
        &cfg_b,
        &url,
        &[
            "sessions",
            "list",
            "--project",
            "github.com/team/app",
            "--json",
        ],
    );
    let mut got = ids(&listed.stdout);
    got.sort();
    assert_eq!(got, [id_a, id_b]);
    let found = on_host(
        "host-b",
        &cfg_b,
        &url,
        &[
            "sessions",
            "search",
            "migration project:github.com/team/app",
            "--json",
        ],
    );
    let mut got = ids(&found.stdout);
    got.sort();
    assert_eq!(got, [id_a, id_b], "{}", found.stdout);
    // And its usage is both hosts' folders' (the third folder's is not in it).
    let usage = on_host(
        "host-a",
        &cfg_a,
        &url,
        &[
            "usage",
            "session",
            "--project",
            "github.com/team/app",
            "--json",
        ],
    );
    let usage: serde_json::Value = serde_json::from_str(&usage.stdout).unwrap();
    let mut got: Vec<&str> = usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, [id_a, id_b], "{usage}");

    // Unmapped, B's folder is its own project again.
    let repo_b_text = repo_b.to_str().unwrap();
    on_host("host-b", &cfg_b, &url, &["projects", "unmap", repo_b_text]);
    assert_eq!(projects("host-a", &cfg_a).len(), 3);
    let maps = on_host("host-a", &cfg_a, &url, &["projects", "maps", "--json"]);
    assert!(!maps.stdout.contains(repo_b_text), "{}", maps.stdout);

    // By hand: another host's folder by its path there; a name that reads as
    // a path, or a folder the catalog does not know, is refused.
    on_host(
        "host-a",
        &cfg_a,
        &url,
        &[
            "projects",
            "map",
            repo_b_text,
            "github.com/team/app",
            "--host",
            "host-b",
        ],
    );
    assert_eq!(projects("host-a", &cfg_a).len(), 2);
    for (args, says) in [
        (
            vec![
                "projects",
                "map",
                repo_b_text,
                "/not/a/name",
                "--host",
                "host-b",
            ],
            "reads as a path",
        ),
        (
            vec![
                "projects",
                "map",
                "/no/such/folder",
                "x",
                "--host",
                "host-b",
            ],
            "no project",
        ),
    ] {
        let all: Vec<&str> = ["--store", url.as_str()]
            .into_iter()
            .chain(args.clone())
            .collect();
        let r = ccsm_at(&cfg_a, &all);
        assert!(!r.status.success(), "{args:?}: {r:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}
