//! Many hosts, one catalog: when the store is a server's (PostgreSQL), each
//! daemon publishes its host's live processes there, reads the other hosts'
//! (`GET /api/claude/running?hosts=all`), and takes the commands other daemons
//! leave for it (a cancel of one of its sessions). Only the daemon that owns a
//! process touches it; the others forward. This host's row is published when
//! it changes (looked at every [`TICK`]); commands are taken as soon as the
//! store tells they were left (PostgreSQL's `LISTEN`), and looked for every
//! [`LOOK`] whatever it tells; a host whose rows are older than [`STALE_MS`]
//! is left out (its daemon stopped without saying so).

use std::time::Duration;

use ccsm_core::ProcessView;
use serde::{Deserialize, Serialize};

use super::Fleet;
use crate::error::{blocking, Error, Result};

/// How often the live table is published and commands are read.
const TICK: Duration = Duration::from_millis(250);
/// Commands are looked for at least this often, even when no notice came (a
/// notice lost while the listening connection was made again).
const LOOK: Duration = Duration::from_secs(1);
/// A host's rows are published again at least this often (a heartbeat).
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Rows older than this are a stopped daemon's.
const STALE_MS: i64 = 15_000;
/// The kind of the shared records holding each host's live processes.
const LIVE: &str = "live";

fn commands_of(host: &str) -> String {
    format!("command:{host}")
}

/// One host's live processes, as published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct HostLive {
    host: String,
    updated: i64,
    rows: Vec<ProcessView>,
}

