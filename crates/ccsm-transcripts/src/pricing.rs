//! The offline pricing table, shipped in the binary, which a user can refresh.
//!
//! The shipped table is a snapshot of LiteLLM's model price table (the one ccusage
//! reads), Anthropic's own `claude-*` models only (`data/litellm-anthropic.json`),
//! over a small table of older models LiteLLM no longer lists (`data/pricing.json`).
//! `ccsm usage pricing --update` fetches LiteLLM's current table; `--import FILE`
//! takes either shape.
//!
//! A model is priced by its exact name, or that name without a date suffix
//! (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`), and never otherwise: a
//! price guessed from a neighbouring name (Opus 4.7 as Opus 4) can be three times
//! off. A model the table does not know is *unpriced*, and every view says so.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

    /// USD for one call's tokens (cache writes by their lifetime).
    pub fn cost_of(&self, t: &ccsm_core::usage::Tokens) -> f64 {
        self.cost(
            t.input_tokens,
            t.output_tokens,
            t.cache_creation_5m,
            t.cache_creation_1h,
            t.cache_read_tokens,
        )
    }

    fn check(&self, model: &str) -> Result<()> {
        for v in [
            self.input,
            self.output,
            self.cache_write_5m,
            self.cache_write_1h,
            self.cache_read,
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Invalid(format!("bad price for {model}")));
            }
        }
        Ok(())
    }
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricingTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub models: BTreeMap<String, Price>,
}

const OLDER: &str = include_str!("../data/pricing.json");
const LITELLM: &str = include_str!("../data/litellm-anthropic.json");

/// Where `ccsm usage pricing --update` reads LiteLLM's table.
pub const LITELLM_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

/// The largest pricing file read (LiteLLM's whole table is about 1.5 MB).
const MAX_TABLE_BYTES: u64 = 64 << 20;

impl PricingTable {
    /// The table shipped with ccsm: the LiteLLM snapshot over the older models.
    pub fn builtin() -> Self {
        // Both shipped files are checked by a test; a broken build would fail there.
        let older: Self = serde_json::from_str(OLDER).unwrap_or(Self {
            comment: None,
            models: BTreeMap::new(),
        });
        let litellm = Self::parse(LITELLM).unwrap_or_else(|_| older.clone());
        litellm.over(older)
    }

    /// This table, with `base`'s models it lacks.
    pub fn over(mut self, base: Self) -> Self {
        for (m, p) in base.models {
            self.models.entry(m).or_insert(p);
        }
        self
    }

