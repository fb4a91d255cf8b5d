//! What a hostile test found (issue 12): each test fails without its fix.

use super::trust::usage_line;
use super::*;

/// `CCSM_HOME=""` created the catalog in the current folder: empty is unset.
#[test]
fn an_empty_ccsm_home_counts_as_unset() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let here = tmp.path().join("here");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&here).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.args(["sessions", "list", "--config-dir"])
        .arg(&cfg)
        .current_dir(&here)
        .env("CCSM_HOME", "")
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null());
    let r = CliRun::from(run_with_deadline(c, Duration::from_secs(60)));
    assert!(r.status.success(), "{r:?}");
    assert_eq!(
        std::fs::read_dir(&here).unwrap().count(),
        0,
        "nothing in the current folder"
    );
    assert!(home.join(".local/share/ccsm/catalogs").is_dir());
}

/// Upper-case ids worked for some commands and not for others.
#[test]
fn ids_are_case_insensitive_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let up = "8B005BC5-61E3-4739-9E48-D98F4B9CDDA6";
    let out = tmp.path().join("b.ccsm");
    for args in [
        &["sessions", "info", up][..],
        &["sessions", "messages", up],
        &["sessions", "subagents", up],
        &["sessions", "describe", up, "d"],
        &["sessions", "note", up, "n"],
        &["sessions", "tags", "add", up, "t"],
        &["sessions", "rename", up, "R"],
        &["sessions", "tag", up, "t"],
        &["sessions", "archive", up],
        &["sessions", "unarchive", up],
        &["sessions", "export", up, "-o", out.to_str().unwrap()],
        &["sessions", "fork", up],
        &["--direct", "sessions", "info", up],
    ] {
        ok_at(&cfg, args);
    }
}

/// A FIFO or a link to /dev/zero where a transcript, a pricing table or a bundle
/// is expected hung ccsm or grew its memory without bound: skipped or refused.
#[test]
fn fifos_and_devices_are_never_read_as_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let subs =
        cfg.join("projects/-home-dev-src-alpha/98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48/subagents");
    let mkfifo = |p: &std::path::Path| {
        assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    };
    mkfifo(&subs.join("agent-fifo.jsonl"));
    std::os::unix::fs::symlink("/dev/zero", subs.join("agent-zero.jsonl")).unwrap();
    let fifo = tmp.path().join("fifo");
    mkfifo(&fifo);
    // Each within the 60 s deadline of the helper, and with a clear answer.
    let files = ok_at(&cfg, &["usage", "session", "--json", "--direct"]);
    let catalog = ok_at(&cfg, &["usage", "session", "--json"]);
    assert_eq!(json_of(&files)["totals"], json_of(&catalog)["totals"]);
    for args in [
        &["usage", "pricing", "--import", "/dev/zero"][..],
        &["usage", "pricing", "--import", fifo.to_str().unwrap()],
        &["sessions", "import", fifo.to_str().unwrap()],
        &["sessions", "import", "/dev/zero"],
    ] {
        let r = ccsm_at(&cfg, args);
        assert!(!r.status.success(), "{args:?}");
        assert!(r.stderr.contains("not a"), "{args:?}: {}", r.stderr);
    }
}

/// Concurrent writers: `tags add` from two processes failed with "database is
/// locked"; `note --append` from two processes lost notes.
#[test]
fn concurrent_tag_and_note_writers_all_succeed_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    ok_at(&cfg, &["index"]);
    let n = 8;
    std::thread::scope(|s| {
        for i in 0..n {
            let cfg = &cfg;
            s.spawn(move || {
                let tag = format!("t{i}");
                ok_at(cfg, &["sessions", "tags", "add", id, &tag]);
            });
            s.spawn(move || {
                let note = format!("note {i}");
                ok_at(cfg, &["sessions", "note", id, &note, "--append"]);
            });
        }
    });
    let info = json_of(&ok_at(&cfg, &["sessions", "info", id, "--json"]));
    let tags = info["tags"].as_array().unwrap();
    assert_eq!(tags.len(), n, "{info}");
    let notes = info["notes"].as_str().unwrap();
    for i in 0..n {
        assert!(notes.lines().any(|l| l == format!("note {i}")), "{notes}");
    }
}

