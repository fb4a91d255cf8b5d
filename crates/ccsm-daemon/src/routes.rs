//! The HTTP routes: each extracts, calls the fleet or the service, and answers
//! in the envelope.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use ccsm_core::{ApprovalView, ProcessView};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::envelope::{ApiError, ApiResult, Body, Data, DataAnd, Params};
use crate::error::Error;
use crate::fleet::{parse_mode, Answer, RunView, StartRequest, Started};
use crate::AppState;

#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    responses((status = 200, description = "alive", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn health(State(s): State<AppState>) -> ApiResult<serde_json::Value> {
    let live = s
        .fleet
        .runs()
        .iter()
        .filter(|r| !r.status().is_final())
        .count();
    Ok(Data(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "liveSessions": live,
        "uptimeSecs": s.started.elapsed().as_secs(),
        "configDir": s.fleet.service().config_dir(),
        "store": {
            "url": s.fleet.service().catalog_url(),
            "host": s.fleet.team_host(),
            "available": s.fleet.store_unavailable().is_none(),
            "problem": s.fleet.store_unavailable(),
        },
    })))
}

/// Starts (or configures) a session; `session` beside `data` is for the seed's
/// clients (`result['session']['id']`).
#[utoipa::path(
    post,
    path = "/api/claude/sessions",
    tag = "sessions",
    request_body = crate::fleet::StartRequest,
    responses((status = 201, description = "started or configured", body = crate::envelope::SessionEnvelope<crate::fleet::Started>), crate::envelope::Refusals)
)]
pub async fn start(
    State(s): State<AppState>,
    Body(req): Body<StartRequest>,
) -> Result<(StatusCode, DataAnd<Started, serde_json::Value>), ApiError> {
    let started = s.fleet.start(req).await?;
    let session = json!({
        "id": started.session_id,
        "name": started.name,
        "status": started.status,
    });
    Ok((
        StatusCode::CREATED,
        DataAnd(started, json!({ "session": session })),
    ))
}

