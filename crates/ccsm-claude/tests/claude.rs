//! ccsm-claude against the real CLI and the scripted model, and against fake-claude
//! for the faults the real CLI cannot produce on demand.
#![allow(clippy::unwrap_used)] // a test that meets bad data should panic

use std::time::{Duration, Instant};

use ccsm_claude::{
    query, Error, HostEvent, Ladder, Message, Options, PermissionDecision, Session,
    ToolPermissionRequest,
};
use ccsm_core::PermissionMode;
use ccsm_testkit::fake::{self, Fault};
use ccsm_testkit::{claude_cli, wait_for, MockModel, Scenario, TestEnv};
use futures::StreamExt as _;
use serde_json::json;

/// Options that run the real CLI in the test's private world.
fn real(env: &TestEnv, model: &MockModel) -> Options {
    let mut o = Options::new()
        .cli_path(claude_cli())
        .cwd(env.project.clone());
    for k in TestEnv::leaky_vars() {
        o = o.env_remove(k);
    }
    for (k, v) in env.vars(model) {
        o = o.env(k, v);
    }
    o
}

fn fake_opts(faults: &[Fault]) -> Options {
    let names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
    Options::new()
        .cli_path(fake::fake_claude())
        .env(fake::FAULT_ENV, names.join(","))
        .control_timeout(Duration::from_secs(5))
}

/// fake-claude with `faults`, started within the test's bound.
async fn start_fake(faults: &[Fault]) -> Session {
    bounded(Session::start(fake_opts(faults)))
        .await
        .expect("fake-claude starts")
}

const BOUND: Duration = Duration::from_secs(60);

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("the test's bound of 60 s")
}

/// One turn of a session, read to its end within the test's bound; panics on error.
async fn say(s: &Session, prompt: &str) -> ccsm_claude::TurnOutcome {
    bounded(async { s.send(prompt).await?.collect().await })
        .await
        .expect("the turn succeeds")
}

/// One prompt through `query()`, read to its end, within the test's bound.
async fn ask(prompt: &str, opts: Options) -> ccsm_claude::Result<ccsm_claude::TurnOutcome> {
    bounded(async { query(prompt, opts).await?.collect().await }).await
}

// ---------------------------------------------------------------- real CLI

#[tokio::test]
async fn persistent_session_keeps_context_over_three_turns() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model))).await.unwrap();
    let id = s.session_id().expect("a new session knows its id at once");
    let pid = s.pid();
    for (i, p) in ["first", "second", "third"].into_iter().enumerate() {
        let out = say(&s, p).await;
        assert_eq!(out.text(), format!("echo: {p}"));
        assert_eq!(out.session_id(), Some(id.as_str()), "turn {i}");
        assert_eq!(s.session_id().as_deref(), Some(id.as_str()));
        assert_eq!(s.pid(), pid, "one process");
    }
    let reqs = model.message_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1].user_prompts(), vec!["first", "second"]);
    assert_eq!(reqs[2].user_prompts(), vec!["first", "second", "third"]);
    assert!(reqs[2].conversation_text().contains("echo: second"));
    let exit = bounded(s.close()).await.unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn resume_continue_and_fork_from_the_api() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let first = ask("My name is Alice", real(&env, &model)).await.unwrap();
    let id = first.session_id().unwrap().to_owned();

    let resumed = ask("What is my name?", real(&env, &model).resume(id.clone()))
        .await
        .unwrap();
    assert_eq!(resumed.session_id(), Some(id.as_str()));
    let r = model.message_requests().pop().unwrap();
    assert_eq!(
        r.user_prompts(),
        vec!["My name is Alice", "What is my name?"]
    );

    let continued = ask("Still there?", real(&env, &model).continue_session(true))
        .await
        .unwrap();
    assert_eq!(continued.session_id(), Some(id.as_str()));
    let r = model.message_requests().pop().unwrap();
    assert_eq!(
        r.user_prompts(),
        vec!["My name is Alice", "What is my name?", "Still there?"]
    );

    let forked = ask(
        "Fork here",
        real(&env, &model).resume(id.clone()).fork_session(true),
    )
    .await
    .unwrap();
    let fork_id = forked.session_id().unwrap();
    assert_ne!(fork_id, id, "a fork has a new id");
    let r = model.message_requests().pop().unwrap();
    assert_eq!(r.user_prompts()[0], "My name is Alice", "same history");
    assert!(env.transcript(fork_id).is_some());
}

