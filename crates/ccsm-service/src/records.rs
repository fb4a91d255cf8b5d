//! The daemon's own state in the catalog (its runs, approvals, supervision
//! specs), as typed JSON records, so that a daemon restarted after a crash finds
//! what it was doing.

use serde::{de::DeserializeOwned, Serialize};

use crate::{Context as _, Result, Service};

/// Records read back: (key, value) of those that read, and the keys of those
/// that did not.
pub type Records<T> = (Vec<(String, T)>, Vec<String>);

impl Service {
    /// Stores `value` under `kind`/`key`, replacing what was there.
    pub fn save_record<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).context("encoding a daemon record")?;
        self.catalog()?.store.put_record(kind, key, &json)?;
        Ok(())
    }

    /// Every record of `kind` that reads as a `T`; one that does not (written by
    /// another version) is skipped and reported in the second list.
    pub fn load_records<T: DeserializeOwned>(&self, kind: &str) -> Result<Records<T>> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (key, value) in self.catalog()?.store.records(kind)? {
            match serde_json::from_str(&value) {
                Ok(v) => good.push((key, v)),
                Err(_) => bad.push(key),
            }
        }
        Ok((good, bad))
    }

    /// Removes a record; whether there was one.
    pub fn delete_record(&self, kind: &str, key: &str) -> Result<bool> {
        Ok(self.catalog()?.store.delete_record(kind, key)?)
    }
}
