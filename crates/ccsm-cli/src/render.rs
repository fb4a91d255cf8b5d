//! How a turn looks in the terminal: reply text as it streams, tool calls in one
//! line each, and a closing line of session, turns, tokens and cost.

use std::io::Write;

use ccsm_claude::protocol::{ContentBlock, Message};
use ccsm_claude::{HostEvent, Line};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

pub struct Renderer {
    json: bool,
    spinner: Option<ProgressBar>,
    /// Whether text was streamed for the current message (partial messages on).
    streamed_text: bool,
    at_line_start: bool,
}

fn compact(input: &Value) -> String {
    if let Value::String(s) = input {
        return first_line(s);
    }
    let s = [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "prompt",
        "description",
    ]
    .iter()
    .find_map(|k| input.get(*k).and_then(Value::as_str))
    .map(str::to_owned)
    .unwrap_or_else(|| input.to_string());
    first_line(&s)
}

fn first_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("");
    if first.chars().count() > 80 {
        format!("{}…", first.chars().take(80).collect::<String>())
    } else {
        first.to_owned()
    }
}

impl Renderer {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            spinner: None,
            streamed_text: false,
            at_line_start: true,
        }
    }

    /// A spinner on stderr until the first output (hidden when stderr is no terminal).
    pub fn start_spinner(&mut self, what: &str) {
        if self.json {
            return;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(what.to_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        self.spinner = Some(pb);
    }

    fn stop_spinner(&mut self) {
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
    }

    fn out(&mut self, s: &str) {
        self.stop_spinner();
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
        if let Some(c) = s.chars().last() {
            self.at_line_start = c == '\n';
        }
    }

    fn newline(&mut self) {
        if !self.at_line_start {
            self.out("\n");
        }
    }

    pub fn line(&mut self, line: &Line) {
        if self.json {
            if !matches!(line.message, Message::Host(_)) {
                self.out(&format!("{}\n", line.raw));
            }
            return;
        }
        match &line.message {
            Message::StreamEvent(v) => {
                if let Some(t) = v["event"]["delta"]["text"].as_str() {
                    self.streamed_text = true;
                    self.out(t);
                }
            }
            Message::Assistant(a) => {
                for b in a.message.blocks() {
                    match b {
                        ContentBlock::Text { text } if !self.streamed_text => {
                            self.out(text);
                        }
                        ContentBlock::ToolUse { name, input, .. } => {
                            self.newline();
                            self.out(&format!("⏺ {name}({})\n", compact(input)));
                        }
                        _ => {}
                    }
                }
                self.streamed_text = false;
            }
            Message::User(u) => {
                for b in u.message.blocks() {
                    if let ContentBlock::ToolResult {
                        content, is_error, ..
                    } = b
                    {
                        let text = match content {
                            Value::String(s) => s.clone(),
                            other => other
                                .as_array()
                                .and_then(|a| a.first())
                                .and_then(|b| b["text"].as_str())
                                .unwrap_or("")
                                .to_owned(),
                        };
                        let mark = if *is_error { "✗" } else { "⎿" };
                        self.newline();
                        self.out(&format!("  {mark} {}\n", compact(&Value::String(text))));
                    }
                }
            }
            Message::Host(HostEvent::ToolDeniedByDefault { tool_name, .. }) => {
                self.newline();
                self.out(&format!("  ✗ {tool_name} denied (no permission handler)\n"));
            }
            _ => {}
        }
    }

    /// Ends the turn: newline after the text, the summary on stderr.
    pub fn finish(&mut self, summary: Option<&str>) {
        self.stop_spinner();
        if self.json {
            return;
        }
        self.newline();
        if let Some(s) = summary {
            eprintln!("{s}");
        }
    }
}
