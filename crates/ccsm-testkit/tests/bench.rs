//! The test bench itself: the real CLI against the scripted model, and every
//! fake-claude fault doing what its name says.
#![allow(clippy::unwrap_used)] // a test that meets bad data should panic

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ccsm_testkit::fake::{self, Fault};
use ccsm_testkit::{wait_for, MockModel, Reply, Rule, Scenario, TestEnv};
use serde_json::{json, Value};

// ---------------------------------------------------------------- the real CLI

#[test]
fn real_cli_answers_from_the_scripted_model_and_writes_a_transcript() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let run = env.run_claude(
        &model,
        &[
            "-p",
            "what is the bench",
            "--output-format",
            "stream-json",
            "--verbose",
        ],
    );
    let lines = run.json_lines();
    assert_eq!(lines[0]["type"], "system");
    assert_eq!(lines[0]["subtype"], "init");
    let result = run.result().expect("a result line");
    assert_eq!(result["result"], "echo: what is the bench");
    assert_eq!(result["is_error"], false);

    let id = run.session_id().expect("a session id");
    let transcript = env
        .transcript(&id)
        .expect("the transcript is in CLAUDE_CONFIG_DIR");
    assert!(transcript.starts_with(&env.config_dir));
    let text = std::fs::read_to_string(&transcript).unwrap();
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries
        .iter()
        .any(|e| e["type"] == "user" && e["message"]["content"] == "what is the bench"));
    let reply = entries
        .iter()
        .find(|e| e["type"] == "assistant")
        .expect("an assistant entry");
    assert_eq!(
        reply["message"]["content"][0]["text"],
        "echo: what is the bench"
    );
    // The model's request-id header is what the CLI records for usage dedupe.
    let req = &model.message_requests()[0];
    assert_eq!(reply["requestId"], req.request_id.as_str());
    assert_eq!(reply["message"]["usage"]["cache_creation_input_tokens"], 10);
    assert_eq!(
        reply["message"]["usage"]["cache_creation"]["ephemeral_5m_input_tokens"],
        10
    );
}

#[test]
fn scenario_makes_the_real_cli_write_a_file() {
    let env = TestEnv::new();
    let target = env.project.join("notes/todo.txt");
    let model = MockModel::start(
        Scenario::echo().rule(
            Rule::when_contains("take a note")
                .then(Reply::tool(
                    "Write",
                    json!({"file_path": target, "content": "buy milk\n"}),
                ))
                .then(Reply::text("noted")),
        ),
    );
    let run = env.run_claude(
        &model,
        &[
            "-p",
            "take a note",
            "--permission-mode",
            "acceptEdits",
            "--output-format",
            "json",
        ],
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "buy milk\n");
    assert_eq!(run.result().unwrap()["result"], "noted");
    let reqs = model.message_requests();
    assert_eq!(reqs.len(), 2, "the prompt, then the tool result");
    assert!(reqs[1].tool_results[0].contains("File created successfully"));
}

#[test]
fn resume_sends_the_earlier_messages() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let first = env.run_claude(
        &model,
        &["-p", "My name is Alice", "--output-format", "json"],
    );
    let id = first.session_id().unwrap();
    let second = env.run_claude(
        &model,
        &[
            "-p",
            "What is my name?",
            "--resume",
            &id,
            "--output-format",
            "json",
        ],
    );
    assert_eq!(second.session_id().as_deref(), Some(id.as_str()));
    let reqs = model.message_requests();
    let last = reqs.last().unwrap();
    assert_eq!(last.prompt.as_deref(), Some("What is my name?"));
    assert_eq!(
        last.user_prompts(),
        vec!["My name is Alice".to_owned(), "What is my name?".to_owned()]
    );
    assert!(last.conversation_text().contains("echo: My name is Alice"));
    assert!(last.message_count > reqs[0].message_count);
}

#[test]
fn overloaded_then_success_is_retried_by_the_cli() {
    let env = TestEnv::new();
    let model = MockModel::start(
        Scenario::echo()
            .rule(Rule::when_contains("flaky").times(1).then(Reply::Error {
                status: 529,
                message: None,
            }))
            .rule(Rule::when_contains("flaky").then(Reply::text("made it"))),
    );
    let run = env.run_claude(&model, &["-p", "flaky call", "--output-format", "json"]);
    assert_eq!(run.result().unwrap()["result"], "made it");
    assert_eq!(model.message_requests().len(), 2);
}