#[tokio::test]
async fn clear_starts_a_fresh_conversation_with_the_same_options() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model).model("claude-kept-1")))
        .await
        .unwrap();
    say(&s, "remember me").await;
    let old = s.session_id().unwrap();
    let s = bounded(s.clear()).await.unwrap();
    assert_ne!(s.session_id().unwrap(), old);
    say(&s, "fresh start").await;
    let last = model.message_requests().pop().unwrap();
    assert_eq!(
        last.user_prompts(),
        vec!["fresh start"],
        "no earlier context"
    );
    assert_eq!(last.model.as_deref(), Some("claude-kept-1"));
    bounded(s.close()).await.unwrap();
}

#[tokio::test]
async fn a_pre_tool_use_hook_is_called_and_can_block_the_tool() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let marker = env.project.join("hooked");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let hook = ccsm_claude::HookMatcher::new(Some("Bash"), move |input: ccsm_claude::HookInput| {
        let seen = seen2.clone();
        async move {
            seen.lock().unwrap().push(input.input.clone());
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                   "permissionDecision": "deny",
                   "permissionDecisionReason": "blocked by a ccsm hook"}})
        }
    });
    let opts = real(&env, &model)
        .allowed_tools(["Bash"])
        .hook("PreToolUse", hook);
    ask(&format!("BASH touch {}", marker.display()), opts)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "the hook ran once");
    assert_eq!(seen[0]["tool_name"], "Bash");
    assert!(!marker.exists(), "the hook's deny stopped the tool");
    assert!(model.message_requests()[1].tool_results[0].contains("blocked by a ccsm hook"));
}

#[tokio::test]
async fn set_model_changes_the_next_request() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model).model("claude-first-1")))
        .await
        .unwrap();
    say(&s, "one").await;
    bounded(s.set_model(Some("claude-second-2"))).await.unwrap();
    let out = say(&s, "two").await;
    let reqs = model.message_requests();
    assert_eq!(reqs[0].model.as_deref(), Some("claude-first-1"));
    assert_eq!(
        reqs.last().unwrap().model.as_deref(),
        Some("claude-second-2")
    );
    assert_eq!(out.model().as_deref(), Some("claude-second-2"));
    bounded(s.close()).await.unwrap();
}

#[tokio::test]
async fn set_permission_mode_is_accepted_between_turns() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model))).await.unwrap();
    bounded(s.set_permission_mode(&PermissionMode::AcceptEdits))
        .await
        .unwrap();
    let target = env.project.join("after-mode.txt");
    let out = bounded(
        s.send(&format!("WRITE {} switched", target.display()))
            .await
            .unwrap()
            .collect(),
    )
    .await
    .unwrap();
    assert!(out.text().starts_with("Done:"), "{}", out.text());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "switched\n");
    bounded(s.close()).await.unwrap();
}

#[tokio::test]
async fn interrupt_ends_a_slow_turn_quickly_and_the_session_goes_on() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model))).await.unwrap();
    // 40 pieces, 250 ms apart: ten seconds if nobody interrupts.
    let turn = s.send("SLOW 40").await.unwrap();
    wait_for("the slow request", BOUND, || {
        (!model.message_requests().is_empty()).then_some(())
    });
    let start = Instant::now();
    bounded(s.interrupt()).await.unwrap();
    let out = bounded(turn.collect_any()).await.unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the turn ended after {took:?}"
    );
    assert!(
        out.result.is_error
            || out.result.subtype != "success"
            || !out.text().contains(&"slow ".repeat(40)),
        "the turn was cut short: {:?}",
        out.result
    );
    let next = say(&s, "after the interrupt").await;
    assert_eq!(next.text(), "echo: after the interrupt");
    bounded(s.close()).await.unwrap();
}

