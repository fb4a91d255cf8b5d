//! Words as the catalog searches them, for backends without SQLite's FTS5: text
//! is split as FTS5's `unicode61` tokenizer splits it (runs of letters and
//! digits, lower-cased), so the same query finds the same messages on every
//! backend; a PostgreSQL `tsvector` and `tsquery` are written from these words
//! (never from PostgreSQL's own parser, which keeps `src/main.rs` or
//! `a@b.com` as one word), and snippets are cut from them.

use crate::Term;

/// The words of `text` with their byte ranges.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, usize, String)> + '_ {
    let mut out = Vec::new();
    scan(text, |start, end, w| out.push((start, end, w.to_owned())));
    out.into_iter()
}

/// Calls `f(start, end, word)` for each word of `text`: a run of letters and
/// digits, lower-cased. ASCII is looked at byte by byte (most text is), other
/// characters as `char`s; one buffer serves every word.
fn scan(text: &str, mut f: impl FnMut(usize, usize, &str)) {
    let bytes = text.as_bytes();
    let mut word = String::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (alnum, len) = if b < 0x80 {
            if b.is_ascii_alphanumeric() {
                word.push(b.to_ascii_lowercase() as char);
                (true, 1)
            } else {
                (false, 1)
            }
        } else {
            match text[i..].chars().next() {
                Some(c) if c.is_alphanumeric() => {
                    word.extend(c.to_lowercase());
                    (true, c.len_utf8())
                }
                Some(c) => (false, c.len_utf8()),
                None => break,
            }
        };
        if alnum {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            f(s, i, &word);
            word.clear();
        }
        i += len;
    }
    if let Some(s) = start {
        f(s, bytes.len(), &word);
    }
}

/// The longest word indexed, in bytes (PostgreSQL refuses lexemes of 2 KiB).
const MAX_WORD: usize = 2000;
/// Positions kept per word and row (PostgreSQL keeps at most 256).
const MAX_POSITIONS: usize = 255;
/// The highest position PostgreSQL stores (later ones count as this one).
const MAX_POSITION: usize = 16_383;
/// The words' bytes one row's vector holds (PostgreSQL's limit is 1 MiB).
const MAX_VECTOR_BYTES: usize = 900_000;

/// `text`'s words in PostgreSQL's binary `tsvector` form (what the server's
/// `tsvector_recv` reads: no text to parse on the server), each position
/// weighed `weight` (`'A'` for titles, `None`: the body's default). Words are
/// sorted byte-wise as PostgreSQL sorts lexemes; positions rise.
pub(crate) fn tsvector(text: &str, weight: Option<char>) -> Vec<u8> {
    // Every word into one buffer, with where it was: sorted by word and read
    // a word at a time. A
    // map of words to positions cost a hash and two allocations a word: 12%
    // of a PostgreSQL catalog build's own time.
    let mut all = String::with_capacity(text.len());
    // (offset in `all`, length, the word's number in the text)
    let mut seen: Vec<(usize, usize, usize)> = Vec::new();
    let mut n = 0usize;
    scan(text, |_, _, w| {
        n += 1;
        if w.len() <= MAX_WORD {
            seen.push((all.len(), w.len(), n));
            all.push_str(w);
        }
    });
    let word = |e: &(usize, usize, usize)| &all.as_bytes()[e.0..e.0 + e.1];
    // (By word, then by number: each word's positions in order.)
    seen.sort_unstable_by(|a, b| word(a).cmp(word(b)).then(a.2.cmp(&b.2)));
    // Each distinct word: its run of `seen`.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < seen.len() {
        let mut j = i + 1;
        while j < seen.len() && word(&seen[j]) == word(&seen[i]) {
            j += 1;
        }
        runs.push((i, j));
        i = j;
    }
    // The words' bytes kept under the limit, taken in the order they first
    // occur (a word over the room left is dropped, a shorter later one kept).
    let mut bytes: usize = runs.iter().map(|r| seen[r.0].1).sum();
    if bytes > MAX_VECTOR_BYTES {
        let mut first: Vec<usize> = (0..runs.len()).collect();
        first.sort_unstable_by_key(|&r| seen[runs[r].0].2);
        let mut keep = vec![false; runs.len()];
        bytes = 0;
        for r in first {
            let len = seen[runs[r].0].1;
            if bytes + len <= MAX_VECTOR_BYTES {
                bytes += len;
                keep[r] = true;
            }
        }
        let mut k = keep.into_iter();
        runs.retain(|_| k.next().unwrap_or(false));
    }
    // The weight in a position's top two bits: A 3, B 2, C 1, D (default) 0.
    let mark: u16 = match weight {
        Some('A') => 3 << 14,
        Some('B') => 2 << 14,
        Some('C') => 1 << 14,
        _ => 0,
    };
    let mut out = Vec::with_capacity(4 + bytes + runs.len() * 5);
    out.extend_from_slice(&(runs.len() as i32).to_be_bytes());
    let mut pos: Vec<u16> = Vec::new();
    for (i, j) in runs {
        pos.clear();
        for e in &seen[i..j] {
            let p = e.2.min(MAX_POSITION) as u16;
            if pos.len() < MAX_POSITIONS && pos.last() != Some(&p) {
                pos.push(p);
            }
        }
        out.extend_from_slice(word(&seen[i]));
        out.push(0);
        out.extend_from_slice(&(pos.len() as u16).to_be_bytes());
        for p in &pos {
            out.extend_from_slice(&(p | mark).to_be_bytes());
        }
    }
    out
}

