//! The fleet: the live Claude Code sessions this daemon drives, each a
//! persistent `ccsm-claude` session keyed by its session id (chosen before the
//! CLI starts), with its events, its output, its approvals, its limits and, when
//! asked, a supervisor that restarts it after a crash. No HTTP here: the routes
//! call these methods.

mod approvals;
mod log;
mod registry;
mod run;
mod supervise;
mod team;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ccsm_claude::{Ladder, Options};
use ccsm_core::{ApprovalView, LiveStatus, PermissionMode, ProcessView};
use ccsm_service::live::Meters;
use ccsm_service::{RunRequest, Service};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use approvals::Answer;
pub use log::{frame_of, EventLog, Published, Replay};
pub use run::{Run, Sample};

use crate::error::{blocking, Error, Result};

/// How the fleet behaves.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// A live session with no turn for this long is closed (it is resumed on
    /// its next prompt).
    pub idle_timeout: Duration,
    /// How long a tool call waits for an answer before the default one.
    pub approval_timeout: Duration,
    /// The default answer when nobody answers in time.
    pub approval_default_allow: bool,
    /// The waits of the cancel ladder.
    pub ladder: Ladder,
    /// Events kept per session for subscribers that come back.
    pub buffer_events: usize,
    /// Output (stream-json lines) kept per session.
    pub output_bytes: usize,
    /// Ended runs kept in the table (the oldest go first).
    pub keep_ended: usize,
    /// The claude binary (default: the service's).
    pub claude: Option<PathBuf>,
    /// Variables every session gets (tests: the scripted model).
    pub env: Vec<(String, String)>,
    /// Variables no session gets (the daemon's own environment may hold them).
    pub env_remove: Vec<String>,
    /// How often each live session's CPU, memory, tokens and cost are sampled.
    pub metrics_interval: Duration,
    /// How long samples are kept (at most [`MAX_SAMPLES`] per session).
    pub metrics_retention: Duration,
    /// Thresholds for every session (a session's own limits win).
    pub alerts: Limits,
    /// Every alert is also POSTed (as JSON) to this URL.
    pub webhook: Option<String>,
}

/// The most samples kept per session.
pub const MAX_SAMPLES: usize = 20_000;

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            approval_timeout: Duration::from_secs(5 * 60),
            approval_default_allow: false,
            ladder: Ladder::default(),
            buffer_events: 4096,
            output_bytes: 16 << 20,
            keep_ended: 256,
            claude: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            metrics_interval: Duration::from_secs(5),
            metrics_retention: Duration::from_secs(24 * 3600),
            alerts: Limits::default(),
            webhook: None,
        }
    }
}

/// A process table and when it was read.
type TableSnapshot = (std::time::Instant, Vec<ProcessView>);

/// How old a process table may be when it is served again.
pub const TABLE_TTL: Duration = Duration::from_millis(500);

/// The kind of the catalog records that hold the fleet's runs.
pub(crate) const RUN_RECORD: &str = "run";

/// What a limit does when crossed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LimitAction {
    /// Only the alert.
    #[default]
    None,
    /// Interrupt the turn.
    Interrupt,
    /// Cancel the session.
    Cancel,
}

/// Limits of one session; crossing one raises an `alert` event and runs `action`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Limits {
    /// RSS of the CLI and its tools.
    pub max_memory_mb: Option<u64>,
    /// Since the session started.
    pub max_runtime_secs: Option<u64>,
    /// Cost of the session's turns so far.
    pub max_cost_usd: Option<f64>,
    /// CPU % of the CLI and its tools over the last sample.
    pub max_cpu_percent: Option<f64>,
    /// Tool errors per tool call, from its transcript (0 to 1).
    pub max_error_rate: Option<f64>,
    #[serde(default)]
    pub action: LimitAction,
}

impl Limits {
    /// Whether any threshold is set.
    pub fn any(&self) -> bool {
        self.max_memory_mb.is_some()
            || self.max_runtime_secs.is_some()
            || self.max_cost_usd.is_some()
            || self.max_cpu_percent.is_some()
            || self.max_error_rate.is_some()
    }

