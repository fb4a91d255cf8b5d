//! Usage and cost: tokens per session, day, month and model, deduplicated as
//! ccusage does (one count per `message.id` + `requestId`, the line with the
//! largest token total winning), priced from the offline table.
//!
//! The hot path reads each file in large blocks, splits lines with memchr, skips
//! every line without `"usage"` before parsing, and parses the rest into borrowed
//! structs that ignore the content; files are spread over cores. Memory is bounded
//! by the block size and one small record per usage line, whatever a file's size.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;

pub use ccsm_core::usage::{
    Block, BlockTokens, ModelBreakdown, PeriodRow, Row, SessionRow, Tokens, Totals,
};

use crate::pricing::PricingTable;
use crate::{ClaudeDir, Result};

/// The most tokens of one kind a single model call can report and be counted
/// (about 10^12: a thousand times any context window). A line claiming more comes
/// from a damaged or hostile file: it is not counted, by the files' report and the
/// catalog alike, so no sum can overflow and no catalog is disabled by one file.
pub const MAX_TOKENS_PER_CALL: u64 = 1 << 40;

/// Whether every count of one call is believable (see [`MAX_TOKENS_PER_CALL`]).
pub fn plausible_counts(counts: &[u64]) -> bool {
    counts.iter().all(|&n| n <= MAX_TOKENS_PER_CALL)
}

#[derive(Deserialize)]
struct RawCacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
}

#[derive(Deserialize)]
struct RawUsageFields {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation: Option<RawCacheCreation>,
}

/// `message.usage`: an object only (serde would also take a struct from an
/// array, `"usage": [1, 2, 3]`, which ccusage does not count).
struct RawUsage(RawUsageFields);

impl<'de> Deserialize<'de> for RawUsage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawUsage;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a usage object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<RawUsage, A::Error> {
                RawUsageFields::deserialize(serde::de::value::MapAccessDeserializer::new(a))
                    .map(RawUsage)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(default, borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(default, rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message: Option<RawMessage<'a>>,
    #[serde(default, rename = "isSidechain")]
    _sidechain: Option<bool>,
}

#[derive(Deserialize)]
struct RawCostState {
    #[serde(rename = "totalCostUSD")]
    total_cost_usd: Option<f64>,
}

/// One counted model call.
#[derive(Debug, Clone)]
struct Rec {
    file: u32,
    ts_ms: i64,
    /// The last call's time when the record sums several (a rollup row).
    ts_last: i64,
    model: u32,
    tokens: Tokens,
}

/// A usage line as read: time, dedupe key (`message.id:requestId`), model, tokens.
type ScannedCall = (i64, Option<Box<str>>, Option<String>, Tokens);

struct FileScan {
    recs: Vec<ScannedCall>,
    cli_cost: Option<f64>,
    malformed: u64,
}

const BLOCK: usize = 4 << 20;

/// One model call as the usage reports count it, from a transcript line.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageCall {
    /// When (epoch ms).
    pub ts_ms: i64,
    /// `message.id:requestId`, which the dedupe goes by.
    pub key: Option<String>,
    pub model: Option<String>,
    pub tokens: Tokens,
}

/// What a line says of usage (see [`usage_call`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LineUsage {
    /// No usage (or no time to count it at).
    None,
    Call(UsageCall),
    /// The line mentions usage but breaks the rule: not counted, reported.
    Broken,
}

