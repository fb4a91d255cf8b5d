//! The catalog of a config dir: opened from its URL, kept in step with Claude
//! Code's files before it answers, checked and repaired.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccsm_index::Indexer;
use ccsm_store::Store;
use ccsm_transcripts::{ClaudeDir, Quiet};
use sha2::Digest as _;

use crate::{Context as _, Result, Service};

/// The catalog of a config dir, and the indexer that keeps it.
pub struct Catalog {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) indexer: Indexer,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

/// A short name for a config dir (its canonical path hashed): its catalog and its
/// archive are named after it.
fn config_key(dir: &ClaudeDir) -> String {
    let root = dir.root.canonicalize().unwrap_or_else(|_| dir.root.clone());
    let h = sha2::Sha256::digest(root.to_string_lossy().as_bytes());
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// What `catalog check` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogCheck {
    pub catalog: PathBuf,
    pub ok: bool,
    pub problem: Option<String>,
}

/// What `catalog repair` did.
#[derive(Debug)]
pub struct Repaired {
    pub catalog: PathBuf,
    /// Where the damaged catalog was moved (kept), if there was one.
    pub damaged_copy: Option<PathBuf>,
    pub report: SyncReport,
    /// What was brought over from the damaged copy: (what, how many or why not).
    pub recovered: Vec<(String, std::result::Result<u64, String>)>,
}

use ccsm_index::SyncReport;

/// What [`Service::catalog_status`] says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogStatus {
    pub backend: String,
    pub url: String,
    pub size_bytes: u64,
    /// Sessions listed, gone ones included.
    pub sessions: usize,
    /// Sessions whose transcript is still there.
    pub present: usize,
}

impl Service {
    /// The catalog's file: one per config dir in the data dir; the config file's
    /// `catalog` names the file for the config dir it makes the default, and a
    /// shared `store` of `sqlite://FILE` that file for every config dir.
    pub fn catalog_path(&self) -> PathBuf {
        let cfg = &self.config;
        if let Some(url) = cfg.store.as_deref().filter(|u| u.starts_with("sqlite://")) {
            if let Ok(p) = crate::config::catalog_file(url) {
                return p;
            }
        }
        if let (Some(url), Some(default)) = (&cfg.catalog, &cfg.config_dir) {
            let same = |a: &Path| a.canonicalize().unwrap_or_else(|_| a.to_path_buf());
            if same(default) == same(&self.dir.root) {
                if let Ok(p) = crate::config::catalog_file(url) {
                    return p;
                }
            }
        }
        self.data_dir
            .join("catalogs")
            .join(format!("{}.db", config_key(&self.dir)))
    }

    /// The catalog's URL (`sqlite:///…`, or the shared store's), without its
    /// password.
    pub fn catalog_url(&self) -> String {
        match &self.config.store {
            Some(url) => ccsm_store::redact_url(url),
            None => format!("sqlite://{}", self.catalog_path().display()),
        }
    }

    /// This host's name when the catalog is a server's, shared by many hosts
    /// (`None`: a catalog of this host's own).
    pub fn team_host(&self) -> Option<String> {
        self.server_store().map(|_| self.host())
    }

    /// Stores a record every host reads (see [`Store::put_shared`]).
    pub fn put_shared(&self, kind: &str, key: &str, value: &str) -> Result<()> {
        Ok(self.open_store()?.put_shared(kind, key, value)?)
    }

    /// Every shared record of a kind, as (key, value).
    pub fn shared(&self, kind: &str) -> Result<Vec<(String, String)>> {
        Ok(self.open_store()?.shared(kind)?)
    }

    /// Waits until a shared record of `kind` is written or `timeout` passes
    /// (see [`Store::wait_shared`]); whether one was.
    pub fn wait_shared(&self, kind: &str, timeout: std::time::Duration) -> Result<bool> {
        Ok(self.open_store()?.wait_shared(kind, timeout)?)
    }

    /// Removes a shared record; whether there was one.
    pub fn delete_shared(&self, kind: &str, key: &str) -> Result<bool> {
        Ok(self.open_store()?.delete_shared(kind, key)?)
    }

    /// This machine's name in a shared store: the config's `host`, else
    /// `$CCSM_HOST`, else the host name.
    pub fn host(&self) -> String {
        self.config
            .host
            .clone()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(ccsm_store::local_host)
    }

    /// The shared store, when one is set (`--store`, `$CCSM_STORE`, the config
    /// file's `store`) and it is a server's (not an SQLite file).
    fn server_store(&self) -> Option<&str> {
        self.config
            .store
            .as_deref()
            .filter(|u| !u.starts_with("sqlite://"))
    }