#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/status",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<crate::fleet::RunView>), crate::envelope::Refusals)
)]
pub async fn status(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<RunView> {
    Ok(Data(s.fleet.get(&id)?.view()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub prompt: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    session_id: String,
    /// Events of this turn have numbers after this one.
    after_seq: u64,
}

#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/messages",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = Prompt,
    responses((status = 202, description = "the turn started", body = crate::envelope::Envelope<Sent>), crate::envelope::Refusals)
)]
pub async fn message(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(p): Body<Prompt>,
) -> Result<(StatusCode, Data<Sent>), ApiError> {
    if p.prompt.trim().is_empty() {
        return Err(ApiError::invalid("prompt is empty"));
    }
    let run = s.fleet.get(&id)?;
    let after_seq = run.send(&p.prompt).await?;
    Ok((
        StatusCode::ACCEPTED,
        Data(Sent {
            session_id: run.id.clone(),
            after_seq,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/interrupt",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<crate::fleet::RunView>), crate::envelope::Refusals)
)]
pub async fn interrupt(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<RunView> {
    let run = s.fleet.get(&id)?;
    run.interrupt().await?;
    Ok(Data(run.view()))
}

#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/cancel",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "cancelled: the session (a RunView); or, when another host's daemon runs it (a shared catalog), {sessionId, forwardedTo: host}", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    match s.fleet.cancel(&id).await {
        Ok(view) => {
            Ok(Data(serde_json::to_value(view).map_err(|e| {
                ApiError::from(Error::Internal(e.to_string()))
            })?))
        }
        // Not this daemon's: the daemon of the host that runs it is asked.
        Err(Error::NotFound(why)) => match s.fleet.forward_cancel(&id).await? {
            Some(host) => Ok(Data(json!({"sessionId": id, "forwardedTo": host}))),
            None => Err(Error::NotFound(why).into()),
        },
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelChange {
    pub model: Option<String>,
}

/// A session of the fleet with a running process.
fn live(
    s: &AppState,
    id: &str,
) -> Result<(std::sync::Arc<crate::fleet::Run>, ccsm_claude::Session), ApiError> {
    let run = s.fleet.get(id)?;
    let session = run
        .session()
        .filter(|x| !x.status().is_final())
        .ok_or_else(|| Error::Conflict(format!("session {} is not running", run.id)))?;
    Ok((run, session))
}

#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/model",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = ModelChange,
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<crate::fleet::RunView>), crate::envelope::Refusals)
)]
pub async fn set_model(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(m): Body<ModelChange>,
) -> ApiResult<RunView> {
    let (run, session) = live(&s, &id)?;
    session
        .set_model(m.model.as_deref())
        .await
        .map_err(Error::from)?;
    run.set_model(m.model);
    Ok(Data(run.view()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeChange {
    pub mode: String,
}

#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/permission-mode",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = ModeChange,
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<crate::fleet::RunView>), crate::envelope::Refusals)
)]
pub async fn set_mode(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(m): Body<ModeChange>,
) -> ApiResult<RunView> {
    let mode = parse_mode(&m.mode)?;
    let (run, session) = live(&s, &id)?;
    session
        .set_permission_mode(&mode)
        .await
        .map_err(Error::from)?;
    Ok(Data(run.view()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    pub prompt: Option<String>,
    pub name: Option<String>,
}

/// A new session with the history of this one (live or not).
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/fork",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = Option<ForkRequest>,
    responses((status = 201, description = "forked", body = crate::envelope::Envelope<crate::fleet::Started>), crate::envelope::Refusals)
)]
pub async fn fork(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Data<Started>), ApiError> {
    let f: ForkRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ForkRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body: {e}")))?
    };
    let req = match s.fleet.get(&id) {
        Ok(run) => {
            let mut r = run.request();
            r.working_directory = Some(run.cwd.clone());
            r.resume = Some(run.id.clone());
            r.continue_ = false;
            r.supervise = None;
            r
        }
        Err(Error::NotFound(_)) if uuid::Uuid::parse_str(&id).is_ok() => StartRequest {
            resume: Some(id.clone()),
            ..Default::default()
        },
        Err(e) => return Err(e.into()),
    };
    let req = StartRequest {
        fork: true,
        prompt: f.prompt,
        name: f.name,
        ..req
    };
    let started = s.fleet.start(req).await?;
    Ok((StatusCode::CREATED, Data(started)))
}

/// Starts a fresh conversation with the same settings; the name moves to it.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/clear",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 201, description = "a fresh conversation", body = crate::envelope::Envelope<crate::fleet::Started>), crate::envelope::Refusals)
)]
pub async fn clear(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Data<Started>), ApiError> {
    let run = s.fleet.get(&id)?;
    run.close().await;
    let mut req = run.request();
    req.working_directory = Some(run.cwd.clone());
    req.resume = None;
    req.continue_ = false;
    req.fork = false;
    let started = s.fleet.start(req).await?;
    Ok((StatusCode::CREATED, Data(started)))
}

#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/output",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "the stream-json lines so far", content_type = "application/x-ndjson", body = String), crate::envelope::Refusals)
)]
pub async fn output(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = s.fleet.get(&id)?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        run.output_jsonl(),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunningQuery {
    #[serde(default)]
    pub all: bool,
    /// `all`: every host sharing the catalog (each row says its host); a host's
    /// name: that host's only. Default: this host's.
    #[serde(default)]
    pub hosts: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/claude/running",
    tag = "processes",
    params(RunningQuery),
    responses((status = 200, description = "the process table", body = crate::envelope::Envelope<Vec<ccsm_core::ProcessView>>), crate::envelope::Refusals)
)]
pub async fn running(
    State(s): State<AppState>,
    Params(q): Params<RunningQuery>,
) -> ApiResult<Vec<ProcessView>> {
    let me = s.fleet.team_host();
    let (local, others) = match q.hosts.as_deref() {
        None => (true, None),
        Some("all") => (true, Some(None)),
        Some(h) if Some(h) == me.as_deref() => (true, None),
        Some(h) => (false, Some(Some(h))),
    };
    let mut rows = if local {
        s.fleet.processes(q.all).await
    } else {
        Vec::new()
    };
    if let Some(only) = others {
        if me.is_none() {
            return Err(ApiError::invalid(
                "hosts: this daemon's catalog is its own (start it with a shared --store)",
            ));
        }
        for r in &mut rows {
            r.host = me.clone();
        }
        rows.extend(s.fleet.team_processes(only).await?);
    }
    Ok(Data(rows))
}

