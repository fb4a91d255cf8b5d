//! What a newcomer's run and real transcripts found (issue 11): each test fails
//! without its fix.

use super::*;

#[test]
fn a_snapshot_only_file_is_no_session_in_the_catalog_or_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "0b6f3f7e-5f0c-4d2b-9d44-6a6f7c1d2e3f";
    let line = serde_json::json!({"type": "file-history-snapshot", "messageId": "m1",
        "snapshot": {"messageId": "m1", "trackedFileBackups": {}, "timestamp": "2026-11-20T10:00:00.000Z"},
        "isSnapshotUpdate": false});
    std::fs::write(
        cfg.join("projects/-home-dev-src-alpha")
            .join(format!("{id}.jsonl")),
        format!("{line}\n{line}\n"),
    )
    .unwrap();
    let ids = |r: &CliRun| -> Vec<String> {
        json_of(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["sessionId"].as_str().unwrap().to_owned())
            .collect()
    };
    let catalog = ids(&ok_at(&cfg, &["sessions", "list", "--json"]));
    let files = ids(&ok_at(&cfg, &["--direct", "sessions", "list", "--json"]));
    assert!(!files.contains(&id.to_owned()));
    assert_eq!(catalog, files);
}

/// An assistant line with usage, as every CLI version writes it.
pub(crate) fn usage_line(
    session: &str,
    uuid: &str,
    sidechain: bool,
    ts: &str,
    input: u64,
) -> String {
    usage_line_of(
        "claude-sonnet-4-5-20250929",
        session,
        uuid,
        sidechain,
        ts,
        input,
    )
}

fn usage_line_of(
    model: &str,
    session: &str,
    uuid: &str,
    sidechain: bool,
    ts: &str,
    input: u64,
) -> String {
    serde_json::json!({"type": "assistant", "sessionId": session, "uuid": uuid,
        "parentUuid": null, "isSidechain": sidechain, "timestamp": ts,
        "requestId": format!("req_{uuid}"), "cwd": "/home/dev/p",
        "message": {"id": format!("msg_{uuid}"), "type": "message", "role": "assistant",
            "model": model, "content": [{"type": "text", "text": "hi"}],
            "usage": {"input_tokens": input, "output_tokens": 10,
                "cache_read_input_tokens": 5, "cache_creation_input_tokens": 7}}})
    .to_string()
        + "\n"
}

/// CLI 2.0 wrote subagent transcripts beside the sessions (`agent-<id>.jsonl`), and
/// a session's folder can outlive its transcript: their model calls cost money.
#[test]
fn old_layout_subagents_and_orphaned_subagent_folders_count_as_ccusage_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let p = cfg.join("projects/-home-dev-p");
    let (s, gone) = (
        "11111111-1111-4111-8111-111111111111",
        "22222222-2222-4222-8222-222222222222",
    );
    std::fs::create_dir_all(p.join(gone).join("subagents")).unwrap();
    let prompt = serde_json::json!({"type": "user", "sessionId": s, "uuid": "u0",
        "parentUuid": null, "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
        "message": {"role": "user", "content": "hello"}});
    std::fs::write(
        p.join(format!("{s}.jsonl")),
        format!("{prompt}\n") + &usage_line(s, "a1", false, "2026-11-20T10:00:01.000Z", 100),
    )
    .unwrap();
    std::fs::write(
        p.join("agent-abc123.jsonl"),
        usage_line(s, "a2", true, "2026-11-20T10:00:02.000Z", 1000),
    )
    .unwrap();
    std::fs::write(
        p.join(gone).join("subagents/agent-def456.jsonl"),
        usage_line(gone, "a3", true, "2026-11-20T10:00:03.000Z", 10000),
    )
    .unwrap();

    let theirs = ccsm_testkit::ccusage(&cfg, "session");
    let files = json_of(&ok_at(&cfg, &["--direct", "usage", "session", "--json"]));
    let catalog = json_of(&ok_at(&cfg, &["usage", "session", "--json"]));
    for k in [
        "inputTokens",
        "outputTokens",
        "cacheReadTokens",
        "totalTokens",
    ] {
        assert_eq!(files["totals"][k], theirs["totals"][k], "files: totals.{k}");
        assert_eq!(
            catalog["totals"][k], theirs["totals"][k],
            "catalog: totals.{k}"
        );
    }
    // The old-layout subagent counts to its session (the `sessionId` inside)...
    let input_of = |v: &serde_json::Value, id: &str| {
        v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sessionId"] == id)
            .map(|r| r["inputTokens"].clone())
    };
    assert_eq!(input_of(&files, s), Some(serde_json::json!(1100)));
    assert_eq!(input_of(&catalog, s), Some(serde_json::json!(1100)));
    // ...and the session whose transcript is gone still has its usage.
    assert_eq!(input_of(&files, gone), Some(serde_json::json!(10000)));
    assert_eq!(input_of(&catalog, gone), Some(serde_json::json!(10000)));
    // It is listed as the session's subagent.
    let subs = ok_at(&cfg, &["sessions", "subagents", s]);
    assert!(subs.stdout.contains("abc123"), "{}", subs.stdout);
}