/// What a line says of usage: the one rule both the files' report and the catalog
/// apply (as ccusage counts): an RFC 3339 `timestamp`, a `message.usage` object
/// whose `input_tokens` and `output_tokens` are present, the cache counts absent
/// or present, every count a whole number from 0 to [`MAX_TOKENS_PER_CALL`], no
/// field twice.
pub fn usage_call(line: &[u8]) -> LineUsage {
    let Ok(l) = serde_json::from_slice::<RawLine<'_>>(line) else {
        return LineUsage::Broken;
    };
    let Some(msg) = l.message else {
        return LineUsage::None;
    };
    let Some(RawUsage(u)) = msg.usage else {
        return LineUsage::None;
    };
    let Some(ts) = l
        .timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        return LineUsage::None;
    };
    let (c5, c1) = u
        .cache_creation
        .map_or((u.cache_creation_input_tokens, 0), |c| {
            (c.ephemeral_5m_input_tokens, c.ephemeral_1h_input_tokens)
        });
    let tokens = Tokens {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_creation_tokens: u.cache_creation_input_tokens,
        cache_creation_5m: c5,
        cache_creation_1h: c1,
        cache_read_tokens: u.cache_read_input_tokens,
    };
    if !plausible_counts(&[
        tokens.input_tokens,
        tokens.output_tokens,
        tokens.cache_creation_tokens,
        c5,
        c1,
        tokens.cache_read_tokens,
    ]) {
        return LineUsage::Broken;
    }
    let key = match (msg.id, l.request_id) {
        (Some(m), Some(r)) => Some(format!("{m}:{r}")),
        _ => None,
    };
    LineUsage::Call(UsageCall {
        ts_ms: ts.timestamp_millis(),
        key,
        model: msg.model.map(Cow::into_owned),
        tokens,
    })
}

fn scan_line(line: &[u8], out: &mut FileScan) {
    // Cheap checks before any parsing: most lines carry no usage.
    if memchr::memmem::find(line, b"\"usage\"").is_none() {
        if memchr::memmem::find(line, b"\"cost-state\"").is_some() {
            if let Ok(c) = serde_json::from_slice::<RawCostState>(line) {
                out.cli_cost = c.total_cost_usd.or(out.cli_cost);
            }
        }
        return;
    }
    match usage_call(line) {
        LineUsage::Broken => out.malformed += 1,
        LineUsage::None => {}
        LineUsage::Call(c) => out.recs.push((
            c.ts_ms,
            c.key.map(String::into_boxed_str),
            c.model,
            c.tokens,
        )),
    }
}

fn scan_file(path: &Path) -> FileScan {
    let mut out = FileScan {
        recs: Vec::new(),
        cli_cost: None,
        malformed: 0,
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return out;
    };
    let mut buf = vec![0u8; BLOCK];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let block = &buf[..n];
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', block) {
            if carry.is_empty() {
                scan_line(&block[start..nl], &mut out);
            } else {
                carry.extend_from_slice(&block[start..nl]);
                let line = std::mem::take(&mut carry);
                scan_line(&line, &mut out);
            }
            start = nl + 1;
        }
        carry.extend_from_slice(&block[start..]);
    }
    if !carry.is_empty() {
        // A torn last line is skipped like any other that does not parse.
        scan_line(&carry, &mut out);
    }
    out
}

/// Which files and dates to count.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    /// Only this project (its working directory).
    pub project: Option<PathBuf>,
    /// Inclusive dates, `YYYY-MM-DD` or `YYYYMMDD`, in local time as ccusage reads them.
    pub since: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

/// Everything counted once, ready to be grouped.
#[derive(Debug)]
pub struct UsageData {
    files: Vec<(String, String)>,
    models: Vec<String>,
    recs: Vec<Rec>,
    cli_costs: Vec<Option<f64>>,
    /// Lines that mentioned usage but did not parse.
    pub malformed_lines: u64,
    pricing: PricingTable,
}