    /// These limits, each missing one taken from `global` (and its action, when
    /// none of these is set).
    pub fn or(&self, global: &Limits) -> Limits {
        Limits {
            max_memory_mb: self.max_memory_mb.or(global.max_memory_mb),
            max_runtime_secs: self.max_runtime_secs.or(global.max_runtime_secs),
            max_cost_usd: self.max_cost_usd.or(global.max_cost_usd),
            max_cpu_percent: self.max_cpu_percent.or(global.max_cpu_percent),
            max_error_rate: self.max_error_rate.or(global.max_error_rate),
            action: if self.any() {
                self.action
            } else {
                global.action
            },
        }
    }
}

/// Restart a session whose CLI exits without being asked to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Supervise {
    /// Restarts allowed within `window_secs`; one more is a crash loop.
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// The first wait before a restart; doubled each time, up to 30 s.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_max_restarts() -> u32 {
    3
}
fn default_window() -> u64 {
    60
}
fn default_backoff() -> u64 {
    500
}

/// `POST /api/claude/sessions`: what to start.
///
/// ```json
/// {"working_directory": "/home/me/api", "prompt": "Fix the failing test",
///  "model": "sonnet", "permission_mode": "default", "name": "api-fix",
///  "resume": null, "continue": false, "fork": false,
///  "environment_variables": {"RUST_LOG": "debug"},
///  "limits": {"max_memory_mb": 2048, "max_runtime_secs": 3600, "max_cost_usd": 5, "action": "interrupt"},
///  "supervise": {"max_restarts": 3, "window_secs": 60, "backoff_ms": 500}}
/// ```
///
/// The session-server seed's configuration is taken too: `description`,
/// `git_enabled`, `auto_save`, `save_interval_seconds`, `max_memory_mb` (a memory
/// limit), `max_agents`, `agents` (`[{"agent_type": "BACKEND", "name",
/// "enabled", "priority", "max_memory_mb", "timeout_seconds",
/// "retry_attempts"}]`: subagents handed to the CLI with `--agents`), `tags`.
///
/// Every field is optional. Without a prompt the session is *configured*: it
/// has its id, and its CLI starts with its first message (`"start": true`
/// starts it now). Unknown fields are refused. Fields may be added.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct StartRequest {
    #[schema(value_type = Option<String>)]
    pub working_directory: Option<PathBuf>,
    pub prompt: Option<String>,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub name: Option<String>,
    /// A session id (or a prefix, or a saved name) to resume.
    pub resume: Option<String>,
    /// Continue the newest session of the working directory.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// With resume or continue: a new session with the same history.
    #[serde(default)]
    pub fork: bool,
    #[serde(default, alias = "env")]
    pub environment_variables: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    pub supervise: Option<Supervise>,
    /// Start the CLI now even without a prompt.
    #[serde(default)]
    pub start: bool,
    /// The id a new session (or a fork) gets, instead of a fresh one.
    pub session_id: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Report the folder's git state with the session (default true).
    pub git_enabled: Option<bool>,
    /// Claude Code saves every turn itself and ccsm's catalog archives it; kept
    /// as given.
    pub auto_save: Option<bool>,
    pub save_interval_seconds: Option<u64>,
    /// The memory limit (as `limits.max_memory_mb`).
    pub max_memory_mb: Option<u64>,
    /// At most this many active agents.
    pub max_agents: Option<usize>,
    #[serde(default)]
    pub agents: Vec<ccsm_service::agents::AgentSpec>,
}

/// What a start answers.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub session_id: String,
    pub name: Option<String>,
    pub pid: Option<u32>,
    pub status: LiveStatus,
    /// The session it was forked or resumed from.
    pub from: Option<String>,
}

/// One session's state, as `GET /api/claude/sessions/{id}/status` answers.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub session_id: String,
    pub name: Option<String>,
    pub pid: Option<u32>,
    pub status: LiveStatus,
    pub project_path: String,
    pub model: Option<String>,
    pub started_at: i64,
    pub turns: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    pub supervised: bool,
    pub restarts: u32,
    /// The number of the newest event.
    pub last_seq: u64,
    pub pending_approvals: Vec<ApprovalView>,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Parses a permission mode the CLI knows; anything else is refused.
pub fn parse_mode(s: &str) -> Result<PermissionMode> {
    let mode: PermissionMode = s.parse().unwrap_or(PermissionMode::Default);
    match mode {
        PermissionMode::Other(_) => Err(Error::Invalid(format!(
            "unknown permission mode {s:?}: use default, acceptEdits, auto, bypassPermissions, manual, dontAsk or plan"
        ))),
        m => Ok(m),
    }
}

