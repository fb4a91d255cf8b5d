//! Processes the daemon did not start: stopped only when asked, by pid, after
//! the registry confirms the pid is a live Claude Code process (its recorded
//! start time matches), never by name.

use std::time::Duration;

use ccsm_claude::process::ProcTable;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

use crate::error::{blocking, Error, Result};
use crate::fleet::Fleet;

pub async fn stop(fleet: &Fleet, pid: u32, sig: Signal) -> Result<serde_json::Value> {
    if fleet.runs().iter().any(|r| r.pid() == Some(pid)) {
        return Err(Error::Conflict(format!(
            "pid {pid} is a session of this daemon: cancel it by its session id"
        )));
    }
    let service = fleet.service().clone();
    let entry = blocking(move || {
        let table = ProcTable::read();
        let dirs = service.registry_dirs();
        Ok(service
            .live_entries(&dirs, &table)
            .into_iter()
            .find(|e| e.entry.pid == pid))
    })
    .await?
    .ok_or_else(|| Error::NotFound(format!("pid {pid} is not a live Claude Code process")))?;
    if let Some(job) = entry
        .entry
        .job_id
        .clone()
        .filter(|_| entry.entry.kind.as_deref() == Some("bg"))
    {
        // A background session is the CLI daemon's: its own `claude stop` ends it
        // (a signal would only make that daemon respawn it).
        let claude = fleet
            .config()
            .claude
            .clone()
            .or_else(|| ccsm_claude::find_cli(None).ok().map(|c| c.path))
            .ok_or_else(|| Error::Conflict("no claude CLI to run `claude stop` with".into()))?;
        let out = tokio::process::Command::new(claude)
            .args(["stop", &job])
            .env("CLAUDE_CONFIG_DIR", &entry.config_dir)
            .output()
            .await
            .map_err(|e| Error::Internal(format!("running claude stop: {e}")))?;
        if !out.status.success() {
            return Err(Error::Conflict(format!(
                "claude stop {job} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return Ok(json!({"pid": pid, "stoppedWith": "claude stop", "jobId": job}));
    }
    let p = i32::try_from(pid).map_err(|_| Error::Invalid("pid out of range".into()))?;
    kill(Pid::from_raw(p), sig).map_err(|e| Error::Conflict(format!("signal to {pid}: {e}")))?;
    // Say whether it went, within a short bound.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut gone = false;
    while tokio::time::Instant::now() < deadline {
        if ccsm_claude::process::proc_stat_of(pid)
            .is_none_or(|s| s.start_ticks != entry.start_ticks)
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(json!({"pid": pid, "stoppedWith": format!("{sig:?}"), "exited": gone}))
}
