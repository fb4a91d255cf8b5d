//! What a live session publishes: numbered events a watcher reads from the last
//! number it saw, then follows.

use serde::{Deserialize, Serialize};

use crate::live::LiveStatus;
use crate::run::RunStatus;

/// One event of a live session, with its place in the session's stream.
///
/// ```json
/// {"seq": 42, "at": 1795000000000, "session": "8b005bc5-…", "event": {"kind": "status", "status": {"state": "idle"}}}
/// ```
///
/// `seq` grows by one per event of a session and never repeats; `session` is the
/// CLI's session id once it is known (`null` before the handshake).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub seq: u64,
    /// When it happened (ms since the epoch).
    pub at: i64,
    pub session: Option<String>,
    pub event: Event,
}

/// What happened. Tagged by `kind`; open: a reader meeting a kind it does not
/// know gets [`Event::Unknown`] and goes on (new kinds will be added).
///
/// ```json
/// {"kind": "status", "status": {"state": "inTurn", "since": 1795000000000}}
/// {"kind": "line", "line": {"type": "assistant", "message": {…}}}
/// {"kind": "stderr", "text": "warning: …"}
/// {"kind": "permissionRequest", "requestId": "req-1", "toolName": "Bash", "input": {"command": "ls"}}
/// {"kind": "permissionDecided", "requestId": "req-1", "allow": true}
/// {"kind": "state", "status": {"state": "cancelled"}}
/// {"kind": "error", "message": "the CLI exited with code 1: …"}
/// {"kind": "complete", "result": {"type": "result", "subtype": "success", …}}
/// {"kind": "alert", "limit": "memory", "message": "…", "action": "interrupt"}
/// {"kind": "lagged", "missed": 120}
/// ```
///
/// Over the daemon's WebSocket and SSE each kind travels under the name of
/// [`Event::wire_name`] (`claude-output`, `claude-status`, `claude-error`,
/// `claude-complete`, `approval`, `alert`, `lagged`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// The session's state changed.
    Status { status: RunStatus },
    /// A line of the CLI's stream-json output, as the CLI wrote it.
    Line { line: serde_json::Value },
    /// Text the CLI wrote to stderr.
    Stderr { text: String },
    /// The CLI asks whether a tool may run; the session waits for an answer.
    #[serde(rename_all = "camelCase")]
    PermissionRequest {
        request_id: String,
        tool_name: String,
        input: serde_json::Value,
    },
    /// A permission request was answered.
    #[serde(rename_all = "camelCase")]
    PermissionDecided { request_id: String, allow: bool },
    /// The session's state as the process table shows it (with `cancelled` and
    /// `interrupted`, which only its owner knows).
    State { status: LiveStatus },
    /// Something went wrong: a turn failed, the CLI crashed, a request was refused.
    Error { message: String },
    /// A turn ended: the CLI's `result` line (cost, tokens, duration, text).
    Complete { result: serde_json::Value },
    /// A limit was crossed (memory, runtime, cost, restarts), and what was done.
    Alert {
        limit: String,
        message: String,
        action: String,
    },
    /// This watcher read too slowly and missed this many events: refetch the state.
    Lagged { missed: u64 },
    /// A kind this build does not know (from a newer ccsm).
    #[serde(other)]
    Unknown,
}

impl Event {
    /// The event's name on the daemon's streams.
    pub fn wire_name(&self) -> &'static str {
        match self {
            Self::Line { .. } => "claude-output",
            Self::Status { .. } | Self::State { .. } => "claude-status",
            Self::Stderr { .. } | Self::Error { .. } => "claude-error",
            Self::Complete { .. } => "claude-complete",
            Self::PermissionRequest { .. } | Self::PermissionDecided { .. } => "approval",
            Self::Alert { .. } => "alert",
            Self::Lagged { .. } => "lagged",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn events_round_trip_and_unknown_kinds_do_not_break_a_reader() {
        let e = Event::Status {
            status: RunStatus::Exited {
                code: Some(0),
                signal: None,
                ended_at: 5,
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"status","status":{"state":"exited","code":0,"signal":null,"endedAt":5}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
        let newer: Event = serde_json::from_str(r#"{"kind":"somethingNew","x":1}"#).unwrap();
        assert_eq!(newer, Event::Unknown);
        let waiting = RunStatus::AwaitingPermission {
            request_id: "r".into(),
            tool_name: "Bash".into(),
        };
        assert_eq!(
            serde_json::to_string(&waiting).unwrap(),
            r#"{"state":"awaitingPermission","requestId":"r","toolName":"Bash"}"#
        );
    }
}