/// A config dir with one session per model, each a prompt and one call of
/// 1,000,000 input tokens.
fn one_session_per_model(cfg: &std::path::Path, models: &[&str]) -> Vec<String> {
    let p = cfg.join("projects/-home-dev-p");
    std::fs::create_dir_all(&p).unwrap();
    models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let id = format!("{i:08}-1111-4111-8111-111111111111");
            let prompt = serde_json::json!({"type": "user", "sessionId": id, "uuid": format!("u{i}"),
                "parentUuid": null, "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
                "message": {"role": "user", "content": format!("work with {m}")}});
            std::fs::write(
                p.join(format!("{id}.jsonl")),
                format!("{prompt}\n")
                    + &usage_line_of(m, &id, &format!("c{i}"), false, "2026-11-20T10:00:01.000Z", 1_000_000),
            )
            .unwrap();
            id
        })
        .collect()
}

fn cost_of(report: &serde_json::Value, id: &str) -> f64 {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sessionId"] == id)
        .unwrap()["totalCost"]
        .as_f64()
        .unwrap()
}

/// Opus 4.6/4.7 were priced as Opus 4 (3x too high) by nearest-name matching; a
/// model the table does not know is unpriced, and info and usage say so.
#[test]
fn prices_are_never_guessed_and_unpriced_models_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let ids = one_session_per_model(&cfg, &["claude-opus-4-7", "claude-opus-4-9"]);
    for direct in [false, true] {
        let mut args = vec!["usage", "session", "--json"];
        if direct {
            args.insert(0, "--direct");
        }
        let r = json_of(&ok_at(&cfg, &args));
        assert!((cost_of(&r, &ids[0]) - 5.0003).abs() < 1e-3, "{r}");
        assert_eq!(cost_of(&r, &ids[1]), 0.0);
        assert_eq!(
            r["totals"]["unpricedModels"],
            serde_json::json!(["claude-opus-4-9"]),
            "{r}"
        );
        let table = ok_at(&cfg, &args[..args.len() - 1]);
        assert!(table.stdout.contains("unpriced"), "{}", table.stdout);
    }
    let info = ok_at(&cfg, &["sessions", "info", &ids[1]]);
    assert!(
        info.stdout.contains("unpriced: claude-opus-4-9"),
        "{}",
        info.stdout
    );
    let info = ok_at(&cfg, &["sessions", "info", &ids[0]]);
    assert!(!info.stdout.contains("unpriced"), "{}", info.stdout);
}

/// Serves one HTTP response on loopback, for `usage pricing --update --url`.
fn serve_once(body: String) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/prices.json", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).unwrap();
        write!(
            s,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    (url, h)
}

