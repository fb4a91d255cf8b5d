//! Which lines of a transcript make its conversation, as the official SDK's
//! `getSessionMessages` decides: the leaf, the chain from it through `parentUuid`,
//! and the side branches the CLI writes for parallel tool calls.
//!
//! The first pass keeps one small record per entry ([`EntryRef`]); only the lines
//! of the chain are read again to build messages, so a file of any size stays in
//! bounded memory.
//!
//! The SDK's rules, in the order it applies them:
//! 1. entries are the `user`, `assistant`, `system`, `progress` and `attachment`
//!    lines with a string `uuid`; a uuid seen twice keeps the later line;
//! 2. compactions re-parent the messages they kept ([`relink_compactions`]);
//! 3. the *terminals* are entries no main-thread entry hangs from (a main-thread
//!    entry: not a sidechain, not a teammate's, not `progress`, not a fork
//!    briefing); newest first, the first whose ancestors hold a user or assistant
//!    entry gives the leaf: the nearest such ancestor;
//! 4. failing that, the newest user/assistant entry reached from any entry nothing
//!    hangs from, main-thread and not meta if there is one;
//! 5. parallel tool calls: the CLI writes each `tool_use` block of one model
//!    message as its own line and hangs each result off its own call, so only
//!    the last result is on the chain. For each assistant message on the chain,
//!    the lines of the same message (`message.id`) that are off the chain and the
//!    tool results that answer them are put back after it, by timestamp.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use crate::{io, Result};

/// One entry of a conversation, as the first pass keeps it.
#[derive(Debug, Clone)]
pub(crate) struct EntryRef {
    pub uuid: String,
    pub parent: Option<String>,
    pub kind: u8,
    pub meta: bool,
    pub sidechain: bool,
    /// `teamName` is set (a teammate's line).
    pub team: bool,
    /// An attachment of type `fork_briefing`.
    pub fork_briefing: bool,
    /// `message.id` of an assistant line.
    pub msg_id: Option<String>,
    /// Ids of the `tool_use` blocks of an assistant line.
    pub tool_uses: Vec<String>,
    /// `tool_use_id`s of the `tool_result` blocks of a user line.
    pub tool_results: Vec<String>,
    pub source_tool_assistant: Option<String>,
    pub agent_id: Option<String>,
    pub timestamp: Option<String>,
    pub offset: u64,
    pub len: u32,
}

pub(crate) const KIND_USER: u8 = 1;
pub(crate) const KIND_ASSISTANT: u8 = 2;
pub(crate) const KIND_SYSTEM: u8 = 3;
pub(crate) const KIND_ATTACHMENT: u8 = 4;
pub(crate) const KIND_PROGRESS: u8 = 5;

impl EntryRef {
    fn is_message(&self) -> bool {
        self.kind == KIND_USER || self.kind == KIND_ASSISTANT
    }
    /// On the main thread, for choosing the leaf (the SDK's terminal filter).
    fn main_thread(&self) -> bool {
        !self.sidechain && !self.team && self.kind != KIND_PROGRESS && !self.fork_briefing
    }
    /// A user line with a parent that carries a tool result.
    fn is_tool_result(&self) -> bool {
        self.kind == KIND_USER && self.parent.is_some() && !self.tool_results.is_empty()
    }
}

/// The scalar `visit_*` methods of a lenient visitor: each gives `$v` (a value of
/// an unexpected type is not an error, as the SDK's `typeof` checks are not).
macro_rules! scalars_give {
    ($v:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($v)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($v)
        }
    };
}

/// Any JSON value where a string is expected counts as absent (the SDK checks
/// `typeof x === "string"`); a line is never refused for an odd field.
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        scalars_give!(None);
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// `true` only for JSON `true`.
fn lenient_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(matches!(
        serde_json::Value::deserialize(d)?,
        serde_json::Value::Bool(true)
    ))
}

