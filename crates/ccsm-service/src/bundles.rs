//! Bundles: sessions written into one portable file with ccsm's own metadata,
//! and brought into another config dir (and its catalog) with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ccsm_core::views::{BundleMeta, NameSeq, NameView};
use ccsm_store::Store;
use ccsm_transcripts::portable::{redact, ImportOptions, Imported, Manifest};

use crate::error::invalid;
use crate::{Context as _, Error, Result, Service, Source};

/// What a bundle carries of ccsm's metadata for session `id` (none if nothing):
/// description, notes, tags and the names whose chain holds it. `redacted` masks
/// secrets in the free text as the transcripts are masked.
fn bundle_meta(store: &dyn Store, names: &[NameView], id: &str, redacted: bool) -> BundleMeta {
    let Ok(Some(s)) = store.session(id) else {
        return BundleMeta::default();
    };
    let clean = |t: &String| if redacted { redact(t) } else { t.clone() };
    BundleMeta {
        description: s.description.as_ref().map(clean),
        notes: s.notes.as_ref().map(clean),
        tags: s.tags,
        names: names
            .iter()
            .filter_map(|n| {
                let seq = n.sessions.iter().position(|x| x == id)?;
                Some(NameSeq {
                    name: n.name.clone(),
                    seq: seq as u64,
                })
            })
            .collect(),
    }
}

/// Gives imported sessions the metadata their bundle carried: tags are added,
/// a description or notes only where the session has none here, and a name only
/// if this catalog has no such name (its chain in the bundle's order). Returns
/// what was left as it was, to tell the user.
fn apply_bundle_meta(store: &dyn Store, imported: &[Imported]) -> Result<Vec<String>> {
    let mut kept = Vec::new();
    let mut chains: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for i in imported {
        if i.ccsm.is_null() {
            continue;
        }
        // What a bundle says is read leniently: a field of the wrong shape is
        // ignored, not a reason to refuse sessions already imported.
        let m = &i.ccsm;
        let Some(s) = store.session(&i.session_id)? else {
            continue;
        };
        let text = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        if let Some(d) = text("description") {
            if s.description.is_none() {
                store.set_description(&i.session_id, Some(&d))?;
            }
        }
        if let Some(n) = text("notes") {
            if s.notes.is_none() {
                store.set_notes(&i.session_id, Some(&n))?;
            }
        }
        let tags: Vec<String> = m
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !tags.is_empty() {
            store.add_tags(&i.session_id, &tags)?;
        }
        for n in m
            .get("names")
            .and_then(|n| n.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(seq)) = (n["name"].as_str(), n["seq"].as_u64()) else {
                continue;
            };
            chains
                .entry(name.to_owned())
                .or_default()
                .push((seq, i.session_id.clone()));
        }
    }
    for (name, mut chain) in chains {
        if store.name(&name)?.is_some() {
            kept.push(format!("the name {name:?} exists here: left as it is"));
            continue;
        }
        chain.sort();
        for (_, id) in chain {
            store.save_name(&name, &id)?;
        }
    }
    Ok(kept)
}

impl Service {
    /// Writes sessions (`ids`, else every session of `project`) into the bundle
    /// `out` (written whole or not at all). From the catalog, ccsm's metadata
    /// travels with them.
    pub fn export(
        &self,
        ids: &[String],
        project: Option<&Path>,
        redacted: bool,
        out: &Path,
        source: Source,
    ) -> Result<Manifest> {
        let tmp = out.with_extension("ccsm.partial");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let written = (|| {
            let catalog = match source {
                Source::Files => None,
                Source::Catalog => Some(self.fresh()?),
            };
            let names = match &catalog {
                Some(c) => c.store.names()?,
                None => Vec::new(),
            };
            let meta = |id: &str| match &catalog {
                Some(c) => {
                    let m = bundle_meta(c.store.as_ref(), &names, id, redacted);
                    if m.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::to_value(m).unwrap_or(serde_json::Value::Null)
                    }
                }
                None => serde_json::Value::Null,
            };
            Ok::<_, Error>(self.dir.export_with(
                ids,
                project,
                redacted,
                &meta,
                std::io::BufWriter::new(file),
            )?)
        })();
        match written {
            Ok(m) => {
                std::fs::rename(&tmp, out)?;
                Ok(m)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Brings the sessions of bundle `file` into this config dir (under `to` if
    /// given) and, from the catalog, their metadata into the catalog. Returns the
    /// sessions written and what of the metadata was left as it was.
    pub fn import(
        &self,
        file: &Path,
        to: Option<&Path>,
        new_ids: bool,
        force: bool,
        create: bool,
        source: Source,
    ) -> Result<(Vec<Imported>, Vec<String>)> {
        // Only a regular file: a FIFO would hang the import, a device never end.
        let meta =
            std::fs::metadata(file).with_context(|| format!("opening {}", file.display()))?;
        if !meta.is_file() {
            invalid!("{} is not a bundle file", file.display());
        }
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let to: Option<PathBuf> = match to {
            Some(t) => Some(self.existing_folder(t, create, "the --to folder")?),
            None => None,
        };
        if !self.dir.root.is_dir() {
            if !create {
                return Err(Error::not_found(format!(
                    "the config dir {} does not exist (--create makes it)",
                    self.dir.root.display()
                )));
            }
            std::fs::create_dir_all(self.dir.projects_dir())
                .with_context(|| format!("creating {}", self.dir.root.display()))?;
        }
        let done = self.dir.import(
            std::io::BufReader::new(f),
            &ImportOptions { to, new_ids, force },
        )?;
        // Into the catalog at once, with the metadata the bundle carried.
        let kept = match source {
            Source::Files => Vec::new(),
            Source::Catalog => apply_bundle_meta(self.fresh()?.store.as_ref(), &done)?,
        };
        Ok((done, kept))
    }
}