/// A name sessions can be addressed by: letters, digits, spaces, `.`, `_`, `-`,
/// at most 64, not starting or ending with a space, not a UUID (`My Project
/// Session` is `/api/claude/sessions/My%20Project%20Session`).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' '))
        && !s.starts_with(['.', '-', ' '])
        && !s.ends_with(' ')
        && uuid::Uuid::parse_str(s).is_err()
}

/// Refuses a variable name a process environment cannot hold.
pub(crate) fn check_env(env: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for k in env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(Error::Invalid(format!(
                "{k:?} is not an environment variable name"
            )));
        }
    }
    Ok(())
}

/// The fleet; cheap to clone.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub(crate) inner: Arc<FleetInner>,
}

#[derive(Debug)]
pub(crate) struct FleetInner {
    pub(crate) service: Service,
    pub(crate) cfg: FleetConfig,
    pub(crate) runs: RwLock<HashMap<String, Arc<Run>>>,
    /// Live names → session ids.
    pub(crate) names: RwLock<HashMap<String, String>>,
    pub(crate) approvals: approvals::Pending,
    pub(crate) tx: broadcast::Sender<Arc<Published>>,
    pub(crate) meters: Mutex<Meters>,
    /// The last process table (with `all`, without), and when it was read: a
    /// burst of requests reads `/proc` once.
    table: tokio::sync::Mutex<[Option<TableSnapshot>; 2]>,
    /// The CLI's registries, followed by file-system events.
    registry: registry::RegistryWatch,
    /// Set when the daemon stops: live streams end so the server can.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Why the shared catalog did not answer last time (`None`: it did).
    store_down: Mutex<Option<String>>,
}

