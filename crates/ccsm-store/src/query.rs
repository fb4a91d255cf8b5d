//! The search language: words, "phrases", prefix*, and filters.
//!
//! `project:PATH|NAME tag:T name:N model:M branch:B after:DATE before:DATE cost>N
//! cost<N has:tool:NAME host:H is:archived is:gone`. Words and phrases must all occur
//! (in any message of a session); filters narrow the sessions.

use serde::Serialize;

/// One text term.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    pub text: String,
    pub phrase: bool,
    pub prefix: bool,
}

/// A parsed search.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
    pub project: Option<String>,
    pub tags: Vec<String>,
    pub names: Vec<String>,
    pub model: Option<String>,
    pub branch: Option<String>,
    /// Milliseconds since the epoch.
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub cost_gt: Option<f64>,
    pub cost_lt: Option<f64>,
    pub tools: Vec<String>,
    /// Only the sessions of this host (a catalog shared by many hosts).
    pub host: Option<String>,
    /// Only the sessions of these folders, as `(host, path)` (`None`: of any
    /// host): a project that hosts' folders were mapped into.
    pub project_folders: Vec<(Option<String>, String)>,
    pub archived: bool,
    pub gone: bool,
    /// Best match first instead of newest first.
    pub rank: bool,
    pub limit: usize,
}

/// Why a query does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad search: {0}")]
pub struct QueryError(pub String);

fn date_ms(s: &str, end_of_day: bool) -> Result<i64, QueryError> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y%m%d"))
        .map_err(|_| QueryError(format!("{s:?} is not a date (YYYY-MM-DD)")))?;
    let t = if end_of_day {
        d.and_hms_milli_opt(23, 59, 59, 999)
    } else {
        d.and_hms_opt(0, 0, 0)
    }
    .ok_or_else(|| QueryError(format!("{s:?} is not a date")))?;
    Ok(t.and_utc().timestamp_millis())
}

/// The longest query accepted, in bytes, and the most words and filters: beyond
/// them a search is a mistake or an attack, and FTS5 would answer with its own
/// errors (or take its time).
pub const MAX_QUERY_BYTES: usize = 4096;
pub const MAX_QUERY_PARTS: usize = 64;

impl SearchQuery {
    /// Parses the search language.
    pub fn parse(input: &str) -> Result<Self, QueryError> {
        let parts = input.split_whitespace().count();
        if parts > MAX_QUERY_PARTS {
            return Err(QueryError(format!(
                "the query has {parts} words and filters; at most {MAX_QUERY_PARTS}"
            )));
        }
        if input.len() > MAX_QUERY_BYTES {
            return Err(QueryError(format!(
                "the query is {} bytes long; at most {MAX_QUERY_BYTES} are searched",
                input.len()
            )));
        }
        // Control characters (a NUL, a tab pasted from a terminal) separate words:
        // FTS5 would take a NUL for the end of its query.
        let cleaned: String = input
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let input = cleaned.as_str();
        let mut q = SearchQuery {
            limit: 20,
            ..Default::default()
        };
        let mut chars = input.char_indices().peekable();
        let mut tokens: Vec<(String, bool)> = Vec::new();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            if c == '"' {
                chars.next();
                let start = i + 1;
                let mut end = input.len();
                let mut closed = false;
                for (j, c2) in chars.by_ref() {
                    if c2 == '"' {
                        end = j;
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(QueryError("a quote is not closed".into()));
                }
                tokens.push((input[start..end].to_owned(), true));
                continue;
            }
            let start = i;
            let mut end = input.len();
            while let Some(&(j, c2)) = chars.peek() {
                if c2.is_whitespace() {
                    end = j;
                    break;
                }
                chars.next();
            }
            tokens.push((input[start..end].to_owned(), false));
        }
        for (tok, quoted) in tokens {
            if quoted {
                if !tok.trim().is_empty() {
                    q.terms.push(Term {
                        text: tok,
                        phrase: true,
                        prefix: false,
                    });
                }
                continue;
            }
            let lower = tok.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("cost>") {
                q.cost_gt = Some(
                    v.parse()
                        .map_err(|_| QueryError(format!("{tok:?}: not a number")))?,
                );
            } else if let Some(v) = lower.strip_prefix("cost<") {
                q.cost_lt = Some(
                    v.parse()
                        .map_err(|_| QueryError(format!("{tok:?}: not a number")))?,
                );
            } else if let Some(v) = tok.strip_prefix("has:tool:") {
                q.tools.push(v.to_owned());
            } else if lower == "is:archived" {
                q.archived = true;
            } else if lower == "is:gone" {
                q.gone = true;
            } else if let Some((k, v)) = tok.split_once(':').filter(|(k, v)| {
                !v.is_empty()
                    && matches!(
                        *k,
                        "project"
                            | "tag"
                            | "name"
                            | "model"
                            | "branch"
                            | "after"
                            | "before"
                            | "host"
                    )
            }) {
                match k {
                    "project" => q.project = Some(v.to_owned()),
                    "tag" => q.tags.push(v.to_owned()),
                    "name" => q.names.push(v.to_owned()),
                    "model" => q.model = Some(v.to_owned()),
                    "branch" => q.branch = Some(v.to_owned()),
                    "host" => q.host = Some(v.to_owned()),
                    "after" => q.after = Some(date_ms(v, false)?),
                    "before" => q.before = Some(date_ms(v, true)?),
                    _ => {}
                }
            } else {
                let prefix = tok.ends_with('*');
                let text = tok.trim_end_matches('*').to_owned();
                if !text.is_empty() {
                    q.terms.push(Term {
                        text,
                        phrase: false,
                        prefix,
                    });
                }
            }
        }
        Ok(q)
    }

