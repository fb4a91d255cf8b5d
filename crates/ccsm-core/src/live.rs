//! The process table: every Claude Code process on the machine, as `ccsm ps`, the
//! daemon's `/api/claude/running` and the dashboard show it.

use serde::{Deserialize, Serialize};

use crate::run::RunStatus;

/// Where a live Claude Code process is, as a person reads it. Tagged by `state`;
/// more states and fields may be added.
///
/// ```json
/// {"state": "configured"}
/// {"state": "starting"}
/// {"state": "busy"}
/// {"state": "idle"}
/// {"state": "waiting", "waitingFor": "permission: Bash"}
/// {"state": "stopping"}
/// {"state": "exited", "code": 0, "signal": null}
/// {"state": "cancelled"}
/// {"state": "interrupted"}
/// ```
///
/// `cancelled`: stopped on a user's request; `interrupted`: its owner (the daemon)
/// went away while it ran, and the run was stopped when the daemon came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum LiveStatus {
    /// Set up, not started: its CLI starts with its first message.
    Configured,
    Starting,
    Busy,
    Idle,
    #[serde(rename_all = "camelCase")]
    Waiting {
        waiting_for: String,
    },
    Stopping,
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    Cancelled,
    Interrupted,
}

impl LiveStatus {
    /// The state's name as the JSON spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Configured => "configured",
            Self::Starting => "starting",
            Self::Busy => "busy",
            Self::Idle => "idle",
            Self::Waiting { .. } => "waiting",
            Self::Stopping => "stopping",
            Self::Exited { .. } => "exited",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether there is no process (gone, or not started yet).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Configured | Self::Exited { .. } | Self::Cancelled | Self::Interrupted
        )
    }

    /// What the registry's `status`/`waitingFor` say (`busy`, `shell`, `idle`,
    /// `waiting`; anything newer reads as busy).
    pub fn from_registry(status: &str, waiting_for: Option<&str>) -> Self {
        match status {
            "idle" => Self::Idle,
            "waiting" => Self::Waiting {
                waiting_for: waiting_for.unwrap_or("input").to_owned(),
            },
            "" => Self::Starting,
            _ => Self::Busy,
        }
    }

    /// A person's line for it: `busy`, `waiting (permission: Bash)`, `exited 1`.
    pub fn label(&self) -> String {
        match self {
            Self::Waiting { waiting_for } => format!("waiting ({waiting_for})"),
            Self::Exited {
                code: Some(c),
                signal: None,
            } => format!("exited {c}"),
            Self::Exited {
                signal: Some(s), ..
            } => format!("killed by signal {s}"),
            other => other.name().to_owned(),
        }
    }
}

impl From<&RunStatus> for LiveStatus {
    fn from(s: &RunStatus) -> Self {
        match s {
            RunStatus::Starting => Self::Starting,
            RunStatus::Idle => Self::Idle,
            RunStatus::InTurn { .. } => Self::Busy,
            RunStatus::AwaitingPermission { tool_name, .. } => Self::Waiting {
                waiting_for: format!("permission: {tool_name}"),
            },
            RunStatus::Stopping => Self::Stopping,
            RunStatus::Exited { code, signal, .. } => Self::Exited {
                code: *code,
                signal: *signal,
            },
        }
    }
}

/// Who started a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum StartedBy {
    /// This daemon (a fleet session).
    Ccsm,
    /// A terminal REPL.
    Terminal,
    /// A `claude -p` run or an SDK host (stream-json).
    Sdk,
    /// One of the CLI's own background sessions (`claude --bg`).
    Background,
    /// Something the registry names in a way this build does not know.
    Other,
}

/// One row of the process table.
///
/// ```json
/// {"pid": 4242, "sessionId": "8b005bc5-…", "name": "api-3f", "projectPath": "/home/me/api",
///  "model": "claude-sonnet-4-5", "startedAt": 1795000000000, "status": {"state": "busy"},
///  "memoryBytes": 183500800, "cpuPercent": 12.5, "runtimeMs": 65000,
///  "tokens": 12000, "costUsd": 0.041, "startedBy": "sdk", "configDir": "/home/me/.claude",
///  "version": "2.1.332", "jobId": null}
/// ```
///
/// `memoryBytes` is the RSS of the CLI and every process under it (its tools);
/// `cpuPercent` is over the last sampling interval (0 on a first look). For a
/// process ccsm drives, `model`, `tokens` and `costUsd` are its own; for another,
/// they are read from its session's transcript as it grows, by the usage
/// reports' rule (null until the transcript has a model call).
/// Fields may be added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessView {
    pub pid: u32,
    pub session_id: Option<String>,
    pub name: Option<String>,
    pub project_path: Option<String>,
    pub model: Option<String>,
    pub started_at: i64,
    pub status: LiveStatus,
    pub memory_bytes: u64,
    pub cpu_percent: f64,
    pub runtime_ms: i64,
    pub tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub started_by: StartedBy,
    pub config_dir: Option<String>,
    pub version: Option<String>,
    /// A background session's short id (`claude stop <jobId>` stops it).
    pub job_id: Option<String>,
    /// The host it runs on, when several hosts share a catalog (`?hosts=all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A tool call that waits for a person's answer.
///
/// ```json
/// {"id": "ap-1", "sessionId": "8b005bc5-…", "toolName": "Bash",
///  "input": {"command": "rm -rf build"}, "createdAt": 1795000000000,
///  "expiresAt": 1795000300000}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    pub id: String,
    pub session_id: String,
    pub tool_name: String,
    pub input: serde_json::Value,
    pub created_at: i64,
    /// When the configured default answer (deny, unless configured) is given.
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn statuses_read_as_the_registry_and_the_session_say() {
        assert_eq!(
            serde_json::to_string(&LiveStatus::from_registry(
                "waiting",
                Some("permission prompt")
            ))
            .unwrap(),
            r#"{"state":"waiting","waitingFor":"permission prompt"}"#
        );
        assert_eq!(LiveStatus::from_registry("shell", None), LiveStatus::Busy);
        let s = LiveStatus::from(&RunStatus::AwaitingPermission {
            request_id: "r".into(),
            tool_name: "Bash".into(),
        });
        assert_eq!(s.label(), "waiting (permission: Bash)");
        assert!(LiveStatus::Cancelled.is_final());
    }
}
