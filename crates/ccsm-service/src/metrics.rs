//! What a session did, read from its transcript (and its subagents'): how long
//! it ran, its turns, the commands it executed, the files it created, modified
//! and deleted, its tool and API errors, and how long its answers took.
//!
//! - turns: prompts a person (or a program) sent, not tool results;
//! - commands: `Bash` calls; files created: `Write` whose result says `create`;
//!   modified: `Write` over a file, `Edit`, `MultiEdit`, `NotebookEdit`; deleted:
//!   the paths of `rm` in `Bash` commands (distinct paths each);
//! - tool errors: tool results marked `is_error`; API errors: the CLI's
//!   `api_error` lines (each retry counts); error rate: tool errors per tool call;
//! - response times: from a prompt to the turn's last message.

use std::collections::{HashMap, HashSet};
use std::io::BufRead as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::{Result, Service};

/// The figures of one session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMetrics {
    pub session_id: String,
    /// First to last line (ms).
    pub duration_ms: i64,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub turns: u64,
    pub messages: u64,
    pub tool_calls: u64,
    /// Calls per tool.
    pub tools: std::collections::BTreeMap<String, u64>,
    pub commands_executed: u64,
    pub files_created: u64,
    pub files_modified: u64,
    pub files_deleted: u64,
    pub tool_errors: u64,
    pub api_errors: u64,
    /// Tool errors per tool call (0 without calls).
    pub error_rate: f64,
    /// Each turn's time to its last message (ms), oldest first.
    pub response_ms: Vec<i64>,
    pub response_p50_ms: Option<i64>,
    pub response_p95_ms: Option<i64>,
    /// Subagent runs (their transcripts).
    pub subagent_runs: u64,
    /// What each agent type did (from its runs' transcripts).
    pub agents: std::collections::BTreeMap<String, AgentActivity>,
}

/// One agent type's activity in a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentActivity {
    pub runs: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    pub tool_calls: u64,
    pub tool_errors: u64,
    pub api_errors: u64,
}

fn ts(v: &Value) -> Option<i64> {
    v.get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
}

/// The paths `rm` is given in a shell command (flags and globs aside).
fn removed_paths(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in cmd.split(['&', ';', '|', '\n']) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| *w == "rm" || w.ends_with("/rm")) else {
            continue;
        };
        out.extend(
            words[i + 1..]
                .iter()
                .filter(|w| !w.starts_with('-'))
                .map(|w| w.trim_matches(['"', '\'']).to_owned()),
        );
    }
    out
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

#[derive(Default)]
struct Scan {
    m: SessionMetrics,
    created: HashSet<String>,
    modified: HashSet<String>,
    deleted: HashSet<String>,
    /// tool_use id → (name, file path).
    uses: HashMap<String, (String, Option<String>)>,
    first: Option<i64>,
    last: Option<i64>,
    turn_start: Option<i64>,
    turn_last: Option<i64>,
}

impl Scan {
    fn end_turn(&mut self) {
        if let (Some(a), Some(b)) = (self.turn_start.take(), self.turn_last.take()) {
            self.m.response_ms.push((b - a).max(0));
        }
    }

