//! A sync that the quiet signature bounds: no transcript was made, removed or
//! renamed and no CLI started or ended since the last complete sync, so only the
//! running sessions' transcripts can have grown. They alone are looked at and
//! read: a command's sync costs what the running sessions wrote, not what the
//! history holds.

use ccsm_store::Store;
use ccsm_transcripts::{Quiet, SessionFile};

use crate::{Indexer, Kept, KeptQuiet, Result, SyncReport};

impl Indexer {
    /// Syncs the running sessions' files that changed since `kept` was taken;
    /// `now`: the quiet signature just taken (its layout equal to `kept`'s).
    pub(crate) fn sync_live(
        &self,
        store: &dyn Store,
        progress: &(dyn Fn(u64, u64) + Sync),
        now: &Quiet,
        kept: &KeptQuiet,
    ) -> Result<SyncReport> {
        let mut report = SyncReport {
            files: kept.files,
            unchanged: kept.unchanged,
            ..Default::default()
        };
        let changed: Vec<&(Option<String>, SessionFile)> = now
            .live
            .iter()
            .filter(|f| f.1.size > 0 && !kept.quiet.live.contains(f))
            .collect();
        if !changed.is_empty() {
            let mut plans = Vec::new();
            for (parent, f) in changed {
                let prev = store.file_state(&f.path.to_string_lossy())?;
                if let Some(mut p) = self.plan(prev.as_ref(), f)? {
                    p.parent = parent.clone();
                    plans.push(p);
                }
            }
            let sessions: Vec<SessionFile> = now
                .live
                .iter()
                .filter(|(parent, _)| parent.is_none())
                .map(|(_, f)| f.clone())
                .collect();
            self.apply(store, progress, plans, &sessions, &mut report)?;
        }
        if now != &kept.quiet {
            // The walk's digest is not known after this: the next complete sync
            // compares every file's state instead (and reads none that is in).
            store.set_sync_digest(&Kept::record(
                "",
                Some(KeptQuiet {
                    quiet: now.clone(),
                    settings: kept.settings.clone(),
                    files: kept.files,
                    unchanged: kept.unchanged,
                }),
            ))?;
        }
        Ok(report)
    }
}
