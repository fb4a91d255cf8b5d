//! Every `--json` output of the CLI on the recorded fixture, as insta snapshots:
//! programs read these, so a refactoring must not change one byte of them. The
//! snapshots were recorded before the use cases moved to `ccsm-service`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use ccsm_testkit::{run_with_deadline, CliRun, TestEnv};

/// The fixture, copied, with every file's mtime fixed (a distinct second per file,
/// in path order), so "last modified" and newest-first orders are the same on every
/// machine.
fn pinned_fixture(root: &Path) -> std::path::PathBuf {
    let cfg = root.join("cfg");
    ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), &cfg).unwrap();
    let mut files = Vec::new();
    fn walk(d: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    walk(&cfg, &mut files);
    files.sort();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    for (i, f) in files.iter().enumerate() {
        let file = std::fs::File::options().write(true).open(f).unwrap();
        file.set_modified(base + Duration::from_secs(i as u64 * 60))
            .unwrap();
    }
    cfg
}

struct Bench {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    cfg: std::path::PathBuf,
    home: std::path::PathBuf,
    start_ms: u64,
}

/// What differs from run to run, written as a placeholder: times (in ms) from the
/// test's own start on (changes, names), and the catalog's file name (a hash of the
/// temp dir's path).
fn stable(text: &str, start_ms: u64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        out.push_str(&rest[..i]);
        let run = rest[i..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - i, |n| n);
        let digits = &rest[i..i + run];
        match digits.parse::<u64>() {
            Ok(ms) if digits.len() == 13 && ms >= start_ms => out.push_str("\"[NOW]\""),
            _ => out.push_str(digits),
        }
        rest = &rest[i + run..];
    }
    out.push_str(rest);
    if let Some(i) = out.find("/catalogs/") {
        let start = i + "/catalogs/".len();
        if let Some(end) = out[start..].find(".db") {
            out.replace_range(start..start + end, "[KEY]");
        }
    }
    out
}

impl Bench {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let cfg = pinned_fixture(&root);
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let start_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - 1000;
        Self {
            start_ms,
            _tmp: tmp,
            root,
            cfg,
            home,
        }
    }

    fn ccsm(&self, args: &[&str]) -> CliRun {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ccsm"));
        c.arg("--config-dir")
            .arg(&self.cfg)
            .args(args)
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null());
        for k in TestEnv::leaky_vars() {
            c.env_remove(k);
        }
        c.env("CCSM_HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("HOME", &self.home)
            .env("TZ", "UTC")
            .env_remove("CCSM_CONFIG")
            .env_remove("CCSM_DIRECT");
        CliRun::from(run_with_deadline(c, Duration::from_secs(60)))
    }

    /// `ccsm ARGS --json`'s stdout with the temp dir written as `[TMP]`.
    fn json(&self, args: &[&str]) -> String {
        let mut a = args.to_vec();
        a.push("--json");
        let r = self.ccsm(&a);
        assert!(r.status.success(), "ccsm {a:?}: {r:?}");
        serde_json::from_str::<serde_json::Value>(&r.stdout)
            .unwrap_or_else(|e| panic!("ccsm {a:?} printed no JSON ({e}): {}", r.stdout));
        stable(
            &r.stdout.replace(self.root.to_str().unwrap(), "[TMP]"),
            self.start_ms,
        )
    }
}

/// One snapshot per command, named after it.
macro_rules! snap {
    ($b:expr, $name:literal, $args:expr) => {
        insta::assert_snapshot!($name, $b.json(&$args));
    };
}

const REPO_TOUR: &str = "aea2b494-4cfb-4d9d-b80c-f2272d4e42ff";
const AGENT: &str = "98f8a6d7-dacb-4768-bdcb-2fe7e05b1a48";
const MILK: &str = "781747e8-b0e0-40d8-9bb1-39f1bd4475b1";