/// The words each term stands for (a term of no words is dropped).
pub(crate) fn term_words(terms: &[Term]) -> Vec<(Vec<String>, bool)> {
    terms
        .iter()
        .map(|t| {
            (
                words(&t.text).map(|(_, _, w)| w).collect::<Vec<_>>(),
                t.prefix,
            )
        })
        .filter(|(w, _)| !w.is_empty())
        .collect()
}

/// A `tsquery` literal: every term (a word, a phrase of adjacent words, a
/// prefix) must occur. `None`: no term has a word.
pub(crate) fn tsquery(terms: &[Term]) -> Option<String> {
    let parts: Vec<String> = term_words(terms)
        .into_iter()
        .map(|(ws, prefix)| {
            let n = ws.len();
            let items: Vec<String> = ws
                .into_iter()
                .enumerate()
                .map(|(i, w)| {
                    let w: String = w.chars().take(MAX_WORD).collect();
                    if prefix && i + 1 == n {
                        format!("'{w}':*")
                    } else {
                        format!("'{w}'")
                    }
                })
                .collect();
            if items.len() == 1 {
                items.concat()
            } else {
                format!("({})", items.join(" <-> "))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" & "))
}

/// Words around the first match in `text`, each match in `[...]`, `…` where
/// text was cut (about as FTS5's `snippet(…, '[', ']', '…', 16)` reads).
pub(crate) fn snippet(text: &str, terms: &[Term]) -> String {
    const WIDTH: usize = 16;
    let wanted = term_words(terms);
    let hits = |w: &str| {
        wanted.iter().any(|(ws, prefix)| {
            ws.iter()
                .enumerate()
                .any(|(i, q)| w == q || (*prefix && i + 1 == ws.len() && w.starts_with(q.as_str())))
        })
    };
    let all: Vec<(usize, usize, String)> = words(text).collect();
    let Some(first) = all.iter().position(|(_, _, w)| hits(w)) else {
        return String::new();
    };
    let start = first.saturating_sub(WIDTH / 4);
    let end = (start + WIDTH).min(all.len());
    let start = end.saturating_sub(WIDTH).min(start);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = all[start].0;
    if start == 0 {
        at = 0;
    }
    for (s, e, w) in &all[start..end] {
        out.push_str(&text[at..*s]);
        if hits(w) {
            out.push('[');
            out.push_str(&text[*s..*e]);
            out.push(']');
        } else {
            out.push_str(&text[*s..*e]);
        }
        at = *e;
    }
    if end < all.len() {
        out.push('…');
    } else {
        out.push_str(&text[at..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Vec<Term> {
        crate::SearchQuery::parse(q).expect("query").terms
    }

    #[test]
    fn words_split_as_unicode61_splits_them() {
        let w: Vec<String> = words("Fix src/main.rs: a@b.COM, naïve Ünïcode x2")
            .map(|t| t.2)
            .collect();
        assert_eq!(
            w,
            [
                "fix",
                "src",
                "main",
                "rs",
                "a",
                "b",
                "com",
                "naïve",
                "ünïcode",
                "x2"
            ]
        );
    }

    /// The map-based vector this module made before (kept to check the
    /// sorted one against).
    fn reference(text: &str, weight: Option<char>) -> Vec<u8> {
        let mut at: std::collections::HashMap<String, Vec<usize>> = Default::default();
        let mut bytes = 0usize;
        let mut n = 0usize;
        scan(text, |_, _, w| {
            n += 1;
            if w.len() > MAX_WORD {
                return;
            }
            let pos = n.min(MAX_POSITION);
            match at.get_mut(w) {
                Some(v) if v.len() < MAX_POSITIONS && v.last() != Some(&pos) => v.push(pos),
                Some(_) => {}
                None if bytes + w.len() <= MAX_VECTOR_BYTES => {
                    bytes += w.len();
                    at.insert(w.to_owned(), vec![pos]);
                }
                None => {}
            }
        });
        let mut at: Vec<(String, Vec<usize>)> = at.into_iter().collect();
        at.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // The weight in a position's top two bits: A 3, B 2, C 1, D (default) 0.
        let mark: u16 = match weight {
            Some('A') => 3 << 14,
            Some('B') => 2 << 14,
            Some('C') => 1 << 14,
            _ => 0,
        };
        let mut out = Vec::with_capacity(4 + bytes + at.len() * 5);
        out.extend_from_slice(&(at.len() as i32).to_be_bytes());
        for (w, pos) in at {
            out.extend_from_slice(w.as_bytes());
            out.push(0);
            out.extend_from_slice(&(pos.len() as u16).to_be_bytes());
            for p in pos {
                out.extend_from_slice(&(p as u16 | mark).to_be_bytes());
            }
        }
        out
    }

    #[test]
    fn the_sorted_vector_is_the_mapped_one() {
        let long = "x".repeat(MAX_WORD + 1);
        let mut texts = vec![
            String::new(),
            "a b a c b a".to_owned(),
            format!("{long} y {long} y"),
            "Ünïcode ünïcode UNICODE".to_owned(),
            // More positions than a word keeps, and positions past the last.
            "w ".repeat(300),
            "p q ".repeat(MAX_POSITION),
        ];
        // Past the bytes a vector holds: later new words dropped, old ones kept.
        let many: Vec<String> = (0..MAX_VECTOR_BYTES / 8 + 50)
            .map(|i| format!("w{i:07} w1"))
            .collect();
        texts.push(many.join(" "));
        texts.push(format!("{} zz", "q".repeat(MAX_WORD)));
        for t in &texts {
            for w in [None, Some('A')] {
                assert_eq!(tsvector(t, w), reference(t, w), "{:.40}", t);
            }
        }
    }

    #[test]
    fn a_vector_keeps_positions_and_weights() {
        let a = 0xc000u16;
        let mut want = 2i32.to_be_bytes().to_vec();
        want.extend(b"go\0\0\x02");
        want.extend((1 | a).to_be_bytes());
        want.extend((2 | a).to_be_bytes());
        want.extend(b"stop\0\0\x01");
        want.extend((3 | a).to_be_bytes());
        assert_eq!(tsvector("go Go stop", Some('A')), want);
        let mut want = 2i32.to_be_bytes().to_vec();
        want.extend(b"a\0\0\x02\0\x01\0\x03b\0\0\x01\0\x02");
        assert_eq!(tsvector("a-b a", None), want);
        assert_eq!(tsvector("", None), 0i32.to_be_bytes());
    }

    #[test]
    fn a_query_ands_terms_and_chains_phrases() {
        assert_eq!(
            tsquery(&terms(r#"deploy "login page" refac* src/main.rs"#)).as_deref(),
            Some("'deploy' & ('login' <-> 'page') & 'refac':* & ('src' <-> 'main' <-> 'rs')")
        );
        assert_eq!(tsquery(&terms("!!!")), None);
    }

    #[test]
    fn a_snippet_marks_matches_and_cuts_long_text() {
        assert_eq!(
            snippet("Then we deploy it.", &terms("deploy")),
            "Then we [deploy] it."
        );
        let long = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let s = snippet(&long, &terms("w20"));
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("[w20]"),
            "{s}"
        );
        assert_eq!(
            snippet("refactoring now", &terms("refac*")),
            "[refactoring] now"
        );
        assert_eq!(snippet("nothing", &terms("else")), "");
    }
}