impl ClaudeDir {
    /// Reads every transcript (with subagents) once and deduplicates the model calls.
    pub fn usage(&self, filter: &UsageFilter, pricing: PricingTable) -> Result<UsageData> {
        let dirs = self.project_dirs(filter.project.as_deref())?;
        let mut files: Vec<(String, String, PathBuf)> = Vec::new();
        for d in &dirs {
            let project = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Subagent transcripts count to their session, in either layout, and
            // also when the session's own transcript is gone.
            let (sessions, subagents) = self.transcript_files(std::slice::from_ref(d));
            for f in sessions {
                files.push((f.id, project.clone(), f.path));
            }
            for (parent, f) in subagents {
                files.push((parent, project.clone(), f.path));
            }
        }
        let scans: Vec<FileScan> = files.par_iter().map(|(_, _, p)| scan_file(p)).collect();
        // A call copied into another file (resume, fork) belongs to the file that
        // started first, as ccusage decides: dedupe oldest file first.
        let mut order: Vec<usize> = (0..files.len()).collect();
        let first_ts = |i: usize| scans[i].recs.iter().map(|r| r.0).min().unwrap_or(i64::MAX);
        order.sort_by_cached_key(|&i| (first_ts(i), files[i].2.clone()));
        let mut scans: Vec<Option<FileScan>> = scans.into_iter().map(Some).collect();
        let mut models: Vec<String> = Vec::new();
        let mut model_ix: HashMap<String, u32> = HashMap::new();
        let mut recs: Vec<Rec> = Vec::new();
        let mut best: HashMap<Box<str>, usize> = HashMap::new();
        let mut malformed = 0;
        let mut cli_costs = Vec::with_capacity(files.len());
        cli_costs.resize(files.len(), None);
        for fi in order {
            let Some(scan) = scans[fi].take() else {
                continue;
            };
            malformed += scan.malformed;
            cli_costs[fi] = scan.cli_cost;
            for (ts, key, model, tokens) in scan.recs {
                let m = model.unwrap_or_else(|| "unknown".into());
                let mi = match model_ix.get(&m) {
                    Some(i) => *i,
                    None => {
                        let i = models.len() as u32;
                        models.push(m.clone());
                        model_ix.insert(m, i);
                        i
                    }
                };
                let rec = Rec {
                    file: fi as u32,
                    ts_ms: ts,
                    ts_last: ts,
                    model: mi,
                    tokens,
                };
                match key {
                    Some(k) => match best.get(&k) {
                        Some(&i) => {
                            if rec.tokens.total() > recs[i].tokens.total() {
                                recs[i] = rec;
                            }
                        }
                        None => {
                            best.insert(k, recs.len());
                            recs.push(rec);
                        }
                    },
                    None => recs.push(rec),
                }
            }
        }
        let tz = chrono::Local;
        let in_range = |ms: i64| {
            let d = chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.with_timezone(&tz).date_naive());
            d.is_some_and(|d| {
                filter.since.is_none_or(|s| d >= s) && filter.until.is_none_or(|u| d <= u)
            })
        };
        recs.retain(|r| in_range(r.ts_ms));
        Ok(UsageData {
            files: files.into_iter().map(|(s, p, _)| (s, p)).collect(),
            models,
            recs,
            cli_costs,
            malformed_lines: malformed,
            pricing,
        })
    }
}

/// One session's usage for one model on one (local) day, as a catalog keeps it.
#[derive(Debug, Clone, Default)]
pub struct DayUsage {
    pub session_id: String,
    pub project_dir: String,
    pub model: String,
    /// Local `YYYY-MM-DD`.
    pub day: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub tokens: Tokens,
    pub cli_cost_usd: Option<f64>,
}

/// The local day of a time in ms (`YYYY-MM-DD`), as reports group calls.
pub fn local_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

/// Noon, local time, of a day (`YYYY-MM-DD`), in ms: a time whose [`local_day`]
/// is that day whatever the clocks did that day.
pub fn local_noon_ms(day: &str) -> Option<i64> {
    use chrono::TimeZone as _;
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let t = chrono::Local
        .from_local_datetime(&d.and_hms_opt(12, 0, 0)?)
        .earliest()?;
    Some(t.timestamp_millis())
}

/// What [`local_day`] depends on: the local offsets at the start of every month
/// from 2000 to 2040, hashed. Another time zone (or DST rule) gives another value.
pub fn local_day_fingerprint() -> String {
    use chrono::{Offset, TimeZone};
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for y in 2000..2040 {
        for m in 1..=12 {
            if let chrono::LocalResult::Single(t) = chrono::Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0) {
                chrono::Local
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc()
                    .hash(&mut h);
            }
        }
    }
    format!("local:{:016x}", h.finish())
}

