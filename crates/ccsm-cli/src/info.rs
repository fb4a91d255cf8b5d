//! How sessions look to people: the listing, search hits, one session's details
//! and its messages (`--json` prints the service's views as they are).

use anyhow::Result;
use ccsm_core::views::{SearchHitView, SessionMessage, SessionView};
use ccsm_service::SessionDetail;
use clap::Subcommand;
use comfy_table::Table;

use crate::out::{cut, fmt_int, one_line, print_json, show_id, size, table, when};

/// `sessions list`: the page of sessions (`limit` when paged).
pub fn list(
    rows: &[SessionView],
    json: bool,
    full_ids: bool,
    limit: Option<usize>,
    offset: usize,
) -> Result<()> {
    if json {
        return print_json(rows);
    }
    if rows.is_empty() {
        eprintln!(
            "no sessions{}",
            if offset > 0 { " on this page" } else { "" }
        );
        return Ok(());
    }
    let mut t = table(&[
        "session", "summary", "project", "branch", "modified", "size",
    ]);
    for r in rows {
        let s = &r.info;
        let mut summary = one_line(&s.summary, 50);
        if r.gone {
            summary.push_str(" (gone)");
        }
        if let Some(tag) = &s.tag {
            summary = format!("{summary} #{tag}");
        }
        t.add_row(vec![
            show_id(&s.session_id, full_ids),
            summary,
            one_line(s.cwd.as_deref().unwrap_or(""), 40),
            s.git_branch.clone().unwrap_or_default(),
            when(s.last_modified),
            size(s.file_size),
        ]);
    }
    println!("{t}");
    if let Some(limit) = limit.filter(|&l| rows.len() == l) {
        eprintln!(
            "(first {limit}; more with --offset {}, or --all)",
            offset + limit
        );
    }
    Ok(())
}

/// `sessions search`.
pub fn search(hits: &[SearchHitView], json: bool, full_ids: bool) -> Result<()> {
    if json {
        return print_json(hits);
    }
    if hits.is_empty() {
        eprintln!("no sessions match");
    }
    for h in hits {
        let s = &h.session;
        let gone = if s.gone {
            " (gone from Claude Code; ccsm sessions restore)"
        } else {
            ""
        };
        println!(
            "{}  {}  {}{gone}",
            show_id(&s.info.session_id, full_ids),
            when(s.info.last_modified),
            one_line(&s.info.summary, 100)
        );
        if !h.snippet.is_empty() {
            println!("    {}", h.snippet.replace('\n', " "));
        }
    }
    Ok(())
}

fn row(t: &mut Table, k: &str, v: Option<String>) {
    if let Some(v) = v {
        t.add_row(vec![k.to_owned(), v]);
    }
}

/// `sessions info`: every field known, the catalog's statistics when there are.
pub fn detail(d: &SessionDetail) {
    let v = &d.view;
    let s = &v.info;
    let mut t = table(&["field", "value"]);
    row(&mut t, "session", Some(s.session_id.clone()));
    row(&mut t, "summary", Some(s.summary.clone()));
    row(&mut t, "title", s.custom_title.clone());
    let Some(st) = &d.stats else {
        // From the files: what the SDK's listing knows.
        row(&mut t, "first prompt", s.first_prompt.clone());
        row(&mut t, "project", s.cwd.clone());
        row(&mut t, "branch", s.git_branch.clone());
        row(&mut t, "tag", s.tag.clone());
        row(&mut t, "created", s.created_at.map(when));
        row(&mut t, "modified", Some(when(s.last_modified)));
        row(&mut t, "size", Some(size(s.file_size)));
        row(&mut t, "archived", s.archived.map(|a| a.to_string()));
        row(&mut t, "file", Some(d.file.display().to_string()));
        println!("{t}");
        return;
    };
    row(&mut t, "description", v.description.clone());
    row(&mut t, "notes", v.notes.clone());
    row(&mut t, "first prompt", s.first_prompt.clone());
    row(&mut t, "project", st.project_path.clone());
    row(&mut t, "branch", s.git_branch.clone());
    row(&mut t, "tag (Claude Code)", s.tag.clone());
    let list = |l: &[String]| (!l.is_empty()).then(|| l.join(", "));
    row(&mut t, "tags (ccsm)", list(&v.tags));
    row(&mut t, "names", list(&st.names));
    row(&mut t, "created", s.created_at.map(when));
    row(&mut t, "modified", Some(when(s.last_modified)));
    row(
        &mut t,
        "messages",
        Some(format!(
            "{} ({} prompts, {} tool calls)",
            st.messages, st.user_turns, st.tool_calls
        )),
    );
    let tk = &st.tokens;
    row(
        &mut t,
        "tokens",
        Some(format!(
            "in {} · out {} · cache write {} · cache read {}",
            fmt_int(tk.input_tokens),
            fmt_int(tk.output_tokens),
            fmt_int(tk.cache_creation_tokens),
            fmt_int(tk.cache_read_tokens)
        )),
    );
    let cost = if st.unpriced_models.is_empty() {
        format!("${:.4}", st.cost_usd)
    } else {
        format!(
            "${:.4} + unpriced: {} (not in the pricing table; `ccsm usage pricing --update`)",
            st.cost_usd,
            st.unpriced_models.join(", ")
        )
    };
    row(&mut t, "cost", Some(cost));
    row(&mut t, "models", list(&st.models));
    row(&mut t, "tools", list(&st.tools));
    row(&mut t, "files touched", Some(fmt_int(st.files_touched)));
    row(
        &mut t,
        "archived (Claude Code)",
        s.archived.map(|a| a.to_string()),
    );
    row(
        &mut t,
        "gone",
        v.gone.then(|| {
            "yes: deleted from Claude Code's dir; ccsm sessions restore brings it back".into()
        }),
    );
    row(&mut t, "size", Some(size(s.file_size)));
    row(&mut t, "file", Some(d.file.display().to_string()));
    println!("{t}");
}

/// `sessions messages`.
pub fn messages(msgs: &[SessionMessage], json: bool) -> Result<()> {
    if json {
        return print_json(msgs);
    }
    if msgs.is_empty() {
        eprintln!("no messages");
    }
    for m in msgs {
        let text = message_text(&m.message);
        println!("── {} {}", m.kind, m.uuid);
        println!("{}", text.trim_end());
    }
    Ok(())
}

fn message_text(m: &serde_json::Value) -> String {
    match &m["content"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().unwrap_or("").to_owned(),
                Some("tool_use") => format!(
                    "⏺ {}({})",
                    b["name"].as_str().unwrap_or("?"),
                    cut(&b["input"].to_string(), 80)
                ),
                Some("tool_result") => format!("  ⎿ {}", cut(&b["content"].to_string(), 80)),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[derive(Subcommand, Debug)]
pub enum TagsCmd {
    /// Add tags to a session.
    Add {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The tags to add.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a session.
    Rm {
        /// The session: its id, a unique prefix of it (as tables show), or a conversation's name.
        id: String,
        /// The tags to remove.
        #[arg(required = true)]
        tags: Vec<String>,
    },
}