impl Fleet {
    pub fn new(service: Service, cfg: FleetConfig) -> Self {
        let (tx, _) = broadcast::channel(8192);
        let meters = Mutex::new(service.meters());
        Self {
            inner: Arc::new(FleetInner {
                service,
                cfg,
                runs: RwLock::new(HashMap::new()),
                names: RwLock::new(HashMap::new()),
                approvals: approvals::Pending::default(),
                tx,
                meters,
                store_down: Mutex::new(None),
                table: tokio::sync::Mutex::new([None, None]),
                registry: registry::RegistryWatch::new(),
                stopping: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    pub fn config(&self) -> &FleetConfig {
        &self.inner.cfg
    }

    /// Resolves when the daemon begins to stop (live streams end then).
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Tells every live stream to end (the server is stopping).
    pub fn begin_shutdown(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Every event of every session, live (see [`EventLog::replay`] for history).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.inner.tx.subscribe()
    }

    /// The session an id or a name names.
    pub fn get(&self, id_or_name: &str) -> Result<Arc<Run>> {
        let key = id_or_name.trim();
        let is_uuid = uuid::Uuid::parse_str(key).is_ok();
        if !is_uuid && !valid_name(key) {
            return Err(Error::Invalid(format!(
                "{key:?} is neither a session id (a UUID) nor a session name"
            )));
        }
        let id = if is_uuid {
            key.to_ascii_lowercase()
        } else {
            self.inner
                .names
                .read()
                .ok()
                .and_then(|n| n.get(key).cloned())
                .ok_or_else(|| Error::NotFound(format!("no live session is named {key:?}")))?
        };
        self.inner
            .runs
            .read()
            .ok()
            .and_then(|r| r.get(&id).cloned())
            .ok_or_else(|| Error::NotFound(format!("no session {id} in this daemon")))
    }

    /// Forgets a run (ended or not): out of the table, its record out of the
    /// catalog.
    pub(crate) async fn remove(&self, run: &Arc<Run>) {
        if let Ok(mut names) = self.inner.names.write() {
            names.retain(|_, id| id != &run.id);
        }
        if let Ok(mut runs) = self.inner.runs.write() {
            runs.remove(&run.id);
        }
        let service = self.inner.service.clone();
        let id = run.id.clone();
        let _ = blocking(move || Ok(service.delete_record(RUN_RECORD, &id)?)).await;
    }

    /// Every run of the fleet, oldest first.
    pub fn runs(&self) -> Vec<Arc<Run>> {
        let mut v: Vec<_> = self
            .inner
            .runs
            .read()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|r| (r.started_at, r.id.clone()));
        v
    }

    /// Starts a session (new, continued, resumed or forked), and its first turn
    /// when there is a prompt.
    pub async fn start(&self, req: StartRequest) -> Result<Started> {
        let mut req = req;
        if let Some(m) = req.max_memory_mb {
            req.limits.max_memory_mb.get_or_insert(m);
        }
        let plan = self.plan(&req).await?;
        let run = Run::new(self.clone(), &plan, &req);
        let has_prompt = req.prompt.as_deref().is_some_and(|p| !p.trim().is_empty());
        if !has_prompt && !req.start && req.supervise.is_none() {
            // Configured: its CLI starts with its first message.
            run.set_overlay(Some(LiveStatus::Configured));
            self.insert(run.clone())?;
            run.persist().await;
            return Ok(Started {
                session_id: run.id.clone(),
                name: run.name.clone(),
                pid: None,
                status: run.status(),
                from: plan.from,
            });
        }
        self.insert(run.clone())?;
        run.persist().await;
        match run.spawn_session(plan.options.clone()).await {
            Ok(()) => {}
            // Stopped while it started (a limit, a cancel): it stays so.
            Err(_) if run.closing.load(std::sync::atomic::Ordering::SeqCst) => {
                return Ok(Started {
                    session_id: run.id.clone(),
                    name: run.name.clone(),
                    pid: None,
                    status: run.status(),
                    from: plan.from,
                });
            }
            Err(e) if req.supervise.is_some() => {
                // A supervised session's supervisor retries (and gives up on a
                // crash loop); the start itself is accepted.
                run.publish_error(&format!("the session failed to start: {e}"));
                supervise::after_exit(run.clone());
            }
            Err(e) => {
                run.mark_ended(LiveStatus::Exited {
                    code: None,
                    signal: None,
                });
                run.persist().await;
                return Err(e);
            }
        }
        if let Some(prompt) = req.prompt.as_deref().filter(|p| !p.is_empty()) {
            run.send(prompt).await?;
        }
        Ok(Started {
            session_id: run.id.clone(),
            name: run.name.clone(),
            pid: run.pid(),
            status: run.status(),
            from: plan.from,
        })
    }

    fn insert(&self, run: Arc<Run>) -> Result<()> {
        let mut names = self
            .inner
            .names
            .write()
            .map_err(|_| Error::Internal("fleet lock poisoned".into()))?;
        let mut runs = self
            .inner
            .runs
            .write()
            .map_err(|_| Error::Internal("fleet lock poisoned".into()))?;
        if let Some(old) = runs.get(&run.id) {
            if !old.status().is_final() {
                return Err(Error::Conflict(format!(
                    "session {} is already live in this daemon: send it a message instead",
                    run.id
                )));
            }
        }
        if let Some(name) = &run.name {
            if let Some(other) = names.get(name).and_then(|id| runs.get(id)) {
                if !other.status().is_final() && other.id != run.id {
                    return Err(Error::Conflict(format!(
                        "the name {name:?} is taken by live session {}",
                        other.id
                    )));
                }
            }
            names.insert(name.clone(), run.id.clone());
        }
        runs.insert(run.id.clone(), run);
        // Forget the oldest ended runs beyond the limit.
        let mut ended: Vec<_> = runs
            .values()
            .filter(|r| r.status().is_final())
            .map(|r| (r.started_at, r.id.clone()))
            .collect();
        if ended.len() > self.inner.cfg.keep_ended {
            ended.sort();
            let excess = ended.len() - self.inner.cfg.keep_ended;
            for (_, id) in ended.into_iter().take(excess) {
                runs.remove(&id);
            }
        }
        Ok(())
    }

    /// Resolves what to run: the working directory, the session to resume, the
    /// id the session gets, the CLI's options.
    async fn plan(&self, req: &StartRequest) -> Result<Plan> {
        if let Some(name) = &req.name {
            if !valid_name(name) {
                return Err(Error::Invalid(format!(
                    "{name:?} is not a usable session name: letters, digits, spaces, '.', '_' and '-', at most 64, not a UUID"
                )));
            }
        }
        if req.fork && req.resume.is_none() && !req.continue_ {
            return Err(Error::Invalid(
                "fork needs resume or continue: there is nothing to fork".into(),
            ));
        }
        if req.resume.is_some() && req.continue_ {
            return Err(Error::Invalid(
                "resume and continue cannot be used together".into(),
            ));
        }
        let mode = req.permission_mode.as_deref().map(parse_mode).transpose()?;
        check_env(&req.environment_variables)?;
        let cwd = match &req.working_directory {
            Some(d) => d.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::Internal(format!("the daemon's directory: {e}")))?,
        };
        // The one path validator: no system location, `..`, escaping link.
        let cwd = self
            .inner
            .service
            .usable_folder(&cwd, false, "working_directory")?;
        let service = self.inner.service.clone();
        let run_req = RunRequest {
            claude: self.inner.cfg.claude.clone(),
            cwd: Some(cwd.clone()),
            model: req.model.clone(),
            resume: req.resume.clone(),
            permission_mode: mode,
            allowed_tools: req.allowed_tools.clone(),
            ..Default::default()
        };
        let continue_ = req.continue_;
        let ours: Vec<u32> = self.runs().iter().filter_map(|r| r.pid()).collect();
        let fork = req.fork;
        let (options, from) = blocking(move || {
            let mut prepared = service.prepare_run(&run_req)?;
            let mut from = prepared.options.resume.clone();
            if continue_ {
                // The newest session of the folder, named now so the session is
                // keyed by its id from the start.
                let q = ccsm_service::ListQuery {
                    project: Some(cwd.clone()),
                    limit: Some(1),
                    ..Default::default()
                };
                let latest = service
                    .list_sessions(&q, ccsm_service::Source::direct(true))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "no session to continue in {}",
                            cwd.display()
                        ))
                    })?;
                from = Some(latest.info.session_id.clone());
                prepared.options.resume = from.clone();
            }
            if let (Some(id), false) = (&from, fork) {
                let holders = service.live_holders(id, &ours);
                if let Some(pid) = holders.first() {
                    return Err(Error::Conflict(format!(
                        "session {id} is live in another Claude Code process (pid {pid}): resuming it here would fork its transcript silently; ask for fork to branch off a copy, or stop that process first"
                    )));
                }
            }
            Ok((prepared.options, from))
        })
        .await?;
        let session_id = match (&from, fork, &req.session_id) {
            (Some(id), false, _) => id.clone(),
            (_, _, Some(chosen)) => {
                let id = uuid::Uuid::parse_str(chosen)
                    .map_err(|_| Error::Invalid(format!("session_id {chosen:?} is not a UUID")))?
                    .to_string();
                let service = self.inner.service.clone();
                let probe = id.clone();
                let taken = blocking(move || {
                    Ok(service.session(&probe, ccsm_service::Source::Files).is_ok())
                })
                .await?;
                if taken {
                    return Err(Error::Conflict(format!(
                        "session {id} exists: resume it instead"
                    )));
                }
                id
            }
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let mut options = options.run_id(uuid::Uuid::new_v4().to_string());
        if from.is_none() || fork {
            options.session_id = session_id.parse().ok();
        }
        options.fork_session = fork;
        options.continue_session = false;
        let mut options = self.with_env(options, req);
        options.agents = self.agents_for(req, options.cwd.as_deref()).await?;
        Ok(Plan {
            session_id,
            cwd: options.cwd.clone().unwrap_or_default(),
            options,
            from,
        })
    }

    /// A run with no process, for benchmarks of the event path: its events are
    /// published with [`Run::publish`].
    #[doc(hidden)]
    pub fn bench_run(&self, id: &str) -> Result<Arc<Run>> {
        let plan = Plan {
            session_id: id.to_owned(),
            cwd: PathBuf::from("/"),
            options: Options::new(),
            from: None,
        };
        let run = Run::new(self.clone(), &plan, &StartRequest::default());
        self.insert(run.clone())?;
        Ok(run)
    }

    /// Cancels one session: the protocol's interrupt, the kill ladder, the sweep
    /// of its tools' processes. Its status becomes `cancelled`.
    pub async fn cancel(&self, id: &str) -> Result<RunView> {
        let run = self.get(id)?;
        run.cancel().await;
        Ok(run.view())
    }

    /// Cancels every live session of the fleet, all at once.
    pub async fn cancel_all(&self) -> Vec<RunView> {
        let live: Vec<_> = self
            .runs()
            .into_iter()
            .filter(|r| !r.status().is_final())
            .collect();
        futures::future::join_all(live.iter().map(|r| r.cancel())).await;
        live.iter().map(|r| r.view()).collect()
    }

    /// Pending approvals (all, or one session's).
    pub fn approvals(&self, session: Option<&str>) -> Vec<ApprovalView> {
        self.inner.approvals.list(session)
    }

    /// Answers a pending approval.
    pub fn answer(&self, approval_id: &str, answer: Answer) -> Result<ApprovalView> {
        let (view, _) = self.inner.approvals.answer(approval_id, answer.clone())?;
        if let Ok(run) = self.get(&view.session_id) {
            run.publish(ccsm_core::Event::PermissionDecided {
                request_id: view.id.clone(),
                allow: answer.allow,
            });
        }
        Ok(view)
    }

    /// The process table: this daemon's runs, and with `all` every other Claude
    /// Code process the registries show.
    /// At most [`TABLE_TTL`] old: one request reads `/proc`, those that come
    /// meanwhile share what it read.
    pub async fn processes(&self, all: bool) -> Vec<ProcessView> {
        let mut cache = self.inner.table.lock().await;
        let slot = &mut cache[usize::from(all)];
        if let Some((at, rows)) = slot.as_ref() {
            if at.elapsed() < TABLE_TTL {
                return rows.clone();
            }
        }
        let fleet = self.clone();
        let rows = blocking(move || Ok(fleet.processes_now(all)))
            .await
            .unwrap_or_default();
        *slot = Some((std::time::Instant::now(), rows.clone()));
        rows
    }

    fn processes_now(&self, all: bool) -> Vec<ProcessView> {
        let table = ccsm_claude::process::ProcTable::read();
        let mut meters = match self.inner.meters.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let mut rows: Vec<ProcessView> = self
            .runs()
            .iter()
            .map(|r| r.process_view(&table, &mut meters.cpu))
            .collect();
        if all {
            let ours: Vec<u32> = rows
                .iter()
                .filter(|r| !r.status.is_final())
                .map(|r| r.pid)
                .collect();
            let reg = &self.inner.registry;
            reg.follow(&self.inner.service.registry_dirs());
            let live = ccsm_service::live::live_of(reg.entries(), &table);
            rows.extend(
                ccsm_service::live::rows_of(live, &table, &mut meters)
                    .into_iter()
                    .filter(|p| !ours.contains(&p.pid)),
            );
        }
        meters.finish();
        rows
    }

    /// Closes sessions idle for longer than the idle timeout, and checks limits.
    /// Runs until the fleet is dropped.
    pub fn spawn_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let fleet = Fleet { inner };
                fleet.housekeeping().await;
            }
        })
    }

    /// Samples every live session's CPU, memory, tokens and cost each
    /// `metrics_interval`. Runs until the fleet is dropped.
    pub fn spawn_sampler(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let every = self
            .inner
            .cfg
            .metrics_interval
            .max(Duration::from_millis(50));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let fleet = Fleet { inner };
                let _ = blocking(move || {
                    fleet.sample_now();
                    Ok(())
                })
                .await;
            }
        })
    }

    fn sample_now(&self) {
        let live: Vec<_> = self
            .runs()
            .into_iter()
            .filter(|r| !r.status().is_final())
            .collect();
        if live.is_empty() {
            return;
        }
        let table = ccsm_claude::process::ProcTable::read();
        let mut meters = match self.inner.meters.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let keep = self.inner.cfg.metrics_retention;
        for run in live {
            let view = run.process_view(&table, &mut meters.cpu);
            // A CLI still starting has no process to measure yet.
            if view.pid != 0 && view.memory_bytes > 0 {
                run.record_sample(&view, keep);
            }
        }
    }

    /// Raises an alert: an `alert` event on the session's streams, a record in
    /// the catalog, and a POST to the webhook when one is configured.
    pub(crate) async fn raise_alert(&self, run: &Run, limit: &str, message: String, action: &str) {
        run.publish(ccsm_core::Event::Alert {
            limit: limit.into(),
            message: message.clone(),
            action: action.into(),
        });
        let a = ccsm_service::alerts::AlertRecord {
            id: format!("al-{}", uuid::Uuid::new_v4().simple()),
            session_id: Some(run.id.clone()),
            limit: limit.into(),
            message,
            action: action.into(),
            at: now_ms(),
        };
        let service = self.inner.service.clone();
        let saved = a.clone();
        if let Err(e) = blocking(move || Ok(service.save_alert(&saved)?)).await {
            tracing::warn!("keeping an alert: {e}");
        }
        if let Some(url) = self.inner.cfg.webhook.clone() {
            // Fire and forget: a slow or dead receiver never holds the monitor.
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let body = serde_json::json!({"type": "alert", "alert": a}).to_string();
                if let Err(e) = agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(body.as_str())
                {
                    tracing::warn!("the alert webhook {url}: {e}");
                }
            });
        }
    }

    async fn housekeeping(&self) {
        let idle = self.inner.cfg.idle_timeout;
        for run in self.runs() {
            if run.status().is_final() {
                continue;
            }
            if run.idle_for() > idle {
                run.close_idle().await;
                continue;
            }
            run.check_limits().await;
        }
    }

    /// After a crash of a previous daemon: its runs' processes are stopped by
    /// their marker, the runs marked `interrupted`, supervised ones started
    /// again with resume. Returns the ids recovered.
    pub async fn recover(&self) -> Result<Vec<String>> {
        supervise::recover(self).await
    }

    /// Stops every live session (the daemon is shutting down): runs end as
    /// closed, not crashed, so nothing restarts them.
    pub async fn shutdown(&self) {
        let live: Vec<_> = self
            .runs()
            .into_iter()
            .filter(|r| !r.status().is_final())
            .collect();
        futures::future::join_all(live.iter().map(|r| r.close())).await;
    }

    /// Starts a live session's process again (a supervisor's restart, or the
    /// next prompt to a session closed while idle).
    pub(crate) async fn respawn(&self, run: &Arc<Run>) -> Result<()> {
        // A new process of a run that ended (or was stopped): what stopped the
        // last one does not apply to it.
        run.closing
            .store(false, std::sync::atomic::Ordering::SeqCst);
        run.set_overlay(None);
        run.restart_pending
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let mut options = run.base_options();
        if run.ever_started.load(std::sync::atomic::Ordering::SeqCst) {
            options.resume = Some(run.id.clone());
            options.session_id = None;
            options.fork_session = false;
            options.continue_session = false;
        }
        // What changed since the start (agents, model, mode) applies now.
        let req = run.request();
        options.agents = self.agents_for(&req, Some(&run.cwd)).await?;
        options.model = req.model.clone().or(options.model);
        run.spawn_session(options).await
    }

    /// The `--agents` JSON of a request's active agents (with what they
    /// require); too many, an unknown one or a cycle is refused.
    pub(crate) async fn agents_for(
        &self,
        req: &StartRequest,
        cwd: Option<&std::path::Path>,
    ) -> Result<Option<serde_json::Value>> {
        if req.agents.is_empty() {
            return Ok(None);
        }
        let service = self.inner.service.clone();
        let (specs, cwd) = (req.agents.clone(), cwd.map(PathBuf::from));
        let max = req.max_agents;
        blocking(move || {
            let defs = service.active_agents(&specs, cwd.as_deref())?;
            if let Some(max) = max.filter(|m| defs.len() > *m) {
                return Err(Error::Invalid(format!(
                    "{} agents would be active (with what they require), more than max_agents {max}",
                    defs.len()
                )));
            }
            Ok(ccsm_service::agents::agents_json(&defs))
        })
        .await
    }

    /// The daemon's variables for every session, then the request's own.
    pub(crate) fn with_env(&self, mut options: Options, req: &StartRequest) -> Options {
        let daemon = self.inner.cfg.env.iter().map(|(k, v)| (k, v));
        for (k, v) in daemon.chain(req.environment_variables.iter()) {
            options = options.env(k, v);
        }
        options
    }

    pub(crate) fn options_for(&self, run: &Arc<Run>, mut options: Options) -> Options {
        for k in &self.inner.cfg.env_remove {
            options = options.env_remove(k);
        }
        options = options.can_use_tool(approvals::callback(
            Arc::downgrade(&self.inner),
            run.id.clone(),
        ));
        options
    }
}

/// A resolved start.
#[derive(Debug)]
pub(crate) struct Plan {
    pub session_id: String,
    pub cwd: PathBuf,
    pub options: Options,
    pub from: Option<String>,
}
