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
//! | `GET /ws/sessions` | WebSocket (`?ids=a,b&after=a:12`) |

mod agents;
pub mod client;
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
use axum::routing::{get, post};
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

/// The router.
pub fn app(state: AppState) -> Router {
    let sessions = "/api/claude/sessions/{id}";
    Router::new()
        .route("/health", get(routes::health))
        .route(
            "/api/claude/sessions",
            post(routes::start).get(resources::list),
        )
        .route(
            sessions,
            get(resources::get_one)
                .put(manage::update)
                .delete(manage::delete),
        )
        .route(&format!("{sessions}/clone"), post(manage::clone))
        .route(&format!("{sessions}/export"), post(manage::export))
        .route(
            "/api/claude/sessions/import",
            post(manage::import).layer(DefaultBodyLimit::max(manage::MAX_BUNDLE)),
        )
        .route(&format!("{sessions}/navigate"), post(resources::navigate))
        .route("/api/claude/validate-path", post(resources::validate_path))
        .route(
            "/api/claude/validate-paths",
            post(resources::validate_paths),
        )
        .route("/api/claude/system-status", get(system::system_status))
        .route("/api/claude/agent-types", get(agents::agent_types))
        .route(&format!("{sessions}/metrics"), get(metrics::metrics))
        .route("/api/claude/alerts", get(metrics::alerts))
        .route("/api/claude/analytics", get(metrics::analytics))
        .route(&format!("{sessions}/agents"), get(agents::session_agents))
        .route(
            &format!("{sessions}/agents/{{name}}/activate"),
            post(agents::activate),
        )
        .route(
            &format!("{sessions}/agents/{{name}}/deactivate"),
            post(agents::deactivate),
        )
        .route(
            &format!("{sessions}/agents/{{name}}/restart"),
            post(agents::restart),
        )
        .route(&format!("{sessions}/status"), get(routes::status))
        .route(&format!("{sessions}/messages"), post(routes::message))
        .route(&format!("{sessions}/interrupt"), post(routes::interrupt))
        .route(&format!("{sessions}/cancel"), post(routes::cancel))
        .route(&format!("{sessions}/model"), post(routes::set_model))
        .route(
            &format!("{sessions}/permission-mode"),
            post(routes::set_mode),
        )
        .route(&format!("{sessions}/fork"), post(routes::fork))
        .route(&format!("{sessions}/clear"), post(routes::clear))
        .route(&format!("{sessions}/output"), get(routes::output))
        .route(&format!("{sessions}/events"), get(streams::sse))
        .route("/api/claude/running", get(routes::running))
        .route("/api/claude/running/cancel", post(routes::cancel_all))
        .route(
            "/api/claude/running/{pid}/signal",
            post(routes::signal_external),
        )
        .route("/api/claude/approvals", get(routes::approvals))
        .route(
            "/api/claude/approvals/{id}",
            get(routes::approval).post(routes::answer),
        )
        .route("/ws/sessions", get(streams::ws))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.access.clone(),
            guard::guard,
        ))
        .with_state(state)
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
    // Open WebSockets and SSE streams would hold a graceful shutdown forever:
    // they end when it begins.
    let stopping = fleet.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.begin_shutdown();
    };
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    housekeeping.abort();
    sampler.abort();
    fleet.shutdown().await;
    result
}
