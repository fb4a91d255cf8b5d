//! System analytics over the catalog: sessions by status and project, tokens
//! and cost per day and model, the most expensive and the longest sessions, and
//! sessions far from their own project's baseline (`GET /api/claude/analytics`,
//! `ccsm analytics`).

use std::collections::BTreeMap;

use ccsm_core::usage::ModelBreakdown;
use serde::Serialize;

use crate::error::invalid;
use crate::{ListQuery, PeriodRow, Result, Service, Source, UsageQuery};

/// A session among the most expensive, the longest or the unusual.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBrief {
    pub session_id: String,
    pub project_path: String,
    pub cost_usd: f64,
    pub tokens: u64,
    /// First to last model call (ms).
    pub duration_ms: i64,
    pub first_activity: String,
    pub last_activity: String,
}

/// A session whose cost is far above its project's usual.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    #[serde(flatten)]
    pub session: SessionBrief,
    pub project_mean_usd: f64,
    pub project_stddev_usd: f64,
    /// Standard deviations above the project's mean.
    pub z: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectFigures {
    pub project_path: String,
    pub sessions: u64,
    pub cost_usd: f64,
    pub tokens: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    pub total: u64,
    /// Transcript still there.
    pub present: u64,
    /// Deleted by Claude Code (kept by ccsm).
    pub gone: u64,
    pub archived: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    pub days: u32,
    pub since: String,
    pub sessions: StatusCounts,
    /// Projects with usage in the period, most expensive first.
    pub projects: Vec<ProjectFigures>,
    pub daily: Vec<PeriodRow>,
    pub models: Vec<ModelBreakdown>,
    pub most_expensive: Vec<SessionBrief>,
    pub longest: Vec<SessionBrief>,
    pub anomalies: Vec<Anomaly>,
}

/// How many sessions a project needs before its baseline means anything.
pub const BASELINE_MIN_SESSIONS: usize = 5;
/// Standard deviations above the mean that make a session unusual.
pub const ANOMALY_Z: f64 = 3.0;

fn ms_of(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

impl Service {
    /// Analytics of the last `days` days (1 to 3660), `top` sessions per list.
    pub fn analytics(&self, days: u32, top: usize) -> Result<Analytics> {
        if days == 0 || days > 3660 {
            invalid!("days must be 1 to 3660, not {days}");
        }
        let since = (chrono::Local::now().date_naive() - chrono::Days::new(u64::from(days - 1)))
            .format("%Y-%m-%d")
            .to_string();
        let mut counts = StatusCounts::default();
        // Projects by the folder the sessions ran in, not Claude Code's encoded
        // directory name (which the usage report keys them by).
        let mut folder: std::collections::HashMap<String, String> = Default::default();
        for s in self.list_sessions(&ListQuery::default(), Source::Catalog)? {
            if let Some(cwd) = &s.info.cwd {
                folder.insert(s.info.session_id.clone(), cwd.clone());
            }
            counts.total += 1;
            if s.gone {
                counts.gone += 1;
            } else {
                counts.present += 1;
            }
            if s.info.archived == Some(true) {
                counts.archived += 1;
            }
        }
        let usage = self.usage(
            &UsageQuery {
                since: Some(since.clone()),
                include_gone: true,
                ..Default::default()
            },
            Source::Catalog,
        )?;
        let briefs: Vec<SessionBrief> = usage
            .sessions()
            .into_iter()
            .map(|r| {
                let duration_ms = match (ms_of(&r.first_activity), ms_of(&r.last_activity)) {
                    (Some(a), Some(b)) => (b - a).max(0),
                    _ => 0,
                };
                SessionBrief {
                    project_path: folder.get(&r.session_id).cloned().unwrap_or(r.project_path),
                    session_id: r.session_id,
                    cost_usd: r.row.total_cost,
                    tokens: r.row.total_tokens,
                    duration_ms,
                    first_activity: r.first_activity,
                    last_activity: r.last_activity,
                }
            })
            .collect();
        let mut by_project: BTreeMap<String, Vec<&SessionBrief>> = BTreeMap::new();
        for b in &briefs {
            by_project
                .entry(b.project_path.clone())
                .or_default()
                .push(b);
        }
        let mut projects: Vec<ProjectFigures> = by_project
            .iter()
            .map(|(p, v)| ProjectFigures {
                project_path: p.clone(),
                sessions: v.len() as u64,
                cost_usd: v.iter().map(|b| b.cost_usd).sum(),
                tokens: v.iter().map(|b| b.tokens).sum(),
            })
            .collect();
        projects.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd));
        let mut anomalies = Vec::new();
        for v in by_project
            .values()
            .filter(|v| v.len() >= BASELINE_MIN_SESSIONS)
        {
            let n = v.len() as f64;
            let mean = v.iter().map(|b| b.cost_usd).sum::<f64>() / n;
            let var = v.iter().map(|b| (b.cost_usd - mean).powi(2)).sum::<f64>() / n;
            let sd = var.sqrt();
            if sd <= f64::EPSILON {
                continue;
            }
            for b in v {
                let z = (b.cost_usd - mean) / sd;
                if z >= ANOMALY_Z {
                    anomalies.push(Anomaly {
                        session: (*b).clone(),
                        project_mean_usd: mean,
                        project_stddev_usd: sd,
                        z,
                    });
                }
            }
        }
        anomalies.sort_by(|a, b| b.z.total_cmp(&a.z));
        let mut most_expensive = briefs.clone();
        most_expensive.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd));
        most_expensive.truncate(top);
        let mut longest = briefs;
        longest.sort_by_key(|b| std::cmp::Reverse(b.duration_ms));
        longest.truncate(top);
        Ok(Analytics {
            days,
            since,
            sessions: counts,
            projects,
            daily: usage.daily(),
            models: usage.models(),
            most_expensive,
            longest,
            anomalies,
        })
    }
}
