//! Host callbacks: answering the CLI's `can_use_tool` and `hook_callback` requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

/// The CLI asks whether a tool may run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolPermissionRequest {
    pub tool_name: String,
    pub input: Value,
    pub tool_use_id: Option<String>,
    pub permission_suggestions: Value,
    /// Every field of the request, for what this struct does not name.
    pub fields: Map<String, Value>,
}

impl ToolPermissionRequest {
    pub(crate) fn from_fields(fields: Map<String, Value>) -> Self {
        Self {
            tool_name: fields
                .get("tool_name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            input: fields.get("input").cloned().unwrap_or(Value::Null),
            tool_use_id: fields
                .get("tool_use_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            permission_suggestions: fields
                .get("permission_suggestions")
                .cloned()
                .unwrap_or(Value::Null),
            fields,
        }
    }
}

/// The host's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionDecision {
    /// Run the tool, with changed input if given.
    Allow { updated_input: Option<Value> },
    /// Do not run it; the model is told `message`. `interrupt` also ends the turn.
    Deny { message: String, interrupt: bool },
}

impl PermissionDecision {
    pub fn allow() -> Self {
        Self::Allow {
            updated_input: None,
        }
    }
    pub fn allow_with(input: Value) -> Self {
        Self::Allow {
            updated_input: Some(input),
        }
    }
    pub fn deny(message: impl Into<String>) -> Self {
        Self::Deny {
            message: message.into(),
            interrupt: false,
        }
    }

    /// The `response` payload of the control response.
    pub(crate) fn to_response(&self, original_input: &Value) -> Value {
        match self {
            Self::Allow { updated_input } => json!({
                "behavior": "allow",
                "updatedInput": updated_input.as_ref().unwrap_or(original_input),
            }),
            Self::Deny { message, interrupt } => json!({
                "behavior": "deny", "message": message, "interrupt": interrupt,
            }),
        }
    }
}

/// Answers `can_use_tool`. Any `Fn(ToolPermissionRequest) -> impl Future<Output =
/// PermissionDecision>` is one.
pub trait CanUseTool: Send + Sync {
    fn decide(&self, request: ToolPermissionRequest) -> BoxFuture<'static, PermissionDecision>;
}

impl<F, Fut> CanUseTool for F
where
    F: Fn(ToolPermissionRequest) -> Fut + Send + Sync,
    Fut: Future<Output = PermissionDecision> + Send + 'static,
{
    fn decide(&self, request: ToolPermissionRequest) -> BoxFuture<'static, PermissionDecision> {
        Box::pin(self(request))
    }
}

/// What a hook callback receives.
#[derive(Debug, Clone, PartialEq)]
pub struct HookInput {
    pub input: Value,
    pub tool_use_id: Option<String>,
}

/// Answers `hook_callback` with the hook's JSON output (`{}` to do nothing; see
/// Claude Code's hook output: `decision`, `reason`, `hookSpecificOutput`, ...).
pub trait HookCallback: Send + Sync {
    fn call(&self, input: HookInput) -> BoxFuture<'static, Value>;
}

impl<F, Fut> HookCallback for F
where
    F: Fn(HookInput) -> Fut + Send + Sync,
    Fut: Future<Output = Value> + Send + 'static,
{
    fn call(&self, input: HookInput) -> BoxFuture<'static, Value> {
        Box::pin(self(input))
    }
}

/// A hook registration: for which tools (a matcher such as `Bash` or `Write|Edit`),
/// and the callback.
#[derive(Clone)]
pub struct HookMatcher {
    pub matcher: Option<String>,
    pub callback: Arc<dyn HookCallback>,
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for HookMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookMatcher")
            .field("matcher", &self.matcher)
            .finish_non_exhaustive()
    }
}

impl HookMatcher {
    pub fn new(matcher: Option<&str>, callback: impl HookCallback + 'static) -> Self {
        Self {
            matcher: matcher.map(str::to_owned),
            callback: Arc::new(callback),
            timeout: None,
        }
    }
}
