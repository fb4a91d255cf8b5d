//! The web dashboard, embedded in the binary (no Node at install time): one
//! page whose views each have their own URL (`/`, `/sessions/{id}`,
//! `/history?q=…`, `/usage`), and its script and style. It uses only the public
//! API and the WebSocket.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// The page may load and connect to its own origin only (its WebSocket
/// included): nothing it does reaches anywhere but the daemon, and no inline
/// script or style runs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        INDEX,
    )
}

/// The live view: every Claude Code process, updated as it changes.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "the dashboard", content_type = "text/html", body = String)))]
pub async fn live() -> impl IntoResponse {
    page()
}

/// One session: its conversation, streamed while it runs.
#[utoipa::path(get, path = "/sessions/{id}", tag = "dashboard",
    params(("id" = String, Path, description = "a session id or name")),
    responses((status = 200, description = "the dashboard", content_type = "text/html", body = String)))]
pub async fn session() -> impl IntoResponse {
    page()
}

/// History: search with the catalog's query language (`?q=`).
#[utoipa::path(get, path = "/history", tag = "dashboard",
    responses((status = 200, description = "the dashboard", content_type = "text/html", body = String)))]
pub async fn history() -> impl IntoResponse {
    page()
}

/// Usage: tokens and cost per day.
#[utoipa::path(get, path = "/usage", tag = "dashboard",
    responses((status = 200, description = "the dashboard", content_type = "text/html", body = String)))]
pub async fn usage() -> impl IntoResponse {
    page()
}

#[utoipa::path(get, path = "/assets/app.js", tag = "dashboard",
    responses((status = 200, description = "the dashboard's script", content_type = "text/javascript", body = String)))]
pub async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
}

#[utoipa::path(get, path = "/assets/app.css", tag = "dashboard",
    responses((status = 200, description = "the dashboard's style", content_type = "text/css", body = String)))]
pub async fn app_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_CSS,
    )
}