/// Many owners: one task runs a turn while another, holding a clone of the
/// handle, interrupts it; the library drains the turn to its result; every
/// watcher sees the status move (idle, in turn, idle, stopping, exited with its
/// code); a dropped clone does not end the session, the last one does.
#[tokio::test]
async fn a_shared_session_reports_its_status_and_any_owner_can_interrupt_and_close() {
    use ccsm_core::RunStatus;
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model))).await.unwrap();
    assert_eq!(s.status(), RunStatus::Idle);
    let mut watch = s.watch_status();
    let first = watch.borrow_and_update().name();
    let seen = tokio::spawn(async move {
        let mut states = vec![first];
        while watch.changed().await.is_ok() {
            let st = watch.borrow_and_update().clone();
            states.push(st.name());
            if st.is_final() {
                return (states, st);
            }
        }
        (states, RunStatus::Stopping)
    });
    let mut turn = s.send("SLOW 40").await.unwrap();
    assert!(
        matches!(s.status(), RunStatus::InTurn { .. }),
        "{:?}",
        s.status()
    );
    wait_for("the slow request", BOUND, || {
        (!model.message_requests().is_empty()).then_some(())
    });
    // Another owner interrupts, from its own task.
    let other = s.clone();
    let start = Instant::now();
    let mut shown = 0;
    let drained = bounded(turn.interrupt_and_drain(Duration::from_secs(20), |_| shown += 1))
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let ccsm_claude::Drained::Result(res) = drained else {
        panic!("no result: {drained:?}")
    };
    assert!(shown > 0, "the result line was handed over");
    assert!(
        res.is_error
            || res.subtype != "success"
            || res.result.as_deref() != Some(&*"slow ".repeat(40))
    );
    assert_eq!(other.status(), RunStatus::Idle);
    // The session goes on, through the clone.
    assert_eq!(say(&other, "still here").await.text(), "echo: still here");
    let pid = s.pid();
    drop(s);
    assert!(
        fake::process_alive(pid),
        "one dropped handle must not end the session"
    );
    let info = bounded(other.close()).await.unwrap();
    assert_eq!(info.code, Some(0));
    let (states, last) = bounded(seen).await.unwrap();
    assert_eq!(
        last,
        RunStatus::Exited {
            code: Some(0),
            signal: None,
            ended_at: match last {
                RunStatus::Exited { ended_at, .. } => ended_at,
                _ => 0,
            }
        }
    );
    // A watch may fold quick changes together, never reorder them, and always
    // shows the last one.
    let all = [
        "idle", "inTurn", "idle", "inTurn", "idle", "stopping", "exited",
    ];
    let mut rest = all.iter();
    assert!(
        states.iter().all(|st| rest.any(|a| a == st)),
        "{states:?} is not in the order of {all:?}"
    );
    assert!(
        states.contains(&"inTurn") && states.ends_with(&["stopping", "exited"]),
        "{states:?}"
    );
}

#[tokio::test]
async fn can_use_tool_deny_stops_the_command() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let marker = env.project.join("denied-marker");
    let opts = real(&env, &model).can_use_tool(|req: ToolPermissionRequest| async move {
        assert_eq!(req.tool_name, "Bash");
        PermissionDecision::deny("not on my watch")
    });
    let out = ask(&format!("BASH touch {}", marker.display()), opts)
        .await
        .unwrap();
    assert!(!marker.exists(), "the denied command ran");
    let tool_result = &model.message_requests()[1].tool_results[0];
    assert!(tool_result.contains("not on my watch"), "{tool_result}");
    assert!(
        !out.result.permission_denials.is_empty(),
        "the result reports the denial: {:?}",
        out.result
    );
}

