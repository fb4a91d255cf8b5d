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