/// A refreshed table (LiteLLM's shape) applies to every view at once: the
/// catalog's per-session cost, the search filter `cost>` and the usage report.
#[test]
fn an_updated_pricing_table_applies_to_every_view_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let ids = one_session_per_model(&cfg, &["claude-opus-4-9"]);
    assert!(ok_at(&cfg, &["sessions", "search", "cost>1", "--json"])
        .stdout
        .trim()
        .eq("[]"));
    let litellm = serde_json::json!({"claude-opus-4-9": {"litellm_provider": "anthropic",
        "input_cost_per_token": 2e-6, "output_cost_per_token": 1e-5}});
    let (url, server) = serve_once(litellm.to_string());
    let r = ok_at(&cfg, &["usage", "pricing", "--update", "--url", &url]);
    server.join().unwrap();
    assert!(r.stderr.contains("saved"), "{}", r.stderr);
    let report = json_of(&ok_at(&cfg, &["usage", "session", "--json"]));
    assert!((cost_of(&report, &ids[0]) - 2.0).abs() < 0.01, "{report}");
    let hits = json_of(&ok_at(&cfg, &["sessions", "search", "cost>1", "--json"]));
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    let info = ok_at(&cfg, &["sessions", "info", &ids[0]]);
    assert!(info.stdout.contains("$2.0"), "{}", info.stdout);
    // Models the update does not list keep the shipped price.
    let t = json_of(&ok_at(&cfg, &["usage", "pricing", "--json"]));
    assert!(t["models"]["claude-sonnet-4-5"].is_object());
    // An unreachable table changes nothing.
    let bad = ccsm_at(
        &cfg,
        &[
            "usage",
            "pricing",
            "--update",
            "--url",
            "http://127.0.0.1:9/x",
        ],
    );
    assert!(!bad.status.success());
    let t2 = json_of(&ok_at(&cfg, &["usage", "pricing", "--json"]));
    assert_eq!(t, t2);
}

/// `run --config-dir` wrote to ~/.claude while the name went to the other catalog.
#[test]
fn run_with_config_dir_writes_there() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let other = env.home.join("other-config");
    std::fs::create_dir_all(&other).unwrap();
    let r = run(
        &env,
        &model,
        &[
            "--config-dir",
            other.to_str().unwrap(),
            "run",
            "--json",
            "--session",
            "errands",
            "hello",
        ],
    );
    assert!(r.status.success(), "{r:?}");
    let id = r.session_id().unwrap();
    let ours = ccsm_transcripts_under(&other);
    assert_eq!(ours, vec![id.clone()], "the transcript is in --config-dir");
    assert!(
        env.transcripts().is_empty(),
        "nothing in $CLAUDE_CONFIG_DIR"
    );
    let names = run(
        &env,
        &model,
        &[
            "--config-dir",
            other.to_str().unwrap(),
            "names",
            "show",
            "errands",
        ],
    );
    assert!(names.stdout.contains(&id), "{names:?}");
}

pub(crate) fn ccsm_transcripts_under(config: &std::path::Path) -> Vec<String> {
    ccsm_testkit::transcripts_in(config)
        .into_iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn an_unknown_permission_mode_is_refused_before_anything_starts() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let r = run(&env, &model, &["run", "--permission-mode", "yolo", "hi"]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("unknown permission mode"), "{}", r.stderr);
    assert!(r.stderr.contains("acceptEdits"), "{}", r.stderr);
    assert!(model.message_requests().is_empty());
    assert!(env.transcripts().is_empty());
}

