//! Scenarios: what the scripted model answers.
//!
//! A scenario is built in code or read from a JSON file. The wire format:
//!
//! ```json
//! {
//!   "model": "claude-opus-5-5",
//!   "usage": {"input_tokens": 100, "output_tokens": 20,
//!             "cache_read_input_tokens": 50, "cache_creation_5m": 10, "cache_creation_1h": 0},
//!   "directives": true,
//!   "rules": [
//!     {"prompt_contains": "deploy", "times": 1,
//!      "steps": [{"kind": "tool_use", "name": "Bash", "input": {"command": "echo hi"}},
//!                {"kind": "text", "text": "deployed"}]}
//!   ]
//! }
//! ```
//!
//! Every field is optional and the format may grow. A request is answered by the
//! first rule whose conditions match its prompt (the text of the last `role: "user"`
//! message that is not a tool result nor a `<system-reminder>`). `steps[0]` answers
//! the prompt itself; `steps[n]` answers after the n-th tool result of that turn.
//! A rule with `times` answers that many prompts, then stands aside (so "fail twice
//! with 529, then succeed" is two rules). When no rule matches, prompt directives
//! (see [`Directive`]) apply, and then the prompt is echoed as `echo: <prompt>`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token counts the model reports for each reply (consistent: the cache-creation
/// total is the sum of its 5 minute and 1 hour parts, as the real API sends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_5m: u64,
    pub cache_creation_1h: u64,
}

impl Default for Usage {
    fn default() -> Self {
        // The numbers the fixture in crates/ccsm-testkit/fixtures was recorded with.
        Self {
            input_tokens: 100,
            output_tokens: 20,
            cache_read_input_tokens: 50,
            cache_creation_5m: 10,
            cache_creation_1h: 0,
        }
    }
}

impl Usage {
    /// The `usage` object as the Messages API sends it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_5m + self.cache_creation_1h,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m,
                "ephemeral_1h_input_tokens": self.cache_creation_1h,
            },
            "service_tier": "standard",
        })
    }
}

/// One reply of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A plain text answer.
    Text { text: String },
    /// `<prefix><prompt>`; the default prefix is `echo: `.
    Echo {
        #[serde(default = "default_echo_prefix")]
        prefix: String,
    },
    /// A tool call; the CLI runs the tool and calls again with its result.
    ToolUse {
        name: String,
        input: Value,
        /// Text said before the tool call, in its own block.
        #[serde(default)]
        text: Option<String>,
    },
    /// Several tool calls in one message (the CLI runs them, writes each call as its
    /// own transcript line and hangs each result off its own call).
    ToolUses {
        calls: Vec<ToolCall>,
        /// Text said before the calls, in its own block.
        #[serde(default)]
        text: Option<String>,
    },
    /// `Done: <tool result text>`: what the fixture's model said after a tool ran.
    EchoToolResult,
    /// `text` streamed in `chunks` pieces with `delay_ms` between them (for interrupts).
    Slow {
        text: String,
        #[serde(default = "default_chunks")]
        chunks: u32,
        delay_ms: u64,
    },
    /// A text answer of `bytes` bytes, streamed in 8 KiB deltas.
    Long { bytes: usize },
    /// An HTTP error as the API sends it (429 rate limit, 500, 529 overloaded...).
    Error {
        status: u16,
        #[serde(default)]
        message: Option<String>,
    },
}

/// One call of [`Reply::ToolUses`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub input: Value,
}

fn default_echo_prefix() -> String {
    "echo: ".to_owned()
}

fn default_chunks() -> u32 {
    20
}

impl Reply {
    pub fn text(t: impl Into<String>) -> Self {
        Self::Text { text: t.into() }
    }
    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse {
            name: name.into(),
            input,
            text: None,
        }
    }
}

/// One step of a rule: a reply, with usage numbers of its own if set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    #[serde(flatten)]
    pub reply: Reply,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl From<Reply> for Step {
    fn from(reply: Reply) -> Self {
        Self { reply, usage: None }
    }
}

/// A rule: which prompts it answers, and how.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    pub prompt_contains: Option<String>,
    pub prompt_equals: Option<String>,
    /// Matches the model the CLI asked for (`--model`, `set_model`).
    pub model: Option<String>,
    /// Answer at most this many prompts.
    pub times: Option<u32>,
    pub steps: Vec<Step>,
}

impl Rule {
    /// A rule for prompts containing `needle`.
    pub fn when_contains(needle: impl Into<String>) -> Self {
        Self {
            prompt_contains: Some(needle.into()),
            ..Self::default()
        }
    }
    /// A rule for every prompt.
    pub fn always() -> Self {
        Self::default()
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    pub fn then(mut self, reply: Reply) -> Self {
        self.steps.push(reply.into());
        self
    }
    pub fn then_with_usage(mut self, reply: Reply, usage: Usage) -> Self {
        self.steps.push(Step {
            reply,
            usage: Some(usage),
        });
        self
    }

    pub(crate) fn matches(&self, prompt: &str, model: &str) -> bool {
        self.prompt_contains
            .as_deref()
            .is_none_or(|n| prompt.contains(n))
            && self.prompt_equals.as_deref().is_none_or(|e| prompt == e)
            && self.model.as_deref().is_none_or(|m| model == m)
    }
}

/// What the scripted model answers; see the module docs for the file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    /// The model name put in replies; by default the one the CLI asked for.
    pub model: Option<String>,
    pub usage: Usage,
    /// Whether prompt directives (`WRITE`, `BASH`, `SLOW`...) apply.
    pub directives: bool,
    pub rules: Vec<Rule>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            model: None,
            usage: Usage::default(),
            directives: true,
            rules: Vec::new(),
        }
    }
}

