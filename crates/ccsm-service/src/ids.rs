//! What a user may type where a session is meant: the whole id (any case), a
//! unique prefix of it (the short ids tables show), or the name of a conversation
//! (`ccsm run --session NAME`). An ambiguous prefix lists its candidates.

use ccsm_core::ErrorKind;

use crate::error::invalid;
use crate::{Error, Result, Service, Source};

impl Service {
    /// The full id `input` means. From the files alone (`Source::Files`): no
    /// names, and no sessions only the catalog still has.
    pub fn resolve_id(&self, input: &str, source: Source) -> Result<String> {
        let typed = input.trim();
        if let Ok(u) = uuid::Uuid::parse_str(typed) {
            return Ok(u.to_string());
        }
        let catalog = match source {
            Source::Files => None,
            Source::Catalog => self.catalog().ok(),
        };
        if let Some(c) = &catalog {
            if let Some(rec) = c.store.name(typed)? {
                if let Some(id) = rec.sessions.last() {
                    return Ok(id.clone());
                }
            }
        }
        let prefix = typed.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            invalid!("not a session id, id prefix or name: {typed:?}");
        }
        let mut found: Vec<String> = self
            .dir
            .session_files(&self.dir.project_dirs(None)?)
            .into_iter()
            .filter(|f| f.size > 0 && f.id.starts_with(&prefix))
            .map(|f| f.id)
            .collect();
        if let Some(c) = &catalog {
            found.extend(c.store.ids_with_prefix(&prefix, 20)?);
        }
        found.sort();
        found.dedup();
        match found.len() {
            0 => Err(Error::not_found(format!(
                "no session id starts with {typed:?}, and no conversation has that name"
            ))),
            1 => Ok(found.remove(0)),
            n => {
                let mut msg = format!("{typed:?} is ambiguous: {n} sessions start with it:");
                for id in found.iter().take(10) {
                    let summary = self
                        .dir
                        .info(id)
                        .map(|i| crate::one_line(&i.summary, 60))
                        .unwrap_or_default();
                    msg.push_str(&format!("\n  {id}  {summary}"));
                }
                if n > 10 {
                    msg.push_str(&format!("\n  … and {} more", n - 10));
                }
                msg.push_str("\ntype more of the id");
                Err(Error::new(ErrorKind::InvalidInput, msg))
            }
        }
    }
}