#[derive(Deserialize)]
struct EntryHead<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    uuid: Option<Cow<'a, str>>,
    #[serde(
        rename = "parentUuid",
        borrow,
        default,
        deserialize_with = "lenient_str"
    )]
    parent: Option<Cow<'a, str>>,
    #[serde(rename = "isMeta", default, deserialize_with = "lenient_true")]
    meta: bool,
    #[serde(rename = "isSidechain", default, deserialize_with = "lenient_true")]
    sidechain: bool,
    #[serde(rename = "teamName", borrow, default, deserialize_with = "lenient_str")]
    team: Option<Cow<'a, str>>,
    #[serde(
        rename = "sourceToolAssistantUUID",
        borrow,
        default,
        deserialize_with = "lenient_str"
    )]
    source_tool_assistant: Option<Cow<'a, str>>,
    #[serde(rename = "agentId", borrow, default, deserialize_with = "lenient_str")]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<MessageHead<'a>>,
    #[serde(borrow, default)]
    attachment: Option<AttachmentHead<'a>>,
}

#[derive(Deserialize, Default)]
struct MessageHead<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Blocks<'a>,
}

#[derive(Deserialize, Default)]
struct AttachmentHead<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_str")]
    kind: Option<Cow<'a, str>>,
}

/// The content blocks of a message: a string (no blocks) or an array of them.
#[derive(Default)]
struct Blocks<'a>(Vec<BlockHead<'a>>);