#[test]
fn every_listing_info_search_and_usage_json_is_unchanged() {
    let b = Bench::new();
    snap!(b, "index", ["index"]);
    snap!(b, "sessions_list", ["sessions", "list"]);
    snap!(b, "sessions_list_direct", ["sessions", "list", "--direct"]);
    snap!(
        b,
        "sessions_list_page",
        ["sessions", "list", "--limit", "3", "--offset", "2"]
    );
    snap!(
        b,
        "sessions_list_tag",
        ["sessions", "list", "--tag", "important"]
    );
    snap!(b, "sessions_info", ["sessions", "info", REPO_TOUR]);
    snap!(
        b,
        "sessions_info_direct",
        ["sessions", "info", REPO_TOUR, "--direct"]
    );
    snap!(b, "sessions_info_prefix", ["sessions", "info", "aea2b4"]);
    snap!(b, "sessions_search", ["sessions", "search", "milk"]);
    snap!(
        b,
        "sessions_search_rank",
        ["sessions", "search", "repository", "--rank"]
    );
    snap!(
        b,
        "sessions_search_project",
        [
            "sessions",
            "search",
            "project:/home/dev/src/alpha has:tool:Bash"
        ]
    );
    snap!(
        b,
        "sessions_messages",
        ["sessions", "messages", REPO_TOUR, "--limit", "4"]
    );
    snap!(
        b,
        "sessions_messages_system",
        ["sessions", "messages", AGENT, "--include-system"]
    );
    snap!(b, "sessions_subagents", ["sessions", "subagents", AGENT]);
    snap!(b, "projects_list", ["projects", "list"]);
    snap!(b, "projects_list_direct", ["projects", "list", "--direct"]);
    snap!(
        b,
        "projects_list_gone",
        ["projects", "list", "--include-gone"]
    );
    snap!(b, "projects_doctor", ["projects", "doctor"]);
    for report in ["daily", "monthly", "session", "models", "blocks"] {
        let name = format!("usage_{report}");
        insta::assert_snapshot!(name.clone(), b.json(&["usage", report]));
        insta::assert_snapshot!(
            format!("{name}_direct"),
            b.json(&["usage", report, "--direct"])
        );
    }
    snap!(
        b,
        "usage_weekly_monday",
        ["usage", "weekly", "--start-of-week", "monday"]
    );
    snap!(
        b,
        "usage_daily_project_since",
        [
            "usage",
            "daily",
            "--project",
            "/home/dev/src/alpha",
            "--since",
            "2026-01-01"
        ]
    );
    snap!(b, "usage_pricing", ["usage", "pricing"]);
    snap!(b, "config", ["config"]);
    snap!(b, "catalog_check", ["catalog", "check"]);
}

#[test]
fn every_change_and_names_json_is_unchanged() {
    let b = Bench::new();
    snap!(b, "describe", ["sessions", "describe", MILK, "about milk"]);
    snap!(b, "note", ["sessions", "note", MILK, "first note"]);
    snap!(
        b,
        "note_append",
        ["sessions", "note", MILK, "second note", "--append"]
    );
    snap!(
        b,
        "tags_add",
        ["sessions", "tags", "add", MILK, "dairy", "shopping"]
    );
    snap!(b, "tags_rm", ["sessions", "tags", "rm", MILK, "shopping"]);
    snap!(b, "rename", ["sessions", "rename", MILK, "Milk, renamed"]);
    snap!(b, "tag", ["sessions", "tag", MILK, "kitchen"]);
    snap!(
        b,
        "tag_direct",
        ["sessions", "tag", MILK, "--clear", "--direct"]
    );
    snap!(b, "archive", ["sessions", "archive", MILK]);
    snap!(b, "unarchive", ["sessions", "unarchive", MILK]);
    snap!(
        b,
        "search_after_changes",
        ["sessions", "search", "tag:dairy"]
    );

    // Names arrive with a bundle (the other way to make one runs the CLI).
    let bundle = b.root.join("named.ccsm");
    let id = "66666666-6666-4666-8666-666666666666";
    let line = serde_json::json!({"type": "user", "sessionId": id, "uuid": "u-1",
        "parentUuid": null, "timestamp": "2026-11-20T10:00:00.000Z", "cwd": "/home/dev/p",
        "message": {"role": "user", "content": "a named conversation"}});
    crate::hostile::hostile_bundle_with(
        &bundle,
        &[(
            id,
            "-home-dev-p",
            vec![(
                format!("sessions/{id}/{id}.jsonl"),
                format!("{line}\n").into_bytes(),
                None,
            )],
        )],
        &[],
        serde_json::json!({"description": "named", "tags": ["t"],
            "names": [{"name": "tea", "seq": 0}]}),
    );
    snap!(
        b,
        "import",
        ["sessions", "import", bundle.to_str().unwrap()]
    );
    snap!(b, "names_list", ["names", "list"]);
    snap!(b, "names_show", ["names", "show", "tea"]);
    snap!(b, "info_by_name", ["sessions", "info", "tea"]);
    snap!(b, "rm", ["sessions", "rm", id, "--yes"]);
    snap!(b, "list_after_rm", ["sessions", "list", "--limit", "3"]);
}