/// The archive was keyed by session id only: two config dirs sharing one data dir
/// replaced each other's copy, and a restore then failed or brought back the other's.
#[test]
fn two_config_dirs_sharing_one_data_dir_each_restore_their_own_session() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ccsm-home");
    let id = "33333333-3333-4333-8333-333333333333";
    let mut cfgs = Vec::new();
    for who in ["alice", "bob"] {
        let cfg = tmp.path().join(who);
        let p = cfg.join("projects/-home-dev-p");
        std::fs::create_dir_all(&p).unwrap();
        let prompt = serde_json::json!({"type": "user", "sessionId": id, "uuid": "u1",
            "parentUuid": null, "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
            "message": {"role": "user", "content": format!("{who} was here")}});
        std::fs::write(p.join(format!("{id}.jsonl")), format!("{prompt}\n")).unwrap();
        cfgs.push(cfg);
    }
    let at = |cfg: &std::path::Path, args: &[&str]| {
        let r = ccsm_with_home(cfg, &home, args);
        assert!(r.status.success(), "{args:?}: {r:?}");
        r
    };
    for cfg in &cfgs {
        at(cfg, &["index"]);
    }
    // Alice's copy as earlier versions left it (the shared archive): migrated.
    let archive = home.join("archive");
    let own: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().len() == 12)
        .collect();
    assert_eq!(own.len(), 2, "one archive per config dir: {own:?}");
    let alice_own = own
        .iter()
        .find(|d| {
            walk(d).iter().any(|f| {
                let mut z = zstd::Decoder::new(std::fs::File::open(f).unwrap()).unwrap();
                let mut s = Vec::new();
                std::io::Read::read_to_end(&mut z, &mut s).unwrap();
                String::from_utf8_lossy(&s).contains("alice was here")
            })
        })
        .unwrap()
        .clone();
    for f in walk(&alice_own) {
        let shard = f.parent().unwrap().file_name().unwrap().to_owned();
        std::fs::create_dir_all(archive.join(&shard)).unwrap();
        std::fs::rename(&f, archive.join(&shard).join(f.file_name().unwrap())).unwrap();
    }
    std::fs::remove_dir_all(&alice_own).unwrap();
    at(&cfgs[0], &["index"]);
    assert!(!walk(&alice_own).is_empty(), "the shared copy is linked in");
    // A new version of Bob's session is archived (the old one is replaced).
    let bob = cfgs[1].join(format!("projects/-home-dev-p/{id}.jsonl"));
    let mut f = std::fs::OpenOptions::new().append(true).open(&bob).unwrap();
    writeln!(
        f,
        "{}",
        serde_json::json!({"type": "custom-title", "customTitle": "Bob's", "sessionId": id})
    )
    .unwrap();
    drop(f);
    at(&cfgs[1], &["index"]);
    for (cfg, who) in cfgs.iter().zip(["alice", "bob"]) {
        let t = cfg.join(format!("projects/-home-dev-p/{id}.jsonl"));
        std::fs::remove_file(&t).unwrap();
        at(cfg, &["index"]);
        at(cfg, &["sessions", "restore", id]);
        let back = std::fs::read_to_string(&t).unwrap();
        assert!(back.contains(&format!("{who} was here")), "{who}: {back}");
    }
}

pub(crate) fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A missing folder, a literal `~` and a missing config dir are refused with a
/// clear error and nothing written; `--create` makes the folder when asked.
#[test]
fn missing_folders_are_refused_unless_asked_to_create_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let before = snapshot(&cfg.join("projects"));
    let missing = tmp.path().join("nowhere");
    let refuse = |args: &[&str], says: &str| {
        let r = ccsm_at(&cfg, args);
        assert!(!r.status.success(), "{args:?} must fail");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    };
    let m = missing.to_str().unwrap();
    refuse(
        &["projects", "move", "/home/dev/src/alpha", m],
        "does not exist",
    );
    refuse(&["sessions", "clone", id, "--to", m], "does not exist");
    let bundle = tmp.path().join("b.ccsm");
    ok_at(
        &cfg,
        &["sessions", "export", id, "-o", bundle.to_str().unwrap()],
    );
    let b = bundle.to_str().unwrap();
    refuse(
        &["sessions", "import", b, "--to", "~/x", "--new-ids"],
        "literal ~",
    );
    refuse(
        &["sessions", "import", b, "--to", m, "--new-ids"],
        "does not exist",
    );
    assert_eq!(snapshot(&cfg.join("projects")), before, "nothing written");
    assert!(!missing.exists());
    let other = tmp.path().join("other-cfg");
    let r = ccsm_at(&other, &["sessions", "import", b]);
    assert!(
        !r.status.success() && r.stderr.contains("does not exist"),
        "{r:?}"
    );
    assert!(!other.exists());
    // Asked to: made, and the session lands there.
    ok_at(&cfg, &["sessions", "clone", id, "--to", m, "--create"]);
    assert!(missing.is_dir());
    ok_at(&other, &["sessions", "import", b, "--create"]);
    assert_eq!(ccsm_transcripts_under(&other).len(), 1);
}