impl UsageData {
    /// A report from per-day rows (a catalog's rollup) instead of the files: the
    /// same grouping, totals and costs, priced now.
    pub fn from_days(rows: Vec<DayUsage>, filter: &UsageFilter, pricing: PricingTable) -> Self {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut cli_costs = Vec::new();
        let mut file_ix: HashMap<String, u32> = HashMap::new();
        let mut models: Vec<String> = Vec::new();
        let mut model_ix: HashMap<String, u32> = HashMap::new();
        let mut recs = Vec::with_capacity(rows.len());
        let day_ok = |d: &str| {
            parse_date(d).is_some_and(|d| {
                filter.since.is_none_or(|s| d >= s) && filter.until.is_none_or(|u| d <= u)
            })
        };
        for r in rows {
            if !day_ok(&r.day) {
                continue;
            }
            let file = *file_ix.entry(r.session_id.clone()).or_insert_with(|| {
                files.push((r.session_id.clone(), r.project_dir.clone()));
                cli_costs.push(r.cli_cost_usd);
                (files.len() - 1) as u32
            });
            let model = match model_ix.get(&r.model) {
                Some(i) => *i,
                None => {
                    models.push(r.model.clone());
                    model_ix.insert(r.model, (models.len() - 1) as u32);
                    (models.len() - 1) as u32
                }
            };
            recs.push(Rec {
                file,
                ts_ms: r.first_ms,
                ts_last: r.last_ms,
                model,
                tokens: r.tokens,
            });
        }
        Self {
            files,
            models,
            recs,
            cli_costs,
            malformed_lines: 0,
            pricing,
        }
    }

    fn cost(&self, model: &str, t: &Tokens) -> Option<f64> {
        Some(self.pricing.price(model)?.cost_of(t))
    }

