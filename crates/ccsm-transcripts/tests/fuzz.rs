//! Property tests (proptest) for what reads hostile input: the usage line scanner,
//! the conversation reader and the bundle reader. No input makes them panic, hang
//! or fail a whole session; they run briefly in `scripts/test` and as long as you
//! like by hand (`docs/fuzzing.md`).
#![allow(clippy::unwrap_used)]

use std::io::Write as _;

use ccsm_transcripts::{ClaudeDir, MessageOptions};
use proptest::prelude::*;

/// Lines shaped like transcript lines, then damaged: the cases that reach deep.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let shaped = (
        prop::sample::select(vec!["user", "assistant", "system", "attachment", "progress", "x"]),
        "[a-z0-9]{0,3}",
        prop::option::of("[a-z0-9]{0,3}"),
        prop::sample::select(vec![
            r#"{"input_tokens":1,"output_tokens":2}"#,
            r#"{"input_tokens":-1,"output_tokens":1e400}"#,
            r#"[1,2]"#,
            r#"{"input_tokens":18446744073709551615,"output_tokens":18446744073709551615}"#,
            r#"null"#,
        ]),
        "[ -~]{0,20}",
    )
        .prop_map(|(kind, uuid, parent, usage, text)| {
            let parent = parent.map_or("null".to_owned(), |p| format!("\"{p}\""));
            format!(
                r#"{{"type":"{kind}","uuid":"{uuid}","parentUuid":{parent},"timestamp":"2026-11-20T10:00:00.000Z","requestId":"r{uuid}","message":{{"id":"m{uuid}","role":"{kind}","content":[{{"type":"text","text":{text:?}}},{{"type":"tool_use","id":"t{uuid}"}},{{"type":"tool_result","tool_use_id":"t{uuid}"}}],"usage":{usage}}}}}"#
            )
            .into_bytes()
        });
    prop_oneof![
        3 => shaped.clone(),
        1 => (shaped, any::<usize>(), any::<u8>()).prop_map(|(mut l, at, b)| {
            let i = at % l.len();
            l[i] = b;
            l
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_usage_scanner_never_panics(l in line()) {
        let _ = ccsm_transcripts::usage::usage_call(&l);
    }

    #[test]
    fn a_transcript_of_any_lines_reads_without_panic_or_error(lines in prop::collection::vec(line(), 0..30)) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("projects/-p");
        std::fs::create_dir_all(&p).unwrap();
        let id = "11111111-1111-4111-8111-111111111111";
        let mut f = std::fs::File::create(p.join(format!("{id}.jsonl"))).unwrap();
        for l in &lines {
            f.write_all(l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let dir = ClaudeDir::new(tmp.path());
        let _ = dir.list_sessions(None, None, 0).unwrap();
        let _ = dir.info(id);
        for include_system in [false, true] {
            match dir.messages(id, MessageOptions { include_system, ..Default::default() }) {
                // An empty file is no session.
                Ok(_) | Err(ccsm_transcripts::Error::NotFound(_)) => {}
                Err(e) => prop_assert!(false, "messages failed: {e}"),
            }
        }
        let u = dir.usage(&Default::default(), ccsm_transcripts::pricing::PricingTable::builtin()).unwrap();
        let _ = u.totals();
        let _ = u.blocks(0);
    }

    #[test]
    fn the_bundle_reader_refuses_garbage_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = ccsm_transcripts::portable::read_bundle(std::io::Cursor::new(bytes));
    }

    #[test]
    fn a_damaged_bundle_is_refused_or_read_whole(at in any::<usize>(), b in any::<u8>(), cut in any::<bool>()) {
        let bundle = valid_bundle();
        let mut bytes = bundle.clone();
        let i = at % bytes.len();
        if cut { bytes.truncate(i); } else { bytes[i] ^= b | 1; }
        if let Ok((m, files)) = ccsm_transcripts::portable::read_bundle(std::io::Cursor::new(bytes)) {
            // Whatever is accepted passed every check: every file named, whole.
            for s in &m.sessions {
                for f in &s.files {
                    prop_assert_eq!(files[&f.path].len() as u64, f.size);
                }
            }
        }
    }
}

/// A real bundle of the recorded fixture's first session.
fn valid_bundle() -> Vec<u8> {
    static BUNDLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            ccsm_testkit::copy_tree(&ccsm_testkit::fixture_dir(), tmp.path()).unwrap();
            let dir = ClaudeDir::new(tmp.path());
            let mut out = Vec::new();
            dir.export(
                &["8b005bc5-61e3-4739-9e48-d98f4b9cdda6".to_owned()],
                None,
                false,
                &mut out,
            )
            .unwrap();
            out
        })
        .clone()
}
