//! The CLI's stream-json protocol as Rust types.
//!
//! Every line the CLI prints is one JSON object with a `type`. Each known type has a
//! struct here; fields this crate does not name are kept in `extra`, and a type it does
//! not know becomes [`Message::Unknown`] with the raw JSON, so a newer CLI never
//! breaks parsing. Every parsed line also keeps its raw text ([`Line::raw`]) for
//! pass-through to subscribers.
//!
//! ## `system`
//! `{"type":"system","subtype":"init","session_id":..,"cwd":..,"model":..,"tools":[..],
//! "permissionMode":..,"claude_code_version":..}` opens a session; other subtypes
//! (`task_started`, `compact_boundary`, `api_retry`, `session_state_changed`, ...)
//! report progress. All are [`SystemMessage`].
//!
//! ## `assistant` / `user`
//! One line per content block: `{"type":"assistant","message":{id, model, content:[..],
//! usage}, session_id, uuid, parent_tool_use_id}`. `user` lines carry tool results.
//!
//! ## `result`
//! Closes every turn: subtype `success` or `error_*`, `is_error`, `result` text,
//! `total_cost_usd`, `usage`, `modelUsage`, `num_turns`, durations.
//!
//! ## `stream_event`
//! With `--include-partial-messages`: the raw Messages API stream events.
//!
//! ## `control_request` / `control_response` / `control_cancel_request`
//! Both directions: `{"type":"control_request","request_id":..,"request":{"subtype":..}}`
//! and `{"type":"control_response","response":{"subtype":"success"|"error",
//! "request_id":..,"response":{..}|"error":".."}}`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

type Extra = Map<String, Value>;

/// One content block of a message. Open: unknown block types keep their JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Value,
        is_error: bool,
    },
    Other(Value),
}

impl ContentBlock {
    fn from_value(v: Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match v.get("type").and_then(Value::as_str) {
            Some("text") => match s("text") {
                Some(text) => Self::Text { text },
                None => Self::Other(v),
            },
            Some("thinking") => Self::Thinking {
                thinking: s("thinking").unwrap_or_default(),
            },
            Some("tool_use") => match (s("id"), s("name")) {
                (Some(id), Some(name)) => Self::ToolUse {
                    id,
                    name,
                    input: v.get("input").cloned().unwrap_or(Value::Null),
                },
                _ => Self::Other(v),
            },
            Some("tool_result") => match s("tool_use_id") {
                Some(tool_use_id) => Self::ToolResult {
                    tool_use_id,
                    content: v.get("content").cloned().unwrap_or(Value::Null),
                    is_error: v.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                },
                None => Self::Other(v),
            },
            _ => Self::Other(v),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Text { text } => serde_json::json!({"type": "text", "text": text}),
            Self::Thinking { thinking } => {
                serde_json::json!({"type": "thinking", "thinking": thinking})
            }
            Self::ToolUse { id, name, input } => {
                serde_json::json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
            Self::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => serde_json::json!({"type": "tool_result", "tool_use_id": tool_use_id,
                                    "content": content, "is_error": is_error}),
            Self::Other(v) => v.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Self::from_value)
    }
}

impl Serialize for ContentBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// A message's content: a plain string or blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl Default for Content {
    fn default() -> Self {
        Self::Blocks(Vec::new())
    }
}

/// Token counts as the API reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
    }
}

/// The API message inside an `assistant` or `user` line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default)]
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApiMessage {
    pub fn blocks(&self) -> &[ContentBlock] {
        match &self.content {
            Content::Blocks(b) => b,
            Content::Text(_) => &[],
        }
    }
    /// The text of the message: a string content, or its text blocks joined.
    pub fn text(&self) -> String {
        match &self.content {
            Content::Text(t) => t.clone(),
            Content::Blocks(b) => b
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
        }
    }
}

