//! Projects of many hosts mapped into one: in a catalog shared by many hosts,
//! two hosts' folders are two projects (the same path on two machines need not
//! be the same work) until the user maps them under one name, by hand or by
//! their git remote. The maps are shared records: every host sees them, and
//! `projects list`, `sessions list --project NAME` and `project:NAME` in a
//! search take a mapped project's folders together.

use std::path::Path;

use ccsm_core::views::{ProjectFolder, ProjectView};

use crate::error::invalid;
use crate::{Catalog, Result, Service};

/// The kind of the shared records that hold the maps.
const KIND: &str = "project-map";

/// Folders as a query takes them: `(host, path)`, the host `None` in a host's
/// own catalog.
type Folders = Vec<(Option<String>, String)>;

/// One host's folder, mapped into the project `name`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProjectMap {
    pub host: String,
    pub path: String,
    pub name: String,
}

impl Service {
    /// Every folder mapped into a project, by name then host.
    pub fn project_maps(&self) -> Result<Vec<ProjectMap>> {
        let c = self.catalog()?;
        self.project_maps_of(&c)
    }

    pub(crate) fn project_maps_of(&self, c: &Catalog) -> Result<Vec<ProjectMap>> {
        let mut maps: Vec<ProjectMap> = c
            .store
            .shared(KIND)?
            .into_iter()
            // A record this version cannot read is left for the one that wrote it.
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect();
        maps.sort_by(|a, b| (&a.name, &a.host, &a.path).cmp(&(&b.name, &b.host, &b.path)));
        Ok(maps)
    }

    /// Maps `host`'s (default: this host's) project folder `path` into the
    /// project `name`; the folder must be a project the catalog knows.
    pub fn map_project(&self, path: &str, name: &str, host: Option<&str>) -> Result<ProjectMap> {
        let name = check_name(name)?;
        let (host, path) = self.folder_of(path, host)?;
        let known = self.projects(true, crate::Source::Catalog)?;
        let this = self.host();
        let found = known.iter().any(|p| {
            let folders = if p.folders.is_empty() {
                vec![(
                    p.host.clone().unwrap_or_else(|| this.clone()),
                    p.info.path.clone(),
                )]
            } else {
                p.folders
                    .iter()
                    .map(|f| (f.host.clone(), Some(f.path.clone())))
                    .collect()
            };
            folders
                .iter()
                .any(|(h, p)| *h == host && p.as_deref() == Some(path.as_str()))
        });
        if !found {
            return Err(crate::Error::not_found(format!(
                "no project {path} of host {host} in the catalog (`ccsm projects list` shows them)"
            )));
        }
        let map = ProjectMap { host, path, name };
        self.put_map(&map)?;
        Ok(map)
    }

    /// Keeps `map` (one record per host's folder: a folder is in one project).
    fn put_map(&self, map: &ProjectMap) -> Result<()> {
        self.catalog()?.store.put_shared(
            KIND,
            &format!("{}\t{}", map.host, map.path),
            &serde_json::to_string(map)?,
        )?;
        Ok(())
    }

    /// `host` (default: this host) and its folder `path` as the catalog keeps
    /// it: this host's made absolute; another host's as it is given.
    fn folder_of(&self, path: &str, host: Option<&str>) -> Result<(String, String)> {
        let host = host.map_or_else(|| self.host(), str::to_owned);
        let path = if host == self.host() {
            crate::sessions::project_key(&crate::absolute(Path::new(path))?)
        } else {
            path.trim_end_matches('/').to_owned()
        };
        Ok((host, path))
    }

    /// Takes `host`'s (default: this host's) folder `path` out of the project
    /// it was mapped into; whether it was mapped.
    pub fn unmap_project(&self, path: &str, host: Option<&str>) -> Result<bool> {
        let (host, path) = self.folder_of(path, host)?;
        Ok(self
            .catalog()?
            .store
            .delete_shared(KIND, &format!("{host}\t{path}"))?)
    }

    /// Maps each of this host's project folders that is a git checkout into a
    /// project named by its `origin` remote (`github.com/org/repo`), as every
    /// host that runs it does: the same repository's folders on many machines
    /// become one project. With `dry_run`, says what it would map.
    pub fn map_projects_by_git(&self, dry_run: bool) -> Result<Vec<ProjectMap>> {
        let this = self.host();
        let mut mapped = Vec::new();
        for p in self.projects(false, crate::Source::Catalog)? {
            if !p.folders.is_empty() || p.host.as_ref().is_some_and(|h| *h != this) {
                continue;
            }
            let Some(path) = p.info.path.filter(|p| Path::new(p).is_dir()) else {
                continue;
            };
            let Some(name) = git_origin(Path::new(&path))?
                .as_deref()
                .and_then(git_project_name)
            else {
                continue;
            };
            // A project of the catalog's already: kept as it is.
            let map = ProjectMap {
                host: this.clone(),
                path,
                name,
            };
            if !dry_run {
                self.put_map(&map)?;
            }
            mapped.push(map);
        }
        Ok(mapped)
    }

