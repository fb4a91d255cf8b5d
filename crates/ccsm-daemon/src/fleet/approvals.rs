//! Tool calls held for a person's answer: the CLI asks `can_use_tool`, the
//! daemon keeps the request as a pending approval (an `approval` event, the
//! list), and answers the CLI with what comes over the API, or with the
//! configured default when nobody answers in time.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};

use ccsm_claude::{PermissionDecision, ToolPermissionRequest};
use ccsm_core::{ApprovalView, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{now_ms, FleetInner};
use crate::error::{Error, Result};

/// An answer: allow (optionally with an edited input) or deny (optionally with
/// the message the model is told).
///
/// ```json
/// {"allow": true, "input": {"command": "ls -la"}}
/// {"allow": false, "message": "not in production"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub allow: bool,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Answer {
    fn decision(&self) -> PermissionDecision {
        if self.allow {
            match &self.input {
                Some(i) => PermissionDecision::allow_with(i.clone()),
                None => PermissionDecision::allow(),
            }
        } else {
            PermissionDecision::deny(
                self.message
                    .clone()
                    .unwrap_or_else(|| "denied by the user (ccsm)".into()),
            )
        }
    }
}

#[derive(Debug)]
struct Entry {
    view: ApprovalView,
    tx: oneshot::Sender<PermissionDecision>,
}

/// The approvals waiting for an answer.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: Mutex<HashMap<String, Entry>>,
}

impl Pending {
    pub fn list(&self, session: Option<&str>) -> Vec<ApprovalView> {
        let mut v: Vec<_> = self
            .map
            .lock()
            .map(|m| {
                m.values()
                    .filter(|e| session.is_none_or(|s| e.view.session_id == s))
                    .map(|e| e.view.clone())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|a| (a.created_at, a.id.clone()));
        v
    }

    pub fn answer(&self, id: &str, answer: Answer) -> Result<(ApprovalView, ())> {
        let entry = self
            .map
            .lock()
            .ok()
            .and_then(|mut m| m.remove(id))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no pending approval {id:?} (answered already, timed out, or never asked)"
                ))
            })?;
        // The session may have ended meanwhile: then nobody waits, and that is fine.
        let _ = entry.tx.send(answer.decision());
        Ok((entry.view, ()))
    }

    /// Drops a session's pending approvals (it was cancelled): their waiters
    /// get a denial.
    pub fn forget_session(&self, session: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, e| e.view.session_id != session);
        }
    }

    fn insert(&self, view: ApprovalView, tx: oneshot::Sender<PermissionDecision>) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(view.id.clone(), Entry { view, tx });
        }
    }

    fn remove(&self, id: &str) -> bool {
        self.map.lock().is_ok_and(|mut m| m.remove(id).is_some())
    }
}

/// The kind of the catalog records of pending approvals.
pub(crate) const APPROVAL_RECORD: &str = "approval";

/// The `can_use_tool` callback of one fleet session.
pub(crate) fn callback(
    fleet: Weak<FleetInner>,
    session: String,
) -> impl Fn(ToolPermissionRequest) -> futures::future::BoxFuture<'static, PermissionDecision>
       + Send
       + Sync
       + 'static {
    move |req: ToolPermissionRequest| {
        let fleet = fleet.clone();
        let session = session.clone();
        Box::pin(decide(fleet.clone(), session.clone(), req))
    }
}

async fn decide(
    fleet: Weak<FleetInner>,
    session: String,
    req: ToolPermissionRequest,
) -> PermissionDecision {
    let Some(inner) = fleet.upgrade() else {
        return PermissionDecision::deny("the ccsm daemon is shutting down");
    };
    let timeout = inner.cfg.approval_timeout;
    let default_allow = inner.cfg.approval_default_allow;
    let now = now_ms();
    let view = ApprovalView {
        id: format!("ap-{}", uuid::Uuid::new_v4().simple()),
        session_id: session.clone(),
        tool_name: req.tool_name.clone(),
        input: req.input.clone(),
        created_at: now,
        expires_at: now + timeout.as_millis() as i64,
    };
    // Kept in the catalog while it waits (a restarted daemon finds what
    // was pending when it crashed).
    let service = inner.service.clone();
    let record = view.clone();
    let _ = tokio::task::spawn_blocking(move || {
        service.save_record(APPROVAL_RECORD, &record.id, &record)
    })
    .await;
    // Listed only once it is in the catalog: whoever sees it pending finds it
    // there too.
    let (tx, rx) = oneshot::channel();
    inner.approvals.insert(view.clone(), tx);
    let run = inner
        .runs
        .read()
        .ok()
        .and_then(|r| r.get(&session).cloned());
    if let Some(run) = &run {
        run.publish(Event::PermissionRequest {
            request_id: view.id.clone(),
            tool_name: view.tool_name.clone(),
            input: view.input.clone(),
        });
    }
    let service = inner.service.clone();
    drop(inner);
    // Answered over the API: the answer route has said so already.
    let (decision, answered) = match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(d)) => (d, true),
        // Nobody will answer (the session was cancelled).
        Ok(Err(_)) => (PermissionDecision::deny("the request was withdrawn"), false),
        Err(_) => {
            let still_pending = fleet
                .upgrade()
                .is_some_and(|i| i.approvals.remove(&view.id));
            let d = if !still_pending {
                // Answered at the last moment, after the timer fired.
                PermissionDecision::deny("answered too late")
            } else if default_allow {
                PermissionDecision::allow()
            } else {
                PermissionDecision::deny(format!(
                    "nobody answered within {} s; denied by default (ccsm)",
                    timeout.as_secs()
                ))
            };
            (d, false)
        }
    };
    if let (Some(run), false) = (run, answered) {
        run.publish(Event::PermissionDecided {
            request_id: view.id.clone(),
            allow: matches!(decision, PermissionDecision::Allow { .. }),
        });
    }
    let id = view.id.clone();
    let _ = tokio::task::spawn_blocking(move || service.delete_record(APPROVAL_RECORD, &id)).await;
    decision
}