/// A corrupted catalog failed every command with "database disk image is
/// malformed" and no hint. Now the error says what to do, `catalog check` finds
/// it, and `catalog repair` rebuilds it keeping what only ccsm knew.
#[test]
fn a_damaged_catalog_is_explained_checked_and_repaired_keeping_ccsms_own_data() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let id = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let gone = "15e81b36-b530-430d-b16c-6579d06b30de";
    ok_at(&cfg, &["sessions", "tags", "add", id, "keep-me"]);
    ok_at(&cfg, &["sessions", "note", id, "a note"]);
    ok_at(&cfg, &["sessions", "describe", id, "a description"]);
    ok_at(&cfg, &["sessions", "rm", gone, "--yes"]);
    let check = ccsm_at(&cfg, &["catalog", "check"]);
    assert!(
        check.status.success() && check.stderr.contains("sound"),
        "{check:?}"
    );

    // Rebuilt on request: ccsm's own data and the deleted session survive.
    let r = ok_at(&cfg, &["catalog", "repair", "--force"]);
    assert!(r.stderr.contains("recovered tags"), "{}", r.stderr);
    let info = json_of(&ok_at(&cfg, &["sessions", "info", id, "--json"]));
    assert_eq!(info["tags"], serde_json::json!(["keep-me"]));
    assert_eq!(info["notes"], "a note");
    assert_eq!(info["description"], "a description");
    ok_at(&cfg, &["sessions", "restore", gone]);

    // Damaged: every command says what to do; check finds it; repair mends it.
    let db = std::fs::read_dir(cfg.join(".ccsm/catalogs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[..100].fill(0x55);
    std::fs::write(&db, bytes).unwrap();
    let r = ccsm_at(&cfg, &["sessions", "list"]);
    assert!(!r.status.success());
    assert!(r.stderr.contains("ccsm catalog repair"), "{}", r.stderr);
    let check = ccsm_at(&cfg, &["catalog", "check"]);
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let r = ok_at(&cfg, &["catalog", "repair"]);
    assert!(r.stderr.contains("damaged catalog is kept"), "{}", r.stderr);
    let list = json_of(&ok_at(&cfg, &["sessions", "list", "--json", "--all"]));
    assert_eq!(list.as_array().unwrap().len(), 13);
}

/// A line over 8 MiB (a pasted 9 MiB image) stopped the indexing of its file for
/// good: nothing after it was searchable or counted.
#[test]
fn a_line_longer_than_a_segment_does_not_stop_indexing_of_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let p = cfg.join("projects/-home-dev-p");
    std::fs::create_dir_all(&p).unwrap();
    let id = "44444444-4444-4444-8444-444444444444";
    let user = |uuid: &str, parent: Option<&str>, text: &str| {
        serde_json::json!({"type": "user", "sessionId": id, "uuid": uuid, "parentUuid": parent,
            "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
            "message": {"role": "user", "content": text}})
        .to_string()
    };
    let image = "A".repeat(9 << 20);
    let text = [
        user("u1", None, "before the picture"),
        user("u2", Some("u1"), &format!("look: {image}")),
        user("u3", Some("u2"), "zanzibar after the picture"),
        usage_line(id, "a1", false, "2026-11-20T10:00:05.000Z", 123),
    ]
    .join("\n")
        + "\n";
    std::fs::write(p.join(format!("{id}.jsonl")), text).unwrap();
    let hits = ok_at(&cfg, &["sessions", "search", "zanzibar", "--json"]);
    assert_eq!(
        json_of(&hits).as_array().unwrap().len(),
        1,
        "{}",
        hits.stdout
    );
    let catalog = json_of(&ok_at(&cfg, &["usage", "session", "--json"]));
    assert_eq!(catalog["totals"]["inputTokens"], 123);
    // And the next sync finds the file done.
    let again = json_of(&ok_at(&cfg, &["index", "--json"]));
    assert_eq!(again["bytesRead"], 0, "{again}");
}

/// Token counts whose sum passed i64::MAX made every catalog command fail with
/// "integer overflow" (and `u64::MAX` wrapped the files' report): such a call is not
/// counted, by both, and everything else still is.
#[test]
fn impossible_token_counts_disable_nothing_and_wrap_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let p = cfg.join("projects/-home-dev-p");
    std::fs::create_dir_all(&p).unwrap();
    let id = "55555555-5555-4555-8555-555555555555";
    let huge = |uuid: &str, n: u64| {
        serde_json::json!({"type": "assistant", "sessionId": id, "uuid": uuid, "parentUuid": null,
            "timestamp": "2026-11-20T10:00:01.000Z", "requestId": format!("r{uuid}"),
            "message": {"id": format!("m{uuid}"), "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "x"}],
                "usage": {"input_tokens": n, "output_tokens": n}}})
        .to_string()
    };
    let prompt = serde_json::json!({"type": "user", "sessionId": id, "uuid": "u0", "parentUuid": null,
        "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
        "message": {"role": "user", "content": "count me"}});
    std::fs::write(
        p.join(format!("{id}.jsonl")),
        [
            prompt.to_string(),
            huge("a1", u64::MAX),
            huge("a2", i64::MAX as u64 / 2 + 1),
            huge("a3", i64::MAX as u64 / 2 + 1),
            usage_line(id, "a4", false, "2026-11-20T10:00:02.000Z", 77),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let before = json_of(&ok_at(
        &tmp.path().join("cfg"),
        &["usage", "session", "--json", "--direct"],
    ));
    let catalog = json_of(&ok_at(&cfg, &["usage", "session", "--json"]));
    assert_eq!(catalog["totals"], before["totals"]);
    let row = catalog["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sessionId"] == id)
        .unwrap()
        .clone();
    assert_eq!(row["inputTokens"], 77, "{row}");
    ok_at(&cfg, &["sessions", "list"]);
    ok_at(&cfg, &["sessions", "info", id]);
    ok_at(&cfg, &["usage", "daily"]);
}