    fn row<'a>(&self, recs: impl Iterator<Item = &'a Rec>) -> Row {
        // By name: the sums are made in the same order however the calls were read.
        let mut by_model: BTreeMap<&str, Tokens> = BTreeMap::new();
        let mut tokens = Tokens::default();
        for r in recs {
            tokens.add(&r.tokens);
            by_model
                .entry(self.models[r.model as usize].as_str())
                .or_default()
                .add(&r.tokens);
        }
        let mut breakdowns = Vec::new();
        let mut unknown = Vec::new();
        let mut total_cost = 0.0;
        for (m, t) in by_model {
            let name = m.to_owned();
            let cost = match self.cost(&name, &t) {
                Some(c) => c,
                None => {
                    unknown.push(name.clone());
                    0.0
                }
            };
            total_cost += cost;
            breakdowns.push(ModelBreakdown {
                model_name: name,
                tokens: t,
                cost,
            });
        }
        breakdowns.sort_by(|a, b| b.cost.total_cmp(&a.cost));
        Row {
            tokens,
            total_tokens: tokens.total(),
            total_cost,
            models_used: breakdowns.iter().map(|b| b.model_name.clone()).collect(),
            model_breakdowns: breakdowns,
            unknown_models: unknown,
        }
    }

    /// Per session (the transcript's id; subagents count to their session), most
    /// expensive first.
    pub fn sessions(&self) -> Vec<SessionRow> {
        let mut by: HashMap<&str, Vec<&Rec>> = HashMap::new();
        for r in &self.recs {
            by.entry(self.files[r.file as usize].0.as_str())
                .or_default()
                .push(r);
        }
        // The CLI's own cost, from the first of a session's files that has one.
        let mut cli_by_session: HashMap<&str, Option<f64>> = HashMap::new();
        for ((sid, _), c) in self.files.iter().zip(&self.cli_costs) {
            let e = cli_by_session.entry(sid.as_str()).or_insert(None);
            if e.is_none() {
                *e = *c;
            }
        }
        let iso = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut out: Vec<SessionRow> = by
            .into_iter()
            .map(|(sid, recs)| {
                let first = recs.iter().map(|r| r.ts_ms).min().unwrap_or(0);
                let last = recs.iter().map(|r| r.ts_last).max().unwrap_or(0);
                let fi = recs.first().map_or(0, |r| r.file as usize);
                let cli = cli_by_session.get(sid).copied().flatten();
                SessionRow {
                    session_id: sid.to_owned(),
                    project_path: self.files[fi].1.clone(),
                    first_activity: iso(first),
                    last_activity: iso(last),
                    row: self.row(recs.into_iter()),
                    cli_cost_usd: cli,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.row
                .total_cost
                .total_cmp(&a.row.total_cost)
                .then(b.last_activity.cmp(&a.last_activity))
        });
        out
    }

    fn periods(&self, fmt: &str) -> Vec<PeriodRow> {
        self.periods_by(|t| t.format(fmt).to_string())
    }

    /// Rows grouped by a key of each call's local time, in key order.
    fn periods_by(
        &self,
        key: impl Fn(chrono::DateTime<chrono::Local>) -> String,
    ) -> Vec<PeriodRow> {
        let mut by: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
        for r in &self.recs {
            let k = chrono::DateTime::from_timestamp_millis(r.ts_ms)
                .map(|t| key(t.with_timezone(&chrono::Local)))
                .unwrap_or_default();
            by.entry(k).or_default().push(r);
        }
        by.into_iter()
            .map(|(period, recs)| PeriodRow {
                period,
                row: self.row(recs.into_iter()),
            })
            .collect()
    }

    /// Per day (local time), oldest first.
    pub fn daily(&self) -> Vec<PeriodRow> {
        self.periods("%Y-%m-%d")
    }

    /// Per month (local time), oldest first.
    pub fn monthly(&self) -> Vec<PeriodRow> {
        self.periods("%Y-%m")
    }

    /// Per week (local time), oldest first, named by the week's first day (the
    /// day `start` of it), as ccusage's `weekly`.
    pub fn weekly(&self, start: chrono::Weekday) -> Vec<PeriodRow> {
        use chrono::Datelike as _;
        self.periods_by(|t| {
            let d = t.date_naive();
            let back = (7 + d.weekday().num_days_from_sunday() - start.num_days_from_sunday()) % 7;
            (d - chrono::Duration::days(i64::from(back)))
                .format("%Y-%m-%d")
                .to_string()
        })
    }

    /// Five-hour billing windows, as ccusage's `blocks`: a block starts at the
    /// hour (UTC) of its first call and holds the calls of the next five hours; a
    /// call five hours or more after the previous one starts a new block, and the
    /// time between is a gap. Needs each call's own time (not a rollup's).
    pub fn blocks(&self, now_ms: i64) -> Vec<Block> {
        const FIVE_H: i64 = 5 * 3_600_000;
        let mut recs: Vec<&Rec> = self.recs.iter().collect();
        recs.sort_by_key(|r| r.ts_ms);
        let iso = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        let mut cur: Vec<&Rec> = Vec::new();
        let mut start = 0i64;
        let close = |start: i64, cur: &[&Rec], out: &mut Vec<Block>| {
            let Some(last) = cur.last() else { return };
            let row = self.row(cur.iter().copied());
            let mut models: Vec<String> = Vec::new();
            for r in cur {
                let m = &self.models[r.model as usize];
                if !models.contains(m) {
                    models.push(m.clone());
                }
            }
            let end = start + FIVE_H;
            out.push(Block {
                id: iso(start),
                start_time: iso(start),
                end_time: iso(end),
                actual_end_time: Some(iso(last.ts_ms)),
                is_active: now_ms - last.ts_ms < FIVE_H && now_ms < end,
                is_gap: false,
                entries: cur.len(),
                token_counts: BlockTokens::from(&row.tokens),
                total_tokens: row.total_tokens,
                cost_usd: row.total_cost,
                models,
                unpriced_models: row.unknown_models,
            });
        };
        for r in recs {
            match cur.last() {
                None => {
                    start = r.ts_ms - r.ts_ms.rem_euclid(3_600_000);
                    cur.push(r);
                }
                Some(prev) if r.ts_ms - start > FIVE_H || r.ts_ms - prev.ts_ms > FIVE_H => {
                    let prev_ts = prev.ts_ms;
                    close(start, &cur, &mut out);
                    cur.clear();
                    if r.ts_ms - prev_ts > FIVE_H {
                        let gap_start = prev_ts + FIVE_H;
                        out.push(Block {
                            id: format!("gap-{}", iso(gap_start)),
                            start_time: iso(gap_start),
                            end_time: iso(r.ts_ms),
                            actual_end_time: None,
                            is_active: false,
                            is_gap: true,
                            entries: 0,
                            token_counts: BlockTokens::default(),
                            total_tokens: 0,
                            cost_usd: 0.0,
                            models: Vec::new(),
                            unpriced_models: Vec::new(),
                        });
                    }
                    start = r.ts_ms - r.ts_ms.rem_euclid(3_600_000);
                    cur.push(r);
                }
                Some(_) => cur.push(r),
            }
        }
        close(start, &cur, &mut out);
        out
    }

    /// Per model, most expensive first.
    pub fn models(&self) -> Vec<ModelBreakdown> {
        self.row(self.recs.iter()).model_breakdowns
    }

    pub fn totals(&self) -> Totals {
        let r = self.row(self.recs.iter());
        Totals {
            tokens: r.tokens,
            total_tokens: r.total_tokens,
            total_cost: r.total_cost,
            unpriced_models: r.unknown_models,
        }
    }

    /// Models seen that the pricing table does not know.
    pub fn unknown_models(&self) -> Vec<String> {
        self.row(self.recs.iter()).unknown_models
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, req: &str, out: u64) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"2026-01-02T03:04:05.000Z","requestId":"{req}","message":{{"id":"{id}","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"x"}}],"usage":{{"input_tokens":10,"output_tokens":{out},"cache_creation_input_tokens":4,"cache_read_input_tokens":100,"cache_creation":{{"ephemeral_5m_input_tokens":3,"ephemeral_1h_input_tokens":1}}}}}}}}"#
        )
    }

    #[test]
    fn duplicates_count_once_with_the_largest_total() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("projects/-p");
        std::fs::create_dir_all(&p).unwrap();
        let id = uuid::Uuid::new_v4();
        let text = [
            line("m1", "r1", 5),
            line("m1", "r1", 50), // same call, a later block line: wins
            line("m2", "r2", 7),
            "garbage with \"usage\" in it".to_owned(),
            r#"{"type":"cost-state","totalCostUSD":0.25}"#.to_owned(),
        ]
        .join("\n");
        std::fs::write(p.join(format!("{id}.jsonl")), text).unwrap();
        let d = ClaudeDir::new(tmp.path())
            .usage(&UsageFilter::default(), PricingTable::builtin())
            .unwrap();
        let t = d.totals();
        assert_eq!(t.tokens.output_tokens, 57);
        assert_eq!(t.tokens.input_tokens, 20);
        assert_eq!(t.total_tokens, 20 + 57 + 8 + 200);
        assert_eq!(d.malformed_lines, 1);
        let s = &d.sessions()[0];
        assert_eq!(s.cli_cost_usd, Some(0.25));
        // 3 x 5m at 3.75, 1 x 1h at 6.0 per million, per call.
        let want = (20.0 * 3.0 + 57.0 * 15.0 + 6.0 * 3.75 + 2.0 * 6.0 + 200.0 * 0.3) / 1e6;
        assert!((s.row.total_cost - want).abs() < 1e-12);
    }

    #[test]
    fn unknown_models_are_named_not_priced_as_zero_silently() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("projects/-p");
        std::fs::create_dir_all(&p).unwrap();
        let l = line("m", "r", 1).replace("claude-sonnet-4-5-20250929", "claude-future-9");
        std::fs::write(p.join(format!("{}.jsonl", uuid::Uuid::new_v4())), l).unwrap();
        let d = ClaudeDir::new(tmp.path())
            .usage(&UsageFilter::default(), PricingTable::builtin())
            .unwrap();
        assert_eq!(d.unknown_models(), vec!["claude-future-9"]);
        assert_eq!(d.sessions()[0].row.unknown_models, vec!["claude-future-9"]);
    }
}
