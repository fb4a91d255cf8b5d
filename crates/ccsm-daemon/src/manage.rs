//! Changing sessions as resources: `PUT` (settings and ccsm's metadata),
//! `DELETE` (terminate; `?purge=true` also removes the transcript, archived
//! first), clone, export (a bundle download) and import (a bundle upload, the
//! same checks as the CLI: nothing is written unless the whole bundle verifies).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use ccsm_service::agents::AgentSpec;
use ccsm_service::Source;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::envelope::{ApiError, ApiResult, Body, Data, DataAnd, Params};
use crate::error::{blocking, Error};
use crate::fleet::{parse_mode, Limits, StartRequest};
use crate::AppState;

/// The largest bundle an import takes.
pub const MAX_BUNDLE: usize = 1 << 30;

/// `PUT /api/claude/sessions/{id}`: every field optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionUpdate {
    /// The session's title (the SDK's `customTitle`).
    pub name: Option<String>,
    pub description: Option<String>,
    /// ccsm's tags, replacing the ones it has.
    pub tags: Option<Vec<String>>,
    /// The notes, replaced (empty: none).
    pub notes: Option<String>,
    /// Text added to the notes, on a line of its own.
    pub append_notes: Option<String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub environment_variables: Option<BTreeMap<String, String>>,
    pub limits: Option<Limits>,
    pub max_agents: Option<usize>,
    pub agents: Option<Vec<AgentSpec>>,
}

