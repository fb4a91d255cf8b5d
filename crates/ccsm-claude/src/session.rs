//! A persistent session: one long-lived CLI process with stream-json input.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ccsm_core::RunStatus;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use nix::sys::signal::Signal;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, watch};

use crate::callbacks::{HookInput, PermissionDecision, ToolPermissionRequest};
use crate::error::{api_error_from_result, Error, Result};
use crate::options::Options;
use crate::process::{descendants, ProcessGuard, RUN_ID_ENV};
use crate::protocol::{
    ChatMessage, ContentBlock, ControlRequest, HostEvent, Line, Message, ResultMessage,
    SystemMessage,
};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// The waits between the steps of the cancel ladder.
#[derive(Debug, Clone, Copy)]
pub struct Ladder {
    /// After the protocol interrupt, for the turn to end.
    pub interrupt: Duration,
    /// After SIGINT, then after SIGTERM, for the process to exit.
    pub signal: Duration,
}

impl Default for Ladder {
    fn default() -> Self {
        Self {
            interrupt: Duration::from_secs(2),
            signal: Duration::from_secs(2),
        }
    }
}

const TURN_QUEUE: usize = 1024;
const BACKLOG: usize = 1024;

#[derive(Default)]
struct TurnSlot {
    tx: Option<mpsc::Sender<Result<Line>>>,
    /// Lines that came while no turn was running (delivered to the next turn).
    backlog: VecDeque<Result<Line>>,
}

pub(crate) struct Inner {
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Result<Value>>>>,
    handlers: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    turn: Mutex<TurnSlot>,
    session_id: watch::Sender<Option<String>>,
    init: Mutex<Option<SystemMessage>>,
    server_info: Mutex<Option<Value>>,
    exit: watch::Receiver<Option<ExitInfo>>,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    guard: ProcessGuard,
    options: Options,
    counter: AtomicU64,
    /// Where the session is; every handle and watcher sees it.
    status: watch::Sender<RunStatus>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Inner {
    /// Moves the status on, unless the process is already gone (exited is final).
    fn set_status(&self, next: RunStatus) {
        self.status.send_if_modified(|s| {
            if s.is_final() || *s == next {
                return false;
            }
            *s = next;
            true
        });
    }

    fn stderr_tail(&self) -> String {
        let t = self
            .stderr_tail
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&Vec::from(t)).into_owned()
    }

    fn exit_error(&self, info: Option<ExitInfo>) -> Error {
        let info = info.unwrap_or(ExitInfo {
            code: None,
            signal: None,
        });
        Error::Exited {
            code: info.code,
            signal: info.signal,
            stderr_tail: self.stderr_tail(),
        }
    }

    fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    async fn wait_exit(&self, d: Duration) -> Option<ExitInfo> {
        let mut exit = self.exit.clone();
        tokio::time::timeout(d, exit.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|e| *e))
    }

    async fn write_line(&self, v: &Value) -> Result<()> {
        let mut line = serde_json::to_vec(v).map_err(|e| Error::Protocol {
            line: String::new(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let mut stdin = self.stdin.lock().await;
        let Some(w) = stdin.as_mut() else {
            return Err(Error::Closed);
        };
        if let Err(e) = async {
            w.write_all(&line).await?;
            w.flush().await
        }
        .await
        {
            return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                Error::Closed
            } else {
                Error::Io(e)
            });
        }
        Ok(())
    }

    /// Hands a line to the running turn, or keeps it for the next one.
    async fn deliver(&self, item: Result<Line>) {
        let ends_turn = matches!(&item, Ok(l) if matches!(l.message, Message::Result(_)));
        if ends_turn && !matches!(*self.status.borrow(), RunStatus::Stopping) {
            self.set_status(RunStatus::Idle);
        }
        let tx = {
            let Ok(mut slot) = self.turn.lock() else {
                return;
            };
            match &slot.tx {
                Some(tx) => {
                    let tx = tx.clone();
                    if ends_turn {
                        slot.tx = None;
                    }
                    Some(tx)
                }
                None => {
                    if slot.backlog.len() >= BACKLOG {
                        slot.backlog.pop_front();
                    }
                    slot.backlog.push_back(item);
                    return;
                }
            }
        };
        if let Some(tx) = tx {
            // A dropped Turn just means nobody is listening any more.
            let _ = tx.send(item).await;
        }
    }

    /// Ends the running turn with an error (process gone, cancelled).
    async fn fail_turn(&self, err: Error) {
        let tx = self.turn.lock().ok().and_then(|mut s| s.tx.take());
        if let Some(tx) = tx {
            let _ = tx.send(Err(err)).await;
        }
    }

    async fn respond(&self, request_id: &str, result: std::result::Result<Value, String>) {
        let body = match result {
            Ok(response) => json!({"subtype": "success", "request_id": request_id,
                                   "response": response}),
            Err(error) => json!({"subtype": "error", "request_id": request_id, "error": error}),
        };
        if let Err(e) = self
            .write_line(&json!({"type": "control_response", "response": body}))
            .await
        {
            tracing::debug!("could not answer control request {request_id}: {e}");
        }
    }

    /// A control request from the CLI: answered on a task of its own so the reader
    /// keeps reading (and a cancel can abort it).
    fn handle_request(self: &Arc<Self>, req: ControlRequest) {
        let inner = self.clone();
        let id = req.request_id.clone();
        let task = tokio::spawn(async move {
            let request_id = req.request_id.clone();
            let answer = inner.answer(req).await;
            inner.respond(&request_id, answer).await;
            if let Ok(mut h) = inner.handlers.lock() {
                h.remove(&request_id);
            }
        });
        if let Ok(mut h) = self.handlers.lock() {
            h.insert(id, task.abort_handle());
        }
    }

    async fn answer(&self, req: ControlRequest) -> std::result::Result<Value, String> {
        let fields = req.request.fields;
        match req.request.subtype.as_str() {
            "can_use_tool" => {
                let request = ToolPermissionRequest::from_fields(fields);
                let input = request.input.clone();
                let was = self.status.borrow().clone();
                self.set_status(RunStatus::AwaitingPermission {
                    request_id: req.request_id.clone(),
                    tool_name: request.tool_name.clone(),
                });
                let decision = match &self.options.can_use_tool {
                    Some(cb) => cb.decide(request).await,
                    None => {
                        self.deliver(Ok(Line::host(HostEvent::ToolDeniedByDefault {
                            tool_name: request.tool_name.clone(),
                            input: request.input.clone(),
                        })))
                        .await;
                        PermissionDecision::deny(
                            "denied by ccsm: no permission callback is set for this session",
                        )
                    }
                };
                // Back to the turn, unless it ended or stopped meanwhile.
                if matches!(*self.status.borrow(), RunStatus::AwaitingPermission { .. }) {
                    self.set_status(was);
                }
                Ok(decision.to_response(&input))
            }
            "hook_callback" => {
                let id = fields
                    .get("callback_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let index = id
                    .strip_prefix("hook_")
                    .and_then(|n| n.parse::<usize>().ok());
                let Some((_, m)) = index.and_then(|i| self.options.hooks.get(i)) else {
                    return Err(format!("no hook callback {id:?}"));
                };
                let input = HookInput {
                    input: fields.get("input").cloned().unwrap_or(Value::Null),
                    tool_use_id: fields
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                };
                Ok(m.callback.call(input).await)
            }
            other => Err(format!("ccsm does not handle {other:?} requests")),
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "ccsm_{n}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    }

    async fn control(&self, subtype: &str, fields: Map<String, Value>) -> Result<Value> {
        if self.exited().is_some() {
            return Err(Error::Closed);
        }
        let id = self.next_request_id();
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.clone(), tx);
        }
        let mut request = fields;
        request.insert("subtype".into(), json!(subtype));
        let sent = self
            .write_line(&json!({"type": "control_request", "request_id": id,
                                "request": request}))
            .await;
        if let Err(e) = sent {
            if let Ok(mut p) = self.pending.lock() {
                p.remove(&id);
            }
            return Err(match e {
                // A closed stdin means the process is gone: say how it ended.
                Error::Closed => self.exit_error(self.wait_exit(Duration::from_secs(5)).await),
                e => e,
            });
        }
        match tokio::time::timeout(self.options.control_timeout, rx).await {
            Ok(Ok(answer)) => answer.map_err(|e| match e {
                Error::Control { message, .. } => Error::Control {
                    subtype: subtype.to_owned(),
                    message,
                },
                other => other,
            }),
            Ok(Err(_)) => Err(self.exit_error(self.exited())),
            Err(_) => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(&id);
                }
                Err(Error::Timeout {
                    what: format!("the answer to control request {subtype}"),
                })
            }
        }
    }
}