#[test]
fn an_http_error_ends_in_an_error_result() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let mut cmd = env.claude(&model, &["-p", "FAIL 500", "--output-format", "json"]);
    cmd.env("CLAUDE_CODE_MAX_RETRIES", "0");
    let run = ccsm_testkit::CliRun::from(ccsm_testkit::run_with_deadline(
        cmd,
        Duration::from_secs(60),
    ));
    let result = run.result().expect("a result line even on failure");
    assert_eq!(result["is_error"], true, "{result}");
    assert!(
        result["result"].as_str().unwrap().contains("500"),
        "{result}"
    );
}

#[test]
fn a_subagent_gets_its_own_transcript() {
    let env = TestEnv::new();
    let model = MockModel::start(Scenario::echo());
    let run = env.run_claude(
        &model,
        &[
            "-p",
            "AGENT look around",
            "--permission-mode",
            "acceptEdits",
            "--output-format",
            "json",
        ],
    );
    let id = run.session_id().unwrap();
    let transcript = env.transcript(&id).unwrap();
    let subagents = transcript.with_extension("").join("subagents");
    let found = wait_for("the subagent transcript", Duration::from_secs(20), || {
        std::fs::read_dir(&subagents).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        })
    });
    assert!(std::fs::read_to_string(found)
        .unwrap()
        .contains("look around"));
}

// ------------------------------------------------------- the model over plain HTTP

fn http(model: &MockModel, method: &str, path: &str, body: &Value) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(model.addr()).unwrap();
    let body = body.to_string();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn plain_messages_and_token_counts_are_answered() {
    let model = MockModel::start(Scenario::echo());
    let req = json!({"model":"claude-x","max_tokens":10,
        "messages":[{"role":"user","content":"hi"},{"role":"system","content":"env"}]});
    let (status, head, body) = http(&model, "POST", "/v1/messages", &req);
    assert_eq!(status, 200);
    assert!(head.contains("request-id: req_"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["content"][0]["text"], "echo: hi");
    assert_eq!(v["model"], "claude-x");
    let u = &v["usage"];
    assert_eq!(
        u["cache_creation_input_tokens"],
        u["cache_creation"]["ephemeral_5m_input_tokens"]
            .as_u64()
            .unwrap()
            + u["cache_creation"]["ephemeral_1h_input_tokens"]
                .as_u64()
                .unwrap()
    );
    let (status, _, body) = http(&model, "POST", "/v1/messages/count_tokens", &req);
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&body).unwrap()["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (status, _, _) = http(&model, "GET", "/v1/nothing", &json!({}));
    assert_eq!(status, 404);
    assert_eq!(model.requests().len(), 3);
}

#[test]
fn slow_replies_stream_in_pieces_over_time() {
    let model = MockModel::start(Scenario::echo().rule(Rule::always().then(Reply::Slow {
        text: "abcdefghij".into(),
        chunks: 5,
        delay_ms: 60,
    })));
    let start = Instant::now();
    let (_, _, body) = http(
        &model,
        "POST",
        "/v1/messages",
        &json!({"stream": true, "messages":[{"role":"user","content":"go"}]}),
    );
    // Four pauses of 60 ms between five pieces: a lower bound, not a timing guess.
    assert!(start.elapsed() >= Duration::from_millis(240));
    let deltas: Vec<&str> = body.lines().filter(|l| l.contains("text_delta")).collect();
    assert_eq!(deltas.len(), 5);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
}

#[test]
fn scripted_http_errors_carry_the_api_error_shape() {
    for (status, kind) in [
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let model = MockModel::start(Scenario::echo());
        let (got, _, body) = http(
            &model,
            "POST",
            "/v1/messages",
            &json!({"messages":[{"role":"user","content": format!("FAIL {status}")}]}),
        );
        assert_eq!(got, status);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["type"], kind);
    }
}

#[test]
fn mock_model_binary_serves_loopback_only() {
    let out = Command::new(env!("CARGO_BIN_EXE_ccsm-mock-model"))
        .args(["--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
}

// --------------------------------------------------------------- fake-claude faults

struct Fake {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<usize>,
}

impl Fake {
    fn spawn(faults: &[Fault], args: &[&str], extra_env: &[(&str, &str)]) -> Self {
        let names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
            .args(args)
            .env(fake::FAULT_ENV, names.join(","))
            .envs(extra_env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let (etx, stderr) = mpsc::channel();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0; 1 << 16];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 || etx.send(n).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            stderr,
        }
    }

    fn streaming(faults: &[Fault]) -> Self {
        Self::spawn(
            faults,
            &[
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
            &[],
        )
    }

    fn send(&mut self, v: Value) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    fn say(&mut self, prompt: &str) {
        self.send(json!({"type":"user","message":{"role":"user","content": prompt}}));
    }

    fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from fake-claude within 10 s")
    }

    fn next_json(&self) -> Value {
        serde_json::from_str(&self.next()).unwrap()
    }

    /// Lines until (and with) the result line.
    fn until_result(&self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.next();
            let done = serde_json::from_str::<Value>(&l).is_ok_and(|v| v["type"] == "result");
            out.push(l);
            if done {
                return out;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let pid = self.pid();
        wait_for("fake-claude to exit", Duration::from_secs(10), || {
            self.child.try_wait().unwrap()
        });
        let st = self.child.wait().unwrap();
        assert!(fake::group_members(pid).is_empty());
        st
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        fake::kill_group(self.pid());
        let _ = self.child.wait();
    }
}

#[test]
fn fake_reports_its_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
        .arg("--version")
        .env(fake::VERSION_ENV, "1.0.3")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1.0.3 (Claude Code)"
    );
}

