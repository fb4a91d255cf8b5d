//! The catalog's rules about usage, in plain Rust so every backend applies the
//! same ones: which copy of a model call counts, and a session's totals from the
//! calls that count to it. A backend stores and fetches; it decides nothing here.
//!
//! One call (one API request, keyed by message and request id) can be written
//! several times: once per content block in its own file, and again in every
//! file that repeats it (a fork, a resumed copy). ccusage counts the largest copy
//! once; so does ccsm, and it keeps the other files' copies aside so that the call
//! still counts if the file it counted in goes away.

use std::cmp::Ordering;

use crate::CallRecord;

/// One copy of a model call as a backend stores it: the copy that counts, or
/// one kept aside.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallCopy {
    pub key: String,
    /// The transcript the copy was read from.
    pub file: String,
    pub session_id: String,
    pub ts: i64,
    pub model: String,
    /// input, output, cache 5m, cache 1h, cache read
    pub tokens: [i64; 5],
    pub cost: Option<f64>,
    /// When the copy's file started (its first call): of equal copies, the
    /// earlier file's counts (a fork repeats its original, which came first).
    pub rank_ts: Option<i64>,
}

impl CallCopy {
    pub fn total(&self) -> i64 {
        self.tokens.iter().sum()
    }

    /// How this copy compares to another of the same call as the one that
    /// counts: the larger total; of equal totals, the file that started first
    /// (a file whose start is unknown comes last), then the smaller path.
    pub fn precedence(&self, other: &Self) -> Ordering {
        let started = |c: &Self| c.rank_ts.unwrap_or(i64::MAX);
        self.total()
            .cmp(&other.total())
            .then_with(|| started(other).cmp(&started(self)))
            .then_with(|| other.file.cmp(&self.file))
    }

    /// Whether this copy counts in place of `other`.
    pub fn beats(&self, other: &Self) -> bool {
        self.precedence(other) == Ordering::Greater
    }

    /// Whether this copy replaces `other` as the one kept aside for the same
    /// file: only a larger one does (a file's first of equal copies stays).
    pub fn replaces_aside(&self, other: &Self) -> bool {
        self.total() > other.total()
    }
}

/// What to do when a file's copy of a call meets the stored one that counts:
/// the copy to keep aside (the loser, when it is another file's), and the copy
/// to make the one that counts (the new one, when it wins).
pub(crate) fn settle(new: CallCopy, old: CallCopy) -> (Option<CallCopy>, Option<CallCopy>) {
    let wins = new.beats(&old);
    let (winner, loser) = if wins { (new, old) } else { (old, new) };
    let aside = (winner.file != loser.file).then_some(loser);
    (aside, wins.then_some(winner))
}

/// The text of a session's title row (searched with ten times a body's
/// weight): its custom title, first prompt and summary, one per line.
pub(crate) fn title_text(s: &crate::SessionRecord) -> String {
    [
        s.custom_title.as_deref(),
        s.first_prompt.as_deref(),
        Some(s.summary.as_str()),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join("\n")
}

/// The copy that counts among several of one call, if any.
pub(crate) fn best(copies: impl IntoIterator<Item = CallCopy>) -> Option<CallCopy> {
    copies
        .into_iter()
        .reduce(|a, b| if b.beats(&a) { b } else { a })
}

/// Of one file's calls, which to write: for each key, its largest copy (the
/// first of equal ones); calls without a key are all kept. One line per content
/// block repeats a call within its file.
pub(crate) fn largest_per_key(calls: &[CallRecord]) -> Vec<bool> {
    let total = |c: &CallRecord| c.input + c.output + c.cache_5m + c.cache_1h + c.cache_read;
    let mut largest: std::collections::HashMap<&str, usize> = Default::default();
    let mut keep = vec![true; calls.len()];
    for (i, c) in calls.iter().enumerate() {
        let Some(k) = c.key.as_deref() else { continue };
        match largest.entry(k) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if total(c) > total(&calls[*e.get()]) {
                    keep[*e.get()] = false;
                    e.insert(i);
                } else {
                    keep[i] = false;
                }
            }
        }
    }
    keep
}

/// A stored comma-separated list (models, tools) as a list.
pub(crate) fn split_list(s: String) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A session's counters as stored: what an appended read adds to.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counters {
    pub messages: i64,
    pub turns: i64,
    pub tool_calls: i64,
    /// Comma-separated, as stored.
    pub models: String,
    pub tools: String,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub cli_cost: Option<f64>,
}

