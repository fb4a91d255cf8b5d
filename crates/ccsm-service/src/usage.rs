//! Tokens and cost: from the catalog's rollup (kept fresh) or from the files, in
//! ccusage's shapes; and the pricing table (shown, imported, updated).

use std::path::{Path, PathBuf};

use ccsm_core::usage::{ModelBreakdown, Totals};
use ccsm_transcripts::usage::{parse_date, UsageData, UsageFilter};

use crate::error::invalid;
use crate::{Block, Context as _, PeriodRow, PricingTable, Result, Service, SessionRow, Source};

/// Which usage to count.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// From this date (`YYYY-MM-DD` or `YYYYMMDD`, local time).
    pub since: Option<String>,
    /// Until this date, inclusive.
    pub until: Option<String>,
    /// Only this project directory.
    pub project: Option<PathBuf>,
    /// Also sessions whose transcript is gone (catalog only).
    pub include_gone: bool,
    /// Only the sessions of this host (a catalog shared by many hosts).
    pub host: Option<String>,
    /// Each call's own time is needed (five-hour blocks): read the files, whose
    /// calls carry it, instead of the catalog's daily rollup.
    pub per_call: bool,
    /// Only reports per day, week, month or model will be made (not per
    /// session): the catalog's sums by day serve, whatever the history's size.
    pub periods: bool,
}

/// Usage counted once, ready to be grouped by day, week, month, session, model
/// or five-hour block.
#[derive(Debug)]
pub struct Usage {
    data: UsageData,
    titles: Option<crate::Catalog>,
    service: Service,
}

impl Usage {
    pub fn daily(&self) -> Vec<PeriodRow> {
        self.data.daily()
    }
    pub fn monthly(&self) -> Vec<PeriodRow> {
        self.data.monthly()
    }
    /// Weeks named by their first day, which is `start`.
    pub fn weekly(&self, start: chrono::Weekday) -> Vec<PeriodRow> {
        self.data.weekly(start)
    }
    /// Five-hour billing windows as ccusage's `blocks`; `now_ms` decides which is active.
    pub fn blocks(&self, now_ms: i64) -> Vec<Block> {
        self.data.blocks(now_ms)
    }
    /// Per session, most expensive first.
    pub fn sessions(&self) -> Vec<SessionRow> {
        self.data.sessions()
    }
    pub fn models(&self) -> Vec<ModelBreakdown> {
        self.data.models()
    }
    pub fn totals(&self) -> Totals {
        self.data.totals()
    }
    /// Lines that mentioned usage but did not parse (skipped).
    pub fn malformed_lines(&self) -> u64 {
        self.data.malformed_lines
    }

    /// A session's title and real project path, for a report's rows: the
    /// catalog's, else a head and tail read of its transcript.
    pub fn about(&self, id: &str) -> (String, String) {
        if let Some(Ok(Some(s))) = self.titles.as_ref().map(|c| c.store.session(id)) {
            let title = s.custom_title.unwrap_or(s.summary);
            return (title, s.project_path.unwrap_or_default());
        }
        self.service.dir.info(id).map_or_else(
            |_| (String::new(), String::new()),
            |i| {
                (
                    i.custom_title.unwrap_or(i.summary),
                    i.cwd.unwrap_or_default(),
                )
            },
        )
    }
}

/// LiteLLM's model price table from `url`, checked before anything is saved.
fn fetch_pricing(url: &str) -> Result<PricingTable> {
    let mut resp = ureq::get(url)
        .call()
        .map_err(|e| crate::Error::new(ccsm_core::ErrorKind::Unavailable, e.to_string()))
        .with_context(|| format!("fetching the pricing table from {url}"))?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| crate::Error::new(ccsm_core::ErrorKind::Unavailable, e.to_string()))
        .with_context(|| format!("reading the pricing table from {url}"))?;
    PricingTable::parse(&text).with_context(|| format!("the table at {url}"))
}

impl Service {
    /// Usage of the sessions `q` names.
    pub fn usage(&self, q: &UsageQuery, source: Source) -> Result<Usage> {
        let parse = |s: &Option<String>, what: &str| -> Result<Option<chrono::NaiveDate>> {
            match s {
                None => Ok(None),
                Some(s) => match parse_date(s) {
                    Some(d) => Ok(Some(d)),
                    None => invalid!("--{what} {s:?} is not a date (YYYY-MM-DD or YYYYMMDD)"),
                },
            }
        };
        let filter = UsageFilter {
            project: q.project.clone(),
            since: parse(&q.since, "since")?,
            until: parse(&q.until, "until")?,
        };
        if source == Source::Files && q.include_gone {
            invalid!("--include-gone needs the catalog (drop --direct)");
        }
        // The files, and a host's own catalog, are this host's: another
        // host's name finds nothing there.
        let elsewhere =
            |shared: bool| !shared && q.host.as_ref().is_some_and(|h| *h != self.host());
        let nothing = || Ok(UsageData::from_days(Vec::new(), &filter, self.pricing()?));
        // From the files, or from the catalog (brought up to date first).
        if source == Source::Files || q.per_call {
            let data = if elsewhere(false) {
                nothing()?
            } else {
                self.dir.usage(&filter, self.pricing()?)?
            };
            return Ok(Usage {
                data,
                titles: None,
                service: self.clone(),
            });
        }
        let (catalog, data) = self.fresh_read(|c| {
            if elsewhere(c.store.host().is_some()) {
                return nothing();
            }
            // A project that hosts' folders were mapped into, by its name.
            let folders = match q.project.as_deref().and_then(Path::to_str) {
                Some(name) => self.project_dirs_of(c, name)?,
                None => None,
            };
            Ok(ccsm_index::usage_report(
                c.store.as_ref(),
                &self.dir,
                &ccsm_index::UsageScope {
                    filter: &filter,
                    include_gone: q.include_gone,
                    host: q.host.as_deref(),
                    periods: q.periods,
                    folders: folders.as_deref(),
                },
                self.pricing()?,
            )?)
        })?;
        let catalog = Some(catalog);
        Ok(Usage {
            data,
            titles: catalog,
            service: self.clone(),
        })
    }

    /// Replaces the pricing table with the one in `file` (ccsm's shape or
    /// LiteLLM's); every view uses it from then on.
    pub fn import_pricing(&self, file: &Path) -> Result<PricingTable> {
        let t = PricingTable::from_file(file)?;
        self.save_pricing(&t)?;
        Ok(t)
    }

    /// Fetches LiteLLM's current table from `url`, over the shipped one (models it
    /// dropped keep a price), and saves it.
    pub fn update_pricing(&self, url: &str) -> Result<PricingTable> {
        let t = fetch_pricing(url)?.over(PricingTable::builtin());
        self.save_pricing(&t)?;
        Ok(t)
    }

    fn save_pricing(&self, t: &PricingTable) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(t)?;
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        ccsm_transcripts::write_atomic(&self.pricing_file(), &bytes)?;
        Ok(())
    }
}
