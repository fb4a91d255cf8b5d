//! `ccsm serve`: the daemon. The fleet of live sessions ([`fleet`]), every
//! Claude Code process on the machine, approvals, supervision and recovery,
//! behind a REST + WebSocket/SSE API whose every answer is an envelope
//! ([`envelope`]). The router is built by [`app`] (tests call it without a
//! socket); [`serve`] runs it on a listener until a shutdown future resolves.
//!
//! Routes (`{id}` is a session id or a live session's name):
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | alive, version, live sessions |
//! | `POST /api/claude/sessions` | start ([`fleet::StartRequest`]) |
//! | `GET /api/claude/sessions` | the catalog's sessions: filters, pages, total |
//! | `GET /api/claude/sessions/{id}` | one session: SDK fields, metadata, stats, live state |
//! | `PUT /api/claude/sessions/{id}` | settings, title, description, tags, notes, agents |
//! | `DELETE /api/claude/sessions/{id}` | terminate (`?purge=true`: and remove, archived) |
//! | `POST /api/claude/sessions/{id}/navigate` | move it to another folder |
//! | `POST /api/claude/sessions/{id}/clone` | a copy, here or in another folder |
//! | `POST /api/claude/sessions/{id}/export` | the bundle (download) |
//! | `POST /api/claude/sessions/{id}/restore` | a gone session back from the archive |
//! | `POST /api/claude/sessions/import` | a bundle (upload; verified whole first) |
//! | `POST /api/claude/validate-path[s]` | the path validator's report |
//! | `GET /api/claude/system-status` | version, CLI, catalog, load |
//! | `GET /api/claude/sessions/{id}/metrics` | samples (`?hours=N`), transcript figures, `summary` |
//! | `GET /api/claude/analytics` | by status, project, day, model; top sessions; anomalies |
//! | `GET /api/claude/alerts` | alerts raised, newest first (`?session=&limit=`) |
//! | `GET /api/claude/agent-types` | subagent definitions (built-in, user, catalog) |
//! | `GET /api/claude/sessions/{id}/agents` | a fleet session's agents |
//! | `POST /api/claude/sessions/{id}/agents/{name}/activate\|deactivate\|restart` | from its next turn |
//! | `GET /api/claude/sessions/{id}/status` | [`fleet::RunView`] |
//! | `POST /api/claude/sessions/{id}/messages` | `{"prompt"}`: the next turn |
//! | `GET /api/claude/sessions/{id}/messages` | the conversation as the SDK reads it |
//! | `GET /api/claude/usage` | tokens and cost per day, totals (as `ccsm usage --json`) |
//! | `POST /api/claude/sessions/{id}/interrupt` | end the turn |
//! | `POST /api/claude/sessions/{id}/cancel` | interrupt, kill ladder, sweep |
//! | `POST /api/claude/sessions/{id}/model` | `{"model"}` |
//! | `POST /api/claude/sessions/{id}/permission-mode` | `{"mode"}` |
//! | `POST /api/claude/sessions/{id}/fork` | a new session with its history |
//! | `POST /api/claude/sessions/{id}/clear` | a fresh conversation, same settings |
//! | `GET /api/claude/sessions/{id}/output` | the stream-json output so far (JSONL) |
//! | `GET /api/claude/sessions/{id}/events` | SSE (`?after=N`, `Last-Event-ID`) |
//! | `GET /api/claude/running` | the process table (`?all=true`: every Claude Code) |
//! | `POST /api/claude/running/cancel` | cancel every session of the daemon |
//! | `POST /api/claude/running/{pid}/signal` | stop a process ccsm did not start |
//! | `GET /api/claude/approvals[/{id}]`, `POST /api/claude/approvals/{id}` | held tool calls |
//! | `GET /`, `/sessions/{id}`, `/history`, `/usage` | the web dashboard (embedded) |
//! | `GET /api/openapi.json` | this API's OpenAPI 3.1 document |
//! | `GET /ws/sessions` | WebSocket (`?ids=a,b&after=a:12`) |

mod agents;
pub mod client;
mod dashboard;
pub mod envelope;
mod error;
mod external;
pub mod fleet;
pub mod guard;
mod manage;
mod metrics;
mod resources;
mod routes;
mod streams;
mod system;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;

pub use error::{Error, Result};
pub use fleet::{Fleet, FleetConfig};
pub use guard::Access;

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// What every route reads.
#[derive(Debug, Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub access: Arc<Access>,
    pub started: Instant,
}

impl AppState {
    pub fn new(fleet: Fleet, access: Access) -> Self {
        Self {
            fleet,
            access: Arc::new(access),
            started: Instant::now(),
        }
    }
}

