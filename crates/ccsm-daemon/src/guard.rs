//! Who may talk to the daemon. A local daemon is a web server every page in the
//! user's browser can reach, so every request (the WebSocket upgrade included)
//! must name the daemon as its `Host` (against DNS rebinding) and, when it
//! comes from a page, carry an `Origin` of the daemon itself or of a configured
//! origin (against cross-site requests). A request without `Origin` comes from a
//! program and is fine. With a token, every request needs
//! `Authorization: Bearer <token>` (or, for a browser's WebSocket, the
//! `bearer.<token>` subprotocol).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::envelope::ApiError;

/// The rules, fixed at start.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `host[:port]` values accepted in `Host`.
    pub hosts: Vec<String>,
    /// Origins accepted besides the daemon's own (`http://host:port`).
    pub origins: Vec<String>,
    pub token: Option<String>,
    /// Accept any `Host` (a non-loopback bind with a token: the token guards).
    pub any_host: bool,
}

impl Access {
    /// The hosts a daemon bound to `addr` answers to.
    pub fn for_addr(addr: SocketAddr, token: Option<String>) -> Self {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let own = addr.to_string();
        if !hosts.contains(&own) {
            hosts.push(own);
        }
        Self {
            any_host: !addr.ip().is_loopback() && token.is_some(),
            hosts,
            origins: Vec::new(),
            token,
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.any_host || self.hosts.contains(&host)
    }

    fn origin_ok(&self, origin: &str, host: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        let own = [
            format!("http://{}", host.to_ascii_lowercase()),
            format!("https://{}", host.to_ascii_lowercase()),
        ];
        own.contains(&origin) || self.origins.iter().any(|o| o.eq_ignore_ascii_case(&origin))
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let protocol = headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .map(str::trim)
                    .find_map(|p| p.strip_prefix("bearer."))
            });
        bearer
            .or(protocol)
            .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
    }

    /// Checks one request's headers.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.host_ok(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("Host {host:?} is not this daemon's: refused (DNS rebinding guard)"),
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_ok(origin, host) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("Origin {origin:?} may not use this daemon: refused"),
                ));
            }
        }
        if !self.token_ok(headers) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this daemon needs its token: Authorization: Bearer <token>",
            ));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware.
pub async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    match access.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
