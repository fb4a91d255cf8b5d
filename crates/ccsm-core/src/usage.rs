//! Token and cost reports, in ccusage's JSON shape (its field names and nesting),
//! so a program written for ccusage reads ccsm's `usage --json` unchanged. Fields
//! may be added; `unpricedModels` (models the pricing table does not know, whose
//! cost is not in the totals) is ccsm's addition.

use serde::{Deserialize, Serialize};

/// Token counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    /// The 5 minute and 1 hour parts of `cache_creation_tokens`.
    #[serde(skip)]
    pub cache_creation_5m: u64,
    #[serde(skip)]
    pub cache_creation_1h: u64,
    pub cache_read_tokens: u64,
}

impl Tokens {
    /// All four kinds together.
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_creation_tokens)
            .saturating_add(self.cache_read_tokens)
    }
    /// Adds `o`, saturating: a report never wraps to a small number.
    pub fn add(&mut self, o: &Tokens) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(o.cache_creation_tokens);
        self.cache_creation_5m = self.cache_creation_5m.saturating_add(o.cache_creation_5m);
        self.cache_creation_1h = self.cache_creation_1h.saturating_add(o.cache_creation_1h);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
    }
    /// Takes back `o` (added before), saturating at 0.
    pub fn sub(&mut self, o: &Tokens) {
        self.input_tokens = self.input_tokens.saturating_sub(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_sub(o.output_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_sub(o.cache_creation_tokens);
        self.cache_creation_5m = self.cache_creation_5m.saturating_sub(o.cache_creation_5m);
        self.cache_creation_1h = self.cache_creation_1h.saturating_sub(o.cache_creation_1h);
        self.cache_read_tokens = self.cache_read_tokens.saturating_sub(o.cache_read_tokens);
    }
}

/// One model's share of a row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelBreakdown {
    pub model_name: String,
    #[serde(flatten)]
    pub tokens: Tokens,
    pub cost: f64,
}

/// A row of a report (a session, a day, a month), in ccusage's field names.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    #[serde(flatten)]
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub total_cost: f64,
    pub models_used: Vec<String>,
    pub model_breakdowns: Vec<ModelBreakdown>,
    /// Models the pricing table does not know (their cost is not in `total_cost`).
    #[serde(rename = "unpricedModels", skip_serializing_if = "Vec::is_empty")]
    pub unknown_models: Vec<String>,
}

/// Totals of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    #[serde(flatten)]
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub total_cost: f64,
    /// Models seen that the pricing table does not know (ccusage's name for them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_models: Vec<String>,
}

/// A session's row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub session_id: String,
    pub project_path: String,
    pub first_activity: String,
    pub last_activity: String,
    #[serde(flatten)]
    pub row: Row,
    /// What the CLI itself recorded as the session's cost (`cost-state`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cli_cost_usd: Option<f64>,
}

/// A five-hour billing window ([`UsageData::blocks`]), in ccusage's JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub id: String,
    pub start_time: String,
    pub end_time: String,
    /// The last call's time (none for a gap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_end_time: Option<String>,
    pub is_active: bool,
    pub is_gap: bool,
    /// How many model calls.
    pub entries: usize,
    pub token_counts: BlockTokens,
    pub total_tokens: u64,
    #[serde(rename = "costUSD")]
    pub cost_usd: f64,
    pub models: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_models: Vec<String>,
}

/// A block's tokens, as ccusage names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockTokens {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl From<&Tokens> for BlockTokens {
    fn from(t: &Tokens) -> Self {
        Self {
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cache_creation_input_tokens: t.cache_creation_tokens,
            cache_read_input_tokens: t.cache_read_tokens,
        }
    }
}

/// A day's or a month's row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodRow {
    /// `YYYY-MM-DD` for days, `YYYY-MM` for months.
    #[serde(skip)]
    pub period: String,
    #[serde(flatten)]
    pub row: Row,
}