/// Reads stdout lines with a length limit: a longer line is skipped and reported.
async fn read_line_limited<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<std::result::Result<(), usize>>> {
    buf.clear();
    let mut overflow = 0usize;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() && overflow == 0 {
                None
            } else if overflow > 0 {
                Some(Err(buf.len() + overflow))
            } else {
                Some(Ok(()))
            });
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let data = &chunk[..if done { take - 1 } else { take }];
        if overflow > 0 || buf.len() + data.len() > max {
            overflow += data.len();
        } else {
            buf.extend_from_slice(data);
        }
        r.consume(take);
        if done {
            return Ok(Some(if overflow > 0 {
                Err(buf.len() + overflow)
            } else {
                Ok(())
            }));
        }
    }
}

async fn reader_task(inner: Arc<Inner>, stdout: tokio::process::ChildStdout) {
    let mut r = BufReader::with_capacity(1 << 16, stdout);
    let mut buf = Vec::new();
    let max = inner.options.max_line_bytes;
    loop {
        let line = match read_line_limited(&mut r, &mut buf, max).await {
            Ok(Some(Ok(()))) => {
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                String::from_utf8_lossy(&buf).into_owned()
            }
            Ok(Some(Err(len))) => {
                let head = String::from_utf8_lossy(&buf[..buf.len().min(200)]).into_owned();
                inner
                    .deliver(Err(Error::Protocol {
                        line: head,
                        reason: format!("a line of {len} bytes is longer than the {max} allowed"),
                    }))
                    .await;
                continue;
            }
            Ok(None) | Err(_) => break,
        };
        let parsed = match Line::parse(&line) {
            Ok(p) => p,
            Err(reason) => {
                inner.deliver(Err(Error::Protocol { line, reason })).await;
                continue;
            }
        };
        if let Some(id) = parsed.message.session_id() {
            if inner.session_id.borrow().as_deref() != Some(id) {
                inner.session_id.send_replace(Some(id.to_owned()));
            }
        }
        match &parsed.message {
            Message::ControlResponse(resp) => {
                let r = &resp.response;
                let tx = inner
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&r.request_id));
                if let Some(tx) = tx {
                    let answer = if r.subtype == "success" {
                        Ok(r.response.clone().unwrap_or(Value::Null))
                    } else {
                        Err(Error::Control {
                            subtype: String::new(),
                            message: r.error.clone().unwrap_or_else(|| "unknown error".into()),
                        })
                    };
                    let _ = tx.send(answer);
                }
                continue;
            }
            Message::ControlRequest(req) => {
                inner.handle_request(req.clone());
                continue;
            }
            Message::ControlCancelRequest { request_id } => {
                let h = inner
                    .handlers
                    .lock()
                    .ok()
                    .and_then(|mut h| h.remove(request_id));
                if let Some(h) = h {
                    h.abort();
                }
                let ev = HostEvent::RequestCancelled {
                    request_id: request_id.clone(),
                };
                inner.deliver(Ok(Line::host(ev))).await;
                continue;
            }
            Message::System(s) if s.is_init() => {
                if let Ok(mut i) = inner.init.lock() {
                    *i = Some(s.clone());
                }
                if matches!(*inner.status.borrow(), RunStatus::Starting) {
                    inner.set_status(RunStatus::Idle);
                }
            }
            _ => {}
        }
        inner.deliver(Ok(parsed)).await;
    }
    // Stdout closed: the process is ending. Wait for its status, then fail whatever
    // still waits on it.
    let mut exit = inner.exit.clone();
    let info = exit.wait_for(Option::is_some).await.ok().and_then(|e| *e);
    let pending: Vec<_> = inner
        .pending
        .lock()
        .map(|mut p| p.drain().collect())
        .unwrap_or_default();
    for (_, tx) in pending {
        let _ = tx.send(Err(inner.exit_error(info)));
    }
    inner.fail_turn(inner.exit_error(info)).await;
}

