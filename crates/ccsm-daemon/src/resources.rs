//! Every session Claude Code has as a REST resource (not only the fleet's): the
//! catalog's list with filters and pages, one session in detail with its live
//! state, navigation to another folder, and the path validator.

use std::collections::HashSet;
use std::path::PathBuf;

use axum::extract::{Path, State};
use ccsm_service::paths::PathCheck;
use ccsm_service::{MovedSession, SessionFilter, SessionPage, Source};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::envelope::{ApiError, ApiResult, Body, Data, DataAnd, Params};
use crate::error::blocking;
use crate::fleet::{RunView, StartRequest};
use crate::AppState;

/// The most sessions one page holds.
pub const MAX_PAGE: usize = 1000;
/// The most paths one validation request checks.
pub const MAX_PATHS: usize = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// A query in the catalog's search language.
    pub q: Option<String>,
    /// `any` (default), `present`, `live`, `gone`, `archived`.
    pub status: Option<String>,
    pub project: Option<String>,
    pub tag: Option<String>,
    pub name: Option<String>,
    pub model: Option<String>,
    /// YYYY-MM-DD.
    pub after: Option<String>,
    pub before: Option<String>,
    pub cost_gt: Option<f64>,
    pub cost_lt: Option<f64>,
    /// 1 to 1000; 50 by default.
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: usize,
}

/// `GET /api/claude/sessions`: the catalog's sessions, newest first, filtered,
/// one page at a time with the total.
#[utoipa::path(
    get,
    path = "/api/claude/sessions",
    tag = "sessions",
    params(ListParams),
    responses((status = 200, description = "a page of sessions", body = crate::envelope::Envelope<ccsm_service::SessionPage>), crate::envelope::Refusals)
)]
pub async fn list(
    State(s): State<AppState>,
    Params(p): Params<ListParams>,
) -> ApiResult<SessionPage> {
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_PAGE}, not {limit}"
        )));
    }
    let live: Option<HashSet<String>> = if p.status.as_deref() == Some("live") {
        Some(
            s.fleet
                .processes(true)
                .await
                .into_iter()
                .filter(|r| !r.status.is_final())
                .filter_map(|r| r.session_id)
                .collect(),
        )
    } else {
        None
    };
    let f = SessionFilter {
        q: p.q,
        status: p.status,
        live,
        project: p.project,
        tag: p.tag,
        name: p.name,
        model: p.model,
        after: p.after,
        before: p.before,
        cost_gt: p.cost_gt,
        cost_lt: p.cost_lt,
        limit,
        offset: p.offset,
    };
    let service = s.fleet.service().clone();
    Ok(Data(blocking(move || Ok(service.session_page(&f)?)).await?))
}

/// One session: what the SDK says of it, ccsm's metadata and statistics, and
/// its live state when it runs (in this daemon or anywhere on the machine).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResource {
    pub id: String,
    #[serde(flatten)]
    pub session: ccsm_core::views::SessionView,
    pub file: String,
    pub stats: Option<Value>,
    /// This daemon's run of it.
    pub run: Option<RunView>,
    /// Its row of the process table when a process has it open.
    pub process: Option<ccsm_core::ProcessView>,
    /// The git state of its folder (unless the session was started with
    /// `git_enabled: false`).
    pub git: Option<ccsm_service::paths::GitState>,
}

