//! A small blocking client of the daemon's API, for the `ccsm` command line
//! (`ps`, `cancel`, `logs -f`, `run --detach`, `approvals`). It reads the
//! envelope and turns a failed one into [`ClientError::Api`] with its kind.

use std::io::BufRead as _;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8082";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon answers at that address.
    #[error("no ccsm daemon answers at {addr} (start one with `ccsm serve`): {reason}")]
    Unreachable { addr: String, reason: String },
    /// The daemon answered with an error envelope.
    #[error("{message} ({kind}, HTTP {status})")]
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    /// The answer could not be read.
    #[error("the daemon's answer could not be read: {0}")]
    Bad(String),
}

/// A client of one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    addr: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the daemon at `addr` (`host:port`, or an `http://` URL).
    pub fn new(addr: &str, token: Option<String>) -> Self {
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{addr}")
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .build()
            .into();
        Self {
            base,
            addr: addr.to_owned(),
            token,
            agent,
        }
    }

    fn unreachable(&self, e: ureq::Error) -> ClientError {
        ClientError::Unreachable {
            addr: self.addr.clone(),
            reason: e.to_string(),
        }
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => r.header("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }

    fn read<T: DeserializeOwned>(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Bad(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            ClientError::Bad(format!(
                "{e}: {}",
                text.chars().take(200).collect::<String>()
            ))
        })?;
        if v.get("success").and_then(Value::as_bool) != Some(true) {
            let err = v.get("error").cloned().unwrap_or(Value::Null);
            return Err(ClientError::Api {
                status,
                kind: err
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
                message: err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("the daemon refused the request")
                    .to_owned(),
            });
        }
        serde_json::from_value(v.get("data").cloned().unwrap_or(Value::Null))
            .map_err(|e| ClientError::Bad(e.to_string()))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let r = self.auth(self.agent.get(format!("{}{path}", self.base)));
        self.read(r.call())
    }

    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let json = serde_json::to_string(body).map_err(|e| ClientError::Bad(e.to_string()))?;
        let r = self
            .auth(self.agent.post(format!("{}{path}", self.base)))
            .header("Content-Type", "application/json");
        self.read(r.send(json.as_str()))
    }

    /// Follows an SSE stream: calls `on_event(name, data)` for each event until
    /// it returns false or the stream ends.
    pub fn follow(
        &self,
        path: &str,
        mut on_event: impl FnMut(&str, &str) -> bool,
    ) -> Result<(), ClientError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(2)))
            .build()
            .into();
        let r = self.auth(agent.get(format!("{}{path}", self.base)));
        let resp = r.call().map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            return self.read::<Value>(Ok(resp)).map(drop);
        }
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        let mut name = String::new();
        let mut data = String::new();
        for line in reader.lines() {
            let line = line.map_err(|e| ClientError::Bad(e.to_string()))?;
            if line.is_empty() {
                if !data.is_empty() && !on_event(&name, &data) {
                    return Ok(());
                }
                name.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        Ok(())
    }
}
