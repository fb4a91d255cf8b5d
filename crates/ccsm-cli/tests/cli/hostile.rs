//! What a hostile test found (issue 12): each test fails without its fix.

use super::trust::{ccsm_transcripts_under, usage_line, walk};
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

/// A file of a hand-built bundle: its path in the bundle, its bytes, and the size
/// the manifest claims (default: the true one).
type BundleEntry = (String, Vec<u8>, Option<u64>);
/// A session of a hand-built bundle: id, project dir, files.
type BundleSession<'a> = (&'a str, &'a str, Vec<BundleEntry>);

/// A hand-built bundle: the entries as given, then a manifest naming `files` (bundle
/// path, bytes, the size the manifest claims) for one session each.
fn hostile_bundle(
    path: &std::path::Path,
    sessions: &[BundleSession<'_>],
    extra: &[(&str, Vec<u8>)],
) {
    hostile_bundle_with(path, sessions, extra, serde_json::Value::Null);
}

pub(crate) fn hostile_bundle_with(
    path: &std::path::Path,
    sessions: &[BundleSession<'_>],
    extra: &[(&str, Vec<u8>)],
    ccsm: serde_json::Value,
) {
    use sha2::Digest as _;
    let mut tar = tar_builder(zstd_encoder(std::fs::File::create(path).unwrap()));
    let mut manifest_sessions = Vec::new();
    for (id, project_dir, files) in sessions {
        let mut listed = Vec::new();
        for (p, bytes, claimed) in files {
            append_raw(&mut tar, p, bytes);
            listed.push(serde_json::json!({"path": p,
                "sha256": format!("{:x}", sha2::Sha256::digest(bytes)),
                "size": claimed.unwrap_or(bytes.len() as u64)}));
        }
        manifest_sessions.push(
            serde_json::json!({"sessionId": id, "projectPath": "/home/dev/p",
            "projectDir": project_dir, "title": null, "tag": null, "files": listed, "ccsm": ccsm}),
        );
    }
    for (p, bytes) in extra {
        append_raw(&mut tar, p, bytes);
    }
    let m = serde_json::json!({"format": "ccsm-bundle", "version": 1, "created": "2026-11-20T00:00:00Z",
        "cliVersion": null, "layout": "projects/<dir>/<id>.jsonl", "redacted": false,
        "sessions": manifest_sessions});
    append_raw(&mut tar, "manifest.json", m.to_string().as_bytes());
    tar.into_inner().unwrap().finish().unwrap();
}

fn transcript_of(id: &str, text: &str) -> Vec<u8> {
    format!(
        "{}\n",
        serde_json::json!({"type": "user", "sessionId": id, "uuid": format!("u-{text}"), "parentUuid": null,
            "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
            "message": {"role": "user", "content": text}})
    )
    .into_bytes()
}

/// Import overwrote other sessions: a bundle for a new session listing a file named
/// after an existing session replaced it, without --force, with --new-ids and --to.
/// Malformed manifests (a project dir of ".", a session twice, a file twice, sizes
/// that lie) were accepted. Each is refused now, and nothing is written.
#[test]
fn a_bundle_cannot_write_outside_its_own_sessions_or_lie_in_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let existing = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
    let new = "66666666-6666-4666-8666-666666666666";
    let before = snapshot(&cfg.join("projects"));
    let own = (
        format!("sessions/{new}/{new}.jsonl"),
        transcript_of(new, "mine"),
        None,
    );
    let b = tmp.path().join("evil.ccsm");
    let refused = |bundle: &std::path::Path, extra_args: &[&str], says: &str| {
        let mut args = vec!["sessions", "import", bundle.to_str().unwrap()];
        args.extend(extra_args);
        let r = ccsm_at(&cfg, &args);
        assert!(!r.status.success(), "{args:?} must be refused");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert_eq!(
            snapshot(&cfg.join("projects")),
            before,
            "{args:?}: nothing written"
        );
    };
    // A file named after an existing session, under the new session's folder.
    hostile_bundle(
        &b,
        &[(
            new,
            "-home-dev-src-alpha",
            vec![
                own.clone(),
                (
                    format!("sessions/{new}/{existing}.jsonl"),
                    transcript_of(existing, "overwritten"),
                    None,
                ),
            ],
        )],
        &[],
    );
    let to = tmp.path().join("to");
    std::fs::create_dir_all(&to).unwrap();
    for extra in [
        &[][..],
        &["--new-ids"],
        &["--to", to.to_str().unwrap()],
        &["--force"],
    ] {
        refused(&b, extra, "is not a file of session");
    }
    // The project dir "." and a dir inside another session's folder.
    for dir in [
        ".",
        "-home-dev-src-alpha/8b005bc5-61e3-4739-9e48-d98f4b9cdda6",
        "..",
    ] {
        hostile_bundle(&b, &[(new, dir, vec![own.clone()])], &[]);
        refused(&b, &[], "not one folder name");
    }
    // One session twice; one file twice in the tar; a size that lies.
    hostile_bundle(
        &b,
        &[(new, "-p", vec![own.clone()]), (new, "-q", vec![])],
        &[],
    );
    refused(&b, &[], "twice");
    hostile_bundle(
        &b,
        &[(new, "-p", vec![own.clone()])],
        &[(own.0.as_str(), own.1.clone())],
    );
    refused(&b, &[], "twice");
    let liar = (own.0.clone(), own.1.clone(), Some(3));
    hostile_bundle(&b, &[(new, "-p", vec![liar])], &[]);
    refused(&b, &[], "size");
    // ccsm's metadata that would fail later (an empty tag or name) fails first.
    for meta in [
        serde_json::json!({"tags": [""]}),
        serde_json::json!({"names": [{"name": " ", "seq": 0}]}),
    ] {
        hostile_bundle_with(&b, &[(new, "-p", vec![own.clone()])], &[], meta);
        refused(&b, &[], "metadata");
    }
}

/// A 390 KiB bundle expanding to gigabytes took the machine's memory: entries are
/// bounded by the manifest's sizes and streamed to disk, never held whole.
#[test]
fn a_decompression_bomb_is_refused_without_reading_it_into_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    std::fs::create_dir_all(cfg.join("projects")).unwrap();
    let id = "77777777-7777-4777-8777-777777777777";
    let zeros = vec![0u8; 256 << 20];
    let b = tmp.path().join("bomb.ccsm");
    hostile_bundle(
        &b,
        &[(
            id,
            "-p",
            vec![(format!("sessions/{id}/{id}.jsonl"), zeros, Some(10))],
        )],
        &[],
    );
    assert!(
        std::fs::metadata(&b).unwrap().len() < 1 << 20,
        "a small file"
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.args(["sessions", "import"])
        .arg(&b)
        .arg("--config-dir")
        .arg(&cfg)
        .env("CCSM_HOME", cfg.join(".ccsm"))
        .stdin(Stdio::null());
    // GNU time is not on every machine: the kernel's peak RSS of the child instead.
    let r = CliRun::from(run_with_deadline(c, Duration::from_secs(60)));
    assert!(!r.status.success());
    assert!(
        r.stderr.contains("not the size the manifest says"),
        "{}",
        r.stderr
    );
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    assert!(
        usage.max_rss() < 100 << 10,
        "peak memory of a child: {} KiB",
        usage.max_rss()
    );
    assert!(snapshot(&cfg.join("projects")).is_empty());
}

/// Import was not atomic: a kill midway left some sessions written and `.tmp-`
/// files behind, and the re-run refused them as existing. Now a kill while the
/// bundle is staged leaves nothing, a kill while files are put in place is
/// completed by the next import, and either way every session arrives whole.
#[test]
fn an_import_killed_midway_is_completed_or_undone_never_half_done() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    ccsm_testkit::corpus::generate(&src, &ccsm_testkit::corpus::CorpusSpec::sized(32 << 20, 9))
        .unwrap();
    let bundle = tmp.path().join("all.ccsm");
    // Every session of the corpus, project by project, in one bundle.
    let ids: Vec<String> = ccsm_transcripts_under(&src);
    let mut args = vec!["sessions", "export", "--direct"];
    args.extend(ids.iter().map(String::as_str));
    args.extend(["-o", bundle.to_str().unwrap()]);
    ok_at(&src, &args);
    let want = snapshot(&src.join("projects"));
    for (round, kill_when) in ["staging", "placing"].into_iter().enumerate() {
        let dest = tmp.path().join(format!("dest{round}"));
        std::fs::create_dir_all(dest.join("projects")).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.args(["sessions", "import", "--direct"])
            .arg(&bundle)
            .arg("--config-dir")
            .arg(&dest)
            .env("CCSM_HOME", dest.join(".ccsm"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let staging = dest.join(".ccsm-import");
        wait_for(kill_when, Duration::from_secs(60), || {
            let ready = match kill_when {
                "staging" => std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()),
                _ => std::fs::read_dir(dest.join("projects")).is_ok_and(|mut d| d.next().is_some()),
            };
            (ready || child.try_wait().unwrap().is_some()).then_some(())
        });
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever was interrupted: the next import completes or redoes it.
        let again = ccsm_at(
            &dest,
            &["sessions", "import", bundle.to_str().unwrap(), "--direct"],
        );
        assert!(
            again.status.success() || again.stderr.contains("already exists"),
            "{kill_when}: {again:?}"
        );
        assert!(!staging.exists(), "{kill_when}: no staging left behind");
        assert_eq!(
            snapshot(&dest.join("projects")).keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{kill_when}"
        );
        assert!(
            snapshot(&dest.join("projects")) == want,
            "{kill_when}: every byte"
        );
    }
}

/// After a kill during a first index and a re-index, sessions had an archive file
/// but no key in the catalog: when Claude Code later deleted them, restore said
/// there was no archived copy. Every session is reachable now, and the `.partial`
/// files the kill left are removed.
#[test]
fn an_interrupted_first_index_loses_no_archive_key() {
    use ccsm_store::Store as _;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::corpus::generate(&cfg, &ccsm_testkit::corpus::CorpusSpec::sized(24 << 20, 4))
        .unwrap();
    let home = tmp.path().join("home");
    let index = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.args(["index", "--config-dir"])
            .arg(&cfg)
            .env("CCSM_HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut child = index().spawn().unwrap();
    let archive = home.join("archive");
    // Killed once archives are being written (or when it is done, on a fast day).
    wait_for("archive files", Duration::from_secs(60), || {
        let some = walk(&archive).len() > 5;
        (some || child.try_wait().unwrap().is_some()).then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(index().status().unwrap().success());
    let db = std::fs::read_dir(home.join("catalogs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .unwrap();
    let store = ccsm_store::SqliteStore::open(&db).unwrap();
    let all = store.list(&ccsm_store::ListFilter::default()).unwrap();
    assert!(!all.is_empty());
    let without: Vec<&str> = all
        .iter()
        .filter(|s| s.archive_key.is_none())
        .map(|s| s.id.as_str())
        .collect();
    assert!(without.is_empty(), "no archive key: {without:?}");
    let partial: Vec<_> = walk(&archive)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

/// The catalog's usage and the files' differed on imperfect usage lines although
/// the README promises the same report: one rule, one scanner, as ccusage counts.
#[test]
fn imperfect_usage_lines_count_alike_in_the_catalog_the_files_and_ccusage() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let p = cfg.join("projects/-home-dev-p");
    std::fs::create_dir_all(&p).unwrap();
    let id = "99999999-9999-4999-8999-999999999999";
    let line = |i: u32, usage: &str, ts: &str| {
        format!(
            r#"{{"type":"assistant","sessionId":"{id}","uuid":"a{i}","timestamp":{ts},"requestId":"r{i}","message":{{"id":"m{i}","model":"claude-sonnet-4-5","role":"assistant","content":[],"usage":{usage}}}}}"#
        )
    };
    let ok_ts = r#""2026-11-20T10:00:00.000Z""#;
    let lines = [
        line(1, r#"{"input_tokens":1,"output_tokens":1}"#, ok_ts),
        line(2, r#"{"input_tokens":10}"#, ok_ts),
        line(3, r#"{"input_tokens":"100","output_tokens":1}"#, ok_ts),
        line(4, r#"{"input_tokens":-1000,"output_tokens":1}"#, ok_ts),
        line(5, r#"{"input_tokens":10000.5,"output_tokens":1}"#, ok_ts),
        line(
            6,
            r#"{"input_tokens":100000,"output_tokens":1,"cache_read_input_tokens":null}"#,
            ok_ts,
        ),
        line(
            7,
            r#"{"input_tokens":1000000,"input_tokens":2000000,"output_tokens":1}"#,
            ok_ts,
        ),
        line(8, "[1,2,3]", ok_ts),
        line(
            9,
            r#"{"input_tokens":10000000,"output_tokens":1}"#,
            r#""yesterday""#,
        ),
        // No timestamp: skipped by one reader and counted at 1970 by the other.
        line(
            10,
            r#"{"input_tokens":100000000,"output_tokens":1}"#,
            "null",
        ),
    ];
    let mut bytes = lines.join("\n").into_bytes();
    bytes.extend(b"\n");
    std::fs::write(p.join(format!("{id}.jsonl")), bytes).unwrap();
    let theirs = ccsm_testkit::ccusage(&cfg, "session");
    let files = json_of(&ok_at(&cfg, &["usage", "session", "--json", "--direct"]));
    let catalog = json_of(&ok_at(&cfg, &["usage", "session", "--json"]));
    for k in [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
        "totalTokens",
    ] {
        assert_eq!(files["totals"][k], theirs["totals"][k], "files {k}");
        assert_eq!(catalog["totals"][k], theirs["totals"][k], "catalog {k}");
    }
    assert_eq!(files["totals"]["inputTokens"], 1);
}

/// A `projects move` killed midway left files in both folders and neither `--undo`
/// nor a re-run got out; two moves at once both ran; a symlinked folder came back
/// from `--undo` as a copy. The backup is now the move's journal.
#[test]
fn a_project_move_killed_midway_is_undone_or_redone_and_moves_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    let spec = ccsm_testkit::corpus::CorpusSpec {
        sessions_per_project: 100_000,
        ..ccsm_testkit::corpus::CorpusSpec::sized(24 << 20, 5)
    };
    ccsm_testkit::corpus::generate(&cfg, &spec).unwrap();
    let old = "/home/dev/src/project-000";
    let new = tmp.path().join("moved-here");
    std::fs::create_dir_all(&new).unwrap();
    let new_s = new.to_str().unwrap();
    let before = snapshot(&cfg.join("projects"));
    let sessions = before.len();
    let backups = cfg.join(".ccsm/backups");
    let to_dir = cfg.join("projects").join(new_s.replace(['/', '.'], "-"));
    let killed_move = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.args(["projects", "move", old, new_s, "--config-dir"])
            .arg(&cfg)
            .env("CCSM_HOME", cfg.join(".ccsm"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        wait_for("the move to be writing", Duration::from_secs(60), || {
            (to_dir.exists() || child.try_wait().unwrap().is_some()).then_some(())
        });
        // On a fast machine the move may finish before the kill lands.
        let finished = child.try_wait().unwrap().is_some_and(|s| s.success());
        let _ = child.kill();
        let _ = child.wait();
        finished
    };
    // Killed, then undone: every byte as it was.
    killed_move();
    ok_at(&cfg, &["projects", "move", "--undo"]);
    assert_eq!(
        snapshot(&cfg.join("projects")),
        before,
        "undo gives back every byte"
    );
    // Killed, then run again: it completes (unless it had completed already).
    if !killed_move() {
        ok_at(&cfg, &["projects", "move", old, new_s]);
    }
    let after = snapshot(&cfg.join("projects"));
    assert_eq!(after.len(), sessions);
    assert!(after
        .keys()
        .all(|k| k.starts_with(&to_dir.file_name().unwrap().to_string_lossy().to_string())));
    let listed = json_of(&ok_at(
        &cfg,
        &["sessions", "list", "--json", "--all", "--direct"],
    ));
    assert!(
        listed.as_array().unwrap().iter().all(|s| s["cwd"] == new_s),
        "every session's cwd is the new path"
    );
    // One move at a time: while another holds the lock, a move is refused.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(backups.join("move.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let r = ccsm_at(&cfg, &["projects", "move", "--undo"]);
    assert!(
        !r.status.success() && r.stderr.contains("another projects move"),
        "{r:?}"
    );
    lock.unlock().unwrap();
}

#[test]
fn a_symlinked_folder_in_a_project_comes_back_from_undo_as_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let target = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("f.txt"), "x").unwrap();
    let link = cfg.join("projects/-home-dev-src-alpha/shared-folder");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let new = tmp.path().join("alpha2");
    std::fs::create_dir_all(&new).unwrap();
    ok_at(
        &cfg,
        &[
            "projects",
            "move",
            "/home/dev/src/alpha",
            new.to_str().unwrap(),
        ],
    );
    ok_at(&cfg, &["projects", "move", "--undo"]);
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "a link again, not a copy");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random damage to a transcript's bytes.
fn mutate(rng: &mut impl rand::Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len().max(1);
    let at = rng.random_range(0..len).min(bytes.len());
    match rng.random_range(0..8) {
        0 if !bytes.is_empty() => {
            let i = at.min(bytes.len() - 1);
            bytes[i] ^= rng.random_range(1..=255u8);
        }
        1 => {
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            bytes.splice(at..at, junk);
        }
        2 => {
            let end = (at + rng.random_range(1..512)).min(bytes.len());
            bytes.drain(at..end);
        }
        3 => bytes.truncate(at),
        4 => {
            // A line again, elsewhere (a copied call, a duplicated uuid).
            let line: Vec<u8> = bytes[at..]
                .split(|b| *b == b'\n')
                .next()
                .unwrap_or_default()
                .to_vec();
            let to = rng.random_range(0..=bytes.len());
            bytes.splice(to..to, line.into_iter().chain([b'\n']));
        }
        5 => {
            let snippets: [&[u8]; 6] = [
                br#"1e400"#,
                br#""\ud800""#,
                br#"18446744073709551615"#,
                br#"{"type":"assistant","message":{"usage":[1,2]}}"#,
                b"\xff\xfe",
                br#"null"#,
            ];
            let s = snippets[rng.random_range(0..snippets.len())];
            bytes.splice(at..at, s.iter().copied());
        }
        6 => bytes.splice(at..at, b"\n".iter().copied()).for_each(drop),
        _ => {
            // A number made huge or negative.
            if let Some(i) = bytes[at..].iter().position(u8::is_ascii_digit) {
                let i = at + i;
                let n: &[u8] = if rng.random() {
                    b"99999999999999999999"
                } else {
                    b"-7"
                };
                bytes.splice(i..i, n.iter().copied());
            }
        }
    }
}

/// Seeded byte-level mutations of the recorded transcripts, each read by every
/// read path with a deadline: no panic, no hang, no input file changed, and the
/// catalog's usage equal to the files'.
#[test]
fn random_mutations_of_recorded_transcripts_are_read_safely_everywhere() {
    use ccsm_store::Store as _;
    use rand::SeedableRng as _;
    let runs = env_number("CCSM_MUTATIONS", 200);
    let seed = env_number("CCSM_FAULT_SEED", 42);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let files = ccsm_testkit::transcripts_in(&cfg);
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let store =
        std::sync::Arc::new(ccsm_store::SqliteStore::open(&tmp.path().join("c.db")).unwrap());
    let dir = ccsm_transcripts::ClaudeDir::new(&cfg);
    let pricing = ccsm_transcripts::pricing::PricingTable::builtin();
    let mut history: Vec<(u64, usize)> = Vec::new();
    for run in 0..runs {
        let j = rand::Rng::random_range(&mut rng, 0..files.len());
        history.push((run, j));
        let mut bytes = originals[j].clone();
        for _ in 0..rand::Rng::random_range(&mut rng, 1..4) {
            mutate(&mut rng, &mut bytes);
        }
        // Each write at a time of its own (the indexer, like make, goes by size and
        // mtime; two versions of one size within a millisecond are not a real case).
        let write_at = |path: &std::path::Path, bytes: &[u8], tick: u64| {
            std::fs::write(path, bytes).unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + tick);
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        write_at(&files[j], &bytes, 2 * run);
        if std::env::var_os("CCSM_DUMP").is_some() {
            std::fs::write(
                std::env::temp_dir().join(format!("mut-{run}.jsonl")),
                &bytes,
            )
            .unwrap();
        }
        let before: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(f).unwrap_or_default())
            .collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let (dir2, store2, pricing2) = (dir.clone(), store.clone(), pricing.clone());
        let mutated = files[j].file_stem().unwrap().to_string_lossy().into_owned();
        let reader = std::thread::spawn(move || {
            let dir = dir2;
            // Every session is listed; the mutated one is read every way.
            let listed = dir.list_sessions(None, None, 0).unwrap();
            for id in listed
                .into_iter()
                .map(|s| s.session_id)
                .filter(|id| *id == mutated)
            {
                let _ = dir.info(&id);
                for include_system in [false, true] {
                    dir.messages(
                        &id,
                        ccsm_transcripts::MessageOptions {
                            include_system,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                }
                let _ = dir.subagents(&id);
            }
            let files = dir
                .usage(&Default::default(), pricing2.clone())
                .unwrap()
                .totals();
            ccsm_index::Indexer::new(dir.clone())
                .sync(&*store2, &|_, _| {})
                .unwrap();
            let q = ccsm_store::SearchQuery::parse("the").unwrap();
            store2.search(&q).unwrap();
            let catalog = ccsm_index::usage_report(
                &*store2,
                &dir,
                &ccsm_index::UsageScope {
                    filter: &Default::default(),
                    periods: false,
                    include_gone: false,
                    host: None,
                    folders: None,
                },
                pricing2,
            )
            .unwrap()
            .totals();
            let _ = tx.send((
                serde_json::to_value(files).unwrap(),
                serde_json::to_value(catalog).unwrap(),
            ));
        });
        let got = rx.recv_timeout(Duration::from_secs(30));
        let joined = reader.join();
        assert!(
            joined.is_ok(),
            "run {run} (seed {seed}): a read path panicked on {}",
            files[j].display()
        );
        let (files_usage, catalog_usage) =
            got.unwrap_or_else(|_| panic!("run {run} (seed {seed}): no answer within 30 s"));
        if files_usage != catalog_usage {
            let keep = std::env::temp_dir().join(format!("ccsm-mutation-{seed}-{run}.jsonl"));
            std::fs::write(&keep, &bytes).unwrap();
            let last: Vec<String> = history
                .iter()
                .rev()
                .take(4)
                .map(|(r, j)| {
                    format!(
                        "run {r}: {}",
                        files[*j].file_name().unwrap().to_string_lossy()
                    )
                })
                .collect();
            eprintln!("recent mutations: {last:?}");
            panic!(
                "run {run} (seed {seed}): catalog usage {catalog_usage} != files' usage {files_usage} after mutating {} (kept at {})",
                files[j].display(),
                keep.display()
            );
        }
        let after: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(f).unwrap_or_default())
            .collect();
        assert!(
            before == after,
            "run {run} (seed {seed}): reading changed an input file"
        );
        write_at(&files[j], &originals[j], 2 * run + 1);
    }
}

/// Starts `ccsm ARGS` and sends it SIGKILL after `after` (it may have finished).
fn kill_after(cfg: &std::path::Path, home: &std::path::Path, args: &[&str], after: Duration) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccsm"));
    c.args(args)
        .arg("--config-dir")
        .arg(cfg)
        .env("CCSM_HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    // Fault injection: the random moment is the point, not a wait for a condition.
    #[allow(clippy::disallowed_methods)]
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
}

/// `kill -9` at seeded random moments of `index`, `import` and `projects move`:
/// afterwards every session is readable (and archived, so restorable) and a re-run
/// completes. `CCSM_KILLS` per command (default 8), `CCSM_FAULT_SEED`.
#[test]
fn kill_9_at_random_points_of_index_import_and_move_loses_nothing() {
    use rand::{Rng as _, SeedableRng as _};
    let kills = env_number("CCSM_KILLS", 8);
    let seed = env_number("CCSM_FAULT_SEED", 42);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let spec = ccsm_testkit::corpus::CorpusSpec {
        sessions_per_project: 100_000,
        ..ccsm_testkit::corpus::CorpusSpec::sized(8 << 20, 3)
    };
    ccsm_testkit::corpus::generate(&src, &spec).unwrap();
    let want = snapshot(&src.join("projects"));
    let ids = ccsm_transcripts_under(&src);
    let bundle = tmp.path().join("all.ccsm");
    let mut args = vec!["sessions", "export", "--direct"];
    args.extend(ids.iter().map(String::as_str));
    args.extend(["-o", bundle.to_str().unwrap()]);
    ok_at(&src, &args);
    let count = |cfg: &std::path::Path, home: &std::path::Path, direct: bool| -> usize {
        let mut a = vec!["sessions", "list", "--json", "--all"];
        if direct {
            a.push("--direct");
        }
        let r = ccsm_with_home(cfg, home, &a);
        assert!(r.status.success(), "{r:?}");
        json_of(&r).as_array().unwrap().len()
    };
    for k in 0..kills {
        let at = Duration::from_millis(rng.random_range(0..400));
        let case = format!("kill {k} (seed {seed}) after {at:?}");
        // index
        let cfg = tmp.path().join(format!("index-{k}"));
        ccsm_testkit::copy_tree(&src, &cfg).unwrap();
        let home = cfg.join(".ccsm");
        kill_after(&cfg, &home, &["index"], at);
        assert!(
            ccsm_with_home(&cfg, &home, &["index"]).status.success(),
            "{case}"
        );
        assert_eq!(count(&cfg, &home, false), ids.len(), "index {case}");
        let archived = json_of(&ccsm_with_home(
            &cfg,
            &home,
            &["sessions", "search", "is:gone", "--json"],
        ));
        assert!(archived.as_array().unwrap().is_empty(), "index {case}");
        let files = json_of(&ccsm_with_home(
            &cfg,
            &home,
            &["usage", "session", "--json", "--direct"],
        ));
        let catalog = json_of(&ccsm_with_home(
            &cfg,
            &home,
            &["usage", "session", "--json"],
        ));
        assert_eq!(files["totals"], catalog["totals"], "index {case}");
        // import
        let dest = tmp.path().join(format!("import-{k}"));
        std::fs::create_dir_all(dest.join("projects")).unwrap();
        let home = dest.join(".ccsm");
        kill_after(
            &dest,
            &home,
            &["sessions", "import", bundle.to_str().unwrap(), "--direct"],
            at,
        );
        let again = ccsm_with_home(
            &dest,
            &home,
            &["sessions", "import", bundle.to_str().unwrap(), "--direct"],
        );
        assert!(
            again.status.success() || again.stderr.contains("already exists"),
            "import {case}: {again:?}"
        );
        assert!(
            snapshot(&dest.join("projects")) == want,
            "import {case}: every byte"
        );
        // projects move, then undo or redo
        let cfg = tmp.path().join(format!("move-{k}"));
        ccsm_testkit::copy_tree(&src, &cfg).unwrap();
        let home = cfg.join(".ccsm");
        let new = tmp.path().join(format!("moved-{k}"));
        std::fs::create_dir_all(&new).unwrap();
        let old = "/home/dev/src/project-000";
        kill_after(
            &cfg,
            &home,
            &["projects", "move", old, new.to_str().unwrap()],
            at,
        );
        if k % 2 == 0 {
            let r = ccsm_with_home(&cfg, &home, &["projects", "move", "--undo"]);
            // Killed before the move began: nothing to undo.
            assert!(
                r.status.success() || r.stderr.contains("no moves to undo"),
                "undo {case}: {r:?}"
            );
            assert!(
                snapshot(&cfg.join("projects")) == want,
                "undo {case}: every byte"
            );
        } else {
            let r = ccsm_with_home(
                &cfg,
                &home,
                &["projects", "move", old, new.to_str().unwrap()],
            );
            // Done before the kill: the old folder has no sessions left.
            assert!(
                r.status.success() || r.stderr.contains("no sessions are recorded"),
                "redo {case}: {r:?}"
            );
        }
        assert_eq!(count(&cfg, &home, true), ids.len(), "move {case}");
    }
}