/// What one daemon asks another to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Command {
    action: String,
    session: String,
    from: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Fleet {
    /// This daemon's host name when its catalog is shared by many hosts.
    pub fn team_host(&self) -> Option<String> {
        self.inner.service.team_host()
    }

    /// Publishes this host's live processes and runs the commands left for it,
    /// until the daemon stops (then its rows are withdrawn). `None`: the
    /// catalog is this host's own.
    pub fn spawn_team(&self) -> Option<tokio::task::JoinHandle<()>> {
        let host = self.team_host()?;
        let weak = std::sync::Arc::downgrade(&self.inner);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last: Option<(Vec<ProcessView>, std::time::Instant)> = None;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let fleet = Fleet { inner };
                if *fleet.inner.stopping.borrow() {
                    let service = fleet.inner.service.clone();
                    let h = host.clone();
                    let _ = blocking(move || Ok(service.delete_shared(LIVE, &h)?)).await;
                    return;
                }
                let rows = fleet.processes(true).await;
                let due = last
                    .as_ref()
                    .is_none_or(|(r, at)| *r != rows || at.elapsed() >= HEARTBEAT);
                if due {
                    let value = HostLive {
                        host: host.clone(),
                        updated: now_ms(),
                        rows: rows.clone(),
                    };
                    let service = fleet.inner.service.clone();
                    let h = host.clone();
                    let put = blocking(move || {
                        let json = serde_json::to_string(&value)
                            .map_err(|e| Error::Internal(e.to_string()))?;
                        Ok(service.put_shared(LIVE, &h, &json)?)
                    })
                    .await;
                    fleet.store_answered(&put);
                    if put.is_ok() {
                        last = Some((rows, std::time::Instant::now()));
                    }
                }
            }
        }))
    }

    /// Takes the commands other daemons leave for this host: when the store
    /// says one was left, else every [`LOOK`] (a store that cannot tell: every
    /// [`TICK`]), until the daemon stops.
    pub fn spawn_commands(&self) -> Option<tokio::task::JoinHandle<()>> {
        let host = self.team_host()?;
        let weak = std::sync::Arc::downgrade(&self.inner);
        Some(tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let fleet = Fleet { inner };
                if *fleet.inner.stopping.borrow() {
                    return;
                }
                fleet.run_commands(&host).await;
                let service = fleet.inner.service.clone();
                let kind = commands_of(&host);
                let mut stopping = fleet.inner.stopping.subscribe();
                drop(fleet);
                if *stopping.borrow_and_update() {
                    return;
                }
                let started = tokio::time::Instant::now();
                let waited = tokio::select! {
                    w = blocking(move || Ok(service.wait_shared(&kind, LOOK)?)) => w,
                    _ = stopping.changed() => return,
                };
                // No notice to wait for (or the store is away): look again
                // after a tick, not at once.
                if !matches!(waited, Ok(true)) && started.elapsed() < TICK {
                    tokio::time::sleep_until(started + TICK).await;
                }
            }
        }))
    }

    /// Runs (and removes) the commands other daemons left for this host.
    async fn run_commands(&self, host: &str) {
        let service = self.inner.service.clone();
        let kind = commands_of(host);
        let taken = blocking(move || {
            let mut out = Vec::new();
            for (key, value) in service.shared(&kind)? {
                // Taken by whoever removes it: a command runs once.
                if service.delete_shared(&kind, &key)? {
                    out.push(value);
                }
            }
            Ok(out)
        })
        .await;
        self.store_answered(&taken);
        for value in taken.unwrap_or_default() {
            let Ok(cmd) = serde_json::from_str::<Command>(&value) else {
                tracing::warn!("a command from another host does not read: {value}");
                continue;
            };
            match cmd.action.as_str() {
                "cancel" => match self.cancel(&cmd.session).await {
                    Ok(_) => tracing::info!(
                        "cancelled session {} as host {} asked",
                        cmd.session,
                        cmd.from
                    ),
                    Err(e) => {
                        tracing::warn!("host {} asked to cancel {}: {e}", cmd.from, cmd.session)
                    }
                },
                other => tracing::warn!("host {} asked for {other:?}: unknown", cmd.from),
            }
        }
    }

    /// Records whether the catalog answered (the health report says so).
    fn store_answered<T>(&self, r: &Result<T>) {
        let down = match r {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Ok(mut s) = self.inner.store_down.lock() {
            if s.is_none() && down.is_some() {
                tracing::warn!("the shared catalog is unavailable: {down:?}");
            }
            *s = down;
        }
    }

    /// Why the shared catalog did not answer the last time it was asked, if it
    /// did not.
    pub fn store_unavailable(&self) -> Option<String> {
        self.inner.store_down.lock().ok().and_then(|s| s.clone())
    }

    /// The other hosts' live processes (`only`: of that host), each with its host.
    pub async fn team_processes(&self, only: Option<&str>) -> Result<Vec<ProcessView>> {
        let Some(me) = self.team_host() else {
            return Ok(Vec::new());
        };
        let service = self.inner.service.clone();
        let all = blocking(move || Ok(service.shared(LIVE)?)).await;
        self.store_answered(&all);
        let now = now_ms();
        let mut out = Vec::new();
        for (_, value) in all? {
            let Ok(h) = serde_json::from_str::<HostLive>(&value) else {
                continue;
            };
            if h.host == me || now - h.updated > STALE_MS || only.is_some_and(|o| o != h.host) {
                continue;
            }
            out.extend(h.rows.into_iter().map(|mut r| {
                r.host = Some(h.host.clone());
                r
            }));
        }
        Ok(out)
    }

    /// Asks the host whose daemon runs session `id` (an id or a name) to cancel
    /// it; the host's name, or `None` when no other host runs it.
    pub async fn forward_cancel(&self, id: &str) -> Result<Option<String>> {
        let Some(me) = self.team_host() else {
            return Ok(None);
        };
        let owner = self
            .team_processes(None)
            .await?
            .into_iter()
            .find(|p| p.session_id.as_deref() == Some(id) || p.name.as_deref() == Some(id))
            .and_then(|p| p.host);
        let Some(owner) = owner else { return Ok(None) };
        let cmd = Command {
            action: "cancel".into(),
            session: id.to_owned(),
            from: me,
        };
        let service = self.inner.service.clone();
        let to = owner.clone();
        blocking(move || {
            let json = serde_json::to_string(&cmd).map_err(|e| Error::Internal(e.to_string()))?;
            Ok(service.put_shared(&commands_of(&to), &uuid::Uuid::new_v4().to_string(), &json)?)
        })
        .await?;
        Ok(Some(owner))
    }
}
