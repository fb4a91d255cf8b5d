//! Words as the catalog searches them, for backends without SQLite's FTS5: text
//! is split as FTS5's `unicode61` tokenizer splits it (runs of letters and
//! digits, lower-cased), so the same query finds the same messages on every
//! backend; a PostgreSQL `tsvector` and `tsquery` are written from these words
//! (never from PostgreSQL's own parser, which keeps `src/main.rs` or
//! `a@b.com` as one word), and snippets are cut from them.

use crate::Term;

/// The words of `text` with their byte ranges.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, usize, String)> + '_ {
    let mut it = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some(&(_, c)) = it.peek() {
            if c.is_alphanumeric() {
                break;
            }
            it.next();
        }
        let &(start, _) = it.peek()?;
        let mut end = start;
        let mut word = String::new();
        while let Some(&(i, c)) = it.peek() {
            if !c.is_alphanumeric() {
                break;
            }
            word.extend(c.to_lowercase());
            end = i + c.len_utf8();
            it.next();
        }
        Some((start, end, word))
    })
}

/// The longest word indexed, in bytes (PostgreSQL refuses lexemes of 2 KiB).
const MAX_WORD: usize = 2000;
/// Positions kept per word and row (PostgreSQL keeps at most 256).
const MAX_POSITIONS: usize = 255;
/// The highest position PostgreSQL stores (later ones count as this one).
const MAX_POSITION: usize = 16_383;
/// The words' bytes one row's vector holds (PostgreSQL's limit is 1 MiB).
const MAX_VECTOR_BYTES: usize = 900_000;

/// A `tsvector` literal of `text`'s words, each position weighed `weight`
/// (`'A'` for titles, `None`: the body's default).
pub(crate) fn tsvector(text: &str, weight: Option<char>) -> String {
    let mut at: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut bytes = 0usize;
    for (n, (_, _, w)) in words(text).enumerate() {
        if w.len() > MAX_WORD {
            continue;
        }
        let pos = (n + 1).min(MAX_POSITION);
        match at.get_mut(&w) {
            Some(v) if v.len() < MAX_POSITIONS && v.last() != Some(&pos) => v.push(pos),
            Some(_) => {}
            None if bytes + w.len() <= MAX_VECTOR_BYTES => {
                bytes += w.len();
                at.insert(w, vec![pos]);
            }
            None => {}
        }
    }
    let mark = weight.map(String::from).unwrap_or_default();
    let mut out = String::with_capacity(bytes + at.len() * 8);
    for (w, pos) in at {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&w);
        out.push_str("':");
        for (i, p) in pos.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&p.to_string());
            out.push_str(&mark);
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

    #[test]
    fn a_vector_keeps_positions_and_weights() {
        assert_eq!(tsvector("go Go stop", Some('A')), "'go':1A,2A 'stop':3A");
        assert_eq!(tsvector("a-b a", None), "'a':1,3 'b':2");
        assert_eq!(tsvector("", None), "");
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
