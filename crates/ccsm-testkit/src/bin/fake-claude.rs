//! fake-claude: a stand-in for the `claude` CLI that speaks stream-json and injects
//! faults on demand (see `ccsm_testkit::fake`). Start-up does almost nothing, so
//! load tests can run hundreds.
#![allow(clippy::disallowed_methods)] // sleeping is the point of a slow or hanging fake

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccsm_testkit::fake::{Fault, DELAY_ENV, FAULT_ENV, TOOL_COMMAND_ENV, VERSION_ENV};
use serde_json::{json, Value};

struct Out {
    stdout: Mutex<std::io::Stdout>,
    delay: Option<Duration>,
}

impl Out {
    fn line(&self, v: &Value) {
        self.raw(&v.to_string());
    }
    fn raw(&self, s: &str) {
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
        let Ok(mut out) = self.stdout.lock() else {
            return;
        };
        // A closed stdout means the host went away: nothing left to do.
        if writeln!(out, "{s}").and_then(|()| out.flush()).is_err() {
            std::process::exit(141);
        }
    }
}

struct Fake {
    faults: Vec<Fault>,
    session_id: String,
    model: Mutex<String>,
    cwd: String,
    out: Out,
    interrupted: AtomicBool,
    turns: std::sync::atomic::AtomicU32,
    /// Answers to our own control requests (`can_use_tool`), by request id.
    answers: Mutex<Vec<(String, mpsc::Sender<Value>)>>,
}

impl Fake {
    fn has(&self, f: Fault) -> bool {
        self.faults.contains(&f)
    }

    fn init(&self) {
        let model = self.model.lock().map(|m| m.clone()).unwrap_or_default();
        self.out.line(&json!({
            "type": "system", "subtype": "init", "session_id": self.session_id,
            "cwd": self.cwd, "model": model, "tools": ["Bash", "Read", "Write"],
            "mcp_servers": [], "permissionMode": "default", "apiKeySource": "none",
            "claude_code_version": version(), "uuid": uuid::Uuid::new_v4().to_string(),
        }));
    }

