//! A daemon in the test's own world: its config dir, home and catalog, the
//! scripted model, a listener on a free loopback port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ccsm_daemon::client::{Client, ClientError};
use ccsm_daemon::{app, Access, AppState, Fleet, FleetConfig};
use ccsm_service::{Config, Service};
use ccsm_testkit::{MockModel, Scenario, TestEnv};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};

pub struct Daemon {
    pub env: TestEnv,
    pub model: MockModel,
    pub addr: SocketAddr,
    pub fleet: Fleet,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn service(env: &TestEnv) -> Service {
    let config = Config {
        data_dir: Some(env.root().join("ccsm-home")),
        ..Config::default()
    };
    Service::new(config, Some(env.config_dir.clone()))
}

pub fn fleet_config(env: &TestEnv, model: &MockModel) -> FleetConfig {
    FleetConfig {
        claude: Some(ccsm_testkit::claude_cli()),
        env: env
            .vars(model)
            .into_iter()
            .filter(|(k, _)| k != "CLAUDE_CONFIG_DIR")
            .collect(),
        env_remove: TestEnv::leaky_vars()
            .into_iter()
            .filter(|k| k != "CLAUDE_CONFIG_DIR")
            .collect(),
        ladder: ccsm_claude::Ladder {
            interrupt: Duration::from_secs(2),
            signal: Duration::from_secs(2),
        },
        ..FleetConfig::default()
    }
}

impl Daemon {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut FleetConfig)) -> Self {
        let env = TestEnv::new();
        let model = MockModel::start(Scenario::echo());
        let mut cfg = fleet_config(&env, &model);
        tune(&mut cfg);
        Self::serve(env, model, cfg).await
    }

    /// A daemon on an existing world (a restart).
    pub async fn serve(env: TestEnv, model: MockModel, cfg: FleetConfig) -> Self {
        Self::serve_with(env, model, cfg, None).await
    }

    /// A daemon whose socket needs `token` (the harness's own requests go
    /// through the router directly).
    pub async fn start_with_token(token: &str) -> Self {
        let env = TestEnv::new();
        let model = MockModel::start(Scenario::echo());
        let cfg = fleet_config(&env, &model);
        Self::serve_with(env, model, cfg, Some(token.to_owned())).await
    }

    /// A daemon of host `host` whose catalog is the shared store `url`.
    pub async fn start_on_team(url: &str, host: &str) -> Self {
        let env = TestEnv::new();
        let model = MockModel::start(Scenario::echo());
        let cfg = fleet_config(&env, &model);
        let config = Config {
            data_dir: Some(env.root().join("ccsm-home")),
            store: Some(url.to_owned()),
            host: Some(host.to_owned()),
            ..Config::default()
        };
        let service = Service::new(config, Some(env.config_dir.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding");
        Self::serve_service(env, model, cfg, None, listener, service).await
    }

    async fn serve_with(
        env: TestEnv,
        model: MockModel,
        cfg: FleetConfig,
        token: Option<String>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding");
        Self::serve_on(env, model, cfg, token, listener).await
    }

    /// A daemon back on the address an earlier one had (a restart a browser
    /// page reconnects to).
    pub async fn serve_at(env: TestEnv, model: MockModel, addr: SocketAddr) -> Self {
        let cfg = fleet_config(&env, &model);
        let deadline = Instant::now() + Duration::from_secs(30);
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) => assert!(Instant::now() < deadline, "binding {addr} again: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Self::serve_on(env, model, cfg, None, listener).await
    }

    async fn serve_on(
        env: TestEnv,
        model: MockModel,
        cfg: FleetConfig,
        token: Option<String>,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let service = service(&env);
        Self::serve_service(env, model, cfg, token, listener, service).await
    }

    async fn serve_service(
        env: TestEnv,
        model: MockModel,
        cfg: FleetConfig,
        token: Option<String>,
        listener: tokio::net::TcpListener,
        service: Service,
    ) -> Self {
        let fleet = Fleet::new(service, cfg);
        fleet.recover().await.expect("recovering");
        let addr = listener.local_addr().expect("address");
        let state = AppState::new(fleet.clone(), Access::for_addr(addr, token));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = ccsm_daemon::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            env,
            model,
            addr,
            fleet,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the daemon (its sessions are closed) and gives back its world.
    pub async fn stop(mut self) -> (TestEnv, MockModel) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("the daemon stops within 30 s, open streams or not")
                .expect("the server task");
        }
        let Daemon { env, model, .. } = self;
        (env, model)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.addr.to_string(), None)
    }

    /// `data` of a GET, or the error the CLI's client would give; the answer is
    /// checked against the OpenAPI document.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let (status, v) = self.raw("GET", path, None).await;
        data_of(status, v)
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, ClientError> {
        let (status, v) = self.raw("POST", path, Some(body)).await;
        data_of(status, v)
    }

    /// The same through the CLI's HTTP client on the real socket.
    pub async fn client_get(&self, path: &str) -> Result<Value, ClientError> {
        let c = self.client();
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || c.get::<Value>(&path))
            .await
            .expect("client task")
    }

    pub async fn ok(&self, path: &str, body: Value) -> Value {
        self.post(path, body)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Starts a session in the test's project with `extra` fields.
    pub async fn start_session(&self, prompt: Option<&str>, extra: Value) -> String {
        let mut body = json!({"working_directory": self.env.project});
        if let Some(p) = prompt {
            body["prompt"] = json!(p);
        }
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let started = self.ok("/api/claude/sessions", body).await;
        started["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned()
    }

    pub async fn status(&self, id: &str) -> Value {
        self.get(&format!("/api/claude/sessions/{id}/status"))
            .await
            .expect("status")
    }

    /// Waits (with a deadline) until `check` holds for the session's status.
    pub async fn wait_status(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.status(id).await;
            if check(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "{what}: last status {s:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (with a deadline) until `check` holds for a GET's `data`.
    pub async fn get_until(&self, path: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.get(path).await.unwrap_or(Value::Null);
            if check(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: last answer {v:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_turns(&self, id: &str, turns: u64) -> Value {
        self.wait_status(id, &format!("{turns} turn(s) done"), |s| {
            s["turns"].as_u64() >= Some(turns) && s["status"]["state"] == "idle"
        })
        .await
    }

    pub async fn ws(&self, query: &str) -> Ws {
        let url = format!("ws://{}/ws/sessions{query}", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket connect");
        Ws { ws }
    }

    /// One request through the daemon's router on the same fleet: its status,
    /// content type and body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, String, Vec<u8>) {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let state = AppState::new(self.fleet.clone(), Access::for_addr(self.addr, None));
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("content-type", content_type)
            .body(axum::body::Body::from(body))
            .expect("a request");
        let resp = app(state).oneshot(req).await.expect("a response");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
        (status, ct, bytes.to_vec())
    }

    /// The whole envelope of a JSON request (the client keeps only `data`),
    /// checked against the generated document.
    pub async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default().into_bytes();
        let (status, ct, bytes) = self.send(method, path, "application/json", body).await;
        if !ct.starts_with("application/json") && status < 400 {
            // A page, a script, a stream: not an envelope.
            return (
                status,
                Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            );
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "not an envelope ({status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        // Every answer the tests see fits the generated document.
        crate::contract::check(method, path, status, &v);
        (status, v)
    }

    /// The body of a GET that is not an envelope (the OpenAPI document).
    pub async fn get_raw(&self, path: &str) -> Value {
        let (_, _, bytes) = self.send("GET", path, "application/json", Vec::new()).await;
        serde_json::from_slice(&bytes).expect("JSON")
    }

    pub fn transcript(&self, id: &str) -> PathBuf {
        self.env.transcript(id).expect("the session's transcript")
    }
}

fn data_of(status: u16, v: Value) -> Result<Value, ClientError> {
    if v["success"] == true {
        return Ok(v["data"].clone());
    }
    Err(ClientError::Api {
        status,
        kind: v["error"]["kind"].as_str().unwrap_or("unknown").to_owned(),
        message: v["error"]["message"].as_str().unwrap_or("").to_owned(),
    })
}

pub struct Ws {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    /// The next frame, within the deadline.
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(90), self.ws.next())
                .await
                .expect("a WebSocket frame within 90 s")
                .expect("the WebSocket is open")
                .expect("a frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                return serde_json::from_str(&t).expect("a JSON frame");
            }
        }
    }

    /// Frames until one of type `kind` (that one included).
    pub async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let f = self.next().await;
            let done = f["type"] == kind;
            seen.push(f);
            if done {
                return seen;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    pub async fn send_text(&mut self, t: &str) {
        let _ = self
            .ws
            .send(tokio_tungstenite::tungstenite::Message::Text(t.into()))
            .await;
    }
}

/// The text of every assistant output frame.
pub fn output_text(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|f| f["type"] == "claude-output")
        .filter_map(|f| f["event"]["line"]["message"]["content"].as_array())
        .flatten()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The conversation the model saw in its last message request.
pub fn last_request_text(model: &MockModel) -> String {
    model
        .message_requests()
        .last()
        .map(|r| r.conversation_text())
        .unwrap_or_default()
}

/// The name Claude Code gives a folder's dir under `projects/`.
pub fn project_dir_name(p: &std::path::Path) -> String {
    p.display().to_string().replace(['/', '.'], "-")
}