#[tokio::test]
async fn can_use_tool_allow_with_changed_input_runs_the_changed_command() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let asked = env.project.join("asked-for");
    let changed = env.project.join("changed-to");
    let changed_cmd = format!("touch {}", changed.display());
    let opts = real(&env, &model).can_use_tool(move |req: ToolPermissionRequest| {
        let cmd = changed_cmd.clone();
        async move {
            let mut input = req.input.clone();
            input["command"] = json!(cmd);
            PermissionDecision::allow_with(input)
        }
    });
    ask(&format!("BASH touch {}", asked.display()), opts)
        .await
        .unwrap();
    assert!(changed.exists(), "the changed command ran");
    assert!(!asked.exists(), "the original command did not");
}

#[tokio::test]
async fn without_a_callback_tools_are_denied_and_an_event_says_so() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let marker = env.project.join("default-deny");
    let opts = real(&env, &model).permission_prompt_tool("stdio");
    let out = ask(&format!("BASH touch {}", marker.display()), opts)
        .await
        .unwrap();
    assert!(!marker.exists());
    assert!(out.lines.iter().any(|l| matches!(
        &l.message,
        Message::Host(HostEvent::ToolDeniedByDefault { tool_name, .. }) if tool_name == "Bash"
    )));
}

fn tail_processes_under(root: u32) -> Vec<u32> {
    ccsm_claude::process::descendants(root)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("tail"))
                .unwrap_or(false)
        })
        .collect()
}

fn pgid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

#[tokio::test]
async fn cancel_leaves_no_process_of_the_tool_behind() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let s = bounded(Session::start(real(&env, &model).allowed_tools(["Bash"])))
        .await
        .unwrap();
    // A background job and a foreground one; `timeout` puts each in a group of its own.
    let _turn = s
        .send("BASH timeout 313 tail -f /dev/null & echo started; timeout 300 tail -f /dev/null")
        .await
        .unwrap();
    let pid = s.pid();
    let tails = wait_for("both tail processes", BOUND, || {
        let t = tail_processes_under(pid);
        (t.len() >= 2).then_some(t)
    });
    let groups: Vec<u32> = tails.iter().filter_map(|p| pgid_of(*p)).collect();
    assert!(
        groups.iter().any(|g| *g != pid),
        "tools run outside the CLI's group"
    );
    let exit = bounded(s.cancel(Ladder::default())).await;
    assert!(!exit.success());
    for g in groups.iter().chain([&pid]) {
        wait_for("the group to be empty", Duration::from_secs(5), || {
            fake::group_members(*g).is_empty().then_some(())
        });
    }
    for t in tails {
        assert!(!fake::process_alive(t), "{t} survived");
    }
}