#[derive(Deserialize)]
struct BlockHead<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    tool_use_id: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Blocks<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Blocks<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("message content")
            }
            scalars_give!(Blocks::default());
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                // A block that is not an object (the SDK skips it) is skipped here too.
                while let Some(b) = a.next_element::<MaybeBlock<'a>>()? {
                    if let MaybeBlock(Some(b)) = b {
                        out.push(b);
                    }
                }
                Ok(Blocks(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Blocks::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Blocks::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An array element that may not be an object.
struct MaybeBlock<'a>(Option<BlockHead<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeBlock<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MaybeBlock<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a content block")
            }
            scalars_give!(MaybeBlock(None));
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                a: A,
            ) -> Result<Self::Value, A::Error> {
                BlockHead::deserialize(serde::de::value::MapAccessDeserializer::new(a))
                    .map(|b| MaybeBlock(Some(b)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeBlock(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MaybeBlock(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A line as JavaScript's `JSON.parse` would take it, for serde: invalid UTF-8
/// replaced (as Node decodes a buffer), a lone surrogate escape (`\ud800`, a cut
/// emoji) made U+FFFD, a number out of range (`1e400`, Infinity in JavaScript)
/// made `null` (what the SDK's JSON then says). Used only when a line does not
/// parse as it is.
pub(crate) fn js_compatible(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_str = false;
    let hex4 = |at: usize| -> Option<u16> {
        let h = text.get(at..at + 4)?;
        u16::from_str_radix(h, 16).ok()
    };
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' && i + 1 < b.len() {
                if b[i + 1] == b'u' {
                    if let Some(u) = hex4(i + 2) {
                        let high = (0xD800..0xDC00).contains(&u);
                        let low = (0xDC00..0xE000).contains(&u);
                        let paired = high
                            && text.get(i + 6..i + 8) == Some("\\u")
                            && hex4(i + 8).is_some_and(|l| (0xDC00..0xE000).contains(&l));
                        if paired {
                            out.push_str(&text[i..i + 12]);
                            i += 12;
                            continue;
                        }
                        if high || low {
                            out.push_str("\\ufffd");
                            i += 6;
                            continue;
                        }
                    }
                }
                // The escaped character whole (it may be several bytes long).
                out.push('\\');
                i += 1;
                let n = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + n]);
                i += n;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            let num = &text[start..i];
            if num.parse::<f64>().is_ok_and(|x| !x.is_finite()) {
                out.push_str("null");
            } else {
                out.push_str(num);
            }
            continue;
        }
        // Whole characters: `c` may start a multi-byte one.
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// What a compaction boundary says about the messages it kept.
#[derive(Deserialize)]
struct BoundaryLine {
    #[serde(rename = "compactMetadata")]
    meta: Option<CompactMeta>,
}

#[derive(Deserialize)]
struct CompactMeta {
    #[serde(rename = "preservedMessages")]
    messages: Option<PreservedMessages>,
    #[serde(rename = "preservedSegment")]
    segment: Option<PreservedSegment>,
}

#[derive(Deserialize)]
struct PreservedMessages {
    #[serde(rename = "anchorUuid")]
    anchor: String,
    uuids: Vec<String>,
}

#[derive(Deserialize)]
struct PreservedSegment {
    #[serde(rename = "headUuid")]
    head: String,
    #[serde(rename = "anchorUuid")]
    anchor: String,
    #[serde(rename = "tailUuid")]
    tail: String,
}

/// The entries of a transcript, a uuid seen twice keeping its first place and its
/// later line (as a JavaScript `Map` does), compactions applied. The second value
/// is each entry's last position in the file.
pub(crate) struct Entries {
    pub nodes: Vec<EntryRef>,
    pub file_pos: Vec<usize>,
    index: HashMap<String, usize>,
}

impl Entries {
    fn get(&self, uuid: &str) -> Option<&EntryRef> {
        self.index.get(uuid).map(|&i| &self.nodes[i])
    }
    fn pos(&self, uuid: &str) -> Option<usize> {
        self.index.get(uuid).copied()
    }
}

pub(crate) fn index_entries(path: &Path) -> Result<Entries> {
    let f = File::open(path).map_err(io(path))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut nodes: Vec<EntryRef> = Vec::new();
    let mut file_pos: Vec<usize> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut boundaries = Vec::new();
    let mut offset = 0u64;
    let mut line = Vec::new();
    let mut seq = 0usize;
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).map_err(io(path))?;
        if n == 0 {
            break;
        }
        let start = offset;
        offset += n as u64;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        // Cheap check first: only lines of conversation entries carry a uuid.
        if memchr::memmem::find(body, b"\"uuid\"").is_none() {
            continue;
        }
        let fixed;
        let h = match serde_json::from_slice::<EntryHead<'_>>(body) {
            Ok(h) => h,
            Err(_) => {
                // What JavaScript would read of it (a cut emoji, a stray byte, 1e400).
                fixed = js_compatible(body);
                match serde_json::from_str::<EntryHead<'_>>(&fixed) {
                    Ok(h) => h,
                    Err(_) => continue,
                }
            }
        };
        if memchr::memmem::find(body, b"\"compactMetadata\"").is_some() {
            if let Ok(BoundaryLine { meta: Some(m) }) = serde_json::from_slice(body) {
                boundaries.push(m);
            }
        }
        let (Some(kind), Some(uuid)) = (h.kind, h.uuid) else {
            continue;
        };
        let kind = match kind.as_ref() {
            "user" => KIND_USER,
            "assistant" => KIND_ASSISTANT,
            "system" => KIND_SYSTEM,
            "attachment" => KIND_ATTACHMENT,
            "progress" => KIND_PROGRESS,
            _ => continue,
        };
        let Ok(len) = u32::try_from(body.len()) else {
            continue;
        };
        let msg = h.message.unwrap_or_default();
        let blocks_of = |want: &str, ids: bool| -> Vec<String> {
            msg.content
                .0
                .iter()
                .filter(|b| b.kind.as_deref() == Some(want))
                .filter_map(|b| {
                    if ids {
                        b.id.as_deref()
                    } else {
                        b.tool_use_id.as_deref()
                    }
                })
                .map(str::to_owned)
                .collect()
        };
        let entry = EntryRef {
            parent: h.parent.map(Cow::into_owned),
            kind,
            meta: h.meta,
            sidechain: h.sidechain,
            team: h.team.is_some_and(|t| !t.is_empty()),
            fork_briefing: kind == KIND_ATTACHMENT
                && h.attachment.and_then(|a| a.kind).as_deref() == Some("fork_briefing"),
            msg_id: if kind == KIND_ASSISTANT {
                msg.id.as_deref().map(str::to_owned)
            } else {
                None
            },
            tool_uses: if kind == KIND_ASSISTANT {
                blocks_of("tool_use", true)
            } else {
                Vec::new()
            },
            tool_results: if kind == KIND_USER {
                blocks_of("tool_result", false)
            } else {
                Vec::new()
            },
            source_tool_assistant: h.source_tool_assistant.map(Cow::into_owned),
            agent_id: h.agent_id.map(Cow::into_owned),
            timestamp: h.timestamp.map(Cow::into_owned),
            uuid: uuid.into_owned(),
            offset: start,
            len,
        };
        match index.get(&entry.uuid) {
            Some(&i) => {
                file_pos[i] = seq;
                nodes[i] = entry;
            }
            None => {
                index.insert(entry.uuid.clone(), nodes.len());
                nodes.push(entry);
                file_pos.push(seq);
            }
        }
        seq += 1;
    }
    relink_compactions(&mut nodes, &index, boundaries);
    Ok(Entries {
        nodes,
        file_pos,
        index,
    })
}