#[test]
fn fake_answers_turns_and_control_requests_without_faults() {
    let mut f = Fake::streaming(&[]);
    assert_eq!(f.next_json()["subtype"], "init");
    f.send(json!({"type":"control_request","request_id":"r1","request":{"subtype":"set_model","model":"m2"}}));
    let resp = f.next_json();
    assert_eq!(resp["type"], "control_response");
    assert_eq!(resp["response"]["request_id"], "r1");
    f.say("one");
    let lines = f.until_result();
    let assistant: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(assistant["message"]["model"], "m2");
    assert_eq!(assistant["message"]["content"][0]["text"], "echo: one");
    drop(f.child.stdin.take());
    assert!(f.wait().success());
}

#[test]
fn fault_crash_on_start_exits_1_with_stderr() {
    let out = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
        .args(["-p", "hi"])
        .env(fake::FAULT_ENV, "crash-on-start")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scripted crash"));
}

#[test]
fn fault_exit_mid_turn_leaves_no_result() {
    let mut f = Fake::spawn(
        &[Fault::ExitMidTurn],
        &["-p", "--output-format", "stream-json", "hi"],
        &[],
    );
    assert_eq!(f.next_json()["subtype"], "init");
    assert_eq!(f.next_json()["type"], "assistant");
    assert_eq!(f.wait().code(), Some(3));
    assert!(
        f.lines.recv_timeout(Duration::from_secs(2)).is_err(),
        "no result line"
    );
}

#[test]
fn fault_hang_never_answers_and_dies_on_sigterm() {
    let mut f = Fake::streaming(&[Fault::Hang]);
    assert_eq!(f.next_json()["subtype"], "init");
    f.say("anyone there?");
    assert!(f.lines.recv_timeout(Duration::from_millis(500)).is_err());
    assert!(fake::process_alive(f.pid()));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(f.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = f.wait();
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(st.signal(), Some(15));
}

fn sig_ignored(pid: u32, sig: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (sig - 1)) != 0
}

#[test]
fn fault_ignore_sigterm_survives_sigterm_and_sigint_until_sigkill() {
    let mut f = Fake::streaming(&[Fault::IgnoreSigterm]);
    assert_eq!(f.next_json()["subtype"], "init");
    assert!(sig_ignored(f.pid(), 15) && sig_ignored(f.pid(), 2));
    let pid = nix::unistd::Pid::from_raw(f.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert!(f.child.try_wait().unwrap().is_none());
    assert!(fake::process_alive(f.pid()));
    fake::kill_group(f.pid());
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(f.wait().signal(), Some(9));
}

#[test]
fn fault_malformed_prints_a_line_that_is_not_json() {
    let mut f = Fake::streaming(&[Fault::Malformed]);
    f.next();
    f.say("hi");
    let lines = f.until_result();
    assert!(serde_json::from_str::<Value>(&lines[0]).is_err());
    assert!(lines[1..]
        .iter()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));
}

#[test]
fn fault_huge_line_is_over_10_mb_of_valid_json() {
    let mut f = Fake::streaming(&[Fault::HugeLine]);
    f.next();
    f.say("hi");
    let lines = f.until_result();
    assert!(lines[0].len() > 10 << 20);
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["type"], "assistant");
}

#[test]
fn fault_stderr_flood_writes_32_mib_and_still_answers() {
    let mut f = Fake::streaming(&[Fault::StderrFlood]);
    f.next();
    f.say("hi");
    let lines = f.until_result();
    assert!(lines.last().unwrap().contains("echo: hi"));
    let mut total = 0usize;
    wait_for("32 MiB on stderr", Duration::from_secs(10), || {
        total += f.stderr.try_iter().sum::<usize>();
        (total >= 32 << 20).then_some(())
    });
}

