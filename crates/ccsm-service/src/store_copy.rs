//! Moving a catalog between stores: a laptop's SQLite catalog into a team's
//! PostgreSQL one, or back when leaving the team (`ccsm store copy`), and
//! bringing a store's schema up to date (`ccsm store migrate`).
//!
//! A copy reads this config dir's transcripts into the target (as a sync
//! does: what is there already is skipped), then brings over what only the
//! source knows: descriptions, notes, tags, names, archive keys and archived
//! versions, and the sessions whose transcripts Claude Code already deleted.
//! Every step is idempotent: a copy run again, or after an interruption, ends
//! with the same target.

use std::sync::Arc;

use ccsm_store::{Ingest, ListFilter, SessionRecord, Store};

use crate::{Context as _, Result, Service};

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    pub from: String,
    pub to: String,
    /// Transcripts read into the target by its sync.
    pub indexed: usize,
    /// Sessions of the source looked at (this host's).
    pub sessions: usize,
    /// Sessions whose transcript is gone, recorded in the target.
    pub gone_added: usize,
    /// Descriptions and notes brought over.
    pub texts: usize,
    pub tags: usize,
    pub names: usize,
    /// Archived versions brought over.
    pub archives: usize,
}

/// What `store migrate` says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    pub store: String,
    pub sessions: usize,
}

impl Service {
    /// Opens a store by URL as this host (its tables made or migrated).
    pub fn open_store_url(&self, url: &str) -> Result<Arc<dyn Store>> {
        crate::config::check_store_url(url)?;
        let shown = ccsm_store::redact_url(url);
        if let Some(p) = url.strip_prefix("sqlite://") {
            let file = crate::config::catalog_file(&format!("sqlite://{p}"))?;
            return Ok(Arc::new(
                ccsm_store::SqliteStore::open(&file)
                    .with_context(|| format!("opening the store {shown}"))?,
            ));
        }
        let password = self.store_password()?;
        Ok(Arc::new(
            ccsm_store::PgStore::open_as(url, &self.host(), password.as_deref())
                .with_context(|| format!("opening the store {shown}"))?,
        ))
    }

    /// Brings the store's tables up to date (opening it does) and says how many
    /// sessions it holds.
    pub fn migrate_store(&self) -> Result<Migrated> {
        let c = self.catalog()?;
        Ok(Migrated {
            store: self.catalog_url(),
            sessions: c.store.known_files()?.len(),
        })
    }

    /// Copies this config dir's catalog from the store `from` into `to` (see the
    /// module's documentation).
    pub fn copy_store(&self, from: &str, to: &str) -> Result<CopyReport> {
        self.dir.check()?;
        let source = self.open_store_url(from)?;
        let target = self.open_store_url(to)?;
        let mut report = CopyReport {
            from: ccsm_store::redact_url(from),
            to: ccsm_store::redact_url(to),
            ..Default::default()
        };
        // The transcripts this host has, read into the target.
        let mut c = self.catalog()?;
        c.store = target.clone();
        report.indexed = self.sync_catalog(&c)?.read_files.len();
        let me = self.host();
        let ours = |s: &SessionRecord| s.host.as_deref().is_none_or(|h| h == me);
        let all = ListFilter {
            include_gone: true,
            ..Default::default()
        };
        for s in source.list(&all)?.into_iter().filter(|s| ours(s)) {
            report.sessions += 1;
            let there = target.session(&s.id)?;
            if there.is_none() {
                if !s.gone {
                    // Present in the source, not on this host's disk: another
                    // config dir's; a sync of that one brings it.
                    continue;
                }
                add_gone(target.as_ref(), &s)?;
                report.gone_added += 1;
            }
            let there = target.session(&s.id)?.unwrap_or_default();
            if s.description.is_some() && there.description.is_none() {
                target.set_description(&s.id, s.description.as_deref())?;
                report.texts += 1;
            }
            if s.notes.is_some() && there.notes.is_none() {
                target.set_notes(&s.id, s.notes.as_deref())?;
                report.texts += 1;
            }
            let new_tags: Vec<String> = s
                .tags
                .iter()
                .filter(|t| !there.tags.contains(t))
                .cloned()
                .collect();
            if !new_tags.is_empty() {
                report.tags += new_tags.len();
                target.add_tags(&s.id, &new_tags)?;
            }
            if let Some(key) = &s.archive_key {
                if self.copy_archive(&c, source.as_ref(), target.as_ref(), &s.id, key)? {
                    report.archives += 1;
                }
                if there.archive_key.is_none() {
                    target.set_archive(&s.id, key)?;
                }
            }
        }
        for n in source.names()? {
            let have = target
                .name(&n.name)?
                .map(|r| r.sessions)
                .unwrap_or_default();
            if n.sessions.starts_with(&have) && n.sessions.len() > have.len() {
                for sid in &n.sessions[have.len()..] {
                    target.save_name(&n.name, sid)?;
                }
                report.names += 1;
            }
        }
        Ok(report)
    }

    /// Brings an archived version where the target keeps it: into a shared
    /// store from this host's file archive, or from the shared store into the
    /// file archive. Whether it was copied now.
    fn copy_archive(
        &self,
        c: &crate::store::Catalog,
        source: &dyn Store,
        target: &dyn Store,
        id: &str,
        key: &str,
    ) -> Result<bool> {
        if target.keeps_archives() {
            let Some(file) = c.indexer.bundle_file(id, key) else {
                return Ok(false);
            };
            let mut f = std::fs::File::open(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            return Ok(target.put_archive(key, id, &mut f)?);
        }
        if source.keeps_archives() && c.indexer.bundle_file(id, key).is_none() {
            let kept = c
                .indexer
                .keep_bundle(id, key, |out| Ok(source.read_archive(key, out)?))?;
            return Ok(kept.is_some());
        }
        Ok(false)
    }
}

/// Records a session whose transcript is gone (its listing, its archive key;
/// its text is searchable again once it is restored).
fn add_gone(target: &dyn Store, s: &SessionRecord) -> Result<()> {
    let mut record = s.clone();
    record.tags.clear();
    record.names.clear();
    record.description = None;
    record.notes = None;
    target.ingest(&Ingest {
        file: ccsm_store::FileState {
            path: s.file_path.clone(),
            session_id: s.id.clone(),
            ..Default::default()
        },
        session: record,
        full: true,
        archive_key: s.archive_key.clone(),
        ..Default::default()
    })?;
    target.mark_gone(&s.id, true)?;
    Ok(())
}
