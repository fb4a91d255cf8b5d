//! Projects: the folders Claude Code has sessions for, and following a folder
//! that moved.

use std::path::{Path, PathBuf};

use ccsm_core::views::{ProjectInfo, ProjectView};

use crate::error::invalid;
use crate::{MoveReport, Result, Service, Source};

/// What `projects move` did, or `--undo` restored.
pub type Moved = MoveReport;

impl Service {
    /// Every project with its real path, sessions, size and last activity; from
    /// the catalog with `include_gone`, also the sessions only ccsm still has.
    pub fn projects(&self, include_gone: bool, source: Source) -> Result<Vec<ProjectView>> {
        if source == Source::Files {
            if include_gone {
                invalid!("--include-gone needs the catalog (drop --direct)");
            }
            return Ok(self
                .dir
                .projects()?
                .into_iter()
                .map(|info| ProjectView {
                    info,
                    gone_sessions: None,
                    host: None,
                    name: None,
                    folders: Vec::new(),
                })
                .collect());
        }
        let c = self.fresh()?;
        let views = c
            .store
            .projects(include_gone)?
            .into_iter()
            .map(|p| ProjectView {
                info: ProjectInfo {
                    path: p.project_path,
                    dir_name: p.project_dir,
                    sessions: (p.sessions + p.gone) as usize,
                    size: p.size,
                    last_modified: p.last_modified,
                },
                gone_sessions: include_gone.then_some(p.gone),
                host: p.host,
                name: None,
                folders: Vec::new(),
            })
            .collect();
        Ok(crate::project_map::merge(
            views,
            &self.project_maps_of(&c)?,
            &self.host(),
        ))
    }

    /// Points the sessions of folder `old` (moved or renamed) at `new`, which
    /// must exist; a backup lets [`Service::undo_move`] restore every byte.
    pub fn move_project(&self, old: &Path, new: &Path, dry_run: bool) -> Result<Moved> {
        let new = self
            .existing_folder(new, false, "the new folder")
            .map_err(|e| crate::Error::Context {
                context: "move the folder first, then tell ccsm where it went".into(),
                source: Box::new(e),
            })?;
        Ok(self
            .dir
            .move_project(&crate::absolute(old)?, &new, dry_run, &self.backups_dir())?)
    }

    /// Restores the state before the last move, byte for byte.
    pub fn undo_move(&self) -> Result<Moved> {
        Ok(self.dir.undo_move(&self.backups_dir())?)
    }

    /// Projects whose recorded folder is gone, with folders they may have moved to.
    pub fn doctor(&self) -> Result<Vec<(String, Vec<PathBuf>)>> {
        Ok(self.dir.doctor()?)
    }
}