/// A persistent Claude Code session: a handle that can be cloned and shared
/// between tasks (one sends prompts, another watches the status, a third may
/// interrupt or cancel). Dropping the last handle kills the process group and
/// everything the CLI started.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    /// Shared by every clone: the process dies with the last of them.
    _owner: Arc<KillOnDrop>,
}

/// Kills the session's processes when the last [`Session`] handle is dropped.
struct KillOnDrop(Arc<Inner>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Kill on drop. Only while the leader has not been reaped: a reaped pid may
        // already belong to someone else. The marker sweep is always safe.
        let inner = &self.0;
        if inner.exited().is_none() {
            let d = descendants(inner.guard.pid);
            inner.guard.kill_everything(&d);
        } else {
            inner.guard.sweep(&[]);
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("pid", &self.inner.guard.pid)
            .field("session_id", &self.session_id())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts the CLI and completes the `initialize` handshake: a CLI that crashes or
    /// does not speak the protocol is an error here.
    pub async fn start(options: Options) -> Result<Self> {
        let session = Self::spawn(options)?;
        session.initialize().await?;
        session.inner.set_status(RunStatus::Idle);
        Ok(session)
    }

    /// Starts the CLI and sends `initialize` without waiting for its answer, so a
    /// prompt sent next is already in the pipe while the CLI boots (what [`query`]
    /// does: no round trip added to start-up). A crash shows up on the first turn.
    ///
    /// [`query`]: crate::query
    pub async fn start_pipelined(options: Options) -> Result<Self> {
        let session = Self::spawn(options)?;
        let inner = session.inner.clone();
        let fields = session.initialize_fields();
        let id = inner.next_request_id();
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = inner.pending.lock() {
            p.insert(id.clone(), tx);
        }
        let mut request = fields;
        request.insert("subtype".into(), json!("initialize"));
        inner
            .write_line(&json!({"type": "control_request", "request_id": id,
                                "request": request}))
            .await?;
        tokio::spawn(async move {
            if let Ok(Ok(info)) = rx.await {
                if let Ok(mut s) = inner.server_info.lock() {
                    *s = Some(info);
                }
            }
        });
        Ok(session)
    }

    fn spawn(options: Options) -> Result<Self> {
        let mut options = options;
        options.validate()?;
        // A new conversation gets its id now, so session_id() is known from the start.
        if options.resume.is_none() && !options.continue_session && options.session_id.is_none() {
            options.session_id = Some(ccsm_core::SessionId::new_v4());
        }
        let cli = match &options.cli_path {
            Some(p) => p.clone(),
            None => crate::find::find_cli(None)?.path,
        };
        let args = options.to_args()?;
        let run_id = options
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut cmd = Command::new(&cli);
        cmd.args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env(RUN_ID_ENV, &run_id);
        for k in &options.env_remove {
            cmd.env_remove(k);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        if let Some(d) = &options.cwd {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::CliNotFound {
                    searched: vec![cli.clone()],
                }
            } else {
                Error::Spawn {
                    path: cli.clone(),
                    source,
                }
            }
        })?;
        let pid = child.id().ok_or(Error::Closed)?;
        let guard = ProcessGuard { pid, run_id };
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err(Error::Closed),
            };

        // stderr is drained all the time (a flood must never block the CLI) and only
        // its tail is kept.
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail_max = options.stderr_tail_bytes;
        let tail = stderr_tail.clone();
        let stderr_done = tokio::spawn(async move {
            let mut stderr = stderr;
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.extend(&buf[..n]);
                    let excess = t.len().saturating_sub(tail_max);
                    t.drain(..excess);
                }
            }
        });

        let (exit_tx, exit_rx) = watch::channel(None);
        let status_tx = watch::Sender::new(RunStatus::Starting);
        let status = status_tx.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            // The tail is complete once stderr closes; bounded wait in case a tool
            // kept the pipe open.
            let _ = tokio::time::timeout(Duration::from_millis(500), stderr_done).await;
            use std::os::unix::process::ExitStatusExt as _;
            let info = match status {
                Ok(s) => ExitInfo {
                    code: s.code(),
                    signal: s.signal(),
                },
                Err(_) => ExitInfo {
                    code: None,
                    signal: None,
                },
            };
            exit_tx.send_replace(Some(info));
            status_tx.send_replace(RunStatus::Exited {
                code: info.code,
                signal: info.signal,
                ended_at: now_ms(),
            });
        });

        let initial_id = options
            .session_id
            .map(|s| s.to_string())
            .or_else(|| options.resume.clone().filter(|_| !options.fork_session));
        let inner = Arc::new(Inner {
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            pending: Mutex::new(HashMap::new()),
            handlers: Mutex::new(HashMap::new()),
            turn: Mutex::new(TurnSlot::default()),
            session_id: watch::channel(initial_id).0,
            init: Mutex::new(None),
            server_info: Mutex::new(None),
            exit: exit_rx,
            stderr_tail,
            guard,
            options,
            counter: AtomicU64::new(1),
            status,
        });
        tokio::spawn(reader_task(inner.clone(), stdout));
        Ok(Self {
            _owner: Arc::new(KillOnDrop(inner.clone())),
            inner,
        })
    }

    async fn initialize(&self) -> Result<()> {
        let fields = self.initialize_fields();
        let info = self.inner.control("initialize", fields).await?;
        if let Ok(mut s) = self.inner.server_info.lock() {
            *s = Some(info);
        }
        Ok(())
    }

    fn initialize_fields(&self) -> Map<String, Value> {
        let mut hooks: Map<String, Value> = Map::new();
        for (i, (event, m)) in self.inner.options.hooks.iter().enumerate() {
            let entry = json!({"matcher": m.matcher, "hookCallbackIds": [format!("hook_{i}")],
                               "timeout": m.timeout.map(|t| t.as_secs())});
            match hooks.get_mut(event).and_then(Value::as_array_mut) {
                Some(list) => list.push(entry),
                None => {
                    hooks.insert(event.clone(), json!([entry]));
                }
            }
        }
        let mut fields = Map::new();
        if !hooks.is_empty() {
            fields.insert("hooks".into(), Value::Object(hooks));
        }
        fields
    }

    /// The process id of the CLI (leader of its process group).
    pub fn pid(&self) -> u32 {
        self.inner.guard.pid
    }

    /// The marker every process of this run carries (`CCSM_RUN_ID`).
    pub fn run_id(&self) -> &str {
        &self.inner.guard.run_id
    }

    /// The session id: known from the start for new sessions and plain resumes; for
    /// continue and fork, once the CLI has said it.
    pub fn session_id(&self) -> Option<String> {
        self.inner.session_id.borrow().clone()
    }

    /// The last `system/init` message.
    pub fn init_message(&self) -> Option<SystemMessage> {
        self.inner.init.lock().ok().and_then(|i| i.clone())
    }

    /// What the CLI answered to `initialize` (commands, models, agents...).
    pub fn server_info(&self) -> Option<Value> {
        self.inner.server_info.lock().ok().and_then(|i| i.clone())
    }

    /// The tail of the CLI's stderr.
    pub fn stderr_tail(&self) -> String {
        self.inner.stderr_tail()
    }

    /// How the process ended, once it has.
    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.inner.exited()
    }

    /// Where the session is now.
    pub fn status(&self) -> RunStatus {
        self.inner.status.borrow().clone()
    }

    /// A watch of the session's status: every change, the last one always seen
    /// (`changed().await`, then `borrow()`); it ends with [`RunStatus::Exited`].
    pub fn watch_status(&self) -> watch::Receiver<RunStatus> {
        self.inner.status.subscribe()
    }

    /// Sends a prompt; the returned [`Turn`] streams this turn's lines, ending with
    /// its result.
    pub async fn send(&self, prompt: &str) -> Result<Turn> {
        self.send_message(json!({"role": "user", "content": prompt}))
            .await
    }

    /// Sends a user message with content blocks (images, documents...).
    pub async fn send_message(&self, message: Value) -> Result<Turn> {
        if let Some(info) = self.inner.exited() {
            return Err(self.inner.exit_error(Some(info)));
        }
        let (tx, rx) = mpsc::channel(TURN_QUEUE);
        {
            let mut slot = self.inner.turn.lock().map_err(|_| Error::Closed)?;
            if slot.tx.as_ref().is_some_and(|t| !t.is_closed()) {
                return Err(Error::Busy);
            }
            // Lines that came between turns belong to the start of this one.
            for item in slot.backlog.drain(..) {
                let _ = tx.try_send(item);
            }
            slot.tx = Some(tx);
        }
        self.inner.set_status(RunStatus::InTurn { since: now_ms() });
        let sent = self
            .inner
            .write_line(&json!({"type": "user", "message": message,
                                "parent_tool_use_id": null,
                                "session_id": self.session_id().unwrap_or_default()}))
            .await;
        if let Err(e) = sent {
            if let Ok(mut slot) = self.inner.turn.lock() {
                slot.tx = None;
            }
            self.inner.set_status(RunStatus::Idle);
            return Err(match e {
                Error::Closed => self
                    .inner
                    .exit_error(self.inner.wait_exit(Duration::from_secs(5)).await),
                e => e,
            });
        }
        Ok(Turn {
            rx,
            inner: self.inner.clone(),
            finished: false,
        })
    }

    /// Any control request: `subtype` plus its fields; returns the CLI's answer.
    pub async fn control(&self, subtype: &str, fields: Value) -> Result<Value> {
        let fields = match fields {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(Error::InvalidOptions(format!(
                    "control request fields must be an object, not {other}"
                )))
            }
        };
        self.inner.control(subtype, fields).await
    }

    /// Asks the CLI to stop the running turn (it ends with an error result).
    pub async fn interrupt(&self) -> Result<()> {
        self.control("interrupt", Value::Null).await.map(drop)
    }

    /// Switches the model for the next requests (`None`: the default).
    pub async fn set_model(&self, model: Option<&str>) -> Result<()> {
        self.control("set_model", json!({"model": model}))
            .await
            .map(drop)
    }

    pub async fn set_permission_mode(&self, mode: &ccsm_core::PermissionMode) -> Result<()> {
        self.control("set_permission_mode", json!({"mode": mode.as_str()}))
            .await
            .map(drop)
    }

    pub async fn set_max_thinking_tokens(&self, tokens: Option<u32>) -> Result<()> {
        self.control(
            "set_max_thinking_tokens",
            json!({"max_thinking_tokens": tokens}),
        )
        .await
        .map(drop)
    }

    pub async fn mcp_status(&self) -> Result<Value> {
        self.control("mcp_status", Value::Null).await
    }

    /// Restores files to their state at a user message (file checkpointing).
    pub async fn rewind_files(&self, user_message_id: &str) -> Result<Value> {
        self.control("rewind_files", json!({"user_message_id": user_message_id}))
            .await
    }

    pub async fn get_context_usage(&self) -> Result<Value> {
        self.control("get_context_usage", Value::Null).await
    }

    pub async fn stop_task(&self, task_id: &str) -> Result<Value> {
        self.control("stop_task", json!({"task_id": task_id})).await
    }

    /// Starts fresh: a new conversation with the same options (model, tools,
    /// callbacks, working directory). The CLI has no control request that clears
    /// the context of a running session, so this closes the process and starts a
    /// new one; the old conversation stays on disk and can be resumed.
    pub async fn clear(&self) -> Result<Session> {
        let mut options = self.inner.options.clone();
        options.resume = None;
        options.continue_session = false;
        options.fork_session = false;
        options.resume_session_at = None;
        options.session_id = None;
        self.close().await?;
        Session::start(options).await
    }

    /// Closes stdin and waits for the CLI to exit; then the ladder if it does not,
    /// and a sweep of whatever its tools left running.
    pub async fn close(&self) -> Result<ExitInfo> {
        if let Some(info) = self.inner.exited() {
            return Ok(info);
        }
        self.inner.set_status(RunStatus::Stopping);
        let d = descendants(self.inner.guard.pid);
        {
            let mut stdin = self.inner.stdin.lock().await;
            stdin.take();
        }
        let info = match self.wait_exit(Duration::from_secs(10)).await {
            Some(i) => i,
            None => self.signal_ladder(Ladder::default()).await,
        };
        self.inner.guard.sweep(&d);
        Ok(info)
    }

    /// Cancels whatever runs: the protocol interrupt, then SIGINT, SIGTERM and
    /// SIGKILL to the process group with bounded waits between, then a sweep of every
    /// process the CLI started. The running turn ends with [`Error::Cancelled`].
    pub async fn cancel(&self, ladder: Ladder) -> ExitInfo {
        if let Some(info) = self.inner.exited() {
            self.inner.fail_turn(Error::Cancelled).await;
            return info;
        }
        let d = descendants(self.inner.guard.pid);
        let turn_running = self
            .inner
            .turn
            .lock()
            .map(|s| s.tx.is_some())
            .unwrap_or(false);
        self.inner.set_status(RunStatus::Stopping);
        if turn_running && self.inner.exited().is_none() {
            let _ = tokio::time::timeout(ladder.interrupt, self.interrupt()).await;
        }
        self.inner.fail_turn(Error::Cancelled).await;
        {
            let mut stdin = self.inner.stdin.lock().await;
            stdin.take();
        }
        let info = match self.wait_exit(ladder.interrupt).await {
            Some(i) => i,
            None => self.signal_ladder(ladder).await,
        };
        self.inner.guard.sweep(&d);
        info
    }

    async fn signal_ladder(&self, ladder: Ladder) -> ExitInfo {
        for sig in [Signal::SIGINT, Signal::SIGTERM] {
            self.inner.guard.signal_group(sig);
            if let Some(i) = self.wait_exit(ladder.signal).await {
                return i;
            }
        }
        self.inner.guard.signal_group(Signal::SIGKILL);
        self.wait_exit(Duration::from_secs(5))
            .await
            .unwrap_or(ExitInfo {
                code: None,
                signal: Some(9),
            })
    }

    async fn wait_exit(&self, d: Duration) -> Option<ExitInfo> {
        self.inner.wait_exit(d).await
    }
}

