//! Waiting for a change of the shared records: a connection of its own that
//! `LISTEN`s on the channel [`PgStore::put_shared`] notifies (its payload is
//! the kind of record written), so a daemon learns of a command left for it
//! when it is left, not at its next look.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator as _;

use super::{off_runtime, PgStore};
use crate::{Error, Result};

/// The channel `put_shared` notifies.
pub(super) const CHANNEL: &str = "ccsm_shared";

/// The listening connection, made at the first wait, and the kinds it heard
/// of that no wait has taken yet.
#[derive(Default)]
pub(super) struct Listener {
    pub(super) client: Option<postgres::Client>,
    heard: HashSet<String>,
}

impl PgStore {
    pub(super) fn wait_shared_here(&self, kind: &str, timeout: Duration) -> Result<bool> {
        let mut l = self
            .listener
            .lock()
            .map_err(|_| Error::Unavailable(format!("{}: listener poisoned", self.shown)))?;
        if l.heard.remove(kind) {
            return Ok(true);
        }
        if l.client.is_none() {
            let mut c = self
                .config
                .connect(postgres::NoTls)
                .map_err(|e| Error::Unavailable(format!("{}: {e}", self.shown)))?;
            c.batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(|e| Error::Unavailable(format!("{}: {e}", self.shown)))?;
            l.client = Some(c);
        }
        let deadline = Instant::now() + timeout;
        let (heard, failed) = match l.client.as_mut() {
            Some(c) => hear(c, kind, deadline),
            None => return Ok(false),
        };
        if let Some(e) = failed {
            // Made again at the next wait (the server may have restarted).
            let dead = l.client.take();
            let _ = off_runtime(move || {
                drop(dead);
                Ok(())
            });
            return Err(Error::Unavailable(format!("{}: {e}", self.shown)));
        }
        let mut mine = false;
        for k in heard {
            if k == kind {
                mine = true;
            } else {
                l.heard.insert(k);
            }
        }
        Ok(mine)
    }
}

/// The kinds notified on `c` until `kind` is, or `deadline`; and why the
/// connection failed, if it did.
fn hear(c: &mut postgres::Client, kind: &str, deadline: Instant) -> (Vec<String>, Option<String>) {
    let mut heard = Vec::new();
    let mut failed = None;
    {
        let mut notices = c.notifications();
        let mut iter = notices.timeout_iter(deadline.saturating_duration_since(Instant::now()));
        loop {
            match iter.next() {
                Ok(Some(n)) => {
                    heard.push(n.payload().to_owned());
                    if n.payload() == kind {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
    }
    // No notice may also be a server gone: then the connection is closed.
    if failed.is_none() && c.is_closed() {
        failed = Some("the connection was closed".to_owned());
    }
    (heard, failed)
}
