//! `ccsm usage`: tokens and cost per day, week, month, five-hour block, session
//! or model, in ccusage's JSON shapes; and the pricing table.

use std::path::{Path, PathBuf};

use anyhow::Result;
use ccsm_core::usage::{PeriodRow, Row, Totals};
use ccsm_service::{Service, Source, UsageQuery};
use clap::{Args, Subcommand};
use comfy_table::Table;
use serde::Serialize;

use crate::out::{fmt_int, one_line, print_json, show_id, table, when};

#[derive(Args, Debug, Clone)]
pub struct UsageArgs {
    /// From this date (YYYY-MM-DD or YYYYMMDD, local time).
    #[arg(long, global = true)]
    since: Option<String>,
    /// Until this date, inclusive.
    #[arg(long, global = true)]
    until: Option<String>,
    /// Only this project directory.
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Also count sessions whose transcript is gone from Claude Code's dir (kept in
    /// ccsm's catalog after the CLI's cleanup).
    #[arg(long, global = true)]
    include_gone: bool,
    /// Only the sessions of this host (a catalog shared by many hosts; default:
    /// every host's).
    #[arg(long, global = true)]
    host: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UsageCmd {
    /// Tokens and cost per day.
    Daily,
    /// Tokens and cost per week (named by its first day).
    Weekly {
        /// The day a week starts on.
        #[arg(long, short = 'w', value_enum, default_value_t = WeekStart::Sunday)]
        start_of_week: WeekStart,
    },
    /// Tokens and cost per month.
    Monthly,
    /// Five-hour billing windows, as ccusage's `blocks` (read from the transcripts:
    /// it needs each call's time).
    Blocks,
    /// Tokens and cost per session, most expensive first.
    Session,
    /// Tokens and cost per model.
    Models,
    /// Show the pricing table; replace it from a file, or refresh it from LiteLLM's.
    Pricing {
        /// Replace the table with this JSON file (ccsm's shape or LiteLLM's).
        #[arg(long, value_name = "FILE", conflicts_with = "update")]
        import: Option<PathBuf>,
        /// Fetch LiteLLM's current model price table (needs the network).
        #[arg(long)]
        update: bool,
        /// Where --update reads the table from.
        #[arg(long, value_name = "URL", requires = "update", default_value = ccsm_service::LITELLM_URL)]
        url: String,
    },
}

/// The first day of a week, for `usage weekly`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WeekStart {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl From<WeekStart> for chrono::Weekday {
    fn from(w: WeekStart) -> Self {
        match w {
            WeekStart::Sunday => Self::Sun,
            WeekStart::Monday => Self::Mon,
            WeekStart::Tuesday => Self::Tue,
            WeekStart::Wednesday => Self::Wed,
            WeekStart::Thursday => Self::Thu,
            WeekStart::Friday => Self::Fri,
            WeekStart::Saturday => Self::Sat,
        }
    }
}

fn usage_row(t: &mut Table, label: String, r: &Row) {
    let mut cells = vec![label];
    cells.extend(usage_cells(r));
    t.add_row(cells);
}

/// A usage row's cells after its label: models, tokens, cost.
fn usage_cells(r: &Row) -> Vec<String> {
    let mut cost = format!("${:.2}", r.total_cost);
    if !r.unknown_models.is_empty() {
        cost.push_str(" + unpriced");
    }
    vec![
        r.models_used.join(", "),
        fmt_int(r.tokens.input_tokens),
        fmt_int(r.tokens.output_tokens),
        fmt_int(r.tokens.cache_creation_tokens),
        fmt_int(r.tokens.cache_read_tokens),
        fmt_int(r.total_tokens),
        cost,
    ]
}

#[derive(Serialize)]
struct PeriodJson<'a> {
    #[serde(flatten)]
    key: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    row: &'a Row,
}