#[utoipa::path(
    put,
    path = "/api/claude/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = SessionUpdate,
    responses((status = 200, description = "changed: {session, run}", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(u): Body<SessionUpdate>,
) -> ApiResult<Value> {
    if let Some(env) = &u.environment_variables {
        crate::fleet::check_env(env)?;
    }
    let mode = u.permission_mode.as_deref().map(parse_mode).transpose()?;
    let run = s.fleet.get(&id).ok();
    let service = s.fleet.service().clone();
    let key = run.as_ref().map_or_else(|| id.clone(), |r| r.id.clone());
    // The catalog's part, when the session has a transcript.
    let in_catalog = {
        let service = service.clone();
        let key = key.clone();
        blocking(move || {
            let id = service.resolve_id(&key, Source::Catalog)?;
            Ok(service.session(&id, Source::Catalog).is_ok().then_some(id))
        })
        .await
    };
    let catalog_id = match (in_catalog, &run) {
        (Ok(id), _) => id,
        (Err(_), Some(_)) => None,
        (Err(e), None) => return Err(e.into()),
    };
    if run.is_none() && catalog_id.is_none() {
        return Err(ApiError::not_found(format!("no session {id}")));
    }
    if let Some(cid) = catalog_id.clone() {
        let m = ccsm_service::MetadataUpdate {
            name: u.name.clone(),
            description: u.description.clone(),
            tags: u.tags.clone(),
            notes: u.notes.clone(),
            append_notes: u.append_notes.clone(),
        };
        let service = service.clone();
        blocking(move || Ok(service.update_metadata(&cid, &m)?)).await?;
    }
    if let Some(run) = &run {
        let mut next = run.request();
        if let Some(a) = &u.agents {
            next.agents = a.clone();
        }
        if let Some(m) = u.max_agents {
            next.max_agents = Some(m);
        }
        // Too many, unknown or a cycle: refused before anything changes.
        s.fleet.agents_for(&next, Some(&run.cwd)).await?;
        let restart =
            u.agents.is_some() || u.environment_variables.is_some() || u.max_agents.is_some();
        run.update_request(|r| {
            r.agents = next.agents.clone();
            r.max_agents = next.max_agents;
            if let Some(e) = &u.environment_variables {
                r.environment_variables = e.clone();
            }
            if let Some(l) = &u.limits {
                r.limits = l.clone();
            }
            if let Some(m) = &u.model {
                r.model = Some(m.clone());
            }
            if let Some(p) = &u.permission_mode {
                r.permission_mode = Some(p.clone());
            }
            if catalog_id.is_none() {
                if u.description.is_some() {
                    r.description = u.description.clone();
                }
                if let Some(t) = &u.tags {
                    r.tags = t.clone();
                }
            }
        });
        if let Some(session) = run.session().filter(|x| !x.status().is_final()) {
            if let Some(m) = &u.model {
                session.set_model(Some(m)).await.map_err(Error::from)?;
                run.set_model(Some(m.clone()));
            }
            if let Some(mode) = &mode {
                session
                    .set_permission_mode(mode)
                    .await
                    .map_err(Error::from)?;
            }
        }
        if restart && run.ever_started.load(Ordering::SeqCst) {
            run.restart_pending.store(true, Ordering::SeqCst);
        }
        run.persist().await;
    }
    let out = match (&catalog_id, &run) {
        (Some(cid), _) => {
            let service = service.clone();
            let cid = cid.clone();
            let v = blocking(move || Ok(service.session(&cid, Source::Catalog)?)).await?;
            json!({"session": v, "run": run.as_ref().map(|r| r.view())})
        }
        (None, Some(r)) => json!({"session": null, "run": r.view()}),
        (None, None) => Value::Null,
    };
    Ok(Data(out))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Also remove its transcript (archived first: `ccsm sessions restore` brings it back).
    #[serde(default)]
    pub purge: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub session_id: String,
    /// Its CLI was stopped.
    pub terminated: bool,
    /// Its transcript was removed (and archived).
    pub purged: Option<ccsm_service::Deleted>,
}

#[utoipa::path(
    delete,
    path = "/api/claude/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name"), DeleteQuery),
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<Deleted>), crate::envelope::Refusals)
)]
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Params(q): Params<DeleteQuery>,
) -> ApiResult<Deleted> {
    let run = s.fleet.get(&id).ok();
    let service = s.fleet.service().clone();
    let sid = match &run {
        Some(r) => r.id.clone(),
        None => {
            let service = service.clone();
            let id = id.clone();
            blocking(move || Ok(service.resolve_id(&id, Source::Catalog)?)).await?
        }
    };
    let mut terminated = false;
    if let Some(r) = &run {
        terminated = !r.status().is_final();
        if terminated {
            r.cancel().await;
        }
        s.fleet.remove(r).await;
    }
    let purged = if q.purge {
        let sid = sid.clone();
        Some(blocking(move || Ok(service.delete(&sid, Source::Catalog)?)).await?)
    } else {
        if run.is_none() {
            return Err(Error::Conflict(format!(
                "session {sid} is not the daemon's: nothing to terminate (?purge=true removes its transcript)"
            ))
            .into());
        }
        None
    };
    Ok(Data(Deleted {
        session_id: sid,
        terminated,
        purged,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneRequest {
    /// Another project folder for the clone (the path validator's rules apply).
    #[schema(value_type = Option<String>)]
    pub to: Option<PathBuf>,
    /// Make that folder if it is missing.
    #[serde(default)]
    pub create: bool,
    /// The clone's title.
    pub name: Option<String>,
}

/// `POST .../clone`: a new session with the same history, in this or another
/// folder; a fleet session's agents and environment come with it (the clone is
/// configured in the daemon, started by its first message).
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/clone",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = Option<CloneRequest>,
    responses((status = 201, description = "cloned: {clone, configured}", body = crate::envelope::SessionEnvelope<Object>), crate::envelope::Refusals)
)]
pub async fn clone(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, DataAnd<Value, Value>), ApiError> {
    let c: CloneRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CloneRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body: {e}")))?
    };
    let run = s.fleet.get(&id).ok();
    let service = s.fleet.service().clone();
    let key = run.as_ref().map_or_else(|| id.clone(), |r| r.id.clone());
    let (to, create, name) = (c.to.clone(), c.create, c.name.clone());
    let imported = blocking(move || {
        let id = service.resolve_id(&key, Source::Catalog)?;
        Ok(service.clone_session(&id, to.as_deref(), create, name.as_deref())?)
    })
    .await?;
    let mut configured = None;
    if let Some(r) = &run {
        let from = r.request();
        let req = StartRequest {
            working_directory: imported.project_path.as_ref().map(PathBuf::from),
            resume: Some(imported.session_id.clone()),
            prompt: None,
            continue_: false,
            fork: false,
            start: false,
            supervise: None,
            name: None,
            ..from
        };
        configured = Some(s.fleet.start(req).await?);
    }
    let session = json!({"id": imported.session_id, "projectPath": imported.project_path});
    Ok((
        StatusCode::CREATED,
        DataAnd(
            json!({"clone": imported, "configured": configured}),
            json!({ "session": session }),
        ),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Mask secrets (API keys, tokens, passwords) in the transcript.
    #[serde(default)]
    pub redact: bool,
}

/// `POST .../export`: the session as a bundle (`application/zstd`, a tar the
/// CLI's `sessions import` and this API's import read).
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/export",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    request_body = Option<ExportRequest>,
    responses((status = 200, description = "the bundle", content_type = "application/zstd", body = Vec<u8>), crate::envelope::Refusals)
)]
pub async fn export(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let e: ExportRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ExportRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body: {e}")))?
    };
    let key = s.fleet.get(&id).map_or(id, |r| r.id.clone());
    let service = s.fleet.service().clone();
    let (sid, bytes) = blocking(move || {
        let sid = service.resolve_id(&key, Source::Catalog)?;
        let dir = service.data_dir().join("tmp");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
        let file = dir.join(format!("export-{}.ccsm", uuid::Uuid::new_v4().simple()));
        let done = service.export(
            std::slice::from_ref(&sid),
            None,
            e.redact,
            &file,
            Source::Catalog,
        );
        let bytes = done.and_then(|_| std::fs::read(&file).map_err(ccsm_service::Error::from));
        let _ = std::fs::remove_file(&file);
        Ok((sid, bytes?))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zstd".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{sid}.ccsm\""),
            ),
        ],
        bytes,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Put the sessions under this project folder.
    #[param(value_type = Option<String>)]
    pub to: Option<PathBuf>,
    #[serde(default)]
    pub create: bool,
    /// Give them new ids instead of refusing ones that exist.
    #[serde(default)]
    pub new_ids: bool,
    /// Overwrite sessions that exist.
    #[serde(default)]
    pub force: bool,
}