/// Every route with its documentation: utoipa-axum registers each handler and
/// its OpenAPI operation together, so the router and the document cannot drift
/// (a test checks both ways).
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa_axum::routes;
    let doc = <ApiDoc as utoipa::OpenApi>::openapi();
    utoipa_axum::router::OpenApiRouter::with_openapi(doc)
        .routes(routes!(routes::health))
        .routes(routes!(routes::start, resources::list))
        .routes(routes!(resources::get_one, manage::update, manage::delete))
        .routes(routes!(routes::status))
        .routes(routes!(routes::message, resources::messages))
        .routes(routes!(routes::interrupt))
        .routes(routes!(routes::cancel))
        .routes(routes!(routes::set_model))
        .routes(routes!(routes::set_mode))
        .routes(routes!(routes::fork))
        .routes(routes!(routes::clear))
        .routes(routes!(routes::output))
        .routes(routes!(streams::sse))
        .routes(routes!(resources::navigate))
        .routes(routes!(manage::clone))
        .routes(routes!(manage::export))
        .routes(routes!(manage::restore))
        .routes(routes!(manage::import))
        .routes(routes!(resources::validate_path))
        .routes(routes!(resources::validate_paths))
        .routes(routes!(system::system_status))
        .routes(routes!(agents::agent_types))
        .routes(routes!(agents::session_agents))
        .routes(routes!(agents::activate))
        .routes(routes!(agents::deactivate))
        .routes(routes!(agents::restart))
        .routes(routes!(metrics::metrics))
        .routes(routes!(metrics::alerts))
        .routes(routes!(metrics::analytics))
        .routes(routes!(metrics::usage))
        .routes(routes!(routes::running))
        .routes(routes!(routes::cancel_all))
        .routes(routes!(routes::signal_external))
        .routes(routes!(routes::approvals))
        .routes(routes!(routes::approval, routes::answer))
        .routes(routes!(streams::ws))
        .routes(routes!(openapi_json))
        .routes(routes!(dashboard::live))
        .routes(routes!(dashboard::session))
        .routes(routes!(dashboard::history))
        .routes(routes!(dashboard::usage))
        .routes(routes!(dashboard::app_js))
        .routes(routes!(dashboard::app_css))
        .split_for_parts()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(envelope::ErrorEnvelope, envelope::ErrorBody)),
    info(
        title = "ccsm serve",
        description = "The Claude Code session manager's daemon: every answer is the envelope {success, data, error: {kind, message} | null, timestamp}."
    ),
    tags(
        (name = "sessions", description = "start, steer, change, move, copy sessions"),
        (name = "processes", description = "every Claude Code process on the machine"),
        (name = "events", description = "live events: WebSocket and SSE"),
        (name = "approvals", description = "tool calls waiting for an answer"),
        (name = "agents", description = "subagent definitions and a session's agents"),
        (name = "monitoring", description = "metrics, alerts, analytics"),
        (name = "paths", description = "the path validator"),
        (name = "system", description = "health, status, this document"),
        (name = "dashboard", description = "the web dashboard (HTML, script, style)")
    )
)]
struct ApiDoc;

/// The OpenAPI document (generated at start from the code).
static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The OpenAPI 3.1 document of this API, generated from the code.
pub fn openapi() -> serde_json::Value {
    let text = DOC.get_or_init(|| api().1.to_json().unwrap_or_default());
    serde_json::from_str(text).unwrap_or_default()
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object))
)]
async fn openapi_json() -> impl axum::response::IntoResponse {
    let text = DOC.get_or_init(|| api().1.to_json().unwrap_or_default());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text.clone(),
    )
}

/// The router.
pub fn app(state: AppState) -> Router {
    let router = api()
        .0
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.access.clone(),
            guard::guard,
        ));
    // CORS only for the origins the operator named (a page of its own origin
    // needs none); their preflights are answered before the guard.
    let origins: Vec<axum::http::HeaderValue> = state
        .access
        .origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let router = if origins.is_empty() {
        router
    } else {
        router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::PUT,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                ]),
        )
    };
    router.with_state(state)
}

/// Refuses a bind the rules forbid: a non-loopback address without a token.
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> Result<()> {
    if !addr.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(Error::Invalid(format!(
            "refusing to listen on {addr} without a token: anyone on the network could drive your sessions; use --token-file, or listen on 127.0.0.1"
        )));
    }
    Ok(())
}

/// Serves `state` on `listener` until `shutdown` resolves; then every live
/// session is closed (their runs end as closed, not crashed).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let fleet = state.fleet.clone();
    let housekeeping = fleet.spawn_housekeeping();
    let sampler = fleet.spawn_sampler();
    // With a catalog shared by many hosts: this host's live table, published.
    let team = fleet.spawn_team();
    // And the commands other hosts' daemons leave for this one, taken.
    let commands = fleet.spawn_commands();
    // Open WebSockets and SSE streams would hold a graceful shutdown forever:
    // they end when it begins.
    let stopping = fleet.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.begin_shutdown();
    };
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    housekeeping.abort();
    sampler.abort();
    if let Some(c) = commands {
        c.abort();
    }
    if let Some(t) = team {
        // It withdraws this host's rows when it sees the daemon stopping.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), t).await;
    }
    fleet.shutdown().await;
    result
}