/// Completions and the man page come from the clap definitions; the bash script
/// loads in bash and registers `ccsm`.
#[test]
fn completions_load_in_bash_and_the_man_page_is_generated() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ccsm"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = tmp.path().join("ccsm.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p ccsm", script.display()))
        .output()
        .expect("bash is needed for this test");
    let said = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success(), "{bash:?}");
    assert!(said.contains("ccsm"), "{said}");
    assert!(said.contains("-F _ccsm ccsm"), "{said}");
    for shell in ["zsh", "fish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ccsm"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && out.stdout.len() > 100, "{shell}");
    }
    let man = Command::new(env!("CARGO_BIN_EXE_ccsm"))
        .arg("man")
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success());
    assert!(
        page.contains(".TH ccsm 1") && page.contains("sessions"),
        "{page}"
    );
}

/// `sessions rm` archives before it deletes: the session can be restored.
#[test]
fn a_removed_session_is_archived_first_and_restores() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let t = cfg.join(format!("projects/-home-dev-src-alpha/{id}.jsonl"));
    let bytes = std::fs::read(&t).unwrap();
    let r = ok_at(&cfg, &["sessions", "rm", id, "--yes"]);
    assert!(r.stderr.contains("ccsm sessions restore"), "{}", r.stderr);
    assert!(!t.exists());
    ok_at(&cfg, &["sessions", "restore", id]);
    assert_eq!(std::fs::read(&t).unwrap(), bytes);
}

/// `sessions archive` (hidden from Claude Code's picker) after the catalog was
/// built: `search is:archived` finds it and `info` shows it.
#[test]
fn an_archived_session_is_found_by_is_archived_and_shown_by_info() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    ok_at(&cfg, &["index"]);
    ok_at(&cfg, &["sessions", "archive", id]);
    let hits = ok_at(&cfg, &["sessions", "search", "is:archived", "--full-ids"]);
    assert!(hits.stdout.contains(id), "{}", hits.stdout);
    let info = ok_at(&cfg, &["sessions", "info", id]);
    assert!(
        info.stdout.contains("archived (Claude Code) ┆ true"),
        "{}",
        info.stdout
    );
    ok_at(&cfg, &["sessions", "unarchive", id]);
    let hits = ok_at(&cfg, &["sessions", "search", "is:archived", "--full-ids"]);
    assert!(!hits.stdout.contains(id), "{}", hits.stdout);
}

