//! `GET /api/claude/sessions/{id}/metrics?hours=N`: a session's samples (CPU,
//! memory, tokens, cost while it was live in this daemon) and what its
//! transcript says it did, with a `summary` (beside `data` too, where the
//! seed's clients read it).

use axum::extract::{Path, State};
use ccsm_service::metrics::SessionMetrics;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::envelope::{ApiError, DataAnd, Params};
use crate::error::{blocking, Error};
use crate::fleet::Sample;
use crate::AppState;
use ccsm_core::HasKind as _;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// The last this many hours of samples (default 1, up to a year).
    pub hours: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub session_id: String,
    pub hours: f64,
    pub points: Vec<Sample>,
    pub transcript: SessionMetrics,
    pub summary: Value,
}

/// The seed's summary keys (snake_case), and the transcript's figures.
fn summary(points: &[Sample], t: &SessionMetrics) -> Value {
    let n = points.len();
    let cpu_avg = if n == 0 {
        0.0
    } else {
        points.iter().map(|p| p.cpu_percent).sum::<f64>() / n as f64
    };
    let cpu_max = points.iter().map(|p| p.cpu_percent).fold(0.0, f64::max);
    let mem_max = points.iter().map(|p| p.memory_bytes).max().unwrap_or(0);
    json!({
        "duration_hours": t.duration_ms as f64 / 3_600_000.0,
        "total_data_points": n,
        "cpu_avg_percent": cpu_avg,
        "cpu_max_percent": cpu_max,
        "memory_max_bytes": mem_max,
        "tokens": points.last().map_or(0, |p| p.tokens),
        "cost_usd": points.last().map_or(0.0, |p| p.cost_usd),
        "turns": t.turns,
        "commands_executed": t.commands_executed,
        "files_created": t.files_created,
        "files_modified": t.files_modified,
        "files_deleted": t.files_deleted,
        "tool_calls": t.tool_calls,
        "tool_errors": t.tool_errors,
        "api_errors": t.api_errors,
        "error_rate": t.error_rate,
        "response_p50_ms": t.response_p50_ms,
        "response_p95_ms": t.response_p95_ms,
    })
}