#[utoipa::path(
    post,
    path = "/api/claude/running/cancel",
    tag = "processes",
    responses((status = 200, description = "every session cancelled", body = crate::envelope::Envelope<Vec<crate::fleet::RunView>>), crate::envelope::Refusals)
)]
pub async fn cancel_all(State(s): State<AppState>) -> ApiResult<Vec<RunView>> {
    Ok(Data(s.fleet.cancel_all().await))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// `SIGINT` (default) or `SIGTERM`.
    #[serde(default)]
    pub signal: Option<String>,
}

/// Stops a Claude Code process the daemon did not start, only because the
/// caller asked for it by pid: a background session through `claude stop`,
/// anything else with SIGINT or SIGTERM, and only if the registry shows the pid
/// as a live Claude Code process.
#[utoipa::path(
    post,
    path = "/api/claude/running/{pid}/signal",
    tag = "processes",
    params(("pid" = u32, Path, description = "a Claude Code process ccsm did not start")),
    request_body = SignalRequest,
    responses((status = 200, description = "stopped", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn signal_external(
    State(s): State<AppState>,
    Path(pid): Path<String>,
    Body(r): Body<SignalRequest>,
) -> ApiResult<serde_json::Value> {
    let pid: u32 = pid
        .parse()
        .map_err(|_| ApiError::invalid(format!("{pid:?} is not a process id")))?;
    let sig = match r.signal.as_deref().unwrap_or("SIGINT") {
        "SIGINT" | "INT" => Signal::SIGINT,
        "SIGTERM" | "TERM" => Signal::SIGTERM,
        other => {
            return Err(ApiError::invalid(format!(
                "signal {other:?}: only SIGINT and SIGTERM are sent to processes ccsm did not start"
            )))
        }
    };
    let outcome = crate::external::stop(&s.fleet, pid, sig).await?;
    Ok(Data(outcome))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    pub session: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/claude/approvals",
    tag = "approvals",
    params(ApprovalsQuery),
    responses((status = 200, description = "pending tool calls", body = crate::envelope::Envelope<Vec<ccsm_core::ApprovalView>>), crate::envelope::Refusals)
)]
pub async fn approvals(
    State(s): State<AppState>,
    Params(q): Params<ApprovalsQuery>,
) -> ApiResult<Vec<ApprovalView>> {
    let session = match q.session {
        Some(k) => Some(s.fleet.get(&k)?.id.clone()),
        None => None,
    };
    Ok(Data(s.fleet.approvals(session.as_deref())))
}

fn approval_id(id: &str) -> Result<&str, ApiError> {
    let ok = id
        .strip_prefix("ap-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(id)
    } else {
        Err(ApiError::invalid(format!("{id:?} is not an approval id")))
    }
}

#[utoipa::path(
    get,
    path = "/api/claude/approvals/{id}",
    tag = "approvals",
    params(("id" = String, Path, description = "an approval id (ap-…)")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<ccsm_core::ApprovalView>), crate::envelope::Refusals)
)]
pub async fn approval(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApprovalView> {
    let id = approval_id(&id)?;
    s.fleet
        .approvals(None)
        .into_iter()
        .find(|a| a.id == id)
        .map(Data)
        .ok_or_else(|| ApiError::not_found(format!("no pending approval {id}")))
}

#[utoipa::path(
    post,
    path = "/api/claude/approvals/{id}",
    tag = "approvals",
    params(("id" = String, Path, description = "an approval id (ap-…)")),
    request_body = crate::fleet::Answer,
    responses((status = 200, description = "answered", body = crate::envelope::Envelope<ccsm_core::ApprovalView>), crate::envelope::Refusals)
)]
pub async fn answer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(a): Body<Answer>,
) -> ApiResult<ApprovalView> {
    let id = approval_id(&id)?;
    Ok(Data(s.fleet.answer(id, a)?))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        "this route does not take that method",
    )
}
