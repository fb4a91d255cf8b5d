//! The thin-front rule, checked so it cannot silently come back: the `ccsm`
//! binary speaks to the service layer, never to the store, the indexer or the
//! transcript files directly, and no file of it grows past 400 lines.

use std::path::Path;

/// Crates only `ccsm-service` may use; the CLI has them as test oracles only.
const BEHIND_THE_SERVICE: &[&str] = &["ccsm-store", "ccsm-index", "ccsm-transcripts"];
const MAX_LINES: usize = 400;

#[test]
fn the_cli_depends_on_the_service_not_on_what_is_behind_it() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    // Both fronts: the command line and the daemon (which may not parse
    // command lines either).
    for (front, also_banned) in [("ccsm-cli", None), ("ccsm-daemon", Some("clap"))] {
        let pkg = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["name"] == front)
            .unwrap_or_else(|| panic!("{front} is in the workspace"));
        let normal: Vec<&str> = pkg["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .collect();
        assert!(normal.contains(&"ccsm-service"), "{front}: {normal:?}");
        for name in BEHIND_THE_SERVICE.iter().copied().chain(also_banned) {
            assert!(
                !normal.contains(&name),
                "{front} depends on {name}: call ccsm-service instead (dependencies: {normal:?})"
            );
        }
    }
}

#[test]
fn no_file_of_the_cli_is_over_400_lines() {
    fn walk(dir: &Path, long: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, long);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let lines = std::fs::read_to_string(&path)
                    .expect("read")
                    .lines()
                    .count();
                if lines > MAX_LINES {
                    long.push(format!("{} ({lines} lines)", path.display()));
                }
            }
        }
    }
    let mut long = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut long,
    );
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