/// Re-parents the messages a compaction kept so they follow its summary, as the SDK
/// does: kept messages chain from the anchor (the summary), and what hung from the
/// anchor before now hangs from the last kept message.
fn relink_compactions(
    entries: &mut [EntryRef],
    index: &HashMap<String, usize>,
    boundaries: Vec<CompactMeta>,
) {
    for meta in boundaries {
        if let Some(pm) = meta.messages {
            if pm.uuids.is_empty() || pm.uuids.iter().any(|u| !index.contains_key(u)) {
                continue;
            }
            let mut prev = pm.anchor.clone();
            for u in &pm.uuids {
                entries[index[u]].parent = Some(prev.clone());
                prev = u.clone();
            }
            let (first, last) = (&pm.uuids[0], prev);
            for e in entries.iter_mut() {
                if e.parent.as_deref() == Some(pm.anchor.as_str()) && e.uuid != *first {
                    e.parent = Some(last.clone());
                }
            }
        } else if let Some(seg) = meta.segment {
            if let Some(&h) = index.get(&seg.head) {
                entries[h].parent = Some(seg.anchor.clone());
            }
            for e in entries.iter_mut() {
                if e.parent.as_deref() == Some(seg.anchor.as_str()) && e.uuid != seg.head {
                    e.parent = Some(seg.tail.clone());
                }
            }
        }
    }
}

