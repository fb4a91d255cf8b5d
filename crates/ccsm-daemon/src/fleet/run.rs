//! One session of the fleet: its CLI process (replaced when it is resumed or
//! restarted), its events and output, its counters and limits.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ccsm_claude::process::ProcTable;
use ccsm_claude::{Message, Options, Session, Turn};
use ccsm_core::{Event, LiveStatus, ProcessView, StartedBy};
use ccsm_service::live::CpuSampler;
use serde::{Deserialize, Serialize};

use super::{
    log::EventLog, now_ms, supervise, Fleet, FleetInner, LimitAction, Limits, Plan, RunView,
    StartRequest, Supervise,
};
use crate::error::{blocking, Error, Result};

/// The output of a session: its stream-json lines, the newest that fit.
#[derive(Debug, Default)]
struct Output {
    lines: VecDeque<Arc<str>>,
    bytes: usize,
    dropped: u64,
}

/// What the catalog keeps of a run, to find it again after a crash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRecord {
    pub session_id: String,
    /// The marker (`CCSM_RUN_ID`) every process of the run carries.
    pub run_id: String,
    pub name: Option<String>,
    pub cwd: PathBuf,
    pub started_at: i64,
    pub pid: Option<u32>,
    /// Whether the run was live when this was written.
    pub live: bool,
    pub status: LiveStatus,
    pub request: StartRequest,
}

/// A session of the fleet.
pub struct Run {
    pub id: String,
    pub name: Option<String>,
    /// The prefix of the markers every process of this run carries (`<run_id>.<n>`).
    pub run_id: String,
    pub cwd: PathBuf,
    pub started_at: i64,
    pub(crate) fleet: Weak<FleetInner>,
    /// What it was started with, as changed since (PUT, agents).
    request: Mutex<StartRequest>,
    /// Its agents changed: the process is started again (with resume) before
    /// the next turn.
    pub(crate) restart_pending: AtomicBool,
    /// A process of it ran (a configured session has none until its first turn).
    pub(crate) ever_started: AtomicBool,
    base: Options,
    session: Mutex<Option<Session>>,
    pub log: EventLog,
    output: Mutex<Output>,
    /// What only the owner knows: cancelled, interrupted, or ended before a
    /// process could start.
    overlay: Mutex<Option<LiveStatus>>,
    /// Stopped on purpose (cancel, close, idle): not a crash.
    pub(crate) closing: AtomicBool,
    last_active: Mutex<Instant>,
    turns: AtomicU64,
    tokens: AtomicU64,
    /// Cost of earlier processes of this run, plus the current one's.
    cost: Mutex<(f64, f64)>,
    model: Mutex<Option<String>>,
    pub(crate) restarts: Mutex<Vec<Instant>>,
    pub(crate) restart_count: AtomicU32,
    spawns: AtomicU32,
    alerted: Mutex<HashSet<&'static str>>,
    /// CPU, memory, tokens and cost over time, oldest first.
    samples: Mutex<std::collections::VecDeque<Sample>>,
    /// When the error rate was last read from the transcript (it reads the
    /// whole file: at most every [`ERROR_RATE_EVERY`]).
    error_rate_at: Mutex<Option<Instant>>,
}

/// How often the error-rate limit reads a session's transcript.
const ERROR_RATE_EVERY: Duration = Duration::from_secs(10);