    fn line(&mut self, v: &Value, main: bool) {
        let t = ts(v);
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if kind == "system" && v.get("subtype").and_then(Value::as_str) == Some("api_error") {
            self.m.api_errors += 1;
            return;
        }
        if v.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true) {
            self.m.api_errors += 1;
        }
        if kind != "user" && kind != "assistant" {
            return;
        }
        self.m.messages += 1;
        let content = &v["message"]["content"];
        if kind == "user" {
            let blocks = content.as_array();
            let results: Vec<&Value> = blocks
                .into_iter()
                .flatten()
                .filter(|b| b["type"] == "tool_result")
                .collect();
            for r in &results {
                if r["is_error"].as_bool() == Some(true) {
                    self.m.tool_errors += 1;
                }
                let id = r["tool_use_id"].as_str().unwrap_or("");
                if let Some((name, path)) = self.uses.get(id) {
                    if let Some(p) = path.clone() {
                        let ok = r["is_error"].as_bool() != Some(true);
                        let create = v["toolUseResult"]["type"] == "create";
                        if ok && name == "Write" && create && !self.modified.contains(&p) {
                            self.created.insert(p);
                        } else if ok {
                            self.modified.insert(p);
                        }
                    }
                }
            }
            let meta = v.get("isMeta").and_then(Value::as_bool) == Some(true);
            let prompt = results.is_empty()
                && !meta
                && main
                && (content.is_string()
                    || blocks.is_some_and(|b| b.iter().any(|x| x["type"] == "text")));
            if prompt {
                self.end_turn();
                self.m.turns += 1;
                self.turn_start = t;
                self.turn_last = t;
            } else if main {
                self.turn_last = t.or(self.turn_last);
            }
            return;
        }
        if main {
            self.turn_last = t.or(self.turn_last);
        }
        for b in content.as_array().into_iter().flatten() {
            if b["type"] != "tool_use" {
                continue;
            }
            let name = b["name"].as_str().unwrap_or("").to_owned();
            self.m.tool_calls += 1;
            *self.m.tools.entry(name.clone()).or_default() += 1;
            let input = &b["input"];
            let path = input["file_path"]
                .as_str()
                .or_else(|| input["notebook_path"].as_str())
                .map(str::to_owned);
            if name == "Bash" {
                self.m.commands_executed += 1;
                for p in removed_paths(input["command"].as_str().unwrap_or("")) {
                    self.deleted.insert(p);
                }
            }
            let tracked = matches!(
                name.as_str(),
                "Write" | "Edit" | "MultiEdit" | "NotebookEdit"
            );
            if let Some(id) = b["id"].as_str() {
                self.uses
                    .insert(id.to_owned(), (name.clone(), path.filter(|_| tracked)));
            }
        }
    }

    fn file(&mut self, path: &Path, main: bool) {
        let Ok(f) = std::fs::File::open(path) else {
            return;
        };
        for line in std::io::BufReader::new(f)
            .split(b'\n')
            .map_while(std::result::Result::ok)
        {
            if line.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                self.line(&v, main);
            }
        }
    }
}

impl Service {
    /// What the session `id` did, from its transcript and its subagents'.
    pub fn session_metrics(&self, id: &str) -> Result<SessionMetrics> {
        let id = self.resolve_id(id, crate::Source::Files)?;
        let f = self.dir.find(&id)?;
        let mut s = Scan::default();
        s.file(&f.path, true);
        s.end_turn();
        let side = f.path.with_extension("").join("subagents");
        if let Ok(rd) = std::fs::read_dir(&side) {
            let mut files: Vec<_> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .collect();
            files.sort();
            let pricing = self
                .pricing()
                .unwrap_or_else(|_| crate::PricingTable::builtin());
            for p in files {
                s.m.subagent_runs += 1;
                let before = (s.m.tool_calls, s.m.tool_errors, s.m.api_errors);
                s.file(&p, false);
                // Its type from the CLI's `<agent>.meta.json`.
                let kind = std::fs::read(p.with_extension("meta.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["agentType"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into());
                let mut tally = ccsm_transcripts::tally::Tally::new(&p);
                let _ = tally.advance(&pricing);
                let a = s.m.agents.entry(kind).or_default();
                a.runs += 1;
                a.tokens += tally.tokens().total();
                a.cost_usd += tally.cost_usd();
                a.tool_calls += s.m.tool_calls - before.0;
                a.tool_errors += s.m.tool_errors - before.1;
                a.api_errors += s.m.api_errors - before.2;
            }
        }
        let mut m = s.m;
        m.session_id = id;
        m.files_created = s.created.len() as u64;
        m.files_modified = s.modified.len() as u64;
        m.files_deleted = s.deleted.len() as u64;
        m.error_rate = if m.tool_calls == 0 {
            0.0
        } else {
            m.tool_errors as f64 / m.tool_calls as f64
        };
        let mut sorted = m.response_ms.clone();
        sorted.sort_unstable();
        m.response_p50_ms = percentile(&sorted, 0.5);
        m.response_p95_ms = percentile(&sorted, 0.95);
        if let (Some(a), Some(b)) = (s.first, s.last) {
            m.duration_ms = b - a;
            let iso = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
            m.first_at = iso(a);
            m.last_at = iso(b);
        }
        Ok(m)
    }
}
