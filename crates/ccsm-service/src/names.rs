//! Named conversations: a name stands for a chain of CLI sessions, newest last
//! (`run --session NAME` continues the latest and adds each new one).

use ccsm_core::views::NameView;

use crate::{Error, Result, Service};

impl Service {
    /// Every name with its conversation's sessions.
    pub fn names(&self) -> Result<Vec<NameView>> {
        Ok(self.catalog()?.store.names()?)
    }

    /// One name's chain of session ids, oldest first.
    pub fn name(&self, name: &str) -> Result<NameView> {
        self.catalog()?
            .store
            .name(name)?
            .ok_or_else(|| Error::not_found(format!("no name {name:?}")))
    }

    /// Forgets a name (the sessions stay).
    pub fn remove_name(&self, name: &str) -> Result<()> {
        if !self.catalog()?.store.remove_name(name)? {
            return Err(Error::not_found(format!("no name {name:?}")));
        }
        Ok(())
    }

    /// Records that the conversation `name` went on in `session_id` (a no-op when
    /// it is already its latest session).
    pub fn save_name(&self, name: &str, session_id: &str) -> Result<()> {
        Ok(self.catalog()?.store.save_name(name, session_id)?)
    }
}
