//! ccsm's config file: defaults for what the command line and the environment can
//! also say (a flag wins over the environment, which wins over the file).
//!
//! `$CCSM_CONFIG`, else `$XDG_CONFIG_HOME/ccsm/config.toml`, else
//! `~/.config/ccsm/config.toml`; a missing file is no error, a bad one is. Every key
//! is optional; an unknown key is refused (a typo must not be ignored silently):
//!
//! ```toml
//! config_dir = "~/.claude"            # Claude Code's config dir
//! claude = "/usr/local/bin/claude"    # the CLI that run and chat start
//! data_dir = "~/.local/share/ccsm"    # ccsm's catalogs, archive and backups
//! catalog = "sqlite:///home/me/ccsm.db"  # config_dir's catalog (needs config_dir)
//! store = "postgres://me@db.example/ccsm" # one catalog for every config dir and
//!                                     # host (a team's); also --store, $CCSM_STORE
//! store_password_file = "~/.config/ccsm/db-password"  # or $CCSM_STORE_PASSWORD
//! host = "laptop"                     # this machine's name in a shared store
//!                                     # (default: $CCSM_HOST, else the host name)
//! pricing = "~/prices.json"           # a pricing table (ccsm's or LiteLLM's shape)
//! roots = ["~/src", "/work"]          # the only folders sessions may run in or be
//!                                     # moved to (default: any but system locations)
//!
//! [serve]                             # for `ccsm serve`
//! listen = "127.0.0.1:8082"
//! token_file = "~/.config/ccsm/token"
//! webhook = "http://127.0.0.1:9000/alerts"   # every alert is POSTed here
//! metrics_interval_secs = 5           # how often live sessions are sampled
//! metrics_retention_hours = 24
//!
//! [serve.alerts]                      # thresholds for every session
//! max_memory_mb = 4096
//! max_cpu_percent = 190
//! max_runtime_secs = 7200
//! max_cost_usd = 10
//! max_error_rate = 0.5
//! action = "none"                     # none, interrupt or cancel
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::error::{invalid, Context as _, Result};

/// What the config file says.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub config_dir: Option<PathBuf>,
    pub claude: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub catalog: Option<String>,
    /// The catalog every config dir and host uses (`postgres://…` for a team,
    /// or `sqlite://…`), in place of each config dir's own.
    pub store: Option<String>,
    /// A file holding the store's password (never printed).
    pub store_password_file: Option<PathBuf>,
    /// This machine's name in a shared store (default: `$CCSM_HOST`, else the
    /// host name).
    pub host: Option<String>,
    pub pricing: Option<PathBuf>,
    /// The folders sessions may run in, be moved or written to (empty: any
    /// folder that is not a system location).
    #[serde(default)]
    pub roots: Vec<PathBuf>,
    #[serde(default)]
    pub serve: Serve,
    /// The file it was read from, if any.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The daemon's settings (read now, used by `ccsm serve`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    pub listen: Option<String>,
    pub token_file: Option<PathBuf>,
    pub webhook: Option<String>,
    pub metrics_interval_secs: Option<f64>,
    pub metrics_retention_hours: Option<f64>,
    #[serde(default)]
    pub alerts: AlertThresholds,
}

/// Thresholds the daemon's monitor applies to every session.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertThresholds {
    pub max_memory_mb: Option<u64>,
    pub max_cpu_percent: Option<f64>,
    pub max_runtime_secs: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub max_error_rate: Option<f64>,
    /// `none` (default), `interrupt` or `cancel`.
    pub action: Option<String>,
}

/// An environment variable, an empty value counting as unset.
pub fn env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// `~/x` → `$HOME/x` (the file is not read by a shell).
fn expand(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), home()) {
        (Ok(rest), Some(h)) => h.join(rest),
        _ => p.to_path_buf(),
    }
}

/// Where the config file is looked for.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = env("CCSM_CONFIG") {
        return Some(PathBuf::from(p));
    }
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
        .map(|d| d.join("ccsm").join("config.toml"))
}

/// Reads the config file (a missing one gives the defaults; a bad one is an error).
pub fn load() -> Result<Config> {
    let mut c = Config::default();
    let Some(p) = path() else { return Ok(c) };
    let text = match std::fs::read_to_string(&p) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && env("CCSM_CONFIG").is_none() => {
            return Ok(c)
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    c = toml::from_str(&text).map_err(|e| {
        crate::Error::invalid(format!("the config file {} is not valid: {e}", p.display()))
    })?;
    for f in [
        &mut c.config_dir,
        &mut c.claude,
        &mut c.data_dir,
        &mut c.pricing,
        &mut c.store_password_file,
    ] {
        if let Some(v) = f.as_mut() {
            *v = expand(v);
        }
    }
    if let Some(t) = c.serve.token_file.as_mut() {
        *t = expand(t);
    }
    for r in &mut c.roots {
        *r = expand(r);
        if !r.is_absolute() {
            invalid!(
                "the config file {}: root {} is not an absolute path",
                p.display(),
                r.display()
            );
        }
    }
    if c.catalog.is_some() && c.config_dir.is_none() {
        invalid!(
            "the config file {}: `catalog` needs `config_dir` (a catalog belongs to one config dir)",
            p.display()
        );
    }
    if let Some(url) = &c.catalog {
        catalog_file(url).with_context(|| format!("the config file {}", p.display()))?;
    }
    if let Some(url) = &c.store {
        check_store_url(url).with_context(|| format!("the config file {}", p.display()))?;
    }
    c.path = Some(p);
    Ok(c)
}

/// The config with the store a flag or the environment names (they win over
/// the file's), checked.
pub fn with_store(mut c: Config, url: Option<String>) -> Result<Config> {
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        check_store_url(&url)?;
        c.store = Some(url);
    }
    Ok(c)
}

/// A store URL ccsm can open: `sqlite://FILE` or `postgres://…`.
pub fn check_store_url(url: &str) -> Result<()> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(());
    }
    catalog_file(url).map(|_| ()).map_err(|_| {
        crate::Error::invalid(format!(
            "store {:?}: a store URL is sqlite:///path/to/file.db or postgres://user@host/db",
            ccsm_store::redact_url(url)
        ))
    })
}

/// The file of a catalog URL: `sqlite:///abs/path` or `sqlite://~/path`.
pub fn catalog_file(url: &str) -> Result<PathBuf> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        invalid!("catalog {url:?}: only sqlite:// catalogs are supported by this build");
    };
    if rest.is_empty() {
        invalid!("catalog {url:?} names no file");
    }
    Ok(expand(Path::new(rest)))
}
