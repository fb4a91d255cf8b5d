//! The offline pricing table: a data file shipped in the binary
//! (`data/pricing.json`), which a user can replace with their own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// USD per million tokens for one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

impl Price {
    /// USD for these token counts.
    pub fn cost(
        &self,
        input: u64,
        output: u64,
        cache_5m: u64,
        cache_1h: u64,
        cache_read: u64,
    ) -> f64 {
        (input as f64 * self.input
            + output as f64 * self.output
            + cache_5m as f64 * self.cache_write_5m
            + cache_1h as f64 * self.cache_write_1h
            + cache_read as f64 * self.cache_read)
            / 1e6
    }
}

/// Prices by model-name prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricingTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub models: BTreeMap<String, Price>,
}

const BUILTIN: &str = include_str!("../data/pricing.json");

impl PricingTable {
    /// The table shipped with ccsm.
    pub fn builtin() -> Self {
        // The shipped file is checked by a test; a broken build would fail there.
        serde_json::from_str(BUILTIN).unwrap_or(Self {
            comment: None,
            models: BTreeMap::new(),
        })
    }

    /// A table from a JSON file of the same shape, checked: every price finite and
    /// not negative, at least one model.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let t: Self = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: not a pricing table: {e}", path.display())))?;
        if t.models.is_empty() {
            return Err(Error::Invalid(format!("{}: no models", path.display())));
        }
        for (m, p) in &t.models {
            for v in [
                p.input,
                p.output,
                p.cache_write_5m,
                p.cache_write_1h,
                p.cache_read,
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(Error::Invalid(format!(
                        "{}: bad price for {m}",
                        path.display()
                    )));
                }
            }
        }
        Ok(t)
    }

    /// The price of a model: the longest table key that the name (without a date
    /// suffix) starts with. `None` for a model the table does not know.
    pub fn price(&self, model: &str) -> Option<&Price> {
        let base = strip_date(model);
        self.models
            .iter()
            .filter(|(k, _)| base == k.as_str() || base.starts_with(&format!("{k}-")))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, p)| p)
    }
}

/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`.
fn strip_date(model: &str) -> &str {
    match model.rsplit_once('-') {
        Some((base, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => model,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_matches_dated_names() {
        let t: PricingTable = serde_json::from_str(BUILTIN).unwrap();
        assert!(t.models.len() >= 5);
        let p = t.price("claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(p.input, 3.0);
        // Longest prefix: opus-4-1 is not priced as opus-4.
        assert_eq!(
            t.price("claude-opus-4-1-20250805").unwrap().cache_write_1h,
            30.0
        );
        assert_eq!(t.price("claude-opus-4-5").unwrap().input, 5.0);
        assert!(t.price("claude-opus-5-5").is_none());
        assert!(t.price("gpt-4").is_none());
    }
}