    /// A table from JSON text: ccsm's shape (`{"models": {name: Price}}`) or
    /// LiteLLM's (`{name: {"input_cost_per_token": ..., ...}}`, Anthropic's `claude-*`
    /// models kept), checked: every price finite and not negative, one model at least.
    pub fn parse(text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("not a pricing table: {e}")))?;
        let t = if v.get("models").is_some_and(Value::is_object) {
            serde_json::from_value::<Self>(v)
                .map_err(|e| Error::Invalid(format!("not a pricing table: {e}")))?
        } else {
            Self::from_litellm(&v)?
        };
        if t.models.is_empty() {
            return Err(Error::Invalid("no models in the pricing table".into()));
        }
        for (m, p) in &t.models {
            p.check(m)?;
        }
        Ok(t)
    }

    fn from_litellm(v: &Value) -> Result<Self> {
        let Some(all) = v.as_object() else {
            return Err(Error::Invalid(
                "not a pricing table: neither ccsm's shape nor LiteLLM's".into(),
            ));
        };
        let per_m = |e: &Value, k: &str| e.get(k).and_then(Value::as_f64).map(|x| x * 1e6);
        let mut models = BTreeMap::new();
        for (name, e) in all {
            let provider = e.get("litellm_provider").and_then(Value::as_str);
            if provider != Some("anthropic") || !name.starts_with("claude-") {
                continue;
            }
            let (Some(input), Some(output)) = (
                per_m(e, "input_cost_per_token"),
                per_m(e, "output_cost_per_token"),
            ) else {
                continue;
            };
            // Anthropic's published rules where the table is silent: a 5-minute cache
            // write costs 1.25x input, a 1-hour write 2x, a cache read 0.1x.
            let write_5m = per_m(e, "cache_creation_input_token_cost").unwrap_or(input * 1.25);
            models.insert(
                name.clone(),
                Price {
                    input,
                    output,
                    cache_write_5m: write_5m,
                    cache_write_1h: per_m(e, "cache_creation_input_token_cost_above_1hr")
                        .unwrap_or(input * 2.0),
                    cache_read: per_m(e, "cache_read_input_token_cost").unwrap_or(input * 0.1),
                },
            );
        }
        Ok(Self {
            comment: Some(
                "USD per million tokens, from LiteLLM's model price table (Anthropic's claude-* models)."
                    .into(),
            ),
            models,
        })
    }

    /// A table from a file of either shape (see [`PricingTable::parse`]). Only a
    /// regular file is read, and at most 64 MiB of it.
    pub fn from_file(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(Error::Invalid(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        if meta.len() > MAX_TABLE_BYTES {
            return Err(Error::Invalid(format!(
                "{}: larger than a pricing table can be ({} bytes)",
                path.display(),
                meta.len()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// The price of a model: its exact name, or that name without a date suffix.
    /// `None` for a model the table does not know (never a neighbour's price).
    pub fn price(&self, model: &str) -> Option<&Price> {
        self.models
            .get(model)
            .or_else(|| self.models.get(strip_date(model)))
    }

    /// Which of these models the table does not price.
    pub fn unpriced<'a>(&self, models: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = models
            .into_iter()
            .filter(|m| !m.is_empty() && *m != "<synthetic>" && self.price(m).is_none())
            .map(str::to_owned)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A fingerprint of the prices: a catalog priced with another table reprices.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (m, p) in &self.models {
            m.hash(&mut h);
            for v in [
                p.input,
                p.output,
                p.cache_write_5m,
                p.cache_write_1h,
                p.cache_read,
            ] {
                v.to_bits().hash(&mut h);
            }
        }
        format!("{:016x}", h.finish())
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
    fn the_shipped_tables_parse_and_price_exact_names_only() {
        let older: PricingTable = serde_json::from_str(OLDER).unwrap();
        assert!(older.models.len() >= 5);
        let litellm = PricingTable::parse(LITELLM).unwrap();
        assert!(litellm.models.len() >= 10);
        let t = PricingTable::builtin();
        let p = t.price("claude-sonnet-4-5-20250929").unwrap();
        assert_eq!(p.input, 3.0);
        assert_eq!(
            t.price("claude-opus-4-1-20250805").unwrap().cache_write_1h,
            30.0
        );
        // Opus 4.6 and 4.7 have prices of their own, not Opus 4's (3x higher).
        for m in ["claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-5"] {
            assert!((t.price(m).unwrap().input - 5.0).abs() < 1e-9, "{m}");
        }
        // A model missing from the table is unpriced, never a neighbour's price.
        assert!(t.price("claude-opus-4-9").is_none());
        assert!(t.price("claude-opus-4-20").is_none());
        assert!(t.price("gpt-4").is_none());
        assert_eq!(
            t.unpriced(["claude-opus-4-9", "claude-opus-4-7", "<synthetic>"]),
            vec!["claude-opus-4-9".to_owned()]
        );
    }

    #[test]
    fn litellm_shape_is_read_and_bad_prices_are_refused() {
        let t = PricingTable::parse(
            r#"{"claude-x-1": {"litellm_provider": "anthropic", "input_cost_per_token": 2e-6,
                 "output_cost_per_token": 1e-5},
                "gpt-4": {"litellm_provider": "openai", "input_cost_per_token": 1e-6,
                 "output_cost_per_token": 1e-6}}"#,
        )
        .unwrap();
        assert_eq!(t.models.len(), 1);
        let p = t.price("claude-x-1").unwrap();
        assert!((p.input - 2.0).abs() < 1e-9 && (p.cache_read - 0.2).abs() < 1e-9);
        assert!(PricingTable::parse(
            r#"{"models": {"m": {"input": -1, "output": 1, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 1}}}"#
        )
        .is_err());
        assert!(PricingTable::parse("[]").is_err());
        assert!(PricingTable::parse(r#"{"models": {}}"#).is_err());
    }
}
