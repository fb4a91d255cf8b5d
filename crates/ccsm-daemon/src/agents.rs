//! Agents over HTTP: the definitions a session can use, a fleet session's
//! agents, and switching them on and off. A change to a session whose CLI runs
//! takes effect at its next turn: the CLI starts again, resuming, with the new
//! `--agents`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use ccsm_service::agents::{spec_name, AgentDef, AgentSpec};
use serde::Serialize;

use crate::envelope::{ApiError, ApiResult, Data};
use crate::error::{blocking, Error};
use crate::fleet::Run;
use crate::AppState;

/// `GET /api/claude/agent-types`: every definition (built-in, the user's, the
/// catalog's).
#[utoipa::path(
    get,
    path = "/api/claude/agent-types",
    tag = "agents",
    responses((status = 200, description = "every definition", body = crate::envelope::Envelope<Vec<AgentDef>>), crate::envelope::Refusals)
)]
pub async fn agent_types(State(s): State<AppState>) -> ApiResult<Vec<AgentDef>> {
    let service = s.fleet.service().clone();
    Ok(Data(blocking(move || Ok(service.agents(None)?)).await?))
}

/// A session's agents: what it asked for, and what is active with what those
/// require, in start order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAgents {
    pub session_id: String,
    pub requested: Vec<AgentSpec>,
    pub active: Vec<AgentDef>,
    /// A change waits for the next turn (the CLI starts again then).
    pub restart_pending: bool,
    /// What each agent type did so far, from the session's transcripts.
    pub activity: std::collections::BTreeMap<String, ccsm_service::metrics::AgentActivity>,
}

async fn agents_of(s: &AppState, run: &Arc<Run>) -> Result<SessionAgents, ApiError> {
    let req = run.request();
    let service = s.fleet.service().clone();
    let (specs, cwd) = (req.agents.clone(), run.cwd.clone());
    let id = run.id.clone();
    let (active, activity) = blocking(move || {
        let active = service.active_agents(&specs, Some(&cwd))?;
        // No transcript yet (configured): nothing done.
        let activity = service
            .session_metrics(&id)
            .map(|m| m.agents)
            .unwrap_or_default();
        Ok((active, activity))
    })
    .await?;
    Ok(SessionAgents {
        session_id: run.id.clone(),
        requested: req.agents,
        active,
        restart_pending: run.restart_pending.load(Ordering::SeqCst),
        activity,
    })
}

fn fleet_run(s: &AppState, id: &str) -> Result<Arc<Run>, ApiError> {
    s.fleet.get(id).map_err(|e| match e {
        Error::NotFound(m) => ApiError::not_found(format!(
            "{m}: agents belong to sessions started or configured through the daemon"
        )),
        e => e.into(),
    })
}

/// `GET /api/claude/sessions/{id}/agents`.
#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/agents",
    tag = "agents",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SessionAgents>), crate::envelope::Refusals)
)]
pub async fn session_agents(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<SessionAgents> {
    let run = fleet_run(&s, &id)?;
    Ok(Data(agents_of(&s, &run).await?))
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Activate,
    Deactivate,
    Restart,
}

async fn change(s: AppState, id: String, name: String, how: Change) -> ApiResult<SessionAgents> {
    let run = fleet_run(&s, &id)?;
    let service = s.fleet.service().clone();
    let cwd = run.cwd.clone();
    let all = blocking(move || Ok(service.agents(Some(&cwd))?)).await?;
    // The name as given, or a type (`backend`, `BACKEND`).
    let probe = AgentSpec {
        agent_type: (!all.iter().any(|d| d.name == name)).then(|| name.clone()),
        name: Some(name.clone()),
        enabled: true,
        priority: None,
        max_memory_mb: None,
        timeout_seconds: None,
        retry_attempts: None,
    };
    let target = spec_name(&probe, &all).map_err(Error::from)?;
    let before = run.request();
    let mut next = before.clone();
    let matching = |sp: &AgentSpec| spec_name(sp, &all).is_ok_and(|n| n == target);
    match how {
        Change::Activate => {
            if let Some(sp) = next.agents.iter_mut().find(|sp| matching(sp)) {
                sp.enabled = true;
            } else {
                let def = all.iter().find(|d| d.name == target);
                next.agents.push(AgentSpec {
                    agent_type: def.and_then(|d| d.agent_type.clone()),
                    name: Some(target.clone()),
                    ..probe
                });
            }
        }
        Change::Deactivate => {
            let mut found = false;
            for sp in next.agents.iter_mut().filter(|sp| matching(sp)) {
                sp.enabled = false;
                found = true;
            }
            if !found {
                return Err(ApiError::not_found(format!(
                    "agent {target} is not one of session {}'s",
                    run.id
                )));
            }
        }
        Change::Restart => {
            if !next.agents.iter().any(|sp| sp.enabled && matching(sp)) {
                return Err(Error::Conflict(format!(
                    "agent {target} is not active in session {}",
                    run.id
                ))
                .into());
            }
        }
    }
    // Too many, unknown or a cycle: refused before anything changes.
    s.fleet.agents_for(&next, Some(&run.cwd)).await?;
    run.update_request(|r| r.agents = next.agents.clone());
    if run.ever_started.load(Ordering::SeqCst) {
        run.restart_pending.store(true, Ordering::SeqCst);
    }
    run.persist().await;
    Ok(Data(agents_of(&s, &run).await?))
}

/// `POST /api/claude/sessions/{id}/agents/{name}/activate`: `name` is an
/// agent's name or a type; what it requires comes with it.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/agents/{name}/activate",
    tag = "agents",
    params(("id" = String, Path, description = "a session id, or a live session's name"), ("name" = String, Path, description = "an agent's name or type")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SessionAgents>), crate::envelope::Refusals)
)]
pub async fn activate(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<SessionAgents> {
    change(s, id, name, Change::Activate).await
}

/// `POST .../agents/{name}/deactivate`.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/agents/{name}/deactivate",
    tag = "agents",
    params(("id" = String, Path, description = "a session id, or a live session's name"), ("name" = String, Path, description = "an agent's name or type")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SessionAgents>), crate::envelope::Refusals)
)]
pub async fn deactivate(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<SessionAgents> {
    change(s, id, name, Change::Deactivate).await
}

/// `POST .../agents/{name}/restart`: the CLI (and so the agent) starts again at
/// the next turn.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/agents/{name}/restart",
    tag = "agents",
    params(("id" = String, Path, description = "a session id, or a live session's name"), ("name" = String, Path, description = "an agent's name or type")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SessionAgents>), crate::envelope::Refusals)
)]
pub async fn restart(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<SessionAgents> {
    change(s, id, name, Change::Restart).await
}
