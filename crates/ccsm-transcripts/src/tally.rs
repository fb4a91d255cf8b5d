//! Tokens, cost and model of one transcript so far, kept up to date by reading
//! only what was appended since the last look: what the process table shows for
//! a Claude Code process ccsm did not start (its registry file has no usage).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ccsm_core::usage::Tokens;

use crate::pricing::PricingTable;
use crate::usage::{usage_call, LineUsage};

const CHUNK: usize = 1 << 20;

/// A running count of one transcript's usage, by the reports' rule (the largest
/// call of each `message.id:requestId`, lines that break the rule not counted).
#[derive(Debug, Clone)]
pub struct Tally {
    path: PathBuf,
    /// Where the next unread line starts.
    offset: u64,
    /// Which file was read (a replaced file is read again from the start).
    ident: Option<(u64, u64)>,
    /// The largest call of each key counted so far, and its cost.
    keys: HashMap<Box<str>, (Tokens, f64)>,
    tokens: Tokens,
    cost_usd: f64,
    model: Option<String>,
}

impl Tally {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            offset: 0,
            ident: None,
            keys: HashMap::new(),
            tokens: Tokens::default(),
            cost_usd: 0.0,
            model: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token counted so far.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// USD at `pricing` of the calls counted (models it does not price add 0).
    pub fn cost_usd(&self) -> f64 {
        self.cost_usd
    }

    /// The model of the newest call.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Reads the lines appended since the last call; a line still being written
    /// waits for the next. A file that shrank or was replaced is counted again.
    pub fn advance(&mut self, pricing: &PricingTable) -> std::io::Result<()> {
        let mut f = std::fs::File::open(&self.path)?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let ident = file_ident(&meta);
        if self.ident != Some(ident) || meta.len() < self.offset {
            *self = Self::new(std::mem::take(&mut self.path));
            self.ident = Some(ident);
        }
        if meta.len() == self.offset {
            return Ok(());
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut f = f.take(meta.len() - self.offset);
        let mut buf = vec![0u8; CHUNK];
        let mut line: Vec<u8> = Vec::new();
        // Bytes read so far, and where the last whole line ended.
        let (mut read, mut whole) = (0u64, 0u64);
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', &buf[..n]) {
                if line.is_empty() {
                    self.count(&buf[start..nl], pricing);
                } else {
                    line.extend_from_slice(&buf[start..nl]);
                    let l = std::mem::take(&mut line);
                    self.count(&l, pricing);
                }
                whole = read + nl as u64 + 1;
                start = nl + 1;
            }
            line.extend_from_slice(&buf[start..n]);
            read += n as u64;
        }
        // What follows the last newline is read again next time.
        self.offset += whole;
        Ok(())
    }

    fn count(&mut self, line: &[u8], pricing: &PricingTable) {
        if memchr::memmem::find(line, b"\"usage\"").is_none() {
            return;
        }
        let LineUsage::Call(call) = usage_call(line) else {
            return;
        };
        let t = call.tokens;
        let cost = call
            .model
            .as_deref()
            .and_then(|m| pricing.price(m))
            .map_or(0.0, |p| p.cost_of(&t));
        if let Some(key) = call.key {
            match self.keys.get_mut(key.as_str()) {
                // A streamed message is written more than once; its largest counts.
                Some(best) if t.total() > best.0.total() => {
                    self.tokens.sub(&best.0);
                    self.cost_usd -= best.1;
                    *best = (t, cost);
                }
                Some(_) => return,
                None => {
                    self.keys.insert(key.into_boxed_str(), (t, cost));
                }
            }
        }
        self.tokens.add(&t);
        self.cost_usd += cost;
        // `<synthetic>` marks a message the CLI made itself, not a model.
        if let Some(m) = call.model.filter(|m| !m.starts_with('<')) {
            self.model = Some(m);
        }
    }
}

#[cfg(unix)]
fn file_ident(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_ident(m: &std::fs::Metadata) -> (u64, u64) {
    let created = m
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    (created, 0)
}
