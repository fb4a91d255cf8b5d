//! The scripted model: a stand-in for the Anthropic Messages API, good enough for
//! the real Claude Code CLI (see `docs/claude-code-facts.md`).
//!
//! Endpoints: `POST /v1/messages` (streaming SSE and plain JSON),
//! `POST /v1/messages/count_tokens`, and for people and scripts
//! `GET /_mock/requests` (the request log as JSON). Anything else is logged and
//! answered 404. Every response carries a `request-id` header; every reply carries
//! consistent `usage`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::{json, Value};

use crate::scenario::{directive, Directive, Reply, Scenario, Step, Usage};

/// One request the model received, as tests want to assert on it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The `model` the CLI asked for.
    pub model: Option<String>,
    pub stream: bool,
    /// The prompt as the model sees it (see [`prompt_of`]).
    pub prompt: Option<String>,
    /// How many entries the `messages` array had.
    pub message_count: usize,
    /// Texts of the `tool_result` blocks in the last user message.
    pub tool_results: Vec<String>,
    /// The `request-id` header the model answered with.
    pub request_id: String,
    pub body: Value,
}

impl RecordedRequest {
    /// Whether this was a conversation turn (not a token count, another endpoint,
    /// or a probe).
    pub fn is_message(&self) -> bool {
        self.path.starts_with("/v1/messages")
            && !self.path.contains("count_tokens")
            && !self.is_probe()
    }
    /// A one-token request the CLI sends to check a model (after `set_model`).
    pub fn is_probe(&self) -> bool {
        self.body["max_tokens"].as_u64().is_some_and(|m| m <= 1)
    }
    /// Every text in the request's `messages`, joined: what the model was shown.
    pub fn conversation_text(&self) -> String {
        let mut out = String::new();
        if let Some(msgs) = self.body.get("messages").and_then(Value::as_array) {
            for m in msgs {
                collect_text(&m["content"], &mut out);
            }
        }
        out
    }
    /// The text of every user message that is a real prompt, oldest first.
    pub fn user_prompts(&self) -> Vec<String> {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .map(|msgs| {
                msgs.iter()
                    .filter(|m| m["role"] == "user")
                    .filter_map(|m| prompt_text(&m["content"]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn collect_text(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(blocks) => {
            for b in blocks {
                if let Some(t) = b.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                    out.push('\n');
                }
                if let Some(c) = b.get("content") {
                    collect_text(c, out);
                }
                if let Some(i) = b.get("input") {
                    out.push_str(&i.to_string());
                    out.push('\n');
                }
            }
        }
        _ => {}
    }
}

/// The prompt text of one user message's content, if it has one: a string, or the
/// last text block that is not a system reminder. (After an interrupt the CLI merges
/// the cut-short prompt and the next one into one message; the newest is the prompt.)
fn prompt_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) if !s.trim_start().starts_with("<system-reminder>") => Some(s.clone()),
        Value::Array(blocks) => blocks
            .iter()
            .rev()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .find(|t| !t.trim_start().starts_with("<system-reminder>"))
            .map(str::to_owned),
        _ => None,
    }
}

/// The prompt and the step index of a Messages request: the last `role: "user"`
/// message with prompt text (the array may end with `system` entries), and how many
/// assistant messages have followed it (each means a tool ran).
pub fn prompt_of(body: &Value) -> (Option<String>, usize) {
    let Some(msgs) = body.get("messages").and_then(Value::as_array) else {
        return (None, 0);
    };
    for (i, m) in msgs.iter().enumerate().rev() {
        if m["role"] != "user" {
            continue;
        }
        if let Some(p) = prompt_text(&m["content"]) {
            let step = msgs[i + 1..]
                .iter()
                .filter(|m| m["role"] == "assistant")
                .count();
            return (Some(p), step);
        }
    }
    (None, 0)
}

fn last_tool_results(body: &Value) -> Vec<String> {
    let Some(msgs) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    let Some(last_user) = msgs.iter().rev().find(|m| m["role"] == "user") else {
        return Vec::new();
    };
    let Some(blocks) = last_user["content"].as_array() else {
        return Vec::new();
    };
    blocks
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let mut s = String::new();
            collect_text(&b["content"], &mut s);
            s.trim_end().to_owned()
        })
        .collect()
}