/// Any unique prefix (any case) or a conversation's name works where an id is
/// taken; an ambiguous prefix lists its candidates; tables show short ids.
#[test]
fn ids_by_prefix_name_or_any_case_and_short_ids_in_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    for typed in ["8b005bc5", "8B005", &id.to_uppercase()] {
        let info = json_of(&ok_at(&cfg, &["sessions", "info", typed, "--json"]));
        assert_eq!(info["sessionId"], id, "{typed}");
        let direct = json_of(&ok_at(
            &cfg,
            &["--direct", "sessions", "info", typed, "--json"],
        ));
        assert_eq!(direct["sessionId"], id, "{typed}");
    }
    ok_at(&cfg, &["sessions", "rename", "8b005", "Short and sweet"]);
    let info = json_of(&ok_at(&cfg, &["sessions", "info", id, "--json"]));
    assert_eq!(info["customTitle"], "Short and sweet");
    // Two fixture sessions start with "8": ambiguous, both named.
    let ids: Vec<String> = ccsm_transcripts_under(&cfg)
        .into_iter()
        .filter(|i| i.starts_with('8'))
        .collect();
    assert!(ids.len() >= 2, "{ids:?}");
    let r = ccsm_at(&cfg, &["sessions", "info", "8"]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("ambiguous"), "{}", r.stderr);
    for i in &ids {
        assert!(r.stderr.contains(i.as_str()), "{}", r.stderr);
    }
    let r = ccsm_at(&cfg, &["sessions", "info", "zzz"]);
    assert!(
        !r.status.success() && r.stderr.contains("not a session id"),
        "{}",
        r.stderr
    );
    // Tables: short ids by default, whole ones with --full-ids.
    let t = ok_at(&cfg, &["sessions", "list"]);
    assert!(
        t.stdout.contains("8b005bc5") && !t.stdout.contains(id),
        "{}",
        t.stdout
    );
    let t = ok_at(&cfg, &["sessions", "list", "--full-ids"]);
    assert!(t.stdout.contains(id), "{}", t.stdout);
}

/// `sessions list --tag/--since/--until/--all`, from the catalog and the files.
#[test]
fn sessions_list_filters_by_tag_and_dates_and_lists_all() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let ids = |args: &[&str]| -> Vec<String> {
        json_of(&ok_at(&cfg, args))
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["sessionId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ids(&["sessions", "list", "--json", "--all"]);
    assert_eq!(all.len(), 13);
    assert_eq!(
        ids(&["sessions", "list", "--json", "--limit", "3"]).len(),
        3
    );
    // Claude Code's own tag: catalog and files agree.
    let tagged = ids(&["sessions", "list", "--json", "--tag", "important"]);
    let tagged_files = ids(&[
        "--direct",
        "sessions",
        "list",
        "--json",
        "--tag",
        "important",
    ]);
    assert_eq!(tagged, tagged_files);
    assert!(!tagged.is_empty());
    // A ccsm tag.
    ok_at(&cfg, &["sessions", "tags", "add", &all[0], "mine"]);
    assert_eq!(
        ids(&["sessions", "list", "--json", "--tag", "mine"]),
        vec![all[0].clone()]
    );
    // Dates: the files were copied today (their mtime), none is from 2001.
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        ids(&["sessions", "list", "--json", "--all", "--since", &today]).len(),
        13
    );
    assert!(ids(&["sessions", "list", "--json", "--until", "2001-01-01"]).is_empty());
    assert!(ids(&[
        "--direct",
        "sessions",
        "list",
        "--json",
        "--until",
        "2001-01-01"
    ])
    .is_empty());
    let r = ok_at(&cfg, &["sessions", "list", "--until", "2001-01-01"]);
    assert!(r.stderr.contains("no sessions"), "{}", r.stderr);
    let r = ccsm_at(&cfg, &["sessions", "list", "--since", "yesterday"]);
    assert!(
        !r.status.success() && r.stderr.contains("not a date"),
        "{}",
        r.stderr
    );
}

/// A conversation's name stands for its latest session wherever an id is taken.
#[test]
fn a_conversation_name_works_where_an_id_is_taken() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let r = run(
        &env,
        &model,
        &["run", "--json", "--session", "groceries", "buy milk"],
    );
    let id = r.session_id().unwrap();
    let info = run(&env, &model, &["sessions", "info", "groceries", "--json"]);
    assert!(info.status.success(), "{info:?}");
    assert_eq!(json_of(&info)["sessionId"], id.as_str());
    let r = run(
        &env,
        &model,
        &["run", "--json", "--resume", &id[..8], "and eggs"],
    );
    assert_eq!(r.session_id().unwrap(), id, "a short id resumes");
}

