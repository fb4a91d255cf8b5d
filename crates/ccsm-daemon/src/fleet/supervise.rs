//! Supervision and recovery: a supervised session whose CLI ends without being
//! asked to is resumed, with backoff, up to a limit (more is a crash loop,
//! reported and stopped); a daemon that starts after a crash stops what its
//! predecessor left running (by marker, never by name), marks those runs
//! `interrupted`, and brings supervised ones back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccsm_claude::process::marked_with_prefix;
use ccsm_core::{Event, LiveStatus};
use ccsm_service::RunRequest;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::run::{Run, RunRecord};
use super::{parse_mode, Fleet, Plan};
use crate::error::{blocking, Result};

/// Decides what follows an unexpected exit: nothing, a restart after a wait, or
/// the end of a crash loop.
pub(crate) fn after_exit(run: Arc<Run>) {
    let Some(spec) = run.supervised() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            if run.closing.load(Ordering::SeqCst) {
                return;
            }
            let window = Duration::from_secs(spec.window_secs);
            let recent = match run.restarts.lock() {
                Ok(mut r) => {
                    r.retain(|t| t.elapsed() < window);
                    r.push(Instant::now());
                    r.len() as u32
                }
                Err(_) => return,
            };
            if recent > spec.max_restarts {
                let message = format!(
                    "session {} crashed {recent} times within {} s: a crash loop; not restarting it",
                    run.id, spec.window_secs
                );
                match run.fleet() {
                    Some(f) => f.raise_alert(&run, "restarts", message, "stopped").await,
                    None => {
                        run.publish(Event::Alert {
                            limit: "restarts".into(),
                            message,
                            action: "stopped".into(),
                        });
                    }
                }
                if run.session().is_none() {
                    run.mark_ended(LiveStatus::Exited {
                        code: None,
                        signal: None,
                    });
                }
                run.persist().await;
                return;
            }
            let wait = Duration::from_millis(spec.backoff_ms)
                .saturating_mul(1 << (recent - 1).min(6))
                .min(Duration::from_secs(30));
            tokio::time::sleep(wait).await;
            if run.closing.load(Ordering::SeqCst) {
                return;
            }
            let Some(fleet) = run.fleet() else { return };
            run.restart_count.fetch_add(1, Ordering::Relaxed);
            match fleet.respawn(&run).await {
                Ok(()) => {
                    tracing::info!(session = %run.id, "restarted a supervised session");
                    return;
                }
                Err(e) => run.publish_error(&format!("restarting the session failed: {e}")),
            }
        }
    });
}

/// Stops every process whose marker is `<run_id>.<n>`: SIGTERM, a bounded wait, SIGKILL.
pub(crate) async fn stop_marked(run_id: String) -> usize {
    if run_id.is_empty() {
        return 0;
    }
    let id = run_id.clone();
    let found = blocking(move || Ok(marked_with_prefix(&format!("{id}."))))
        .await
        .unwrap_or_default();
    for pid in &found {
        if let Ok(p) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let id = run_id.clone();
        let left = blocking(move || Ok(marked_with_prefix(&format!("{id}."))))
            .await
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            for pid in left {
                if let Ok(p) = i32::try_from(pid) {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found.len()
}

pub(crate) async fn recover(fleet: &Fleet) -> Result<Vec<String>> {
    let service = fleet.service().clone();
    let (records, unreadable) =
        blocking(move || Ok(service.load_records::<RunRecord>(super::RUN_RECORD)?)).await?;
    for key in unreadable {
        tracing::warn!(record = %key, "a run record this version cannot read was left as it is");
    }
    // Approvals a crashed daemon held: their CLIs are stopped below, so
    // nobody can answer them any more.
    let service = fleet.service().clone();
    let stale = blocking(move || {
        let (pending, _) =
            service.load_records::<ccsm_core::ApprovalView>(super::approvals::APPROVAL_RECORD)?;
        for (key, _) in &pending {
            service.delete_record(super::approvals::APPROVAL_RECORD, key)?;
        }
        Ok(pending.len())
    })
    .await?;
    if stale > 0 {
        tracing::info!(
            stale,
            "approvals pending in a crashed daemon were withdrawn"
        );
    }
    // Configured sessions (never started) stay configured.
    for (_, rec) in records
        .iter()
        .filter(|(_, r)| r.status == LiveStatus::Configured)
    {
        let Ok(mut plan) = plan_of(fleet, rec).await else {
            continue;
        };
        plan.options.resume = None;
        plan.options.session_id = rec.session_id.parse().ok();
        let run = Run::new(fleet.clone(), &plan, &rec.request);
        run.set_overlay(Some(LiveStatus::Configured));
        let _ = fleet.insert(run);
    }
    let mut recovered = Vec::new();
    for (_, rec) in records.into_iter().filter(|(_, r)| r.live) {
        let stopped = stop_marked(rec.run_id.clone()).await;
        tracing::info!(session = %rec.session_id, stopped, "a run of a crashed daemon was interrupted");
        let plan = match plan_of(fleet, &rec).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(session = %rec.session_id, "cannot bring the run back: {e}");
                let mut rec = rec;
                rec.live = false;
                rec.status = LiveStatus::Interrupted;
                let service = fleet.service().clone();
                let _ = blocking(move || {
                    Ok(service.save_record(super::RUN_RECORD, &rec.session_id.clone(), &rec)?)
                })
                .await;
                continue;
            }
        };
        let run = Run::new(fleet.clone(), &plan, &rec.request);
        run.set_overlay(Some(LiveStatus::Interrupted));
        run.publish(Event::State {
            status: LiveStatus::Interrupted,
        });
        if fleet.insert(run.clone()).is_err() {
            continue;
        }
        run.persist().await;
        if rec.request.supervise.is_some() {
            if let Err(e) = fleet.respawn(&run).await {
                run.publish_error(&format!("restarting the session failed: {e}"));
                after_exit(run.clone());
            }
        }
        recovered.push(rec.session_id.clone());
    }
    Ok(recovered)
}

/// The plan of a recorded run: the same folder, model, mode, tools and
/// variables, resuming its session, with its marker.
async fn plan_of(fleet: &Fleet, rec: &RunRecord) -> Result<Plan> {
    let service = fleet.service().clone();
    let req = &rec.request;
    let run_req = RunRequest {
        claude: fleet.config().claude.clone(),
        cwd: Some(rec.cwd.clone()),
        model: req.model.clone(),
        permission_mode: req.permission_mode.as_deref().map(parse_mode).transpose()?,
        allowed_tools: req.allowed_tools.clone(),
        ..Default::default()
    };
    let prepared = blocking(move || Ok(service.prepare_run(&run_req)?)).await?;
    let options = fleet.with_env(
        prepared
            .options
            .run_id(rec.run_id.clone())
            .resume(rec.session_id.clone()),
        req,
    );
    Ok(Plan {
        session_id: rec.session_id.clone(),
        cwd: rec.cwd.clone(),
        options,
        from: Some(rec.session_id.clone()),
    })
}
