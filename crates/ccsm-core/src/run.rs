//! The state of a live session, as its owner and every watcher see it.

use serde::{Deserialize, Serialize};

/// Where a live session (a `claude` process ccsm drives) is. Each state carries
/// what is true only in it: a session in a turn knows since when; one waiting for
/// a permission answer knows the request and the tool; one that exited carries
/// its exit code or signal and end time; one still running has neither.
///
/// JSON (tagged by `state`; more states and fields may be added):
///
/// ```json
/// {"state": "starting"}
/// {"state": "idle"}
/// {"state": "inTurn", "since": 1795000000000}
/// {"state": "awaitingPermission", "requestId": "req-1", "toolName": "Bash"}
/// {"state": "stopping"}
/// {"state": "exited", "code": 0, "signal": null, "endedAt": 1795000000000}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RunStatus {
    /// Spawned; the CLI has not finished its handshake.
    Starting,
    /// Ready for a prompt.
    Idle,
    /// Working on a turn, since this time (ms since the epoch).
    #[serde(rename_all = "camelCase")]
    InTurn { since: i64 },
    /// In a turn, stopped on a tool call until someone allows or denies it.
    #[serde(rename_all = "camelCase")]
    AwaitingPermission {
        request_id: String,
        tool_name: String,
    },
    /// Asked to stop (interrupt, close or the kill ladder); not gone yet.
    Stopping,
    /// The process ended: its exit code, or the signal that ended it, and when.
    #[serde(rename_all = "camelCase")]
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        ended_at: i64,
    },
}

impl RunStatus {
    /// Whether the process is gone (no state follows this one).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Exited { .. })
    }

    /// Whether a prompt can be sent now.
    pub fn accepts_prompt(&self) -> bool {
        matches!(self, Self::Idle)
    }

    /// The state's name as the JSON spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Idle => "idle",
            Self::InTurn { .. } => "inTurn",
            Self::AwaitingPermission { .. } => "awaitingPermission",
            Self::Stopping => "stopping",
            Self::Exited { .. } => "exited",
        }
    }
}