#[utoipa::path(
    get,
    path = "/api/claude/sessions/{id}/metrics",
    tag = "monitoring",
    params(("id" = String, Path, description = "a session id, or a live session's name"), MetricsQuery),
    responses((status = 200, description = "samples and figures", body = crate::envelope::SummaryEnvelope<Metrics>), crate::envelope::Refusals)
)]
pub async fn metrics(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Params(q): Params<MetricsQuery>,
) -> Result<DataAnd<Metrics, Value>, ApiError> {
    let hours = q.hours.unwrap_or(1.0);
    if !hours.is_finite() || hours <= 0.0 || hours > 24.0 * 366.0 {
        return Err(ApiError::invalid(format!(
            "hours must be more than 0 and at most a year, not {hours}"
        )));
    }
    let run = s.fleet.get(&id).ok();
    let key = run.as_ref().map_or_else(|| id.clone(), |r| r.id.clone());
    let service = s.fleet.service().clone();
    let transcript = blocking(move || Ok(service.session_metrics(&key)?)).await;
    let transcript = match transcript {
        Ok(t) => t,
        // A configured session (or one whose CLI has not written yet): no
        // transcript, nothing done.
        Err(Error::Service(e)) if run.is_some() && e.kind() == ccsm_core::ErrorKind::NotFound => {
            SessionMetrics {
                session_id: run.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
                ..Default::default()
            }
        }
        Err(e) => return Err(e.into()),
    };
    let since = crate::fleet::now_ms() - (hours * 3_600_000.0) as i64;
    let points = run.map(|r| r.samples_since(since)).unwrap_or_default();
    let summary = summary(&points, &transcript);
    Ok(DataAnd(
        Metrics {
            session_id: transcript.session_id.clone(),
            hours,
            points,
            transcript,
            summary: summary.clone(),
        },
        json!({ "summary": summary }),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// One session's (an id or a live session's name).
    pub session: Option<String>,
    /// 1 to 1000; 100 by default.
    pub limit: Option<usize>,
}

/// `GET /api/claude/alerts`: the alerts the monitor raised, newest first.
#[utoipa::path(
    get,
    path = "/api/claude/alerts",
    tag = "monitoring",
    params(AlertsQuery),
    responses((status = 200, description = "newest first", body = crate::envelope::Envelope<Vec<ccsm_service::alerts::AlertRecord>>), crate::envelope::Refusals)
)]
pub async fn alerts(
    State(s): State<AppState>,
    Params(q): Params<AlertsQuery>,
) -> Result<crate::envelope::Data<Vec<ccsm_service::alerts::AlertRecord>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > ccsm_service::alerts::KEEP_ALERTS {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {}, not {limit}",
            ccsm_service::alerts::KEEP_ALERTS
        )));
    }
    let session = match q.session {
        Some(k) => Some(match s.fleet.get(&k) {
            Ok(r) => r.id.clone(),
            Err(_) => {
                let service = s.fleet.service().clone();
                blocking(move || Ok(service.resolve_id(&k, ccsm_service::Source::Catalog)?)).await?
            }
        }),
        None => None,
    };
    let service = s.fleet.service().clone();
    Ok(crate::envelope::Data(
        blocking(move || Ok(service.alerts(session.as_deref(), limit)?)).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// The last this many days (default 30).
    pub days: Option<u32>,
    /// Sessions per list (default 10, at most 100).
    pub top: Option<usize>,
}

/// `GET /api/claude/analytics`: the catalog's analytics, with what is live now
/// (processes by state) and the agents active in the daemon's sessions.
#[utoipa::path(
    get,
    path = "/api/claude/analytics",
    tag = "monitoring",
    params(AnalyticsQuery),
    responses((status = 200, description = "the analytics (ccsm_service Analytics, with live and agentUsage)", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn analytics(
    State(s): State<AppState>,
    Params(q): Params<AnalyticsQuery>,
) -> Result<crate::envelope::Data<Value>, ApiError> {
    let top = q.top.unwrap_or(10);
    if top == 0 || top > 100 {
        return Err(ApiError::invalid(format!(
            "top must be 1 to 100, not {top}"
        )));
    }
    let days = q.days.unwrap_or(30);
    let service = s.fleet.service().clone();
    let a = blocking(move || Ok(service.analytics(days, top)?)).await?;
    let mut live: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for p in s.fleet.processes(true).await {
        *live.entry(p.status.name()).or_default() += 1;
    }
    let mut agents: std::collections::BTreeMap<String, u64> = Default::default();
    for r in s.fleet.runs() {
        for sp in r.request().agents.iter().filter(|sp| sp.enabled) {
            let name = sp
                .name
                .clone()
                .or_else(|| sp.agent_type.clone())
                .unwrap_or_default();
            *agents.entry(name).or_default() += 1;
        }
    }
    let mut v = serde_json::to_value(a).map_err(|e| Error::Internal(e.to_string()))?;
    v["live"] = json!(live);
    v["agentUsage"] = json!(agents);
    Ok(crate::envelope::Data(v))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// From this day (YYYY-MM-DD).
    pub since: Option<String>,
    /// Until this day, inclusive.
    pub until: Option<String>,
}

/// `GET /api/claude/usage`: tokens and cost per day with the totals, the same
/// report as `ccsm usage --json` (from the catalog).
#[utoipa::path(
    get,
    path = "/api/claude/usage",
    tag = "monitoring",
    params(UsageParams),
    responses((status = 200, description = "{daily: [{date, ...}], totals}", body = crate::envelope::Envelope<Object>), crate::envelope::Refusals)
)]
pub async fn usage(
    State(s): State<AppState>,
    Params(p): Params<UsageParams>,
) -> Result<crate::envelope::Data<Value>, ApiError> {
    let service = s.fleet.service().clone();
    let v = blocking(move || {
        let q = ccsm_service::UsageQuery {
            since: p.since,
            until: p.until,
            // Days and totals only: the catalog's sums by day serve.
            periods: true,
            ..Default::default()
        };
        let u = service.usage(&q, ccsm_service::Source::Catalog)?;
        let daily: Vec<Value> = u
            .daily()
            .into_iter()
            .map(|d| {
                let mut v = serde_json::to_value(&d.row).unwrap_or_default();
                v["date"] = json!(d.period);
                v
            })
            .collect();
        Ok(json!({"daily": daily, "totals": u.totals()}))
    })
    .await?;
    Ok(crate::envelope::Data(v))
}