    /// The folders of the mapped project `name`, as a query takes them (`None`:
    /// no project has that name).
    pub(crate) fn project_folders(&self, c: &Catalog, name: &str) -> Result<Option<Folders>> {
        if name.starts_with('/') {
            return Ok(None);
        }
        let shared = c.store.host().is_some();
        let this = self.host();
        let maps = self.project_maps_of(c)?;
        if !maps.iter().any(|m| m.name == name) {
            return Ok(None);
        }
        Ok(Some(
            maps.into_iter()
                .filter(|m| m.name == name && (shared || m.host == this))
                .map(|m| (shared.then_some(m.host), m.path))
                .collect(),
        ))
    }

    /// The folders of the mapped project `name` as `(host, folder name under
    /// projects/)`, as a usage report takes them (`None`: no project has that
    /// name).
    pub(crate) fn project_dirs_of(&self, c: &Catalog, name: &str) -> Result<Option<Folders>> {
        let Some(folders) = self.project_folders(c, name)? else {
            return Ok(None);
        };
        let this = self.host();
        let rows = c.store.projects(true)?;
        Ok(Some(
            rows.into_iter()
                .filter(|r| {
                    let host = r.host.as_deref().unwrap_or(&this);
                    folders.iter().any(|(h, p)| {
                        h.as_deref().is_none_or(|h| h == host)
                            && r.project_path.as_deref() == Some(p.as_str())
                    })
                })
                .map(|r| (r.host, r.project_dir))
                .collect(),
        ))
    }
}

/// A project name: not empty, not a path, no control characters.
fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        invalid!("a project name has 1 to 200 characters");
    }
    if name.starts_with(['/', '~', '.']) {
        invalid!("{name:?} reads as a path: a project name does not start with /, ~ or .");
    }
    if name.chars().any(char::is_control) {
        invalid!("a project name has no control characters");
    }
    Ok(name.to_owned())
}

/// The `origin` remote of the git checkout at `dir`, if it has one; asks git
/// itself (a worktree's or a submodule's config is where git says).
fn git_origin(dir: &Path) -> Result<Option<String>> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["config", "--get", "remote.origin.url"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let url = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            Ok((!url.is_empty()).then_some(url))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(crate::Error::new(
            ccsm_core::ErrorKind::Unavailable,
            "git is not installed: `projects map --git` reads each folder's remote with it",
        )),
        Err(e) => Err(crate::Error::new(
            ccsm_core::ErrorKind::Unavailable,
            format!("running git in {}: {e}", dir.display()),
        )),
    }
}

/// A remote's URL as a project name: its host and path, without scheme, user,
/// port or `.git` (`git@github.com:org/repo.git` and
/// `https://github.com/org/repo` are both `github.com/org/repo`).
pub fn git_project_name(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        (host.split(':').next()?.to_owned(), path.to_owned())
    } else if let Some((left, path)) = url.split_once(':') {
        // scp-like: [user@]host:path (a local path has no colon before a slash).
        if left.contains('/') {
            return None;
        }
        let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
        (host.to_owned(), path.to_owned())
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if host.is_empty() || path.is_empty() {
        return None;
    }
    check_name(&format!("{}/{path}", host.to_lowercase())).ok()
}

/// `views` (one per host's folder, newest first) with the folders mapped into
/// a project taken together as one, where the newest of them was.
pub(crate) fn merge(views: Vec<ProjectView>, maps: &[ProjectMap], this: &str) -> Vec<ProjectView> {
    let name_of = |v: &ProjectView| {
        let host = v.host.as_deref().unwrap_or(this);
        let path = v.info.path.as_deref()?;
        maps.iter()
            .find(|m| m.host == host && m.path == path)
            .map(|m| m.name.clone())
    };
    let mut out: Vec<ProjectView> = Vec::with_capacity(views.len());
    for v in views {
        let Some(name) = name_of(&v) else {
            out.push(v);
            continue;
        };
        let folder = ProjectFolder {
            host: v.host.clone().unwrap_or_else(|| this.to_owned()),
            path: v.info.path.clone().unwrap_or_default(),
            sessions: v.info.sessions,
        };
        match out.iter_mut().find(|o| o.name.as_deref() == Some(&name)) {
            Some(o) => {
                o.info.sessions += v.info.sessions;
                o.info.size += v.info.size;
                o.info.last_modified = o.info.last_modified.max(v.info.last_modified);
                if let (Some(a), Some(b)) = (o.gone_sessions.as_mut(), v.gone_sessions) {
                    *a += b;
                }
                o.folders.push(folder);
            }
            None => {
                let mut o = v;
                o.info.path = Some(name.clone());
                o.host = None;
                o.name = Some(name);
                o.folders = vec![folder];
                out.push(o);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::git_project_name as name;

    #[test]
    fn remotes_of_one_repository_name_one_project() {
        for url in [
            "git@github.com:org/repo.git",
            "https://github.com/org/repo",
            "https://user:token@github.com/org/repo.git",
            "ssh://git@github.com:22/org/repo.git",
            "ssh://git@GitHub.com/org/repo/",
        ] {
            assert_eq!(name(url).as_deref(), Some("github.com/org/repo"), "{url}");
        }
        assert_eq!(name("/srv/git/repo.git"), None);
        assert_eq!(name("./repo"), None);
        assert_eq!(name("https://github.com/"), None);
    }
}