async fn resource(s: &AppState, id: &str) -> Result<SessionResource, ApiError> {
    let run = s.fleet.get(id).ok();
    let service = s.fleet.service().clone();
    let key = run.as_ref().map_or_else(|| id.to_owned(), |r| r.id.clone());
    let detail = blocking(move || {
        let id = service.resolve_id(&key, Source::Catalog)?;
        Ok(service.session_detail(&id, Source::Catalog)?)
    })
    .await?;
    let id = detail.view.info.session_id.clone();
    let git_wanted = run
        .as_ref()
        .is_none_or(|r| r.request().git_enabled != Some(false));
    let cwd = run
        .as_ref()
        .map(|r| r.cwd.display().to_string())
        .or_else(|| detail.view.info.cwd.clone());
    let git = match cwd.filter(|_| git_wanted) {
        Some(cwd) => {
            let service = s.fleet.service().clone();
            blocking(move || Ok(service.check_path(&cwd, true).git)).await?
        }
        None => None,
    };
    let process = s
        .fleet
        .processes(true)
        .await
        .into_iter()
        .find(|p| p.session_id.as_deref() == Some(id.as_str()) && !p.status.is_final());
    let stats = detail.stats.map(|st| {
        json!({
            "projectPath": st.project_path,
            "messages": st.messages,
            "userTurns": st.user_turns,
            "toolCalls": st.tool_calls,
            "tokens": st.tokens,
            "costUsd": st.cost_usd,
            "unpricedModels": st.unpriced_models,
            "models": st.models,
            "tools": st.tools,
            "filesTouched": st.files_touched,
            "names": st.names,
        })
    });
    Ok(SessionResource {
        id,
        session: detail.view,
        file: detail.file.display().to_string(),
        stats,
        run: run.map(|r| r.view()),
        process,
        git,
    })
}

/// `GET /api/claude/sessions/{id}`.
#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SessionResource>), crate::envelope::Refusals)
)]
pub async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<SessionResource> {
    Ok(Data(resource(&s, &id).await?))
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NavigateRequest {
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// Refuse a folder ccsm cannot read, write or enter (default true; the
    /// safety rules apply either way).
    #[serde(default = "yes")]
    pub validate_permissions: bool,
    /// Report the new folder's git state (branch, dirty).
    #[serde(default = "yes")]
    pub update_git_state: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Navigated {
    #[serde(flatten)]
    pub moved: MovedSession,
    /// What the validator found about the new folder.
    pub path_check: PathCheck,
    /// The fleet's session, started again in the new folder.
    pub run: Option<RunView>,
}

/// `POST /api/claude/sessions/{id}/navigate`: the session moves to another
/// folder (its transcript follows); the next turn runs there. A fleet session is
/// stopped, moved and started again there with its conversation.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/navigate",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = NavigateRequest,
    responses((status = 200, description = "moved", body = crate::envelope::SessionEnvelope<Navigated>), crate::envelope::Refusals)
)]
pub async fn navigate(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(r): Body<NavigateRequest>,
) -> Result<DataAnd<Navigated, Value>, ApiError> {
    let service = s.fleet.service().clone();
    let run = s.fleet.get(&id).ok();
    let key = run.as_ref().map_or_else(|| id.clone(), |r| r.id.clone());
    // Everything is checked before anything stops.
    let (sid, to, check) = {
        let service = service.clone();
        let path = r.path.clone();
        let (access, git) = (r.validate_permissions, r.update_git_state);
        blocking(move || {
            let sid = service.resolve_id(&key, Source::Files)?;
            let to = service.usable_folder_with(&path, false, "path", access)?;
            let check = service.check_path(&path.to_string_lossy(), git);
            Ok((sid, to, check))
        })
        .await?
    };
    // A configured session has no transcript yet: it is configured again, in
    // the new folder, with the same id.
    if let Some(run) = run
        .as_ref()
        .filter(|r| !r.ever_started.load(std::sync::atomic::Ordering::SeqCst))
    {
        s.fleet.remove(run).await;
        let req = StartRequest {
            working_directory: Some(to.clone()),
            session_id: Some(run.id.clone()),
            resume: None,
            continue_: false,
            fork: false,
            prompt: None,
            start: false,
            ..run.request()
        };
        s.fleet.start(req).await?;
        let view = s.fleet.get(&sid)?.view();
        let moved = MovedSession {
            session_id: sid.clone(),
            from_cwd: run.cwd.display().to_string(),
            to_cwd: to.display().to_string(),
            path: PathBuf::new(),
            lines_rewritten: 0,
        };
        let session = json!({"id": sid, "workingDirectory": to});
        return Ok(DataAnd(
            Navigated {
                moved,
                path_check: check,
                run: Some(view),
            },
            json!({ "session": session }),
        ));
    }
    if let Some(run) = &run {
        run.close().await;
    }
    let moved = {
        let (service, sid, to) = (service.clone(), sid.clone(), to.clone());
        let access = r.validate_permissions;
        blocking(move || Ok(service.navigate(&sid, &to, access, &[])?)).await
    };
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            // Nothing moved: the fleet's session goes on where it was.
            if let Some(run) = &run {
                let _ = s.fleet.start(restart_request(run, run.cwd.clone())).await;
            }
            return Err(e.into());
        }
    };
    let mut view = None;
    if let Some(run) = &run {
        s.fleet.start(restart_request(run, to.clone())).await?;
        view = Some(s.fleet.get(&sid)?.view());
    }
    let session = json!({"id": sid, "workingDirectory": to});
    Ok(DataAnd(
        Navigated {
            moved,
            path_check: check,
            run: view,
        },
        json!({ "session": session }),
    ))
}

