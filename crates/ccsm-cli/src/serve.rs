//! `ccsm serve`: the daemon, on the address and with the token configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use ccsm_daemon::client::DEFAULT_ADDR;
use ccsm_daemon::{Access, AppState, Fleet, FleetConfig};
use ccsm_service::Service;
use clap::Args;

use crate::live::read_token;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on (default: the config file's serve.listen, 127.0.0.1:8082).
    /// Anything but loopback needs a token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A file holding the token every request must carry (Authorization: Bearer).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Close a live session after this many seconds without a turn (it is resumed on its next prompt).
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub idle_timeout: u64,
    /// How long a tool call waits for an answer before the default answer.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub approval_timeout: u64,
    /// The answer given when nobody answers in time.
    #[arg(long, value_name = "ANSWER", default_value = "deny", value_parser = ["allow", "deny"])]
    pub approval_default: String,
    /// Origins (besides the daemon's own) whose pages may use the API (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Requests per second each client (its token, else its address) may make; bursts
    /// of twice that; beyond, 429. 0: no limit.
    #[arg(long, value_name = "PER_SEC", default_value_t = 100)]
    pub rate_limit: u32,
    /// POST every alert (JSON) to this http(s) URL (default: the config file's serve.webhook).
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
}

/// The config file's thresholds as the fleet's limits.
fn thresholds(t: &ccsm_service::config::AlertThresholds) -> Result<ccsm_daemon::fleet::Limits> {
    let action = match t.action.as_deref().unwrap_or("none") {
        "none" => ccsm_daemon::fleet::LimitAction::None,
        "interrupt" => ccsm_daemon::fleet::LimitAction::Interrupt,
        "cancel" => ccsm_daemon::fleet::LimitAction::Cancel,
        other => anyhow::bail!("serve.alerts.action {other:?}: one of none, interrupt, cancel"),
    };
    Ok(ccsm_daemon::fleet::Limits {
        max_memory_mb: t.max_memory_mb,
        max_runtime_secs: t.max_runtime_secs,
        max_cost_usd: t.max_cost_usd,
        max_cpu_percent: t.max_cpu_percent,
        max_error_rate: t.max_error_rate,
        action,
    })
}

pub async fn serve(svc: &Service, a: ServeArgs, claude: Option<PathBuf>) -> Result<u8> {
    let listen = a
        .listen
        .or_else(|| svc.config().serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_ADDR.into());
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("{listen:?} is not an address (host:port)"))?;
    let token_file = a
        .token_file
        .or_else(|| svc.config().serve.token_file.clone());
    let token = read_token(token_file)?;
    ccsm_daemon::check_bind(addr, token.as_deref())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    let conf = &svc.config().serve;
    let webhook = a.webhook.or_else(|| conf.webhook.clone());
    if let Some(w) = &webhook {
        if !(w.starts_with("http://") || w.starts_with("https://")) {
            anyhow::bail!("the webhook {w:?} is not an http(s) URL");
        }
    }
    let secs = |v: Option<f64>, default: f64, what: &str| -> Result<Duration> {
        let v = v.unwrap_or(default);
        if !v.is_finite() || v <= 0.0 {
            anyhow::bail!("serve.{what} must be more than 0");
        }
        Ok(Duration::from_secs_f64(v))
    };
    let cfg = FleetConfig {
        idle_timeout: Duration::from_secs(a.idle_timeout),
        approval_timeout: Duration::from_secs(a.approval_timeout),
        approval_default_allow: a.approval_default == "allow",
        claude,
        metrics_interval: secs(conf.metrics_interval_secs, 5.0, "metrics_interval_secs")?,
        metrics_retention: secs(
            conf.metrics_retention_hours.map(|h| h * 3600.0),
            24.0 * 3600.0,
            "metrics_retention_hours",
        )?,
        alerts: thresholds(&conf.alerts)?,
        webhook,
        ..FleetConfig::default()
    };
    let fleet = Fleet::new(svc.clone(), cfg);
    match fleet.recover().await {
        Ok(ids) if !ids.is_empty() => eprintln!(
            "ccsm serve: {} run(s) of a previous daemon were interrupted and stopped; supervised ones restarted",
            ids.len()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("ccsm serve: could not recover the previous daemon's runs: {e}"),
    }
    let mut access = Access::for_addr(bound, token);
    access.origins = a.allow_origins;
    if a.rate_limit > 0 {
        access = access.with_rate(ccsm_daemon::guard::Rate {
            per_second: a.rate_limit,
            burst: a.rate_limit.saturating_mul(2),
        });
    }
    eprintln!("ccsm serve: listening on http://{bound}");
    let state = AppState::new(fleet, access);
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        eprintln!("ccsm serve: stopping (closing live sessions)");
    };
    ccsm_daemon::serve(listener, state, shutdown).await?;
    Ok(0)
}