/// `POST /api/claude/sessions/import`: the body is a bundle (as export gives).
#[utoipa::path(
    post,
    path = "/api/claude/sessions/import",
    tag = "sessions",
    params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/zstd", description = "a bundle, as export gives"),
    responses((status = 201, description = "imported: {sessions, metadataKept}", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn import(
    State(s): State<AppState>,
    Params(q): Params<ImportQuery>,
    req: axum::extract::Request,
) -> Result<(StatusCode, Data<Value>), ApiError> {
    use futures::StreamExt as _;
    use tokio::io::AsyncWriteExt as _;
    if q.new_ids && q.force {
        return Err(ApiError::invalid("new_ids and force do not go together"));
    }
    let service = s.fleet.service().clone();
    let dir = service.data_dir().join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::Internal(format!("creating {}: {e}", dir.display())))?;
    let file = dir.join(format!("import-{}.ccsm", uuid::Uuid::new_v4().simple()));
    // Staged on disk as it arrives (a bundle may be large), bounded.
    let staged = async {
        let mut out = tokio::fs::File::create(&file)
            .await
            .map_err(|e| Error::Internal(format!("staging the bundle: {e}")))?;
        let mut body = req.into_body().into_data_stream();
        let mut n = 0usize;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ApiError::invalid(format!("reading the body: {e}")))?;
            n += chunk.len();
            if n > MAX_BUNDLE {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payloadTooLarge",
                    format!("a bundle may be at most {} MiB", MAX_BUNDLE >> 20),
                ));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| Error::Internal(format!("staging the bundle: {e}")))?;
        }
        out.flush()
            .await
            .map_err(|e| Error::Internal(format!("staging the bundle: {e}")))?;
        if n == 0 {
            return Err(ApiError::invalid("the body is empty: send a bundle"));
        }
        Ok(())
    }
    .await;
    if let Err(e) = staged {
        let _ = tokio::fs::remove_file(&file).await;
        return Err(e);
    }
    let v = blocking(move || {
        let done = service.import(
            &file,
            q.to.as_deref(),
            q.new_ids,
            q.force,
            q.create,
            Source::Catalog,
        );
        let _ = std::fs::remove_file(&file);
        let (sessions, kept) = done?;
        Ok(json!({"sessions": sessions, "metadataKept": kept}))
    })
    .await?;
    Ok((StatusCode::CREATED, Data(v)))
}

/// `POST /api/claude/sessions/{id}/restore`: a session Claude Code deleted (or
/// that was purged) written back from ccsm's archive where the CLI looks for it.
#[utoipa::path(
    post,
    path = "/api/claude/sessions/{id}/restore",
    tag = "sessions",
    params(("id" = String, Path, description = "a session id, or a live session's name")),
    responses((status = 200, description = "restored: {sessionId, path}", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn restore(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Value> {
    let service = s.fleet.service().clone();
    let v = blocking(move || {
        let id = service.resolve_id(&id, Source::Catalog)?;
        let path = service.restore(&id, false, None)?;
        Ok(json!({"sessionId": id, "path": path}))
    })
    .await?;
    Ok(Data(v))
}