/// The config file sets defaults (config dir, data dir, pricing); a flag wins; a
/// typo in it is refused with the file's name, never ignored.
#[test]
fn the_config_file_sets_defaults_and_a_bad_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("config.toml");
    let with_config = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.args(args).stdin(Stdio::null());
        for k in TestEnv::leaky_vars() {
            c.env_remove(k);
        }
        c.env_remove("CLAUDE_CONFIG_DIR")
            .env("HOME", tmp.path())
            .env("CCSM_CONFIG", &file)
            // Empty counts as unset: the file's data_dir applies.
            .env("CCSM_HOME", "");
        CliRun::from(run_with_deadline(c, Duration::from_secs(60)))
    };
    std::fs::write(
        &file,
        format!(
            "config_dir = {:?}\ndata_dir = {:?}\n[serve]\nlisten = \"127.0.0.1:9000\"\n",
            cfg.display().to_string(),
            data.display().to_string()
        ),
    )
    .unwrap();
    let r = with_config(&["sessions", "list", "--json", "--all"]);
    assert!(r.status.success(), "{r:?}");
    assert_eq!(json_of(&r).as_array().unwrap().len(), 13);
    assert!(
        data.join("catalogs").is_dir(),
        "the catalog is in the file's data_dir"
    );
    let shown = json_of(&with_config(&["config", "--json"]));
    assert_eq!(shown["configDir"], cfg.display().to_string());
    assert_eq!(shown["serve"]["listen"], "127.0.0.1:9000");
    // A flag wins over the file.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("projects")).unwrap();
    let r = with_config(&[
        "sessions",
        "list",
        "--json",
        "--config-dir",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(json_of(&r).as_array().unwrap().len(), 0, "{r:?}");
    // A typo is refused, naming the file and the key.
    std::fs::write(&file, "config_dri = \"/x\"\n").unwrap();
    let r = with_config(&["sessions", "list"]);
    assert!(!r.status.success());
    assert!(
        r.stderr.contains("config.toml") && r.stderr.contains("config_dri"),
        "{}",
        r.stderr
    );
    std::fs::write(&file, "catalog = \"postgres://x\"\nconfig_dir = \"/x\"\n").unwrap();
    let r = with_config(&["sessions", "list"]);
    assert!(
        !r.status.success() && r.stderr.contains("sqlite://"),
        "{}",
        r.stderr
    );
}

/// `usage weekly` and `usage blocks` (5-hour billing windows) agree with ccusage's
/// reports of the same name, from the catalog and the files.
#[test]
fn weekly_and_blocks_reports_agree_with_ccusage() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    ccsm_testkit::corpus::generate(&cfg, &ccsm_testkit::corpus::CorpusSpec::sized(4 << 20, 11))
        .unwrap();
    let tokens = |v: &serde_json::Value| {
        [
            "inputTokens",
            "outputTokens",
            "cacheCreationTokens",
            "cacheReadTokens",
            "totalTokens",
        ]
        .map(|k| v[k].clone())
    };
    let theirs = ccsm_testkit::ccusage(&cfg, "weekly");
    for args in [
        &["usage", "weekly", "--json"][..],
        &["usage", "weekly", "--json", "--direct"][..],
    ] {
        let ours = json_of(&ok_at(&cfg, args));
        let (o, t) = (
            ours["weekly"].as_array().unwrap(),
            theirs["weekly"].as_array().unwrap(),
        );
        assert_eq!(o.len(), t.len(), "{args:?}");
        for (a, b) in o.iter().zip(t) {
            assert_eq!(a["week"], b["week"], "{args:?}");
            assert_eq!(tokens(a), tokens(b), "{args:?} {}", a["week"]);
        }
    }
    let theirs = ccsm_testkit::ccusage(&cfg, "blocks");
    let ours = json_of(&ok_at(&cfg, &["usage", "blocks", "--json"]));
    let key = |b: &serde_json::Value| {
        (
            b["id"].clone(),
            b["isGap"].clone(),
            b["entries"].clone(),
            b["tokenCounts"].clone(),
            b["totalTokens"].clone(),
        )
    };
    let (o, t) = (
        ours["blocks"].as_array().unwrap(),
        theirs["blocks"].as_array().unwrap(),
    );
    assert!(o.len() > 1, "several blocks: {ours}");
    assert_eq!(
        o.iter().map(key).collect::<Vec<_>>(),
        t.iter().map(key).collect::<Vec<_>>()
    );
}