    /// The store's password: `$CCSM_STORE_PASSWORD`, else the config file's
    /// `store_password_file` (its first line), else none (the URL's, if any).
    pub(crate) fn store_password(&self) -> Result<Option<String>> {
        if let Some(p) = crate::config::env("CCSM_STORE_PASSWORD") {
            return Ok(Some(p.to_string_lossy().into_owned()));
        }
        let Some(f) = &self.config.store_password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading the store's password file {}", f.display()))?;
        Ok(Some(text.lines().next().unwrap_or_default().to_owned()))
    }

    /// Opens the catalog: the shared store when one is set, else this config
    /// dir's SQLite file.
    fn open_store(&self) -> Result<Arc<dyn Store>> {
        if let Some(url) = self.server_store() {
            let mut cached = match self.server.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if let Some(s) = cached.as_ref() {
                return Ok(s.clone());
            }
            let host = self.host();
            let password = self.store_password()?;
            let store: Arc<dyn Store> = Arc::new(
                ccsm_store::PgStore::open_as(url, &host, password.as_deref())
                    .with_context(|| format!("opening the store {}", self.catalog_url()))?,
            );
            *cached = Some(store.clone());
            return Ok(store);
        }
        let path = self.catalog_path();
        ccsm_store::open_url(&format!("sqlite://{}", path.display()))
            .with_context(|| format!("opening the catalog {}", path.display()))
    }

    /// The catalog's backend, where it is, its size and how many sessions it
    /// holds (present, and in all with those Claude Code deleted), brought up
    /// to date first.
    pub fn catalog_status(&self) -> Result<CatalogStatus> {
        let path = self.catalog_path();
        let c = self.fresh()?;
        let listed = c.store.known_files()?;
        Ok(CatalogStatus {
            backend: if self.server_store().is_some() {
                "postgres".into()
            } else {
                "sqlite".into()
            },
            url: self.catalog_url(),
            size_bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
            sessions: listed.len(),
            present: c.store.count_present()?,
        })
    }

    /// The catalog as it is (not synced): for what only ccsm knows (names).
    pub fn catalog(&self) -> Result<Catalog> {
        // A missing config dir is the error to show, not a catalog that cannot be made.
        self.dir.check()?;
        let store = self.open_store()?;
        let mut indexer = Indexer::new(self.dir.clone());
        // Each config dir archives into a dir of its own: two config dirs sharing
        // this data dir (two users, a test dir, a second profile) never replace
        // each other's copies.
        indexer.archive = Some(self.data_dir.join("archive").join(config_key(&self.dir)));
        indexer.shared_archive = Some(self.data_dir.join("archive"));
        if let Ok(p) = self.pricing() {
            indexer.pricing = p;
        }
        let c = Catalog { store, indexer };
        if let Some(own) = c.indexer.archive.as_deref().filter(|a| !a.exists()) {
            // First use of this config dir's own archive: bring over its copies from
            // the archive every config dir shared before.
            c.indexer
                .migrate_shared_archive(c.store.as_ref())
                .context("moving archived sessions to this config dir's archive")?;
            std::fs::create_dir_all(own).with_context(|| format!("creating {}", own.display()))?;
        }
        Ok(c)
    }

    /// The catalog, brought up to date with the files first (only what changed
    /// is read).
    /// A sync that the config dir's quiet signature says has nothing to do looks
    /// at no transcript (see [`ccsm_index::Indexer::sync_quick`]).
    pub fn fresh(&self) -> Result<Catalog> {
        let c = self.catalog()?;
        let quiet = c.indexer.dir.quiet_signature();
        self.run_sync(&c, Some(quiet))?;
        Ok(c)
    }

    /// What `read` finds in the catalog brought up to date, with the catalog.
    /// The read runs while the freshness check's quiet signature is taken on
    /// another thread (a `stat` of every project folder, the part of a command
    /// that grows with the history); then the sync. When the sync wrote
    /// nothing, the read saw what a read after it would have, and is kept;
    /// otherwise it is made again. One connection does both, in turn. A
    /// catalog on a server is also connected to meanwhile (the connection
    /// waits on the server; SQLite's open is work of its own, and two cores
    /// did it no faster beside the scan).
    pub fn fresh_read<T: Send>(
        &self,
        read: impl Fn(&Catalog) -> Result<T> + Sync,
    ) -> Result<(Catalog, T)> {
        let early_open = self.server_store().is_some();
        let opened = if early_open {
            self.dir.check()?;
            None
        } else {
            Some(self.catalog()?)
        };
        let (quiet, got) = std::thread::scope(|s| {
            let quiet = s.spawn(|| self.dir.quiet_signature());
            let got = match opened {
                Some(c) => Ok(c),
                None => self.catalog(),
            }
            .map(|c| {
                let early = read(&c);
                (c, early)
            });
            (quiet.join(), got)
        });
        let quiet = quiet.unwrap_or_else(|p| std::panic::resume_unwind(p));
        let (c, early) = got?;
        let value = if self.run_sync(&c, Some(quiet))?.wrote {
            read(&c)?
        } else {
            early?
        };
        Ok((c, value))
    }