/// One turn: the lines from the prompt to its `result`. A stream of
/// `Result<Line>`; it ends after the result, or with the error that ended the turn.
pub struct Turn {
    rx: mpsc::Receiver<Result<Line>>,
    inner: Arc<Inner>,
    finished: bool,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("finished", &self.finished)
            .finish()
    }
}

impl Stream for Turn {
    type Item = Result<Line>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let p = self.rx.poll_recv(cx);
        if let Poll::Ready(item) = &p {
            match item {
                Some(Ok(l)) if matches!(l.message, Message::Result(_)) => self.finished = true,
                Some(Err(e)) if !matches!(e, Error::Protocol { .. }) => self.finished = true,
                None => self.finished = true,
                _ => {}
            }
        }
        p
    }
}

/// What a finished turn said, gathered.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub lines: Vec<Line>,
    pub result: ResultMessage,
}

impl TurnOutcome {
    /// The final text: the result's text, else the assistant text.
    pub fn text(&self) -> String {
        self.result.result.clone().unwrap_or_else(|| {
            self.lines
                .iter()
                .filter_map(|l| match &l.message {
                    Message::Assistant(a) => Some(a.message.text()),
                    _ => None,
                })
                .collect()
        })
    }
    pub fn session_id(&self) -> Option<&str> {
        self.result.session_id.as_deref()
    }
    pub fn cost_usd(&self) -> Option<f64> {
        self.result.total_cost_usd
    }
    pub fn num_turns(&self) -> Option<u32> {
        self.result.num_turns
    }
    /// The model of the last assistant message.
    pub fn model(&self) -> Option<String> {
        self.lines.iter().rev().find_map(|l| match &l.message {
            Message::Assistant(a) => a.message.model.clone(),
            _ => None,
        })
    }
    /// Tool calls made, in order (name, input).
    pub fn tool_calls(&self) -> Vec<(String, Value)> {
        self.lines
            .iter()
            .filter_map(|l| match &l.message {
                Message::Assistant(a) => Some(a),
                _ => None,
            })
            .flat_map(|a: &ChatMessage| a.message.blocks().to_vec())
            .filter_map(|b| match b {
                ContentBlock::ToolUse { name, input, .. } => Some((name, input)),
                _ => None,
            })
            .collect()
    }
    /// One line: `<session> · N turns · T tokens · $C`.
    pub fn summary(&self) -> String {
        let tokens = self.result.usage.as_ref().map_or(0, |u| u.total());
        format!(
            "session {} · {} turn(s) · {} tokens · ${:.4}",
            self.session_id().unwrap_or("?"),
            self.num_turns().unwrap_or(0),
            tokens,
            self.cost_usd().unwrap_or(0.0)
        )
    }
}

