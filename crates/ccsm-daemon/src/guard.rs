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
    /// Requests per second each client may make (none: no limit).
    pub rate: Option<Rate>,
    limiter: Option<Arc<Limiter>>,
}

/// A client's allowance: so many requests per second, with bursts up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

type Limiter = governor::DefaultKeyedRateLimiter<String>;

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
            rate: None,
            limiter: None,
        }
    }

    /// Limits each client (its token, else its address) to `rate`.
    pub fn with_rate(mut self, rate: Rate) -> Self {
        let per =
            std::num::NonZeroU32::new(rate.per_second.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        let burst =
            std::num::NonZeroU32::new(rate.burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = governor::Quota::per_second(per).allow_burst(burst);
        self.limiter = Some(Arc::new(governor::RateLimiter::keyed(quota)));
        self.rate = Some(rate);
        self
    }

    /// Whether `client` may make one more request now; else how long to wait.
    fn allow(&self, client: &str) -> Result<(), std::time::Duration> {
        let Some(l) = &self.limiter else {
            return Ok(());
        };
        let key = client.to_owned();
        l.check_key(&key).map_err(|not| {
            not.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })?;
        // Forget idle clients now and then (the map would only grow).
        if l.len() > 10_000 {
            l.retain_recent();
        }
        Ok(())
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
        self.check_for(headers, false)
    }

    /// [`Self::check`]; `public` (the dashboard's page, script and style, which
    /// hold no data) skips only the token, so the page can load and ask for it.
    pub fn check_for(&self, headers: &HeaderMap, public: bool) -> Result<(), ApiError> {
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
        if !public && !self.token_ok(headers) {
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
    let public = req.method() == axum::http::Method::GET && is_page(req.uri().path());
    if let Err(e) = access.check_for(req.headers(), public) {
        return e.into_response();
    }
    // Per client: the token it presents (hashed into the key, never kept as
    // is), else its address.
    let client = match req.headers().get(header::AUTHORIZATION) {
        Some(v) => format!("t:{:x}", fxhash(v.as_bytes())),
        None => req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map_or_else(|| "local".to_owned(), |c| format!("a:{}", c.0.ip())),
    };
    if let Err(wait) = access.allow(&client) {
        let secs = wait.as_secs().max(1);
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "tooManyRequests",
            format!("too many requests: try again in {secs} s"),
        )
        .into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    next.run(req).await
}

/// The dashboard's own files: the page at each view's address, its script and style.
fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/history" | "/usage" | "/assets/app.js" | "/assets/app.css"
    ) || path
        .strip_prefix("/sessions/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// A short, stable digest of a token for the limiter's key.
fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x0100_0000_01b3)
    })
}