/// A session's counters after a read of its transcript: the read's own when it
/// read the whole file (`prev` is `None`), else added to what earlier reads
/// stored (counts summed, model and tool lists merged and sorted, the earliest
/// first and latest last activity, the CLI's cost kept if this read has none).
pub(crate) fn accumulate(s: &crate::SessionRecord, prev: Option<Counters>) -> Counters {
    let mut models = s.models.clone();
    let mut tools = s.tools.clone();
    let mut c = Counters {
        messages: s.messages as i64,
        turns: s.user_turns as i64,
        tool_calls: s.tool_calls as i64,
        first: s.first_activity,
        last: s.last_activity,
        cli_cost: s.cli_cost_usd,
        ..Default::default()
    };
    if let Some(p) = prev {
        c.messages += p.messages;
        c.turns += p.turns;
        c.tool_calls += p.tool_calls;
        c.cli_cost = c.cli_cost.or(p.cli_cost);
        for (list, stored) in [(&mut models, &p.models), (&mut tools, &p.tools)] {
            for x in stored.split(',').filter(|x| !x.is_empty()) {
                if !list.iter().any(|have| have == x) {
                    list.push(x.to_owned());
                }
            }
        }
        c.first = match (c.first, p.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        c.last = match (c.last, p.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    models.sort();
    tools.sort();
    c.models = models.join(",");
    c.tools = tools.join(",");
    c
}

/// A session's token and cost totals, from the calls that count to it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Totals {
    pub input: i64,
    pub output: i64,
    /// cache writes, 5 minutes and 1 hour
    pub cache_creation: i64,
    pub cache_read: i64,
    pub cost: f64,
}

/// Recounts a session's totals from its calls' tokens (input, output, cache 5m,
/// cache 1h, cache read) and costs. Costs are summed with Neumaier's
/// compensation, so the total does not depend on the order the backend returns
/// the calls in (nor drift from SQLite's own `SUM`, which compensates too).
pub(crate) fn recount(calls: impl IntoIterator<Item = ([i64; 5], Option<f64>)>) -> Totals {
    let mut t = Totals::default();
    let (mut sum, mut carry) = (0.0f64, 0.0f64);
    for ([i, o, c5, c1, cr], cost) in calls {
        t.input += i;
        t.output += o;
        t.cache_creation += c5 + c1;
        t.cache_read += cr;
        if let Some(x) = cost {
            let s = sum + x;
            carry += if sum.abs() >= x.abs() {
                (sum - s) + x
            } else {
                (x - s) + sum
            };
            sum = s;
        }
    }
    t.cost = sum + carry;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(file: &str, tokens: i64, rank_ts: Option<i64>) -> CallCopy {
        CallCopy {
            key: "k".into(),
            file: file.into(),
            session_id: "s".into(),
            ts: 1,
            model: "m".into(),
            tokens: [tokens, 0, 0, 0, 0],
            cost: None,
            rank_ts,
        }
    }

    #[test]
    fn the_largest_copy_counts_then_the_earlier_file_then_the_smaller_path() {
        assert!(copy("b", 2, Some(9)).beats(&copy("a", 1, Some(1))));
        assert!(copy("b", 1, Some(1)).beats(&copy("a", 1, Some(2))));
        assert!(copy("a", 1, Some(1)).beats(&copy("b", 1, Some(1))));
        assert!(!copy("a", 1, Some(1)).beats(&copy("a", 1, Some(1))));
        assert!(copy("z", 1, Some(5)).beats(&copy("a", 1, None)));
        let picked = best([
            copy("c", 1, Some(3)),
            copy("b", 1, Some(2)),
            copy("a", 1, Some(2)),
        ]);
        assert_eq!(picked.map(|c| c.file), Some("a".into()));
        assert_eq!(best(Vec::new()), None);
    }

    #[test]
    fn a_files_largest_copy_of_each_call_is_written_the_first_of_equal_ones() {
        let call = |key: Option<&str>, output: u64| CallRecord {
            key: key.map(Into::into),
            output,
            ..Default::default()
        };
        let calls = [
            call(Some("a"), 1),
            call(Some("a"), 5),
            call(Some("a"), 5),
            call(None, 1),
            call(None, 1),
            call(Some("b"), 2),
        ];
        assert_eq!(
            largest_per_key(&calls),
            vec![false, true, false, true, true, true]
        );
    }

    #[test]
    fn a_recount_sums_tokens_and_compensates_the_cost() {
        let t = recount([
            ([1, 2, 3, 4, 5], Some(1e16)),
            ([1, 0, 0, 0, 0], Some(1.0)),
            ([0; 5], None),
            ([0; 5], Some(-1e16)),
        ]);
        assert_eq!(
            (t.input, t.output, t.cache_creation, t.cache_read),
            (2, 2, 7, 5)
        );
        assert_eq!(t.cost, 1.0);
    }
}
