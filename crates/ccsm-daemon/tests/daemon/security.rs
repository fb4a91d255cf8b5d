//! Who may talk to the daemon, and what a bad request gets: always a 4xx
//! envelope with a kind, never a panic or a stack trace.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ccsm_daemon::{app, check_bind, Access, AppState, Fleet, FleetConfig};
use ccsm_testkit::TestEnv;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::harness::service;

const ADDR: &str = "127.0.0.1:8082";

fn state(env: &TestEnv, token: Option<&str>) -> AppState {
    let addr: SocketAddr = ADDR.parse().expect("address");
    let fleet = Fleet::new(service(env), FleetConfig::default());
    AppState::new(fleet, Access::for_addr(addr, token.map(str::to_owned)))
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let (method, path) = (req.method().to_string(), req.uri().to_string());
    let resp = app(state.clone()).oneshot(req).await.expect("a response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "not an envelope ({status}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    // Refusals fit the document too (its error envelope).
    crate::contract::check(&method, &path, status.as_u16(), &v);
    (status, v)
}

fn req(method: &str, path: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", ADDR)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a request")
}

#[tokio::test]
async fn bad_requests_get_4xx_envelopes_with_a_kind() {
    let env = TestEnv::new();
    let s = state(&env, None);
    let uuid = "8b005bc5-0000-4000-8000-000000000001";
    let huge = format!(r#"{{"prompt": "{}"}}"#, "x".repeat(2 << 20));
    let sessions = "/api/claude/sessions";
    let cases: Vec<(&str, String, String, StatusCode, &str)> = vec![
        (
            "POST",
            sessions.into(),
            "not json".into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            "{".into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            "[]".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"prompt": 5}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"fork": "yes"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"model": ["a"]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"limits": {"max_memory_mb": -1}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"limits": {"action": "explode"}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"environment_variables": {"A": 1}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"no_such_field": 1}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"working_directory": "relative/dir"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"working_directory": "/no/such/dir/anywhere"}"#.into(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"working_directory": "/etc"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"fork": true}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"resume": "x", "continue": true}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"permission_mode": "yolo"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"name": "../../etc"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            r#"{"environment_variables": {"A=B": "c"}}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            sessions.into(),
            huge.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payloadTooLarge",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/messages"),
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payloadTooLarge",
        ),
        (
            "GET",
            format!("{sessions}/..%2F..%2Fetc%2Fpasswd/status"),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "GET",
            format!("{sessions}/%3Cscript%3E/status"),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "GET",
            format!("{sessions}/{uuid}/status"),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "GET",
            format!("{sessions}/nobody/output"),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/messages"),
            r#"{"prompt": "hi"}"#.into(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/messages"),
            r#"{"prompt": ""}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/messages"),
            r#"{"text": "hi"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/cancel"),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/interrupt"),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/permission-mode"),
            r#"{"mode": "yolo"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            format!("{sessions}/{uuid}/fork"),
            "{oops".into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "GET",
            "/api/claude/approvals/../../x".into(),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "GET",
            "/api/claude/approvals/not-an-id".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            "/api/claude/approvals/ap-00000000000000000000000000000000".into(),
            r#"{"allow": true}"#.into(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "POST",
            "/api/claude/approvals/ap-00000000000000000000000000000000".into(),
            r#"{"allow": "sure"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalidInput",
        ),
        (
            "POST",
            "/api/claude/running/abc/signal".into(),
            "{}".into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            "/api/claude/running/1/signal".into(),
            r#"{"signal": "SIGKILL"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "POST",
            "/api/claude/running/4000000/signal".into(),
            "{}".into(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "GET",
            "/api/claude/running?all=maybe".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
        (
            "GET",
            "/api/nothing/here".into(),
            String::new(),
            StatusCode::NOT_FOUND,
            "notFound",
        ),
        (
            "DELETE",
            "/health".into(),
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
        ),
        (
            "GET",
            "/ws/sessions?ids=not%20valid".into(),
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalidInput",
        ),
    ];
    assert!(cases.len() >= 30);
    for (method, path, body, want, kind) in cases {
        let (status, v) = call(&s, req(method, &path, &body)).await;
        let shown = format!(
            "{method} {path} {}",
            body.chars().take(60).collect::<String>()
        );
        assert_eq!(status, want, "{shown}: {v}");
        assert_eq!(v["success"], false, "{shown}");
        assert_eq!(v["error"]["kind"], kind, "{shown}: {v}");
        assert!(v["timestamp"].as_u64().is_some(), "{shown}");
        let message = v["error"]["message"].as_str().unwrap_or("");
        assert!(
            !message.is_empty() && !message.contains("panicked"),
            "{shown}: {v}"
        );
    }
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused_programs_without_origin_are_not() {
    let env = TestEnv::new();
    let s = state(&env, None);
    let with = |host: &str, origin: Option<&str>| {
        let mut b = Request::builder().uri("/health").header("host", host);
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(Body::empty()).expect("a request")
    };
    let (st, _) = call(&s, with(ADDR, None)).await;
    assert_eq!(st, StatusCode::OK, "a program (no Origin)");
    let (st, _) = call(&s, with("localhost:8082", Some("http://localhost:8082"))).await;
    assert_eq!(st, StatusCode::OK, "the daemon's own page");
    for (host, origin) in [
        ("evil.example:8082", None),
        ("127.0.0.1:9999", None),
        (ADDR, Some("http://evil.example")),
        (ADDR, Some("null")),
        (ADDR, Some("http://127.0.0.1:8083")),
    ] {
        let (st, v) = call(&s, with(host, origin)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{host} {origin:?}");
        assert_eq!(v["error"]["kind"], "forbidden");
    }
    // The WebSocket upgrade is checked the same way.
    let upgrade = Request::builder()
        .uri("/ws/sessions")
        .header("host", ADDR)
        .header("origin", "http://evil.example")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Body::empty())
        .expect("a request");
    let (st, _) = call(&s, upgrade).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_is_required_when_configured_and_a_public_bind_needs_one() {
    let env = TestEnv::new();
    let token = "s3cret-token-of-some-length";
    let s = state(&env, Some(token));
    let with = |auth: Option<&str>| {
        let mut b = Request::builder()
            .uri("/api/claude/running")
            .header("host", ADDR);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::empty()).expect("a request")
    };
    for bad in [
        None,
        Some("Bearer wrong"),
        Some("Basic abc"),
        Some("Bearer "),
    ] {
        let (st, v) = call(&s, with(bad)).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(v["error"]["kind"], "unauthorized");
    }
    let (st, v) = call(&s, with(Some(&format!("Bearer {token}")))).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The dashboard's page loads without the token (it holds no data and asks
    // for the token); the API behind it does not, nor does a foreign Host.
    for page in ["/", "/history", "/usage", "/sessions/abc", "/assets/app.js"] {
        let r = app(s.clone())
            .oneshot(
                Request::builder()
                    .uri(page)
                    .header("host", ADDR)
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("a response");
        assert_eq!(r.status(), StatusCode::OK, "{page}");
    }
    for refused in ["/sessions/abc/status", "/api/openapi.json"] {
        let r = app(s.clone())
            .oneshot(
                Request::builder()
                    .uri(refused)
                    .header("host", ADDR)
                    .body(Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("a response");
        assert_ne!(r.status(), StatusCode::OK, "{refused}");
    }
    let r = app(s.clone())
        .oneshot(
            Request::builder()
                .uri("/")
                .header("host", "evil.example:8082")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("a response");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    assert!(check_bind("0.0.0.0:8082".parse().expect("addr"), None).is_err());
    assert!(check_bind("0.0.0.0:8082".parse().expect("addr"), Some("")).is_err());
    assert!(check_bind("0.0.0.0:8082".parse().expect("addr"), Some(token)).is_ok());
    assert!(check_bind("127.0.0.1:8082".parse().expect("addr"), None).is_ok());
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_envelopes_and_others_are_not_held() {
    let env = TestEnv::new();
    let addr: SocketAddr = ADDR.parse().expect("address");
    let fleet = Fleet::new(service(&env), FleetConfig::default());
    let access = Access::for_addr(addr, None).with_rate(ccsm_daemon::guard::Rate {
        per_second: 1,
        burst: 3,
    });
    let s = AppState::new(fleet, access);
    for i in 0..3 {
        let (status, v) = call(&s, req("GET", "/health", "")).await;
        assert_eq!(status, StatusCode::OK, "request {i} is in the burst: {v}");
    }
    let resp = app(s.clone())
        .oneshot(req("GET", "/health", ""))
        .await
        .expect("a response");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let (status, v) = call(&s, req("GET", "/api/claude/running", "")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["kind"], "tooManyRequests", "{v}");
    // Another client (another token) has its own allowance.
    let mut other = req("GET", "/health", "");
    other.headers_mut().insert(
        "authorization",
        "Bearer someone-else".parse().expect("header"),
    );
    let (status, _) = call(&s, other).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let env = TestEnv::new();
    let addr: SocketAddr = ADDR.parse().expect("address");
    let fleet = Fleet::new(service(&env), FleetConfig::default());
    let mut access = Access::for_addr(addr, None);
    access.origins = vec!["http://dash.example".into()];
    let s = AppState::new(fleet, access);
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/claude/running")
            .header("host", ADDR)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("a request")
    };
    let ok = app(s.clone())
        .oneshot(preflight("http://dash.example"))
        .await
        .expect("a response");
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://dash.example")
    );
    let foreign = app(s.clone())
        .oneshot(preflight("http://evil.example"))
        .await
        .expect("a response");
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let mut get = req("GET", "/api/claude/running", "");
    get.headers_mut()
        .insert("origin", "http://dash.example".parse().expect("header"));
    let r = app(s.clone()).oneshot(get).await.expect("a response");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("access-control-allow-origin"));
    let mut get = req("GET", "/api/claude/running", "");
    get.headers_mut()
        .insert("origin", "http://evil.example".parse().expect("header"));
    let (status, v) = call(&s, get).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

/// The resource routes (sessions, paths, agents, metrics, alerts, analytics,
/// bundles) refuse bad requests with 4xx envelopes, never a 5xx.
#[tokio::test]
async fn bad_requests_to_the_resource_routes_get_4xx_envelopes() {
    let env = TestEnv::new();
    let s = state(&env, None);
    let id = "8b005bc5-0000-4000-8000-000000000001";
    let one = format!("/api/claude/sessions/{id}");
    let cases: Vec<(&str, String, String)> = vec![
        ("GET", "/api/claude/sessions?limit=0".into(), String::new()),
        (
            "GET",
            "/api/claude/sessions?limit=abc".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions?offset=-1".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions?status=flying".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions?after=tomorrow".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions?cost_gt=NaN".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions?unknown=1".into(),
            String::new(),
        ),
        (
            "GET",
            "/api/claude/sessions/..%2F..%2Fetc".into(),
            String::new(),
        ),
        ("GET", one.clone(), String::new()),
        ("PUT", one.clone(), "not json".into()),
        ("PUT", one.clone(), r#"{"colour": "red"}"#.into()),
        ("PUT", one.clone(), r#"{"tags": "not-a-list"}"#.into()),
        (
            "PUT",
            one.clone(),
            r#"{"permission_mode": "sideways"}"#.into(),
        ),
        (
            "PUT",
            one.clone(),
            r#"{"environment_variables": {"A=B": "x"}}"#.into(),
        ),
        ("DELETE", format!("{one}?purge=maybe"), String::new()),
        (
            "DELETE",
            "/api/claude/sessions/not-a-uuid!".into(),
            String::new(),
        ),
        ("POST", format!("{one}/navigate"), "{}".into()),
        ("POST", format!("{one}/navigate"), r#"{"path": 42}"#.into()),
        (
            "POST",
            format!("{one}/navigate"),
            r#"{"path": "/etc"}"#.into(),
        ),
        ("POST", format!("{one}/clone"), r#"{"to": ["x"]}"#.into()),
        ("POST", format!("{one}/clone"), "{broken".into()),
        (
            "POST",
            format!("{one}/export"),
            r#"{"redact": "yes"}"#.into(),
        ),
        ("POST", "/api/claude/sessions/import".into(), String::new()),
        (
            "POST",
            "/api/claude/sessions/import?new_ids=true&force=true".into(),
            "x".into(),
        ),
        (
            "POST",
            "/api/claude/sessions/import".into(),
            "not a bundle".into(),
        ),
        ("POST", "/api/claude/validate-path".into(), "{}".into()),
        (
            "POST",
            "/api/claude/validate-path".into(),
            r#"{"path": null}"#.into(),
        ),
        (
            "POST",
            "/api/claude/validate-paths".into(),
            r#"{"paths": "/tmp"}"#.into(),
        ),
        ("GET", format!("{one}/agents"), String::new()),
        (
            "POST",
            format!("{one}/agents/backend/activate"),
            String::new(),
        ),
        ("POST", format!("{one}/agents/x/deactivate"), String::new()),
        ("GET", format!("{one}/metrics?hours=0"), String::new()),
        ("GET", format!("{one}/metrics?hours=-5"), String::new()),
        ("GET", format!("{one}/metrics?days=1"), String::new()),
        ("GET", "/api/claude/alerts?limit=0".into(), String::new()),
        ("GET", "/api/claude/alerts?limit=x".into(), String::new()),
        ("GET", "/api/claude/analytics?days=0".into(), String::new()),
        ("GET", "/api/claude/analytics?top=101".into(), String::new()),
    ];
    assert!(cases.len() >= 30);
    for (method, path, body) in &cases {
        let (status, v) = call(&s, req(method, path, body)).await;
        assert!(
            status.is_client_error(),
            "{method} {path} {body}: {status} {v}"
        );
        assert_eq!(v["success"], false, "{method} {path}");
        assert!(v["error"]["kind"].is_string(), "{method} {path}: {v}");
    }
}