#[tokio::test]
async fn an_api_error_result_is_a_typed_error() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let err = ask(
        "FAIL 529",
        real(&env, &model).env("CLAUDE_CODE_MAX_RETRIES", "0"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
    assert!(err.to_string().contains("529"), "{err}");
}

// ------------------------------------------------------------- fake-claude faults

/// The next line that is not a `system` message (fake-claude says `init` at once).
async fn next_non_system(turn: &mut ccsm_claude::Turn) -> ccsm_claude::Result<ccsm_claude::Line> {
    loop {
        let item = turn.next_line().await.expect("the turn ended early");
        if !matches!(&item, Ok(l) if matches!(l.message, Message::System(_))) {
            return item;
        }
    }
}

#[tokio::test]
async fn fault_crash_on_start_is_exited_with_stderr() {
    let err = bounded(Session::start(fake_opts(&[Fault::CrashOnStart])))
        .await
        .unwrap_err();
    let Error::Exited {
        code, stderr_tail, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*code, Some(1));
    assert!(stderr_tail.contains("scripted crash"), "{stderr_tail}");
}

#[tokio::test]
async fn fault_exit_mid_turn_is_exited_with_code() {
    let s = start_fake(&[Fault::ExitMidTurn]).await;
    let err = bounded(s.send("hi").await.unwrap().collect())
        .await
        .unwrap_err();
    let Error::Exited {
        code, stderr_tail, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*code, Some(3));
    assert!(stderr_tail.contains("middle of a turn"));
    assert!(matches!(s.send("again").await, Err(Error::Exited { .. })));
}

#[tokio::test]
async fn fault_hang_ends_in_cancelled_when_cancelled() {
    let s = start_fake(&[Fault::Hang]).await;
    let pid = s.pid();
    let turn = s.send("hi").await.unwrap();
    let collector = tokio::spawn(turn.collect());
    let exit = bounded(s.cancel(Ladder {
        interrupt: Duration::from_millis(300),
        signal: Duration::from_secs(2),
    }))
    .await;
    assert!(!exit.success());
    let err = bounded(collector).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(fake::group_members(pid).is_empty());
}

#[tokio::test]
async fn fault_ignore_sigterm_climbs_the_ladder_to_sigkill() {
    let s = start_fake(&[Fault::IgnoreSigterm]).await;
    let pid = s.pid();
    let _turn = s.send("hi").await.unwrap();
    let exit = bounded(s.cancel(Ladder {
        interrupt: Duration::from_millis(200),
        signal: Duration::from_millis(300),
    }))
    .await;
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    assert!(fake::group_members(pid).is_empty());
}

#[tokio::test]
async fn fault_malformed_is_a_protocol_error_and_the_turn_goes_on() {
    let s = start_fake(&[Fault::Malformed]).await;
    let mut turn = s.send("hi").await.unwrap();
    let first = bounded(next_non_system(&mut turn)).await;
    let Err(Error::Protocol { line, .. }) = first else {
        panic!("{first:?}")
    };
    assert!(line.starts_with("this line is not json"));
    let mut rest = Vec::new();
    while let Some(l) = bounded(turn.next_line()).await {
        rest.push(l.unwrap());
    }
    assert!(matches!(rest.last().unwrap().message, Message::Result(_)));
    // collect() treats the garbage as the error it is.
    let err = bounded(s.send("again").await.unwrap().collect())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }));
}

#[tokio::test]
async fn fault_huge_line_is_read_or_refused_by_the_limit() {
    let s = start_fake(&[Fault::HugeLine]).await;
    let out = say(&s, "hi").await;
    assert!(out
        .lines
        .iter()
        .any(|l| matches!(l.message, Message::Assistant(_)) && l.raw.len() > 10 << 20));

    let mut o = fake_opts(&[Fault::HugeLine]);
    o.max_line_bytes = 1 << 20;
    let s = bounded(Session::start(o)).await.unwrap();
    let mut turn = s.send("hi").await.unwrap();
    let first = bounded(next_non_system(&mut turn)).await;
    assert!(
        matches!(&first, Err(Error::Protocol { reason, .. }) if reason.contains("longer than")),
        "{first:?}"
    );
    let last = bounded(turn.next_line()).await.unwrap().unwrap();
    assert!(matches!(last.message, Message::Result(_)));
}

#[tokio::test]
async fn fault_stderr_flood_neither_blocks_nor_grows_memory() {
    let s = start_fake(&[Fault::StderrFlood]).await;
    let out = say(&s, "hi").await;
    assert_eq!(out.text(), "echo: hi");
    let tail = s.stderr_tail();
    assert!(tail.len() <= 64 * 1024 && tail.contains("flooding"));
}