struct Inner {
    scenario: Scenario,
    hits: Vec<AtomicU32>,
    log: Mutex<Vec<RecordedRequest>>,
    counter: AtomicU64,
}

impl Inner {
    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Chooses the step for a prompt: a rule, then a directive, then echo.
    fn choose(&self, prompt: &str, step: usize, model: &str) -> Step {
        for (i, rule) in self.scenario.rules.iter().enumerate() {
            if !rule.matches(prompt, model) || rule.steps.is_empty() {
                continue;
            }
            if step == 0 {
                // A rule's budget is spent when it answers a prompt, not its tool steps.
                let used = self.hits[i].fetch_add(1, Ordering::SeqCst);
                if rule.times.is_some_and(|t| used >= t) {
                    continue;
                }
            } else if rule
                .times
                .is_some_and(|t| self.hits[i].load(Ordering::SeqCst) > t)
            {
                continue;
            }
            return rule
                .steps
                .get(step)
                .cloned()
                .unwrap_or_else(|| Reply::EchoToolResult.into());
        }
        if self.scenario.directives {
            match directive(prompt) {
                Some(Directive::Tool(r)) if step == 0 => return r.into(),
                Some(Directive::Tool(_)) => return Reply::EchoToolResult.into(),
                Some(Directive::Reply(r)) => return r.into(),
                None => {}
            }
        }
        if step > 0 {
            return Reply::EchoToolResult.into();
        }
        Reply::Echo {
            prefix: "echo: ".into(),
        }
        .into()
    }
}

/// A running scripted model. Dropping it stops the server.
pub struct MockModel {
    addr: SocketAddr,
    inner: Arc<Inner>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MockModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockModel")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockModel {
    /// Starts the model on a free loopback port, on a runtime of its own (so both
    /// plain and `#[tokio::test]` tests can use it).
    pub fn start(scenario: Scenario) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        Self::start_on(listener, scenario).expect("starting the scripted model")
    }

    /// Starts the model on a listener the caller bound.
    pub fn start_on(listener: std::net::TcpListener, scenario: Scenario) -> anyhow::Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            hits: scenario.rules.iter().map(|_| AtomicU32::new(0)).collect(),
            scenario,
            log: Mutex::new(Vec::new()),
            counter: AtomicU64::new(1),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(inner.clone());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("mock-model".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("mock model: {e}");
                            return;
                        }
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
                // Streams still sending (a slow reply) must not keep the thread alive.
                rt.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Self {
            addr,
            inner,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Conversation turns only (`POST /v1/messages`), oldest first.
    pub fn message_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_message)
            .collect()
    }

    /// The CLI's one-token model probes, oldest first.
    pub fn probe_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_probe)
            .collect()
    }

    /// Blocks until the server has stopped (for the binary).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The model's router, for callers that run it on their own runtime.
fn router(inner: Arc<Inner>) -> Router {
    Router::new().fallback(handle).with_state(inner)
}