    fn usage() -> Value {
        json!({"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50,
               "cache_creation_input_tokens": 10,
               "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0}})
    }

    fn assistant(&self, text: &str) -> Value {
        let model = self.model.lock().map(|m| m.clone()).unwrap_or_default();
        let mut v = json!({
            "type": "assistant",
            "message": {"id": format!("msg_fake_{}", uuid::Uuid::new_v4().simple()),
                        "type": "message", "role": "assistant", "model": model,
                        "content": [{"type": "text", "text": text}],
                        "stop_reason": "end_turn", "usage": Self::usage()},
            "parent_tool_use_id": null, "session_id": self.session_id,
            "uuid": uuid::Uuid::new_v4().to_string(),
        });
        if self.has(Fault::Unknown) {
            v["future_field"] = json!({"kept": true});
        }
        v
    }

    fn result(&self, subtype: &str, is_error: bool, text: &str) {
        let n = self.turns.load(Ordering::SeqCst);
        self.out.line(&json!({
            "type": "result", "subtype": subtype, "is_error": is_error,
            "result": text, "session_id": self.session_id,
            "total_cost_usd": 0.00172 * f64::from(n), "usage": Self::usage(),
            "modelUsage": {}, "num_turns": 1, "duration_ms": 1, "duration_api_ms": 1,
            "permission_denials": [], "uuid": uuid::Uuid::new_v4().to_string(),
        }));
    }

    fn turn(&self, prompt: &str) {
        self.interrupted.store(false, Ordering::SeqCst);
        self.turns.fetch_add(1, Ordering::SeqCst);
        if self.has(Fault::Malformed) {
            self.out.raw("this line is not json {\"type\": ");
        }
        if self.has(Fault::Unknown) {
            self.out
                .line(&json!({"type": "future_message_kind", "payload": {"n": 1},
                                  "session_id": self.session_id}));
        }
        if self.has(Fault::StderrFlood) && self.turns.load(Ordering::SeqCst) == 1 {
            let chunk = "fake-claude: flooding stderr ".repeat(1024) + "\n";
            let mut err = std::io::stderr().lock();
            let mut written = 0;
            while written < 32 << 20 {
                if err.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                written += chunk.len();
            }
        }
        if self.has(Fault::ExitMidTurn) {
            self.out.line(&self.assistant("partial answer, then"));
            eprintln!("fake-claude: scripted exit in the middle of a turn");
            std::process::exit(3);
        }
        if self.has(Fault::Hang) || self.has(Fault::IgnoreSigterm) {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        if self.has(Fault::SpawnChild) {
            match std::process::Command::new("sleep").arg("1000").spawn() {
                Ok(child) => self
                    .out
                    .line(&self.assistant(&format!("child pid {}", child.id()))),
                Err(e) => eprintln!("fake-claude: could not start a child: {e}"),
            }
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        if self.has(Fault::ApiError) {
            self.out.line(&self.assistant(
                "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
            ));
            self.result(
                "success",
                true,
                "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
            );
            return;
        }
        if self.has(Fault::AskTool) {
            let text = self.ask_tool();
            self.out.line(&self.assistant(&text));
            self.result("success", false, &text);
            return;
        }
        if self.has(Fault::HugeLine) {
            let text = "x".repeat(10 << 20);
            self.out.line(&self.assistant(&text));
            self.result("success", false, "huge");
            return;
        }
        let text = format!("echo: {prompt}");
        if self.has(Fault::Slow) {
            for piece in split(&text, 10) {
                if self.interrupted.load(Ordering::SeqCst) {
                    self.result("error_during_execution", true, "interrupted");
                    return;
                }
                self.out.line(&self.assistant(&piece));
            }
        } else {
            self.out.line(&self.assistant(&text));
        }
        self.result("success", false, &text);
    }

    fn ask_tool(&self) -> String {
        let command = std::env::var(TOOL_COMMAND_ENV)
            .unwrap_or_else(|_| format!("touch {}/fake-tool-ran", self.cwd));
        let request_id = format!("fake-{}", uuid::Uuid::new_v4().simple());
        let (tx, rx) = mpsc::channel();
        if let Ok(mut a) = self.answers.lock() {
            a.push((request_id.clone(), tx));
        }
        self.out.line(&json!({
            "type": "control_request", "request_id": request_id,
            "request": {"subtype": "can_use_tool", "tool_name": "Bash",
                        "input": {"command": command}, "tool_use_id": "toolu_fake",
                        "permission_suggestions": []}}));
        let Ok(answer) = rx.recv() else {
            return "tool failed: the host never answered".into();
        };
        let inner = &answer;
        match inner["behavior"].as_str() {
            Some("allow") => {
                let cmd = inner["updatedInput"]["command"]
                    .as_str()
                    .unwrap_or(&command)
                    .to_owned();
                let ran = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .status();
                format!("tool allowed, ran {cmd:?}: {ran:?}")
            }
            _ => format!(
                "tool denied: {}",
                inner["message"].as_str().unwrap_or("no reason")
            ),
        }
    }

    fn control(&self, v: &Value) {
        let id = v["request_id"].clone();
        let req = &v["request"];
        let response = match req["subtype"].as_str().unwrap_or("") {
            "initialize" => json!({"commands": [], "models": [], "agents": [],
                                   "output_style": "default"}),
            "interrupt" => {
                self.interrupted.store(true, Ordering::SeqCst);
                json!({})
            }
            "set_model" => {
                if let (Some(m), Ok(mut model)) = (req["model"].as_str(), self.model.lock()) {
                    *model = m.to_owned();
                }
                json!({})
            }
            _ => json!({}),
        };
        self.out
            .line(&json!({"type": "control_response", "response": {
            "subtype": "success", "request_id": id, "response": response}}));
    }
}

fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let per = chars.len().div_ceil(n).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

fn version() -> String {
    std::env::var(VERSION_ENV).unwrap_or_else(|_| "2.1.330".into())
}

fn ignore_signals() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    for s in [Signal::SIGTERM, Signal::SIGINT] {
        // SIG_IGN installs no handler code, so nothing can run in signal context.
        #[allow(unsafe_code)]
        // SAFETY: SigIgn is not a function pointer; no handler runs.
        unsafe {
            let _ = signal(s, SigHandler::SigIgn);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-v") {
        println!("{} (Claude Code)", version());
        return;
    }
    let faults = Fault::parse_list(&std::env::var(FAULT_ENV).unwrap_or_default());
    if faults.contains(&Fault::CrashOnStart) {
        eprintln!("fake-claude: scripted crash at start-up");
        std::process::exit(1);
    }
    if faults.contains(&Fault::IgnoreSigterm) {
        ignore_signals();
    }
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let stream_input = flag("--input-format").as_deref() == Some("stream-json");
    let session_id = flag("--session-id")
        .or_else(|| flag("--resume").filter(|_| !args.iter().any(|a| a == "--fork-session")))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let delay = faults.contains(&Fault::Slow).then(|| {
        Duration::from_millis(
            std::env::var(DELAY_ENV)
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(200),
        )
    });
    let fake = Arc::new(Fake {
        faults,
        session_id,
        model: Mutex::new(flag("--model").unwrap_or_else(|| "claude-opus-5-5".into())),
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        out: Out {
            stdout: Mutex::new(std::io::stdout()),
            delay,
        },
        interrupted: AtomicBool::new(false),
        turns: Default::default(),
        answers: Mutex::new(Vec::new()),
    });
    fake.init();

    if !stream_input {
        // One-shot: the prompt is the last argument that is not a flag's value.
        let prompt = args.last().cloned().unwrap_or_default();
        fake.turn(&prompt);
        return;
    }
    // Turns run on their own thread so control requests (interrupt) are read while
    // a turn is streaming.
    let (turn_tx, turn_rx) = mpsc::channel::<String>();
    let worker = {
        let fake = fake.clone();
        std::thread::spawn(move || {
            for prompt in turn_rx {
                fake.turn(&prompt);
            }
        })
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            eprintln!("fake-claude: ignoring a line that is not JSON");
            continue;
        };
        match v["type"].as_str() {
            Some("user") => {
                let content = &v["message"]["content"];
                let prompt = content.as_str().map(str::to_owned).unwrap_or_else(|| {
                    content
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|b| b["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
                let _ = turn_tx.send(prompt);
            }
            Some("control_request") if !fake.has(Fault::Deaf) => fake.control(&v),
            Some("control_response") => {
                let id = v["response"]["request_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                if let Ok(mut answers) = fake.answers.lock() {
                    if let Some(i) = answers.iter().position(|(r, _)| *r == id) {
                        let (_, tx) = answers.remove(i);
                        let _ = tx.send(v["response"]["response"].clone());
                    }
                }
            }
            _ => {}
        }
    }
    // Stdin closed: finish the queued turns, then exit as the CLI does.
    drop(turn_tx);
    // A permission request still waiting now fails, as the real CLI's tool does.
    if let Ok(mut answers) = fake.answers.lock() {
        answers.clear();
    }
    let _ = worker.join();
}