#[tokio::test]
async fn fault_slow_streams_text_in_chunks() {
    let s = bounded(Session::start(
        fake_opts(&[Fault::Slow]).env(fake::DELAY_ENV, "10"),
    ))
    .await
    .unwrap();
    let chunks: Vec<String> = bounded(
        s.send("abcd")
            .await
            .unwrap()
            .text_chunks()
            .collect::<Vec<_>>(),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(chunks.len(), 10);
    assert_eq!(chunks.concat(), "echo: abcd");
}

#[tokio::test]
async fn fault_api_error_is_api_with_status() {
    let s = start_fake(&[Fault::ApiError]).await;
    let err = bounded(s.send("hi").await.unwrap().collect())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Api {
                status: Some(529),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn fault_unknown_passes_through_unchanged() {
    let s = start_fake(&[Fault::Unknown]).await;
    let out = say(&s, "hi").await;
    let unknown = out
        .lines
        .iter()
        .find(|l| matches!(&l.message, Message::Unknown(v) if v["type"] == "future_message_kind"))
        .expect("the unknown line");
    let v: serde_json::Value = serde_json::from_str(&unknown.raw).unwrap();
    assert_eq!(v["payload"]["n"], 1);
    let Some(Message::Assistant(a)) = out
        .lines
        .iter()
        .map(|l| &l.message)
        .find(|m| matches!(m, Message::Assistant(_)))
    else {
        panic!()
    };
    assert_eq!(a.extra["future_field"]["kept"], true);
}

#[tokio::test]
async fn fault_ask_tool_without_callback_is_denied_by_default() {
    let s = start_fake(&[Fault::AskTool]).await;
    let out = say(&s, "hi").await;
    assert!(out.text().contains("denied by ccsm"), "{}", out.text());
    assert!(out.lines.iter().any(|l| matches!(
        l.message,
        Message::Host(HostEvent::ToolDeniedByDefault { .. })
    )));
}

#[tokio::test]
async fn fault_spawn_child_dies_with_the_session_on_drop() {
    let s = start_fake(&[Fault::SpawnChild]).await;
    let pid = s.pid();
    let mut turn = s.send("hi").await.unwrap();
    let line = bounded(next_non_system(&mut turn)).await.unwrap();
    let Message::Assistant(a) = &line.message else {
        panic!("{line:?}")
    };
    let child: u32 = a
        .message
        .text()
        .trim_start_matches("child pid ")
        .parse()
        .unwrap();
    assert!(fake::process_alive(child));
    drop(turn);
    drop(s); // kill on drop
    wait_for("the child to die", Duration::from_secs(5), || {
        (!fake::process_alive(child) && fake::group_members(pid).is_empty()).then_some(())
    });
}

#[tokio::test]
async fn fault_deaf_is_a_timeout() {
    let err = bounded(Session::start(
        fake_opts(&[Fault::Deaf]).control_timeout(Duration::from_millis(300)),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_second_prompt_while_a_turn_runs_is_busy() {
    let s = start_fake(&[Fault::Hang]).await;
    let _turn = s.send("hi").await.unwrap();
    assert!(matches!(s.send("again").await, Err(Error::Busy)));
}

#[tokio::test]
async fn missing_and_old_clis_are_typed_errors() {
    let err = Session::start(Options::new().cli_path("/nonexistent/claude"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CliNotFound { .. }), "{err:?}");

    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("claude");
    std::fs::write(&old, "#!/bin/sh\necho '1.0.3 (Claude Code)'\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = ccsm_claude::find_cli(Some(&old)).unwrap_err();
    assert!(matches!(err, Error::CliTooOld { .. }), "{err:?}");
    assert!(err.to_string().contains("1.0.3"));
    let ok = ccsm_claude::find_cli(Some(&fake::fake_claude())).unwrap();
    assert_eq!(ok.version, "2.1.330");
}

#[tokio::test]
async fn invalid_options_are_refused_before_spawning() {
    let err = Session::start(fake_opts(&[]).fork_session(true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOptions(_)), "{err:?}");
}