/// `system` lines: `init` and the many progress subtypes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessage {
    pub subtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl SystemMessage {
    pub fn is_init(&self) -> bool {
        self.subtype == "init"
    }
    pub fn model(&self) -> Option<&str> {
        self.extra.get("model").and_then(Value::as_str)
    }
    pub fn cwd(&self) -> Option<&str> {
        self.extra.get("cwd").and_then(Value::as_str)
    }
    pub fn permission_mode(&self) -> Option<&str> {
        self.extra.get("permissionMode").and_then(Value::as_str)
    }
    pub fn tools(&self) -> Vec<&str> {
        self.extra
            .get("tools")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
}

/// `assistant` and `user` lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub message: ApiMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_tool_use_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `result` line that closes a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultMessage {
    pub subtype: String,
    #[serde(default)]
    pub is_error: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(
        default,
        rename = "modelUsage",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_usage: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_api_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_denials: Vec<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResultMessage {
    /// The models the turn used (keys of `modelUsage`).
    pub fn models(&self) -> Vec<String> {
        self.model_usage
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// A control request, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRequest {
    pub request_id: String,
    pub request: ControlRequestBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRequestBody {
    pub subtype: String,
    #[serde(flatten)]
    pub fields: Extra,
}

/// The answer to a control request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResponse {
    pub response: ControlResponseBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResponseBody {
    /// `success` or `error`.
    pub subtype: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Things ccsm itself reports inside a turn's stream (not printed by the CLI).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum HostEvent {
    /// The CLI asked to use a tool and no `can_use_tool` callback was set: denied.
    ToolDeniedByDefault { tool_name: String, input: Value },
    /// A `can_use_tool` or hook callback was cancelled by the CLI.
    RequestCancelled { request_id: String },
}

/// One line of the protocol, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    System(SystemMessage),
    Assistant(ChatMessage),
    User(ChatMessage),
    Result(ResultMessage),
    StreamEvent(Value),
    ControlRequest(ControlRequest),
    ControlResponse(ControlResponse),
    ControlCancelRequest {
        request_id: String,
    },
    /// Reported by ccsm, not the CLI.
    Host(HostEvent),
    /// A type this crate does not know, or a known type whose shape it could not
    /// read: kept as it came.
    Unknown(Value),
}

impl Message {
    /// Reads one JSON value. Never fails: what is not understood is `Unknown`.
    pub fn from_value(v: Value) -> Self {
        fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
            T::deserialize(v).ok()
        }
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        let parsed =
            match kind {
                "system" => typed(&v).map(Self::System),
                "assistant" => typed(&v).map(Self::Assistant),
                "user" => typed(&v).map(Self::User),
                "result" => typed(&v).map(Self::Result),
                "stream_event" => Some(Self::StreamEvent(v.clone())),
                "control_request" => typed(&v).map(Self::ControlRequest),
                "control_response" => typed(&v).map(Self::ControlResponse),
                "control_cancel_request" => v.get("request_id").and_then(Value::as_str).map(|id| {
                    Self::ControlCancelRequest {
                        request_id: id.to_owned(),
                    }
                }),
                _ => None,
            };
        parsed.unwrap_or(Self::Unknown(v))
    }

    /// The `type` of the line (`host` for ccsm's own events).
    pub fn kind(&self) -> &str {
        match self {
            Self::System(_) => "system",
            Self::Assistant(_) => "assistant",
            Self::User(_) => "user",
            Self::Result(_) => "result",
            Self::StreamEvent(_) => "stream_event",
            Self::ControlRequest(_) => "control_request",
            Self::ControlResponse(_) => "control_response",
            Self::ControlCancelRequest { .. } => "control_cancel_request",
            Self::Host(_) => "host",
            Self::Unknown(v) => v.get("type").and_then(Value::as_str).unwrap_or("unknown"),
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::System(m) => m.session_id.as_deref(),
            Self::Assistant(m) | Self::User(m) => m.session_id.as_deref(),
            Self::Result(m) => m.session_id.as_deref(),
            _ => None,
        }
    }
}

/// A protocol line: the typed message and the raw text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub message: Message,
    /// The line exactly as the CLI printed it (empty for host events).
    pub raw: Arc<str>,
}

impl Line {
    /// Parses one stdout line; `Err` with the reason when it is not a JSON object.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON ({e})"))?;
        if !v.is_object() {
            return Err("not a JSON object".into());
        }
        Ok(Self {
            message: Message::from_value(v),
            raw: Arc::from(raw),
        })
    }

    pub(crate) fn host(e: HostEvent) -> Self {
        let raw = serde_json::to_string(&serde_json::json!({"type": "host", "event": e}))
            .unwrap_or_default();
        Self {
            message: Message::Host(e),
            raw: Arc::from(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_and_fields_pass_through_unchanged() {
        let raw = r#"{"type":"future_kind","payload":{"a":[1,2]}}"#;
        let line = Line::parse(raw).unwrap();
        assert_eq!(&*line.raw, raw);
        let Message::Unknown(v) = &line.message else {
            panic!()
        };
        assert_eq!(v["payload"]["a"][1], 2);

        let raw = r#"{"type":"assistant","message":{"id":"m","content":[{"type":"text","text":"hi"},{"type":"new_block","x":1}],"usage":{"input_tokens":3,"brand_new":7}},"session_id":"s","future_field":{"kept":true}}"#;
        let line = Line::parse(raw).unwrap();
        let Message::Assistant(a) = &line.message else {
            panic!()
        };
        assert_eq!(a.extra["future_field"]["kept"], true);
        assert_eq!(a.message.text(), "hi");
        assert_eq!(a.message.usage.as_ref().unwrap().extra["brand_new"], 7);
        // Serialising the typed message keeps every field it came with.
        let back: Value = serde_json::to_value(a).unwrap();
        let orig: Value = serde_json::from_str(raw).unwrap();
        for k in ["session_id", "future_field"] {
            assert_eq!(back[k], orig[k], "{k}");
        }
        assert_eq!(back["message"]["content"], orig["message"]["content"]);
        assert_eq!(back["message"]["usage"]["brand_new"], 7);
    }

    #[test]
    fn not_json_is_an_error_with_a_reason() {
        assert!(Line::parse("this is not json {")
            .unwrap_err()
            .contains("not JSON"));
        assert!(Line::parse("[1]").unwrap_err().contains("object"));
    }

    #[test]
    fn results_and_control_frames_are_typed() {
        let r = Line::parse(r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0.5,"num_turns":2,"modelUsage":{"m1":{}}}"#).unwrap();
        let Message::Result(r) = r.message else {
            panic!()
        };
        assert_eq!(r.models(), vec!["m1"]);
        assert_eq!(r.total_cost_usd, Some(0.5));
        let c = Line::parse(r#"{"type":"control_request","request_id":"x","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{}}}"#).unwrap();
        let Message::ControlRequest(c) = c.message else {
            panic!()
        };
        assert_eq!(c.request.subtype, "can_use_tool");
        assert_eq!(c.request.fields["tool_name"], "Bash");
    }
}