impl Scenario {
    /// Echo every prompt; directives on.
    pub fn echo() -> Self {
        Self::default()
    }
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
    pub fn usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }
    pub fn without_directives(mut self) -> Self {
        self.directives = false;
        self
    }
    /// Reads a scenario file (JSON).
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing scenario {}", path.display()))
    }
}

/// Prompt directives: a word in capitals anywhere in the prompt, followed by its
/// arguments, as the fixture in `crates/ccsm-testkit/fixtures` was recorded with.
///
/// | prompt | reply |
/// |---|---|
/// | `WRITE <path> <content...>` | `Write` tool call, then `Done: <result>` |
/// | `EDIT <path> <old> => <new>` | `Edit` tool call, then `Done: <result>` |
/// | `BASH <command...>` | `Bash` tool call, then `Done: <result>` |
/// | `READ <path>` | `Read` tool call, then `Done: <result>` |
/// | `AGENT <prompt...>` | `Task` tool call (a subagent), then `Done: <result>` |
/// | `SLOW <n>` | n chunks of text, 250 ms apart |
/// | `LONG <bytes>` | a text answer of that many bytes |
/// | `FAIL <status>` | that HTTP error, every time |
#[derive(Debug, Clone, PartialEq)]
pub enum Directive {
    Tool(Reply),
    Reply(Reply),
}

pub(crate) fn directive(prompt: &str) -> Option<Directive> {
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let (i, word) = words.iter().enumerate().find(|(_, w)| {
        matches!(
            **w,
            "WRITE" | "EDIT" | "BASH" | "READ" | "AGENT" | "SLOW" | "LONG" | "FAIL"
        )
    })?;
    let args = &words[i + 1..];
    let rest = args.join(" ");
    let first = args.first().copied().unwrap_or("");
    let after_first = args.get(1..).map(|a| a.join(" ")).unwrap_or_default();
    Some(match *word {
        "WRITE" => Directive::Tool(Reply::tool(
            "Write",
            serde_json::json!({"file_path": first, "content": format!("{after_first}\n")}),
        )),
        "EDIT" => {
            let (old, new) = after_first.split_once(" => ").unwrap_or((&after_first, ""));
            Directive::Tool(Reply::tool(
                "Edit",
                serde_json::json!({"file_path": first, "old_string": old, "new_string": new}),
            ))
        }
        "BASH" => Directive::Tool(Reply::tool(
            "Bash",
            serde_json::json!({"command": rest, "description": "scripted"}),
        )),
        "READ" => Directive::Tool(Reply::tool("Read", serde_json::json!({"file_path": first}))),
        "AGENT" => Directive::Tool(Reply::tool(
            "Task",
            serde_json::json!({"description": "scripted subagent", "prompt": rest,
                               "subagent_type": "general-purpose"}),
        )),
        "SLOW" => {
            let n = first.parse().unwrap_or(20);
            Directive::Reply(Reply::Slow {
                text: "slow ".repeat(n as usize),
                chunks: n,
                delay_ms: 250,
            })
        }
        "LONG" => Directive::Reply(Reply::Long {
            bytes: first.parse().unwrap_or(100_000),
        }),
        "FAIL" => Directive::Reply(Reply::Error {
            status: first.parse().unwrap_or(500),
            message: None,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_file_format_parses() {
        let s: Scenario = serde_json::from_str(
            r#"{"rules":[{"prompt_contains":"x","times":2,
                "steps":[{"kind":"error","status":529},{"kind":"text","text":"ok","usage":{"output_tokens":7}}]}]}"#,
        )
        .unwrap();
        assert_eq!(s.rules[0].times, Some(2));
        assert_eq!(
            s.rules[0].steps[0].reply,
            Reply::Error {
                status: 529,
                message: None
            }
        );
        assert_eq!(s.rules[0].steps[1].usage.unwrap().output_tokens, 7);
        assert!(s.directives);
    }

    #[test]
    fn directives_are_found_anywhere_in_the_prompt() {
        let d = directive("please WRITE /tmp/a.txt remember the milk").unwrap();
        let Directive::Tool(Reply::ToolUse { name, input, .. }) = d else {
            panic!("{d:?}")
        };
        assert_eq!(name, "Write");
        assert_eq!(input["file_path"], "/tmp/a.txt");
        assert_eq!(input["content"], "remember the milk\n");
        assert!(directive("My name is Alice").is_none());
    }
}
