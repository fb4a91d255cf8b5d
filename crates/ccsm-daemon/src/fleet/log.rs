//! A live session's events: numbered, kept in a bounded buffer for readers that
//! come back, and sent to every subscriber of the fleet.
//!
//! Each record is serialized once, when it is published; every subscriber gets
//! the same shared frame, so fanning out costs a pointer copy per subscriber and
//! a slow subscriber holds nothing but its place in the fleet's ring.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ccsm_core::{Event, EventRecord};
use serde::Serialize;
use tokio::sync::broadcast;

/// One published event and its frame as the streams send it.
#[derive(Debug)]
pub struct Published {
    pub record: EventRecord,
    /// `{"type": "<wire name>", "seq": …, "at": …, "session": …, "event": {…}}`.
    pub frame: Arc<str>,
}

#[derive(Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    record: &'a EventRecord,
}

/// The frame of a record (what WebSocket and SSE subscribers read).
pub fn frame_of(record: &EventRecord) -> Arc<str> {
    let frame = Frame {
        kind: record.event.wire_name(),
        record,
    };
    Arc::from(serde_json::to_string(&frame).unwrap_or_else(|_| "{}".into()))
}

/// A session's numbered events (the newest `cap` of them).
#[derive(Debug)]
pub struct EventLog {
    session: String,
    cap: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    next: u64,
    buf: VecDeque<Arc<Published>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What a reader gets back from the buffer: the events after the number it saw,
/// and how many it missed because the buffer no longer holds them.
#[derive(Debug, Default)]
pub struct Replay {
    pub missed: u64,
    pub events: Vec<Arc<Published>>,
    /// The number of the last event in `events` (or the one asked for).
    pub last: u64,
}

impl EventLog {
    pub fn new(session: String, cap: usize) -> Self {
        Self {
            session,
            cap: cap.max(1),
            inner: Mutex::new(Ring {
                next: 1,
                buf: VecDeque::new(),
            }),
        }
    }

    /// Numbers and keeps `event`, and sends it to the fleet's subscribers (under
    /// the lock, so they see one session's events in order).
    pub fn publish(&self, event: Event, fleet: &broadcast::Sender<Arc<Published>>) -> u64 {
        let Ok(mut ring) = self.inner.lock() else {
            return 0;
        };
        let seq = ring.next;
        ring.next += 1;
        let record = EventRecord {
            seq,
            at: now_ms(),
            session: Some(self.session.clone()),
            event,
        };
        let published = Arc::new(Published {
            frame: frame_of(&record),
            record,
        });
        if ring.buf.len() == self.cap {
            ring.buf.pop_front();
        }
        ring.buf.push_back(published.clone());
        // No subscriber is not an error.
        let _ = fleet.send(published);
        seq
    }

    /// The number of the newest event (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.inner.lock().map_or(0, |r| r.next - 1)
    }

    /// The events after `after` that the buffer still holds.
    pub fn replay(&self, after: u64) -> Replay {
        let Ok(ring) = self.inner.lock() else {
            return Replay::default();
        };
        let oldest = ring.buf.front().map_or(ring.next, |p| p.record.seq);
        let missed = oldest.saturating_sub(after + 1);
        let events: Vec<_> = ring
            .buf
            .iter()
            .filter(|p| p.record.seq > after)
            .cloned()
            .collect();
        let last = events.last().map_or(after, |p| p.record.seq);
        Replay {
            missed,
            events,
            last,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_reader_gets_what_it_missed_and_is_told_what_the_buffer_dropped() {
        let (tx, _rx) = broadcast::channel(16);
        let log = EventLog::new("s".into(), 3);
        for i in 0..5 {
            log.publish(
                Event::Stderr {
                    text: format!("{i}"),
                },
                &tx,
            );
        }
        let r = log.replay(0);
        assert_eq!(r.missed, 2);
        assert_eq!(
            r.events.iter().map(|p| p.record.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        let r = log.replay(4);
        assert_eq!((r.missed, r.events.len(), r.last), (0, 1, 5));
        let r = log.replay(5);
        assert_eq!((r.missed, r.events.len(), r.last), (0, 0, 5));
        assert!(r.events.is_empty());
        let frame = &log.replay(4).events[0].frame;
        assert!(
            frame.starts_with(r#"{"type":"claude-error","seq":5,"#),
            "{frame}"
        );
    }
}