    /// The FTS5 MATCH expression for the terms (`None` without terms).
    pub fn fts_match(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        Some(
            self.terms
                .iter()
                .map(|t| {
                    let quoted = format!("\"{}\"", t.text.replace('"', "\"\""));
                    if t.prefix {
                        format!("{quoted}*")
                    } else {
                        quoted
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5,000-term searches leaked raw FTS5/SQLite errors.
    #[test]
    fn an_oversized_query_is_refused_with_a_clear_message() {
        let many = vec!["word"; 5000].join(" ");
        let e = SearchQuery::parse(&many).unwrap_err();
        assert!(e.to_string().contains("at most 64"), "{e}");
        let long = "x".repeat(5000);
        let e = SearchQuery::parse(&long).unwrap_err();
        assert!(e.to_string().contains("at most 4096"), "{e}");
        assert!(SearchQuery::parse(&vec!["w"; 64].join(" ")).is_ok());
    }

    #[test]
    fn the_language_parses() {
        let q = SearchQuery::parse(
            r#"deploy "login page" refac* project:/src/a tag:x name:n model:opus branch:main after:2026-01-01 before:20260201 cost>0.5 cost<3 has:tool:Bash is:archived is:gone"#,
        )
        .unwrap();
        assert_eq!(q.terms.len(), 3);
        assert!(q.terms[1].phrase && q.terms[2].prefix);
        assert_eq!(q.project.as_deref(), Some("/src/a"));
        assert_eq!(q.tags, vec!["x"]);
        assert_eq!(q.tools, vec!["Bash"]);
        assert_eq!(q.cost_gt, Some(0.5));
        assert!(q.archived && q.gone);
        assert!(q.after.unwrap() < q.before.unwrap());
        assert_eq!(q.fts_match().unwrap(), r#""deploy" "login page" "refac"*"#);
    }

    #[test]
    fn bad_queries_say_why() {
        assert!(SearchQuery::parse(r#""open"#).is_err());
        assert!(SearchQuery::parse("cost>lots").is_err());
        assert!(SearchQuery::parse("after:yesterday").is_err());
        // A colon word that is no filter is a word.
        assert_eq!(SearchQuery::parse("http://x").unwrap().terms.len(), 1);
    }
}