fn hex_id(n: u64, len: usize) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let s = format!("{n:04x}{u}");
    s[..len.min(s.len())].to_owned()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let n = inner.next_id();
    let request_id = format!("req_{}", hex_id(n, 24));
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    if method == Method::GET && path == "/_mock/requests" {
        let log = inner.log.lock().map(|l| l.clone()).unwrap_or_default();
        return axum::Json(log).into_response();
    }

    let (prompt, step) = prompt_of(&json_body);
    let model = json_body["model"].as_str().map(str::to_owned);
    let stream = json_body["stream"].as_bool().unwrap_or(false);
    let record = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        model: model.clone(),
        stream,
        prompt: prompt.clone(),
        message_count: json_body["messages"].as_array().map_or(0, Vec::len),
        tool_results: last_tool_results(&json_body),
        request_id: request_id.clone(),
        body: json_body.clone(),
    };
    if let Ok(mut log) = inner.log.lock() {
        log.push(record);
    }

    let with_id = |mut r: Response| {
        if let Ok(v) = request_id.parse() {
            r.headers_mut().insert("request-id", v);
        }
        r
    };

    match (method.clone(), path.as_str()) {
        (Method::POST, "/v1/messages/count_tokens") => {
            let tokens = (body.len() / 4).max(1);
            with_id(axum::Json(json!({"input_tokens": tokens})).into_response())
        }
        (Method::POST, "/v1/messages") => {
            let model = model.unwrap_or_else(|| "claude-opus-5-5".into());
            let step_reply = inner.choose(prompt.as_deref().unwrap_or(""), step, &model);
            let reply_model = inner.scenario.model.clone().unwrap_or(model);
            let usage = step_reply.usage.unwrap_or(inner.scenario.usage);
            let msg_id = format!("msg_{}", hex_id(n, 20));
            let ctx = ReplyCtx {
                prompt: prompt.unwrap_or_default(),
                tool_results: last_tool_results(&json_body),
                model: reply_model,
                usage,
                msg_id,
                tool_id: format!("toolu_{}", hex_id(n, 20)),
            };
            with_id(respond(step_reply.reply, ctx, stream))
        }
        _ => with_id(
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"type":"error","error":{"type":"not_found_error",
                    "message": format!("the scripted model has no {method} {path}")}})),
            )
                .into_response(),
        ),
    }
}

struct ReplyCtx {
    prompt: String,
    tool_results: Vec<String>,
    model: String,
    usage: Usage,
    msg_id: String,
    tool_id: String,
}

/// A content block being sent, and how its text is cut into deltas.
enum Block {
    Text {
        pieces: Vec<String>,
        delay: Duration,
    },
    Tool {
        id: String,
        name: String,
        input: Value,
    },
}

fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn split_even(text: &str, chunks: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let chunks = chunks.max(1);
    let per = chars.len().div_ceil(chunks).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

fn respond(reply: Reply, ctx: ReplyCtx, stream: bool) -> Response {
    let blocks = match reply {
        Reply::Error { status, message } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"type": "error", "error": {
                "type": error_type(status),
                "message": message.unwrap_or_else(|| "scripted failure".into())}});
            return (code, axum::Json(body)).into_response();
        }
        Reply::Text { text } => vec![Block::Text {
            pieces: vec![text],
            delay: Duration::ZERO,
        }],
        Reply::Echo { prefix } => vec![Block::Text {
            pieces: vec![format!("{prefix}{}", ctx.prompt)],
            delay: Duration::ZERO,
        }],
        Reply::EchoToolResult => {
            let result = ctx.tool_results.join("\n");
            // Kept short, as the fixture's model did: results can be large.
            let cut: String = result.chars().take(120).collect();
            vec![Block::Text {
                pieces: vec![format!("Done: {cut}")],
                delay: Duration::ZERO,
            }]
        }
        Reply::Slow {
            text,
            chunks,
            delay_ms,
        } => vec![Block::Text {
            pieces: split_even(&text, chunks as usize),
            delay: Duration::from_millis(delay_ms),
        }],
        Reply::Long { bytes } => {
            let line = "All work and no play makes a long answer. ";
            let mut text = line.repeat(bytes / line.len() + 1);
            text.truncate(bytes);
            vec![Block::Text {
                pieces: split_even(&text, bytes.div_ceil(8192)),
                delay: Duration::ZERO,
            }]
        }
        Reply::ToolUse { name, input, text } => {
            let mut b = Vec::new();
            if let Some(t) = text {
                b.push(Block::Text {
                    pieces: vec![t],
                    delay: Duration::ZERO,
                });
            }
            b.push(Block::Tool {
                id: ctx.tool_id.clone(),
                name,
                input,
            });
            b
        }
        Reply::ToolUses { calls, text } => {
            let mut b = Vec::new();
            if let Some(t) = text {
                b.push(Block::Text {
                    pieces: vec![t],
                    delay: Duration::ZERO,
                });
            }
            for (i, c) in calls.into_iter().enumerate() {
                b.push(Block::Tool {
                    id: format!("{}{i}", ctx.tool_id),
                    name: c.name,
                    input: c.input,
                });
            }
            b
        }
    };
    let stop_reason = if blocks.iter().any(|b| matches!(b, Block::Tool { .. })) {
        "tool_use"
    } else {
        "end_turn"
    };
    if !stream {
        let content: Vec<Value> = blocks
            .iter()
            .map(|b| match b {
                Block::Text { pieces, .. } => json!({"type":"text","text": pieces.concat()}),
                Block::Tool { id, name, input } => {
                    json!({"type":"tool_use","id":id,"name":name,"input":input})
                }
            })
            .collect();
        return axum::Json(json!({
            "id": ctx.msg_id, "type": "message", "role": "assistant", "model": ctx.model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": ctx.usage.to_json(),
        }))
        .into_response();
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let ev = |name: &str, data: Value| Bytes::from(format!("event: {name}\ndata: {data}\n\n"));
        let mut start_usage = ctx.usage.to_json();
        start_usage["output_tokens"] = json!(1);
        let mut events = vec![
            ev(
                "message_start",
                json!({"type":"message_start","message":{
                "id": ctx.msg_id, "type":"message","role":"assistant","model": ctx.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
            ),
            ev("ping", json!({"type":"ping"})),
        ];
        for (index, block) in blocks.into_iter().enumerate() {
            match block {
                Block::Text { pieces, delay } => {
                    events.push(ev(
                        "content_block_start",
                        json!({"type":"content_block_start",
                        "index": index, "content_block": {"type":"text","text":""}}),
                    ));
                    for (k, piece) in pieces.into_iter().enumerate() {
                        if k > 0 && !delay.is_zero() {
                            // Flush what is queued, then pause: the client sees a slow stream.
                            for e in events.drain(..) {
                                if tx.send(Ok(e)).await.is_err() {
                                    return;
                                }
                            }
                            tokio::time::sleep(delay).await;
                        }
                        events.push(ev(
                            "content_block_delta",
                            json!({"type":"content_block_delta",
                            "index": index, "delta": {"type":"text_delta","text": piece}}),
                        ));
                    }
                }
                Block::Tool { id, name, input } => {
                    events.push(ev("content_block_start", json!({"type":"content_block_start",
                        "index": index, "content_block": {"type":"tool_use","id": id,"name": name,"input":{}}})));
                    events.push(ev("content_block_delta", json!({"type":"content_block_delta",
                        "index": index, "delta": {"type":"input_json_delta","partial_json": input.to_string()}})));
                }
            }
            events.push(ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index": index}),
            ));
        }
        events.push(ev(
            "message_delta",
            json!({"type":"message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": ctx.usage.to_json()}),
        ));
        events.push(ev("message_stop", json!({"type":"message_stop"})));
        for e in events {
            if tx.send(Ok(e)).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_skips_system_entries_reminders_and_tool_results() {
        let body = json!({"messages": [
            {"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},
                                       {"type":"text","text":"hello there"}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Bash","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"out"}]},
            {"role":"system","content":"environment note"}
        ]});
        let (p, step) = prompt_of(&body);
        assert_eq!(p.as_deref(), Some("hello there"));
        assert_eq!(step, 1);
        assert_eq!(last_tool_results(&body), vec!["out".to_owned()]);
    }
}