/// The conversation's entries in order: the chain from the leaf, with the side
/// branches of parallel tool calls put back (rules 3 to 5 of the module docs).
pub(crate) fn conversation(entries: &Entries) -> Vec<&EntryRef> {
    let nodes = &entries.nodes;
    let pos_in_file = |e: &EntryRef| entries.pos(&e.uuid).map_or(0, |i| entries.file_pos[i]);
    let parent_of = |e: &EntryRef| e.parent.as_deref().and_then(|p| entries.get(p));

    // Rule 3: terminals of the main thread, newest first.
    let hung_from: HashSet<&str> = nodes
        .iter()
        .filter(|e| e.main_thread())
        .filter_map(|e| e.parent.as_deref())
        .collect();
    let mut terminals: Vec<&EntryRef> = nodes
        .iter()
        .filter(|e| e.main_thread() && !hung_from.contains(e.uuid.as_str()))
        .collect();
    terminals.sort_by_key(|e| std::cmp::Reverse(pos_in_file(e)));
    let mut done: HashSet<&str> = HashSet::new();
    let mut leaf: Option<&EntryRef> = None;
    'terminals: for t in terminals {
        let mut walked = Vec::new();
        let mut here: HashSet<&str> = HashSet::new();
        let mut cur = Some(t);
        while let Some(c) = cur {
            if done.contains(c.uuid.as_str()) || !here.insert(c.uuid.as_str()) {
                break;
            }
            if c.is_message() {
                leaf = Some(c);
                break 'terminals;
            }
            walked.push(c.uuid.as_str());
            cur = parent_of(c);
        }
        done.extend(walked);
    }

    // Rule 4: the newest message reached from any entry nothing hangs from.
    let leaf = match leaf {
        Some(l) => l,
        None => {
            let parents: HashSet<&str> = nodes.iter().filter_map(|e| e.parent.as_deref()).collect();
            let mut found: Vec<&EntryRef> = Vec::new();
            for e in nodes.iter().filter(|e| !parents.contains(e.uuid.as_str())) {
                let mut seen = HashSet::new();
                let mut cur = Some(e);
                while let Some(c) = cur {
                    if !seen.insert(c.uuid.as_str()) {
                        break;
                    }
                    if c.is_message() {
                        found.push(c);
                        break;
                    }
                    cur = parent_of(c);
                }
            }
            // The first of equal positions wins, as the SDK's reduce keeps it.
            let newest = |v: &[&'_ EntryRef]| -> Option<usize> {
                let mut best: Option<usize> = None;
                for (i, &e) in v.iter().enumerate() {
                    if best.is_none_or(|b| pos_in_file(e) > pos_in_file(v[b])) {
                        best = Some(i);
                    }
                }
                best
            };
            let main: Vec<&EntryRef> = found
                .iter()
                .copied()
                .filter(|e| !e.sidechain && !e.team && !e.meta)
                .collect();
            match (newest(&main), newest(&found)) {
                (Some(i), _) => main[i],
                (None, Some(i)) => found[i],
                (None, None) => return Vec::new(),
            }
        }
    };

    let mut chain = Vec::new();
    let mut on_chain: HashSet<&str> = HashSet::new();
    let mut cur = Some(leaf);
    while let Some(c) = cur {
        if !on_chain.insert(c.uuid.as_str()) {
            break; // a cycle in damaged data
        }
        chain.push(c);
        cur = parent_of(c);
    }
    chain.reverse();
    parallel_branches(entries, chain, on_chain)
}

