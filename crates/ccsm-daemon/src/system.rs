//! `GET /api/claude/system-status`: what this daemon is, what it runs with and
//! how loaded the machine is.

use axum::extract::State;
use serde::Serialize;

use crate::envelope::{ApiResult, Data};
use crate::error::blocking;
use crate::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatus {
    pub version: String,
    pub uptime_secs: u64,
    /// The `claude` CLI sessions are started with, if one is found.
    pub cli: Option<CliStatus>,
    /// Why no CLI was found.
    pub cli_error: Option<String>,
    pub config_dir: String,
    /// The catalog (null, with `catalogError`, when it cannot be opened).
    pub catalog: Option<ccsm_service::CatalogStatus>,
    pub catalog_error: Option<String>,
    /// This daemon's sessions with a live process, and in all.
    pub live_sessions: usize,
    pub fleet_sessions: usize,
    /// Every Claude Code process on the machine.
    pub processes: usize,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    pub cpus: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliStatus {
    pub path: String,
    pub version: String,
}

#[utoipa::path(
    get,
    path = "/api/claude/system-status",
    tag = "system",
    responses((status = 200, description = "ok", body = crate::envelope::Envelope<SystemStatus>), crate::envelope::Refusals)
)]
pub async fn system_status(State(s): State<AppState>) -> ApiResult<SystemStatus> {
    let runs = s.fleet.runs();
    let live = runs.iter().filter(|r| !r.status().is_final()).count();
    let processes = s.fleet.processes(true).await.len();
    let service = s.fleet.service().clone();
    let explicit = s.fleet.config().claude.clone();
    let (cli, catalog) = blocking(move || {
        let cli = ccsm_claude::find_cli(explicit.as_deref());
        Ok((cli, service.catalog_status()))
    })
    .await?;
    let (cli, cli_error) = match cli {
        Ok(c) => (
            Some(CliStatus {
                path: c.path.display().to_string(),
                version: c.version,
            }),
            None,
        ),
        Err(e) => (None, Some(e.to_string())),
    };
    let (catalog, catalog_error) = match catalog {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let load = nix::sys::sysinfo::sysinfo()
        .map(|i| {
            let (a, b, c) = i.load_average();
            [a, b, c]
        })
        .unwrap_or_default();
    Ok(Data(SystemStatus {
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_secs: s.started.elapsed().as_secs(),
        cli,
        cli_error,
        config_dir: s.fleet.service().config_dir().display().to_string(),
        catalog,
        catalog_error,
        live_sessions: live,
        fleet_sessions: runs.len(),
        processes,
        load,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }))
}