pub fn usage(
    svc: &Service,
    args: UsageArgs,
    cmd: UsageCmd,
    json: bool,
    direct: bool,
) -> Result<()> {
    if let UsageCmd::Pricing {
        import,
        update,
        url,
    } = &cmd
    {
        return pricing(svc, import.as_deref(), update.then_some(url.as_str()), json);
    }
    let q = UsageQuery {
        since: args.since,
        until: args.until,
        project: args.project,
        include_gone: args.include_gone,
        host: args.host,
        // Blocks need each call's own time, not a day's rollup.
        per_call: matches!(cmd, UsageCmd::Blocks),
        periods: matches!(
            cmd,
            UsageCmd::Daily | UsageCmd::Weekly { .. } | UsageCmd::Monthly | UsageCmd::Models
        ),
    };
    let data = svc.usage(&q, Source::direct(direct))?;
    let totals = data.totals();
    let header = [
        "",
        "models",
        "input",
        "output",
        "cache create",
        "cache read",
        "total tokens",
        "cost",
    ];
    let periods = |rows: Vec<PeriodRow>, key: &str, name: &str| -> Result<()> {
        if json {
            let list: Vec<PeriodJson<'_>> = rows
                .iter()
                .map(|r| {
                    let mut k = serde_json::Map::new();
                    k.insert(key.to_owned(), serde_json::Value::String(r.period.clone()));
                    PeriodJson {
                        key: k,
                        row: &r.row,
                    }
                })
                .collect();
            return print_json(&serde_json::json!({name: list, "totals": totals}));
        }
        if rows.is_empty() {
            eprintln!("no usage");
            return Ok(());
        }
        let mut h = header;
        h[0] = key;
        let mut t = table(&h);
        for r in &rows {
            usage_row(&mut t, r.period.clone(), &r.row);
        }
        println!("{t}");
        print_totals(&totals);
        Ok(())
    };
    match cmd {
        UsageCmd::Daily => periods(data.daily(), "date", "daily")?,
        UsageCmd::Monthly => periods(data.monthly(), "month", "monthly")?,
        UsageCmd::Weekly { start_of_week } => {
            periods(data.weekly(start_of_week.into()), "week", "weekly")?;
        }
        UsageCmd::Blocks => {
            let blocks = data.blocks(chrono::Utc::now().timestamp_millis());
            if json {
                return print_json(&serde_json::json!({"blocks": blocks}));
            }
            if blocks.is_empty() {
                eprintln!("no usage");
                return Ok(());
            }
            let mut t = table(&["block", "models", "calls", "total tokens", "cost"]);
            for b in blocks.iter().filter(|b| !b.is_gap) {
                let start = chrono::DateTime::parse_from_rfc3339(&b.start_time)
                    .map(|t| when(t.timestamp_millis()))
                    .unwrap_or_else(|_| b.start_time.clone());
                let mut cost = format!("${:.2}", b.cost_usd);
                if !b.unpriced_models.is_empty() {
                    cost.push_str(" + unpriced");
                }
                t.add_row(vec![
                    if b.is_active {
                        format!("{start} (active)")
                    } else {
                        start
                    },
                    b.models.join(", "),
                    fmt_int(b.entries as u64),
                    fmt_int(b.total_tokens),
                    cost,
                ]);
            }
            println!("{t}");
        }
        UsageCmd::Session => {
            let rows = data.sessions();
            if json {
                #[derive(Serialize)]
                struct Report<'a> {
                    sessions: &'a [ccsm_service::SessionRow],
                    totals: &'a Totals,
                }
                return print_json(&Report {
                    sessions: &rows,
                    totals: &totals,
                });
            }
            if rows.is_empty() {
                eprintln!("no usage");
                return Ok(());
            }
            // Which session it is: its title and real project path.
            let mut h: Vec<&str> = vec!["session", "title", "project"];
            h.extend(&header[1..]);
            let mut t = table(&h);
            for r in &rows {
                let (title, project) = data.about(&r.session_id);
                let mut cells = vec![
                    show_id(&r.session_id, false),
                    one_line(&title, 40),
                    one_line(&project, 30),
                ];
                cells.extend(usage_cells(&r.row));
                t.add_row(cells);
            }
            println!("{t}");
            print_totals(&totals);
        }
        UsageCmd::Models => {
            let rows = data.models();
            if json {
                return print_json(&serde_json::json!({"models": rows, "totals": totals}));
            }
            let mut t = table(&[
                "model",
                "input",
                "output",
                "cache create",
                "cache read",
                "cost",
            ]);
            for m in &rows {
                t.add_row(vec![
                    m.model_name.clone(),
                    fmt_int(m.tokens.input_tokens),
                    fmt_int(m.tokens.output_tokens),
                    fmt_int(m.tokens.cache_creation_tokens),
                    fmt_int(m.tokens.cache_read_tokens),
                    format!("${:.2}", m.cost),
                ]);
            }
            println!("{t}");
            print_totals(&totals);
        }
        UsageCmd::Pricing { .. } => {}
    }
    if data.malformed_lines() > 0 {
        eprintln!(
            "note: {} damaged lines were skipped",
            data.malformed_lines()
        );
    }
    Ok(())
}

fn print_totals(t: &Totals) {
    println!(
        "total: {} tokens (input {}, output {}, cache create {}, cache read {}), ${:.2}",
        fmt_int(t.total_tokens),
        fmt_int(t.tokens.input_tokens),
        fmt_int(t.tokens.output_tokens),
        fmt_int(t.tokens.cache_creation_tokens),
        fmt_int(t.tokens.cache_read_tokens),
        t.total_cost
    );
    if !t.unpriced_models.is_empty() {
        println!(
            "not priced (unknown to the pricing table): {}",
            t.unpriced_models.join(", ")
        );
    }
}

/// `usage pricing`: show the table in effect, or replace it from a file or LiteLLM.
fn pricing(svc: &Service, import: Option<&Path>, update: Option<&str>, json: bool) -> Result<()> {
    let fresh = match (import, update) {
        (Some(file), _) => Some(svc.import_pricing(file)?),
        (None, Some(url)) => Some(svc.update_pricing(url)?),
        (None, None) => None,
    };
    if let Some(t) = fresh {
        if json {
            return print_json(&t);
        }
        eprintln!(
            "pricing for {} models saved to {} (every view uses it from now on)",
            fmt_int(t.models.len() as u64),
            svc.pricing_file().display()
        );
        return Ok(());
    }
    let t = svc.pricing()?;
    if json {
        return print_json(&t);
    }
    let mut tb = table(&[
        "model",
        "input",
        "output",
        "cache write 5m",
        "cache write 1h",
        "cache read",
    ]);
    for (m, p) in &t.models {
        tb.add_row(vec![
            m.clone(),
            format!("{}", p.input),
            format!("{}", p.output),
            format!("{}", p.cache_write_5m),
            format!("{}", p.cache_write_1h),
            format!("{}", p.cache_read),
        ]);
    }
    println!("{tb}\nUSD per million tokens");
    Ok(())
}
