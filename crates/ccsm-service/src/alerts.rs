//! Alerts the daemon's monitor raised, kept in the catalog (the newest
//! [`KEEP_ALERTS`]), for `GET /api/claude/alerts` and `ccsm alerts`.

use serde::{Deserialize, Serialize};

use crate::{Result, Service};

/// The catalog record kind of alerts.
pub const ALERT_RECORD: &str = "alert";
/// Alerts kept; older ones are forgotten.
pub const KEEP_ALERTS: usize = 1000;

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRecord {
    pub id: String,
    /// The session it is about (none for the daemon as a whole).
    pub session_id: Option<String>,
    /// `memory`, `cpu`, `runtime`, `cost`, `errorRate`, `restarts`...
    pub limit: String,
    pub message: String,
    /// What was done: `none`, `interrupt`, `cancel`, `stop`.
    pub action: String,
    /// Epoch ms.
    pub at: i64,
}

impl Service {
    /// Keeps an alert (and forgets the oldest beyond [`KEEP_ALERTS`]).
    pub fn save_alert(&self, a: &AlertRecord) -> Result<()> {
        // Keys sort by time: the oldest are found first.
        let key = format!("{:016}-{}", a.at.max(0), a.id);
        self.save_record(ALERT_RECORD, &key, a)?;
        let (all, bad) = self.load_records::<AlertRecord>(ALERT_RECORD)?;
        for k in bad {
            self.delete_record(ALERT_RECORD, &k)?;
        }
        if all.len() > KEEP_ALERTS {
            let mut keys: Vec<String> = all.into_iter().map(|(k, _)| k).collect();
            keys.sort();
            let extra = keys.len() - KEEP_ALERTS;
            for k in keys.into_iter().take(extra) {
                self.delete_record(ALERT_RECORD, &k)?;
            }
        }
        Ok(())
    }

    /// Alerts, newest first: of one session, or all; at most `limit`.
    pub fn alerts(&self, session: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>> {
        let (all, _) = self.load_records::<AlertRecord>(ALERT_RECORD)?;
        let mut v: Vec<AlertRecord> = all
            .into_iter()
            .map(|(_, a)| a)
            .filter(|a| session.is_none_or(|s| a.session_id.as_deref() == Some(s)))
            .collect();
        v.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
        v.truncate(limit);
        Ok(v)
    }
}