/// How [`Turn::interrupt_and_drain`] ended.
#[derive(Debug, Clone)]
pub enum Drained {
    /// The CLI stopped the turn and said so with its result (an error result).
    Result(Box<ResultMessage>),
    /// The turn ended without a result (the process went away); the error says how.
    Ended(String),
}

impl Turn {
    /// Interrupts this turn and reads it to its end: the protocol's interrupt,
    /// then every line up to the CLI's result, each handed to `on_line` (a front
    /// still shows what arrives while the CLI stops). A garbage line is skipped.
    /// Waits at most `deadline` for the result; past it, or if the interrupt
    /// cannot be sent, the caller cancels the session (the kill ladder).
    pub async fn interrupt_and_drain(
        &mut self,
        deadline: Duration,
        mut on_line: impl FnMut(&Line),
    ) -> Result<Drained> {
        if self.finished {
            return Ok(Drained::Ended("the turn had already ended".into()));
        }
        self.inner.control("interrupt", Map::new()).await?;
        let drain = async {
            while let Some(item) = self.next_line().await {
                match item {
                    Ok(line) => {
                        on_line(&line);
                        if let Message::Result(r) = &line.message {
                            return Drained::Result(Box::new(r.clone()));
                        }
                    }
                    Err(Error::Protocol { reason, .. }) => {
                        tracing::warn!("skipping a line from the CLI ({reason})");
                    }
                    Err(e) => return Drained::Ended(e.to_string()),
                }
            }
            Drained::Ended("the turn ended without a result".into())
        };
        tokio::time::timeout(deadline, drain)
            .await
            .map_err(|_| Error::Timeout {
                what: "the interrupted turn to end".into(),
            })
    }