/// Rule 5: the lines of each chain assistant message that are off the chain, and
/// the tool results that answer them, put back after it (the SDK's order).
fn parallel_branches<'a>(
    entries: &'a Entries,
    chain: Vec<&'a EntryRef>,
    mut on_chain: HashSet<&'a str>,
) -> Vec<&'a EntryRef> {
    let nodes = &entries.nodes;
    if !chain.iter().any(|e| e.kind == KIND_ASSISTANT) {
        return chain;
    }
    // The chain's (last) line of each model message.
    let mut chain_line_of: HashMap<&str, &EntryRef> = HashMap::new();
    for e in chain.iter().filter(|e| e.kind == KIND_ASSISTANT) {
        if let Some(id) = e.msg_id.as_deref() {
            chain_line_of.insert(id, e);
        }
    }
    // Every line of each model message; which line made each tool call (none when
    // two messages claim one call id).
    let mut lines_of: HashMap<&str, Vec<&EntryRef>> = HashMap::new();
    let mut caller: HashMap<&str, Option<&EntryRef>> = HashMap::new();
    let mut results: Vec<&EntryRef> = Vec::new();
    for e in nodes {
        if let Some(id) = e.msg_id.as_deref() {
            lines_of.entry(id).or_default().push(e);
            for t in &e.tool_uses {
                let v = match caller.get(t.as_str()) {
                    None => Some(e),
                    Some(Some(prev)) if prev.msg_id.as_deref() == Some(id) => Some(e),
                    Some(_) => None,
                };
                caller.insert(t.as_str(), v);
            }
        } else if e.is_tool_result() {
            results.push(e);
        }
    }
    let same_thread =
        |a: &EntryRef, b: &EntryRef| a.sidechain == b.sidechain && a.agent_id == b.agent_id;
    // Which tool results hang off each line (by parent, by source, by call id).
    let mut answers: HashMap<&str, Vec<&EntryRef>> = HashMap::new();
    let mut linked: HashSet<(&str, &str)> = HashSet::new();
    let mut link = |from: &'a str, r: &'a EntryRef| {
        if linked.insert((from, r.uuid.as_str())) {
            answers.entry(from).or_default().push(r);
        }
    };
    for &r in &results {
        if let Some(p) = r.parent.as_deref() {
            link(p, r);
        }
        if let Some(src) = r
            .source_tool_assistant
            .as_deref()
            .filter(|s| Some(*s) != r.parent.as_deref())
            .and_then(|s| entries.get(s))
        {
            if same_thread(r, src) {
                link(src.uuid.as_str(), r);
            }
        }
        for t in &r.tool_results {
            if let Some(Some(c)) = caller.get(t.as_str()) {
                if same_thread(r, c) {
                    link(c.uuid.as_str(), r);
                }
            }
        }
    }
    let answered_on_chain: HashSet<&str> = chain
        .iter()
        .flat_map(|e| e.tool_results.iter().map(String::as_str))
        .collect();
    let node_pos = |e: &EntryRef| entries.pos(&e.uuid).unwrap_or(usize::MAX);
    let by_time = |a: &&EntryRef, b: &&EntryRef| {
        a.timestamp
            .as_deref()
            .unwrap_or("")
            .cmp(b.timestamp.as_deref().unwrap_or(""))
    };

    let mut inserts: HashMap<&str, Vec<&EntryRef>> = HashMap::new();
    let mut seen_msgs: HashSet<&str> = HashSet::new();
    for b in chain.iter().filter(|e| e.kind == KIND_ASSISTANT) {
        let Some(id) = b.msg_id.as_deref() else {
            continue;
        };
        if !seen_msgs.insert(id) {
            continue;
        }
        let all: Vec<&EntryRef> = lines_of.get(id).cloned().unwrap_or_else(|| vec![*b]);
        let of_msg: HashSet<&str> = all.iter().map(|e| e.uuid.as_str()).collect();
        let mut off_chain: Vec<&EntryRef> = all
            .iter()
            .copied()
            .filter(|e| !on_chain.contains(e.uuid.as_str()))
            .collect();
        let (mut direct, mut other) = (Vec::new(), Vec::new());
        let mut taken: HashSet<&str> = HashSet::new();
        for m in &all {
            for r in answers.get(m.uuid.as_str()).into_iter().flatten() {
                if on_chain.contains(r.uuid.as_str()) || !taken.insert(r.uuid.as_str()) {
                    continue;
                }
                if r.parent.as_deref().is_some_and(|p| of_msg.contains(p)) {
                    direct.push(*r);
                } else {
                    other.push(*r);
                }
            }
        }
        if !other.is_empty() {
            let mut answered = answered_on_chain.clone();
            for r in &direct {
                answered.extend(r.tool_results.iter().map(String::as_str));
            }
            other.sort_by_key(|r| node_pos(r));
            for r in other {
                let answers_this = r.tool_results.iter().any(|t| {
                    !answered.contains(t.as_str())
                        && matches!(caller.get(t.as_str()), Some(Some(c)) if of_msg.contains(c.uuid.as_str()))
                });
                if !answers_this {
                    continue;
                }
                answered.extend(r.tool_results.iter().map(String::as_str));
                direct.push(r);
            }
        }
        if off_chain.is_empty() && direct.is_empty() {
            continue;
        }
        off_chain.sort_by(by_time);
        direct.sort_by(by_time);
        let Some(at) = chain_line_of.get(id) else {
            continue;
        };
        let put: Vec<&EntryRef> = off_chain.into_iter().chain(direct).collect();
        for e in &put {
            on_chain.insert(e.uuid.as_str());
        }
        inserts.insert(at.uuid.as_str(), put);
    }
    if inserts.is_empty() {
        return chain;
    }
    let mut out = Vec::with_capacity(chain.len());
    for e in chain {
        out.push(e);
        if let Some(more) = inserts.remove(e.uuid.as_str()) {
            out.extend(more);
        }
    }
    out
}
