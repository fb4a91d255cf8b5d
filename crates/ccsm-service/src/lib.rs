//! ccsm's use cases, written once for every front (the `ccsm` command line, the
//! `ccsm serve` daemon): where ccsm's data lives, the catalog opened from its URL
//! and brought up to date before it answers, sessions, projects, names, search,
//! bundles, usage and pricing, and the options of a run. Synchronous: a front
//! that lives in an async runtime calls it from a blocking task.
//!
//! Fronts parse their input, call a [`Service`] method, and render what it
//! returns (the views of `ccsm-core`); they never reach the catalog or Claude
//! Code's files themselves.

pub mod agents;
pub mod alerts;
pub mod analytics;
mod bundles;
pub mod config;
mod error;
mod ids;
pub mod live;
pub mod metrics;
mod names;
pub mod paths;
mod project_map;
mod projects;
mod records;
mod run;
mod sessions;
mod store;
mod store_copy;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use ccsm_core::views;
pub use ccsm_index::SyncReport;
pub use ccsm_transcripts::portable::MovedSession;
pub use ccsm_transcripts::portable::{Imported, Manifest};
pub use ccsm_transcripts::pricing::{PricingTable, LITELLM_URL};
pub use ccsm_transcripts::relocate::MoveReport;
pub use ccsm_transcripts::usage::{Block, PeriodRow, SessionRow};
pub use ccsm_transcripts::MessageOptions;
pub use config::Config;
pub use error::{Context, Error, Result};
pub use project_map::{git_project_name, ProjectMap};
pub use projects::Moved;
pub use run::{PreparedRun, RunRequest};
pub use sessions::{
    Cleanup, Deleted, ListQuery, MetadataUpdate, SessionDetail, SessionFilter, SessionPage,
    SessionStats, Source,
};
pub use store::{Catalog, CatalogCheck, CatalogStatus, Repaired};
pub use store_copy::{CopyReport, Migrated};
pub use usage::{Usage, UsageQuery};

use ccsm_transcripts::ClaudeDir;

/// What the catalog sync reports while it reads: bytes done, bytes in all.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// ccsm's use cases on one Claude Code config dir.
#[derive(Clone)]
pub struct Service {
    dir: ClaudeDir,
    /// The config dir when it was named (flag or config file), not taken from
    /// the environment: the CLI that `run` starts is told it.
    explicit_dir: Option<PathBuf>,
    config: Arc<Config>,
    data_dir: PathBuf,
    progress: Option<Progress>,
    /// A server's store once opened (a pool of connections, kept for the
    /// daemon's many calls); SQLite files are opened per call.
    server: Arc<std::sync::Mutex<Option<Arc<dyn ccsm_store::Store>>>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config_dir", &self.dir.root)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The use cases on the config dir named by `config_dir` (a flag), else
    /// `$CLAUDE_CONFIG_DIR`, else the config file's `config_dir`, else `~/.claude`.
    pub fn new(config: Config, config_dir: Option<PathBuf>) -> Self {
        let explicit = config_dir.or_else(|| {
            config::env("CLAUDE_CONFIG_DIR")
                .is_none()
                .then(|| config.config_dir.clone())
                .flatten()
        });
        let explicit = explicit.map(|d| std::path::absolute(&d).unwrap_or(d));
        let dir = explicit
            .clone()
            .map_or_else(ClaudeDir::from_env, ClaudeDir::new);
        let data_dir = data_dir(&config);
        Self {
            dir,
            explicit_dir: explicit,
            config: Arc::new(config),
            data_dir,
            progress: None,
            server: Arc::default(),
        }
    }

    /// Reports the catalog's sync progress to `progress` (a front's progress bar).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Lets the process end without closing the shared store's connections
    /// one by one: a short command's last step. Closing waits for the server
    /// to end each connection's backend (1-3 ms of every command through the
    /// CLI); at exit the socket closes and the server ends it anyway. Nothing
    /// is left unwritten: every write has committed by then.
    pub fn leave_store_at_exit(&self) {
        let mut cached = match self.server.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(store) = cached.take() {
            std::mem::forget(store);
        }
    }

    /// Claude Code's config dir.
    pub fn config_dir(&self) -> &Path {
        &self.dir.root
    }

    /// ccsm's own data dir (catalogs, archive, backups, pricing).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The config file's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where an imported or updated pricing table is kept.
    pub fn pricing_file(&self) -> PathBuf {
        self.data_dir.join("pricing.json")
    }

    /// Where `projects move` keeps what `--undo` restores.
    pub fn backups_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    /// The pricing table in effect: the config file's `pricing`, else the one
    /// imported or updated into the data dir, else the shipped one.
    pub fn pricing(&self) -> Result<PricingTable> {
        if let Some(p) = &self.config.pricing {
            return PricingTable::from_file(p).with_context(|| {
                format!("reading the pricing table {} (config file)", p.display())
            });
        }
        let p = self.pricing_file();
        if p.is_file() {
            return PricingTable::from_file(&p).context("reading your pricing table");
        }
        Ok(PricingTable::builtin())
    }

    /// Where the pricing in effect comes from, for people.
    pub fn pricing_source(&self) -> String {
        match &self.config.pricing {
            Some(p) => p.display().to_string(),
            None if self.pricing_file().is_file() => self.pricing_file().display().to_string(),
            None => "shipped (LiteLLM snapshot)".into(),
        }
    }
}

/// ccsm's own data dir: `$CCSM_HOME`, the config file's `data_dir`, else the
/// platform data dir.
fn data_dir(config: &Config) -> PathBuf {
    use config::env;
    // An empty variable counts as unset (`CCSM_HOME=""` must not mean "here").
    if let Some(h) = env("CCSM_HOME") {
        return PathBuf::from(h);
    }
    if let Some(d) = &config.data_dir {
        return d.clone();
    }
    if let Some(x) = env("XDG_DATA_HOME") {
        return PathBuf::from(x).join("ccsm");
    }
    let home = env("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/ccsm")
}

/// A folder the user named that must exist (made when `create` says so): a
/// literal `~` (quoted, so the shell did not expand it) and a file are refused.
impl Service {
    /// A folder given on the command line or in a request (relative to the
    /// current one), checked by the path validator; `create` makes it if missing.
    pub(crate) fn existing_folder(&self, p: &Path, create: bool, what: &str) -> Result<PathBuf> {
        let text = p.to_string_lossy();
        if text == "~" || text.starts_with("~/") {
            error::invalid!(
                "{what} {text:?} starts with a literal ~ (the shell did not expand it): write the full path, or $HOME/{}",
                text.trim_start_matches('~').trim_start_matches('/')
            );
        }
        let abs = absolute(p)?;
        self.usable_folder(&abs, create, what)
    }
}

pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Text for one line: every run of white space (new lines included) one space,
/// at most `n` characters (`…` marks a cut).
pub fn one_line(s: &str, n: usize) -> String {
    cut(&s.split_whitespace().collect::<Vec<_>>().join(" "), n)
}

/// At most `n` characters of `s` (`…` marks a cut).
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!(
            "{}…",
            s.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    }
}