#[test]
fn fault_slow_spaces_its_lines_and_honours_interrupt() {
    let mut f = Fake::spawn(
        &[Fault::Slow],
        &[
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
        ],
        &[(fake::DELAY_ENV, "40")],
    );
    f.next();
    let start = Instant::now();
    f.say("abcd"); // "echo: abcd" is ten characters: one piece each
    let lines = f.until_result();
    // Ten pieces and a result, each preceded by a 40 ms pause.
    assert_eq!(lines.len(), 11);
    assert!(start.elapsed() >= Duration::from_millis(400));

    f.say("a long answer to interrupt");
    f.next();
    f.send(
        json!({"type":"control_request","request_id":"int-1","request":{"subtype":"interrupt"}}),
    );
    let rest = f.until_result();
    let result: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(result["subtype"], "error_during_execution");
    assert!(rest.len() < 10, "the turn stopped early");
}

#[test]
fn fault_api_error_ends_the_turn_in_an_error_result() {
    let mut f = Fake::streaming(&[Fault::ApiError]);
    f.next();
    f.say("hi");
    let result: Value = serde_json::from_str(f.until_result().last().unwrap()).unwrap();
    assert_eq!(result["is_error"], true);
    assert!(result["result"].as_str().unwrap().contains("529"));
}

#[test]
fn fault_unknown_sends_an_unknown_type_and_field() {
    let mut f = Fake::streaming(&[Fault::Unknown]);
    f.next();
    f.say("hi");
    let lines: Vec<Value> = f
        .until_result()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|v| v["type"] == "future_message_kind"));
    assert!(lines
        .iter()
        .any(|v| v["type"] == "assistant" && v["future_field"]["kept"] == true));
}

#[test]
fn fault_ask_tool_asks_and_obeys_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let cmd = format!("touch {}", marker.display());
    let changed = dir.path().join("changed");
    let mut f = Fake::spawn(
        &[Fault::AskTool],
        &[
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
        ],
        &[(fake::TOOL_COMMAND_ENV, &cmd)],
    );
    f.next();
    f.say("do it");
    let ask = f.next_json();
    assert_eq!(ask["type"], "control_request");
    assert_eq!(ask["request"]["subtype"], "can_use_tool");
    assert_eq!(ask["request"]["input"]["command"], cmd.as_str());
    f.send(
        json!({"type":"control_response","response":{"subtype":"success",
        "request_id": ask["request_id"], "response":{"behavior":"deny","message":"not today"}}}),
    );
    let r: Value = serde_json::from_str(f.until_result().last().unwrap()).unwrap();
    assert!(r["result"].as_str().unwrap().contains("denied: not today"));
    assert!(!marker.exists());

    f.say("do it again");
    let ask = f.next_json();
    let new_cmd = format!("touch {}", changed.display());
    f.send(
        json!({"type":"control_response","response":{"subtype":"success",
        "request_id": ask["request_id"],
        "response":{"behavior":"allow","updatedInput":{"command": new_cmd}}}}),
    );
    f.until_result();
    assert!(changed.exists() && !marker.exists());
}

#[test]
fn fault_spawn_child_puts_a_child_in_the_group() {
    let mut f = Fake::streaming(&[Fault::SpawnChild]);
    f.next();
    f.say("hi");
    let v = f.next_json();
    let text = v["message"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let child: u32 = text.trim_start_matches("child pid ").parse().unwrap();
    assert!(fake::process_alive(child));
    assert!(fake::group_members(f.pid()).contains(&child));
    fake::kill_group(f.pid());
    f.wait();
    wait_for(
        "the child to die with its group",
        Duration::from_secs(5),
        || (!fake::process_alive(child)).then_some(()),
    );
}

#[test]
fn fault_deaf_never_answers_control_requests() {
    let mut f = Fake::streaming(&[Fault::Deaf]);
    f.next();
    f.send(json!({"type":"control_request","request_id":"r","request":{"subtype":"initialize"}}));
    f.say("hi");
    // The turn is answered; the control request never is.
    let lines = f.until_result();
    assert!(lines.iter().all(|l| !l.contains("control_response")));
}

#[test]
fn fake_starts_fast_enough_for_hundreds() {
    // Not a timing test: hundreds at once must all answer (no shared state, no locks).
    let mut fakes: Vec<Child> = (0..100)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_fake-claude"))
                .args(["-p", "--output-format", "stream-json", &format!("n{i}")])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in fakes.iter_mut().enumerate() {
        let mut out = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(out.contains(&format!("echo: n{i}")));
        assert!(c.wait().unwrap().success());
    }
}