/// Changes confirm what they did and print the changed session under `--json`;
/// empty results say so; titles stay on one line; `| head` ends quietly.
#[test]
fn readable_output_confirmations_and_empty_results() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let r = ok_at(
        &cfg,
        &["sessions", "rename", "8b005", "Two\nlines", "--json"],
    );
    assert_eq!(json_of(&r)["sessionId"], id);
    let r = ok_at(&cfg, &["sessions", "tags", "add", id, "x", "y", "--json"]);
    assert_eq!(
        json_of(&r)["tags"],
        serde_json::json!(["x", "y"]),
        "{}",
        r.stdout
    );
    let r = ok_at(&cfg, &["sessions", "describe", id, "A description"]);
    assert!(r.stderr.contains("described"), "{}", r.stderr);
    let r = ok_at(&cfg, &["sessions", "tag", id, "blue", "--direct", "--json"]);
    assert_eq!(json_of(&r)["tag"], "blue");
    // One line per session in tables, whatever the title holds.
    let list = ok_at(&cfg, &["sessions", "list"]);
    let row = list
        .stdout
        .lines()
        .find(|l| l.contains("8b005bc5"))
        .unwrap();
    assert!(row.contains("Two lines"), "{}", list.stdout);
    let usage = ok_at(&cfg, &["usage", "session"]);
    assert!(
        usage.stdout.contains("/home/dev/src/alpha"),
        "project: {}",
        usage.stdout
    );
    assert!(
        usage.stdout.contains("Two lines"),
        "title: {}",
        usage.stdout
    );
    // Empty results say so.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("projects")).unwrap();
    for (args, says) in [
        (&["sessions", "list"][..], "no sessions"),
        (&["projects", "list"][..], "no projects"),
        (&["usage", "daily"][..], "no usage"),
        (&["usage", "session"][..], "no usage"),
        (&["names", "list"][..], "no names"),
    ] {
        let r = ok_at(&empty, args);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // A reader that stops early: no panic.
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.args(["sessions", "list", "--config-dir"])
        .arg(&cfg)
        .env("CCSM_HOME", cfg.join(".ccsm"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// On a terminal, `sessions rm` asks first; "n" keeps the session, "y" deletes it.
/// (`script` from util-linux gives the command a terminal.)
#[test]
fn rm_asks_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let t = cfg.join("projects/-home-dev-src-alpha/8b005bc5-61e3-4739-9e48-d98f4b9cdda6.jsonl");
    let on_a_terminal = |answer: &str| {
        let line = format!(
            "{} sessions rm 8b005bc5 --config-dir {}",
            env!("CARGO_BIN_EXE_ccsm"),
            cfg.display()
        );
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env("CCSM_HOME", cfg.join(".ccsm"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .expect("`script` (util-linux) is needed for this test");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = on_a_terminal("n");
    assert!(
        said.contains("[y/N]") && said.contains("not deleted"),
        "{said}"
    );
    assert!(t.exists());
    let said = on_a_terminal("y");
    assert!(said.contains("deleted"), "{said}");
    assert!(!t.exists());
}