/// One look at a live session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Epoch ms.
    pub at: i64,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub tokens: u64,
    pub cost_usd: f64,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Run {
    pub(crate) fn new(fleet: Fleet, plan: &Plan, req: &StartRequest) -> Arc<Self> {
        let mut request = req.clone();
        request.prompt = None;
        Arc::new(Self {
            id: plan.session_id.clone(),
            name: req.name.clone(),
            run_id: plan.options.run_id.clone().unwrap_or_default(),
            cwd: plan.cwd.clone(),
            started_at: now_ms(),
            fleet: Arc::downgrade(&fleet.inner),
            request: Mutex::new(request),
            restart_pending: AtomicBool::new(false),
            ever_started: AtomicBool::new(false),
            base: plan.options.clone(),
            session: Mutex::new(None),
            log: EventLog::new(plan.session_id.clone(), fleet.inner.cfg.buffer_events),
            output: Mutex::new(Output::default()),
            overlay: Mutex::new(None),
            closing: AtomicBool::new(false),
            last_active: Mutex::new(Instant::now()),
            turns: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            cost: Mutex::new((0.0, 0.0)),
            model: Mutex::new(req.model.clone()),
            restarts: Mutex::new(Vec::new()),
            restart_count: AtomicU32::new(0),
            spawns: AtomicU32::new(0),
            alerted: Mutex::new(HashSet::new()),
            samples: Mutex::new(std::collections::VecDeque::new()),
            error_rate_at: Mutex::new(None),
        })
    }

    pub(crate) fn fleet(&self) -> Option<Fleet> {
        self.fleet.upgrade().map(|inner| Fleet { inner })
    }

    /// The options the run was planned with (a restart resumes with them).
    pub(crate) fn base_options(&self) -> Options {
        self.base.clone()
    }

    pub fn session(&self) -> Option<Session> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    pub fn pid(&self) -> Option<u32> {
        self.session().map(|s| s.pid())
    }

    /// What the run was started with, as changed since.
    pub fn request(&self) -> StartRequest {
        match self.request.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Changes what the run is started with from now on.
    pub(crate) fn update_request(&self, f: impl FnOnce(&mut StartRequest)) {
        match self.request.lock() {
            Ok(mut r) => f(&mut r),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn supervised(&self) -> Option<Supervise> {
        self.request().supervise
    }

    pub fn limits(&self) -> Limits {
        self.request().limits
    }

    /// Keeps a sample of `view`, forgetting those older than `keep`.
    pub(crate) fn record_sample(&self, view: &ProcessView, keep: Duration) {
        let at = now_ms();
        let oldest = at - keep.as_millis().min(i64::MAX as u128) as i64;
        if let Ok(mut s) = self.samples.lock() {
            s.push_back(Sample {
                at,
                cpu_percent: view.cpu_percent,
                memory_bytes: view.memory_bytes,
                tokens: view.tokens.unwrap_or(0),
                cost_usd: view.cost_usd.unwrap_or(0.0),
            });
            while s.front().is_some_and(|x| x.at < oldest) || s.len() > super::MAX_SAMPLES {
                s.pop_front();
            }
        }
    }

    /// The samples taken at or after `since` (epoch ms), oldest first.
    pub fn samples_since(&self, since: i64) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|s| s.iter().filter(|x| x.at >= since).cloned().collect())
            .unwrap_or_default()
    }

    /// Numbers and sends an event of this session.
    pub fn publish(&self, event: Event) -> u64 {
        match self.fleet.upgrade() {
            Some(f) => self.log.publish(event, &f.tx),
            None => 0,
        }
    }

    pub(crate) fn publish_error(&self, message: &str) {
        self.publish(Event::Error {
            message: message.to_owned(),
        });
    }

    /// Where the session is.
    pub fn status(&self) -> LiveStatus {
        let overlay = self.overlay.lock().ok().and_then(|o| o.clone());
        match (self.session(), overlay) {
            (Some(s), overlay) => {
                let st = LiveStatus::from(&s.status());
                match overlay {
                    Some(o) if st.is_final() => o,
                    _ => st,
                }
            }
            (None, Some(o)) => o,
            (None, None) => LiveStatus::Starting,
        }
    }

    pub(crate) fn set_overlay(&self, s: Option<LiveStatus>) {
        if let Ok(mut o) = self.overlay.lock() {
            *o = s;
        }
    }

    pub(crate) fn mark_ended(&self, s: LiveStatus) {
        self.set_overlay(Some(s.clone()));
        self.publish(Event::State { status: s });
    }

    pub(crate) fn touch(&self) {
        if let Ok(mut t) = self.last_active.lock() {
            *t = Instant::now();
        }
    }

    pub(crate) fn idle_for(&self) -> Duration {
        if !matches!(self.status(), LiveStatus::Idle) {
            return Duration::ZERO;
        }
        self.last_active
            .lock()
            .map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Starts the CLI for this run (first start, resume, restart) and watches it.
    pub(crate) async fn spawn_session(self: &Arc<Self>, options: Options) -> Result<()> {
        let fleet = self
            .fleet()
            .ok_or_else(|| Error::Internal("the fleet is gone".into()))?;
        // Each process of the run has a marker of its own (`<run>.<n>`): the sweep
        // after one ends must not reach the one that replaced it; recovery finds
        // them all by the prefix.
        let attempt = self.spawns.fetch_add(1, Ordering::SeqCst);
        let options = fleet
            .options_for(self, options)
            .run_id(format!("{}.{attempt}", self.run_id));
        if let Ok(mut c) = self.cost.lock() {
            c.0 += c.1;
            c.1 = 0.0;
        }
        let session = Session::start(options).await?;
        if self.closing.load(Ordering::SeqCst) {
            // Cancelled or closed while the CLI was starting (a limit, a user):
            // that answer stands.
            let ladder = fleet.inner.cfg.ladder;
            session.cancel(ladder).await;
            return Err(Error::Conflict(format!(
                "session {} was stopped while it started",
                self.id
            )));
        }
        if let Some(m) = session
            .init_message()
            .and_then(|i| i.model().map(str::to_owned))
        {
            if let Ok(mut model) = self.model.lock() {
                *model = Some(m);
            }
        }
        if let Ok(mut s) = self.session.lock() {
            *s = Some(session.clone());
        }
        self.ever_started.store(true, Ordering::SeqCst);
        self.touch();
        self.watch(session);
        self.persist().await;
        Ok(())
    }

    /// Forwards the session's status changes as events; when the process ends
    /// without being asked to, the supervisor decides what follows.
    fn watch(self: &Arc<Self>, session: Session) {
        let run = self.clone();
        let mut rx = session.watch_status();
        tokio::spawn(async move {
            let mut last = None;
            loop {
                let st = rx.borrow_and_update().clone();
                let live = LiveStatus::from(&st);
                let shown = if live.is_final() {
                    run.overlay
                        .lock()
                        .ok()
                        .and_then(|o| o.clone())
                        .unwrap_or(live)
                } else {
                    live
                };
                if last.as_ref() != Some(&shown) {
                    run.publish(Event::State {
                        status: shown.clone(),
                    });
                    last = Some(shown);
                }
                if st.is_final() {
                    break;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
            run.persist().await;
            // A process replaced by a newer one of the run (a restart for new
            // agents) did not crash, whatever the flags say by now.
            let replaced = run.pid() != Some(session.pid());
            if !run.closing.load(Ordering::SeqCst) && !replaced {
                let tail = session.stderr_tail();
                let exit = session.exit_info();
                let clean = exit.is_some_and(|e| e.success());
                if !clean {
                    run.publish_error(&format!(
                        "Claude Code exited unexpectedly ({}){}",
                        exit.map_or("unknown".into(), |e| match (e.code, e.signal) {
                            (_, Some(s)) => format!("signal {s}"),
                            (Some(c), None) => format!("code {c}"),
                            _ => "unknown".into(),
                        }),
                        if tail.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", tail.trim().lines().last().unwrap_or(""))
                        }
                    ));
                }
                if !clean || run.supervised().is_some() {
                    supervise::after_exit(run.clone());
                }
            }
        });
    }

    /// Sends the next prompt; a run whose process ended (idle timeout, cancel,
    /// crash) is resumed first.
    pub async fn send(self: &Arc<Self>, prompt: &str) -> Result<u64> {
        let mut needs_process = self.session().is_none_or(|s| s.status().is_final());
        if self.restart_pending.load(Ordering::SeqCst) {
            // Its agents changed: the CLI starts again (resuming) with them.
            if let Some(s) = self.session().filter(|s| !s.status().is_final()) {
                if !matches!(s.status(), ccsm_core::run::RunStatus::Idle) {
                    return Err(Error::Conflict(format!(
                        "session {} is in a turn: wait for it to finish, or interrupt it",
                        self.id
                    )));
                }
                self.closing.store(true, Ordering::SeqCst);
                let _ = s.close().await;
            }
            needs_process = true;
        }
        if needs_process {
            let fleet = self
                .fleet()
                .ok_or_else(|| Error::Internal("the fleet is gone".into()))?;
            fleet.respawn(self).await?;
        }
        let session = self
            .session()
            .ok_or_else(|| Error::Conflict("the session has no process".into()))?;
        let turn = match session.send(prompt).await {
            Ok(t) => t,
            Err(ccsm_claude::Error::Busy) => {
                return Err(Error::Conflict(format!(
                    "session {} is in a turn: wait for it to finish, or interrupt it",
                    self.id
                )))
            }
            Err(e) => return Err(e.into()),
        };
        self.touch();
        let seq = self.log.last_seq();
        let run = self.clone();
        tokio::spawn(async move { run.drive(turn).await });
        Ok(seq)
    }

    async fn drive(self: Arc<Self>, mut turn: Turn) {
        while let Some(item) = turn.next_line().await {
            self.touch();
            match item {
                Ok(line) => {
                    if matches!(line.message, Message::Host(_)) {
                        continue;
                    }
                    if let Message::System(sys) = &line.message {
                        if let Some(m) = sys.model() {
                            self.set_model(Some(m.to_owned()));
                        }
                    }
                    self.keep_output(&line.raw);
                    let value: serde_json::Value =
                        serde_json::from_str(&line.raw).unwrap_or(serde_json::Value::Null);
                    if let Message::Result(r) = &line.message {
                        self.turns.fetch_add(1, Ordering::Relaxed);
                        if let Some(u) = &r.usage {
                            self.tokens.fetch_add(
                                u.input_tokens
                                    + u.output_tokens
                                    + u.cache_creation_input_tokens
                                    + u.cache_read_input_tokens,
                                Ordering::Relaxed,
                            );
                        }
                        if let (Some(c), Ok(mut cost)) = (r.total_cost_usd, self.cost.lock()) {
                            // The CLI reports its process's total so far.
                            cost.1 = c;
                        }
                        self.publish(Event::Line {
                            line: value.clone(),
                        });
                        self.publish(Event::Complete { result: value });
                    } else {
                        self.publish(Event::Line { line: value });
                    }
                }
                Err(ccsm_claude::Error::Cancelled) => break,
                Err(e) => {
                    self.publish_error(&e.to_string());
                }
            }
        }
        self.touch();
    }

    fn keep_output(&self, raw: &str) {
        let cap = self
            .fleet
            .upgrade()
            .map_or(16 << 20, |f| f.cfg.output_bytes);
        if let Ok(mut o) = self.output.lock() {
            o.bytes += raw.len() + 1;
            o.lines.push_back(Arc::from(raw));
            while o.bytes > cap {
                match o.lines.pop_front() {
                    Some(l) => {
                        o.bytes -= l.len() + 1;
                        o.dropped += 1;
                    }
                    None => break,
                }
            }
        }
    }

    /// The output so far as JSONL (the newest lines that fit the buffer).
    pub fn output_jsonl(&self) -> String {
        self.output.lock().map_or_else(
            |_| String::new(),
            |o| {
                let mut s = String::with_capacity(o.bytes);
                for l in &o.lines {
                    s.push_str(l);
                    s.push('\n');
                }
                s
            },
        )
    }

    pub fn cost_usd(&self) -> f64 {
        self.cost.lock().map_or(0.0, |c| c.0 + c.1)
    }

    pub fn model(&self) -> Option<String> {
        self.model.lock().ok().and_then(|m| m.clone())
    }

    pub(crate) fn set_model(&self, m: Option<String>) {
        if let Ok(mut model) = self.model.lock() {
            *model = m;
        }
    }

    pub fn view(&self) -> RunView {
        let fleet = self.fleet();
        RunView {
            session_id: self.id.clone(),
            name: self.name.clone(),
            pid: self.pid(),
            status: self.status(),
            project_path: self.cwd.display().to_string(),
            model: self.model(),
            started_at: self.started_at,
            turns: self.turns.load(Ordering::Relaxed),
            tokens: self.tokens.load(Ordering::Relaxed),
            cost_usd: self.cost_usd(),
            supervised: self.supervised().is_some(),
            restarts: self.restart_count.load(Ordering::Relaxed),
            last_seq: self.log.last_seq(),
            pending_approvals: fleet
                .map(|f| f.approvals(Some(&self.id)))
                .unwrap_or_default(),
        }
    }

    pub(crate) fn process_view(&self, table: &ProcTable, sampler: &mut CpuSampler) -> ProcessView {
        let status = self.status();
        let pid = self.pid().unwrap_or(0);
        let (rss, cpu, key) = match table.get(pid).filter(|_| !status.is_final()) {
            Some(stat) => {
                let (rss, ticks) = table.tree_usage(pid);
                (rss, Some(ticks), (pid, stat.start_ticks))
            }
            None => (0, None, (pid, 0)),
        };
        let runtime_ms = (now_ms() - self.started_at).max(0);
        ProcessView {
            pid,
            session_id: Some(self.id.clone()),
            name: self.name.clone(),
            project_path: Some(self.cwd.display().to_string()),
            model: self.model(),
            started_at: self.started_at,
            memory_bytes: rss,
            cpu_percent: cpu.map_or(0.0, |t| sampler.percent(key, t, runtime_ms)),
            runtime_ms,
            tokens: Some(self.tokens.load(Ordering::Relaxed)),
            cost_usd: Some(self.cost_usd()),
            started_by: StartedBy::Ccsm,
            config_dir: self
                .fleet()
                .map(|f| f.service().config_dir().display().to_string()),
            version: None,
            job_id: None,
            host: None,
            status,
        }
    }

    /// Interrupts the running turn (it ends with its partial output kept).
    pub async fn interrupt(&self) -> Result<()> {
        let session = self
            .session()
            .filter(|s| !s.status().is_final())
            .ok_or_else(|| Error::Conflict(format!("session {} is not running", self.id)))?;
        session.interrupt().await?;
        Ok(())
    }

    /// Cancels: interrupt, kill ladder, sweep; status `cancelled`.
    pub async fn cancel(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.set_overlay(Some(LiveStatus::Cancelled));
        if let Some(f) = self.fleet.upgrade() {
            f.approvals.forget_session(&self.id);
            let ladder = f.cfg.ladder;
            drop(f);
            match self.session().filter(|s| !s.status().is_final()) {
                Some(s) => {
                    s.cancel(ladder).await;
                }
                None => {
                    self.publish(Event::State {
                        status: LiveStatus::Cancelled,
                    });
                }
            }
        }
        self.persist().await;
    }

    /// Closes the process (stdin closed, then the ladder if it lingers).
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        if let Some(s) = self.session() {
            let _ = s.close().await;
        }
        self.persist().await;
    }

    pub(crate) async fn close_idle(&self) {
        tracing::info!(session = %self.id, "closing an idle session");
        self.close().await;
    }

    /// Checks the run's limits; each one crossed raises one alert and runs the
    /// configured action.
    pub(crate) async fn check_limits(self: &Arc<Self>) {
        let Some(fleet) = self.fleet() else { return };
        let limits = self.limits().or(&fleet.inner.cfg.alerts);
        if !limits.any() {
            return;
        }
        let mut crossed: Vec<(&'static str, String)> = Vec::new();
        if let (Some(max), Some(pid)) = (limits.max_memory_mb, self.pid()) {
            let rss = blocking(move || Ok(ProcTable::read().tree_usage(pid).0))
                .await
                .unwrap_or(0);
            if rss > max << 20 {
                crossed.push((
                    "memory",
                    format!("uses {} MB, more than its limit of {max} MB", rss >> 20),
                ));
            }
        }
        if let Some(max) = limits.max_runtime_secs {
            let secs = (now_ms() - self.started_at) / 1000;
            if secs > max as i64 {
                crossed.push((
                    "runtime",
                    format!("has run {secs} s, more than its limit of {max} s"),
                ));
            }
        }
        if let Some(max) = limits.max_cost_usd {
            let cost = self.cost_usd();
            if cost > max {
                crossed.push((
                    "cost",
                    format!("has cost ${cost:.4}, more than its budget of ${max}"),
                ));
            }
        }
        if let Some(max) = limits.max_cpu_percent {
            let last = self.samples_since(now_ms() - 60_000).pop();
            if let Some(cpu) = last.map(|s| s.cpu_percent).filter(|c| *c > max) {
                crossed.push((
                    "cpu",
                    format!("uses {cpu:.0}% CPU, more than its limit of {max}%"),
                ));
            }
        }
        let due = self.error_rate_at.lock().is_ok_and(|mut at| {
            let due = at.is_none_or(|t| t.elapsed() >= ERROR_RATE_EVERY);
            if due {
                *at = Some(Instant::now());
            }
            due
        });
        if let Some(max) = limits.max_error_rate.filter(|_| due) {
            let service = fleet.service().clone();
            let id = self.id.clone();
            if let Ok(m) = blocking(move || Ok(service.session_metrics(&id)?)).await {
                if m.tool_calls > 0 && m.error_rate > max {
                    crossed.push((
                        "errorRate",
                        format!(
                            "has {} tool errors in {} calls ({:.0}%), more than its limit of {:.0}%",
                            m.tool_errors,
                            m.tool_calls,
                            m.error_rate * 100.0,
                            max * 100.0
                        ),
                    ));
                }
            }
        }
        for (limit, message) in crossed {
            let first = self.alerted.lock().is_ok_and(|mut a| a.insert(limit));
            if !first {
                continue;
            }
            let action = match limits.action {
                LimitAction::None => "none",
                LimitAction::Interrupt => "interrupt",
                LimitAction::Cancel => "cancel",
            };
            fleet
                .raise_alert(
                    self,
                    limit,
                    format!("session {} {message}", self.id),
                    action,
                )
                .await;
            match limits.action {
                LimitAction::None => {}
                LimitAction::Interrupt => {
                    let _ = self.interrupt().await;
                }
                LimitAction::Cancel => self.cancel().await,
            }
        }
    }

    pub(crate) fn record(&self) -> RunRecord {
        let status = self.status();
        RunRecord {
            session_id: self.id.clone(),
            run_id: self.run_id.clone(),
            name: self.name.clone(),
            cwd: self.cwd.clone(),
            started_at: self.started_at,
            pid: self.pid(),
            live: !status.is_final(),
            status,
            request: self.request(),
        }
    }

    /// Writes the run's record to the catalog (what a restarted daemon reads).
    pub(crate) async fn persist(&self) {
        let Some(fleet) = self.fleet() else { return };
        // A run removed from the fleet (deleted), or replaced by a newer run of
        // the same session, no longer speaks for it.
        let current = fleet
            .inner
            .runs
            .read()
            .ok()
            .and_then(|r| r.get(&self.id).cloned())
            .is_some_and(|r| std::ptr::eq(r.as_ref(), self));
        if !current {
            return;
        }
        let record = self.record();
        let service = fleet.service().clone();
        let id = self.id.clone();
        let saved =
            blocking(move || Ok(service.save_record(super::RUN_RECORD, &id, &record)?)).await;
        if let Err(e) = saved {
            tracing::warn!(session = %self.id, "could not record the run in the catalog: {e}");
        }
    }
}