/// The fleet session `run` again, resumed in `cwd`, waiting for its next turn.
fn restart_request(run: &crate::fleet::Run, cwd: PathBuf) -> StartRequest {
    StartRequest {
        working_directory: Some(cwd),
        prompt: None,
        resume: Some(run.id.clone()),
        continue_: false,
        fork: false,
        ..run.request()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathRequest {
    pub path: String,
    /// Report the git repository's state (runs `git status`); default true.
    #[serde(default = "yes")]
    pub git: bool,
}

/// `POST /api/claude/validate-path`.
#[utoipa::path(
    post,
    path = "/api/claude/validate-path",
    tag = "paths",
    request_body = PathRequest,
    responses((status = 200, description = "the report", body = crate::envelope::Envelope<ccsm_service::paths::PathCheck>), crate::envelope::Refusals)
)]
pub async fn validate_path(
    State(s): State<AppState>,
    Body(r): Body<PathRequest>,
) -> ApiResult<PathCheck> {
    let service = s.fleet.service().clone();
    Ok(Data(
        blocking(move || Ok(service.check_path(&r.path, r.git))).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PathsRequest {
    pub paths: Vec<String>,
    #[serde(default = "yes")]
    pub git: bool,
}

/// `POST /api/claude/validate-paths`: up to [`MAX_PATHS`] at once.
#[utoipa::path(
    post,
    path = "/api/claude/validate-paths",
    tag = "paths",
    request_body = PathsRequest,
    responses((status = 200, description = "the reports", body = crate::envelope::Envelope<Vec<ccsm_service::paths::PathCheck>>), crate::envelope::Refusals)
)]
pub async fn validate_paths(
    State(s): State<AppState>,
    Body(r): Body<PathsRequest>,
) -> ApiResult<Vec<PathCheck>> {
    if r.paths.len() > MAX_PATHS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_PATHS} paths at once, not {}",
            r.paths.len()
        )));
    }
    let service = s.fleet.service().clone();
    Ok(Data(
        blocking(move || {
            Ok(r.paths
                .iter()
                .map(|p| service.check_path(p, r.git))
                .collect())
        })
        .await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// At most this many (from `offset`).
    pub limit: Option<usize>,
    #[serde(default)]
    pub offset: usize,
}

/// `GET /api/claude/sessions/{id}/messages`: the conversation as the SDK reads
/// it (any session, live or not).
#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/messages",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name"), MessagesQuery),
    responses((status = 200, description = "the conversation, oldest first", body = crate::envelope::Envelope<Vec<ccsm_core::views::SessionMessage>>), crate::envelope::Refusals)
)]
pub async fn messages(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Params(q): Params<MessagesQuery>,
) -> ApiResult<Vec<ccsm_core::views::SessionMessage>> {
    let key = s.fleet.get(&id).map_or(id, |r| r.id.clone());
    let service = s.fleet.service().clone();
    Ok(Data(
        blocking(move || {
            let id = service.resolve_id(&key, Source::Catalog)?;
            let opts = ccsm_service::MessageOptions {
                limit: q.limit,
                offset: q.offset,
                include_system: false,
            };
            Ok(service.messages(&id, opts)?)
        })
        .await?,
    ))
}