    /// The next line, or `None` after the result.
    pub async fn next_line(&mut self) -> Option<Result<Line>> {
        futures::StreamExt::next(self).await
    }

    /// Reads the turn to its end. An error result (`is_error`) becomes
    /// [`Error::Api`]; use [`Self::collect_any`] to get it as an outcome instead.
    pub async fn collect(self) -> Result<TurnOutcome> {
        let out = self.collect_any().await?;
        if out.result.is_error {
            let text = out
                .result
                .result
                .clone()
                .unwrap_or_else(|| out.result.subtype.clone());
            return Err(if out.result.subtype.starts_with("error_during") {
                Error::Cancelled
            } else {
                api_error_from_result(&text)
            });
        }
        Ok(out)
    }

    /// Reads the turn to its result, whatever it says. Protocol errors (a garbage
    /// line) end it.
    pub async fn collect_any(mut self) -> Result<TurnOutcome> {
        let mut lines = Vec::new();
        while let Some(item) = self.next_line().await {
            let line = item?;
            if let Message::Result(r) = &line.message {
                let result = r.clone();
                lines.push(line);
                return Ok(TurnOutcome { lines, result });
            }
            lines.push(line);
        }
        Err(self.inner.exit_error(self.inner.exited()))
    }

    /// The text as it streams: assistant text blocks, or `text_delta` events when
    /// partial messages are on (then whole blocks are not repeated).
    pub fn text_chunks(self) -> impl Stream<Item = Result<String>> {
        let partial = self.inner.options.include_partial_messages;
        futures::StreamExt::filter_map(self, move |item| async move {
            match item {
                Err(e) => Some(Err(e)),
                Ok(line) => match line.message {
                    Message::Assistant(a) if !partial => {
                        let t = a.message.text();
                        (!t.is_empty()).then_some(Ok(t))
                    }
                    Message::StreamEvent(v) if partial => v["event"]["delta"]["text"]
                        .as_str()
                        .map(|t| Ok(t.to_owned())),
                    _ => None,
                },
            }
        })
    }
}