    /// Brings the catalog up to date and says what it did (`ccsm index`).
    pub fn index(&self) -> Result<SyncReport> {
        let c = self.catalog()?;
        self.sync_catalog(&c)
    }

    /// A sync that looks at every transcript.
    pub(crate) fn sync_catalog(&self, c: &Catalog) -> Result<SyncReport> {
        self.run_sync(c, None)
    }

    /// A sync of every transcript (`quick`: `None`), or a quick one that trusts
    /// the quiet signature taken before (`Some(signature)`; the signature is
    /// `None` when the files could not vouch for themselves).
    fn run_sync(&self, c: &Catalog, quick: Option<Option<Quiet>>) -> Result<SyncReport> {
        let none = |_: u64, _: u64| {};
        let progress: &(dyn Fn(u64, u64) + Sync) = match &self.progress {
            Some(p) => p.as_ref(),
            None => &none,
        };
        Ok(match quick {
            Some(quiet) => c
                .indexer
                .sync_quick_since(c.store.as_ref(), progress, quiet)?,
            None => c.indexer.sync(c.store.as_ref(), progress)?,
        })
    }

    /// Checks the catalog file (the database's integrity check and the full-text
    /// index's); a catalog not made yet is sound.
    pub fn check_catalog(&self) -> Result<CatalogCheck> {
        self.dir.check()?;
        if self.server_store().is_some() {
            // The server keeps its own files sound; what can be checked here is
            // that it answers with a catalog ccsm can use.
            let r = self
                .open_store()
                .and_then(|s| Ok(s.count_present()?))
                .map(|_| ())
                .map_err(|e| format!("{e:#}"));
            return Ok(CatalogCheck {
                catalog: PathBuf::from(self.catalog_url()),
                ok: r.is_ok(),
                problem: r.err(),
            });
        }
        let path = self.catalog_path();
        let r = if path.exists() { check(&path) } else { Ok(()) };
        Ok(CatalogCheck {
            catalog: path,
            ok: r.is_ok(),
            problem: r.err(),
        })
    }

    /// Moves a damaged catalog aside (kept), builds a new one from Claude Code's
    /// files and brings over what only ccsm knew. `None`: the catalog is sound and
    /// `force` was not given.
    pub fn repair_catalog(&self, force: bool) -> Result<Option<Repaired>> {
        self.dir.check()?;
        if self.server_store().is_some() {
            return Err(crate::Error::invalid(format!(
                "{} is a PostgreSQL store: its server keeps it sound (repair is for SQLite catalogs; \
                 restore the database from its backups, or `ccsm store copy` a catalog into it)",
                self.catalog_url()
            )));
        }
        let path = self.catalog_path();
        if path.exists() && !force && check(&path).is_ok() {
            return Ok(None);
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        let aside = path.with_extension(format!("db.damaged-{stamp}"));
        if path.exists() {
            // Its log and shared-memory files go with it: they belong to that file.
            for suffix in ["", "-wal", "-shm"] {
                let mut from = path.as_os_str().to_owned();
                from.push(suffix);
                let mut to = aside.as_os_str().to_owned();
                to.push(suffix);
                let from = PathBuf::from(from);
                if from.exists() {
                    std::fs::rename(&from, PathBuf::from(to))
                        .with_context(|| format!("moving {} aside", from.display()))?;
                }
            }
        }
        let c = self.catalog()?;
        let report = self.sync_catalog(&c)?;
        let recovered = if aside.exists() {
            ccsm_store::SqliteStore::open(&path)?.recover_from(&aside)?
        } else {
            Vec::new()
        };
        Ok(Some(Repaired {
            catalog: path,
            damaged_copy: aside.exists().then_some(aside),
            report,
            recovered: recovered
                .into_iter()
                .map(|(w, r)| (w.to_string(), r.map(|n| n as u64)))
                .collect(),
        }))
    }
}

/// What the catalog check says: `Ok(())`, or what is wrong.
fn check(path: &Path) -> std::result::Result<(), String> {
    let store = ccsm_store::SqliteStore::open(path).map_err(|e| e.to_string())?;
    match store.integrity_check() {
        Ok(s) if s == "ok" => Ok(()),
        Ok(s) => Err(s),
        Err(e) => Err(e.to_string()),
    }
}
