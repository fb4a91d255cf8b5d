//! String-level scans over a transcript's head and tail, as the official SDK does
//! them: listing reads at most 64 KiB from each end of a file and never parses it
//! whole. Each function names the SDK behaviour it mirrors.

/// How much the listing reads from each end of a file.
pub const HEAD_TAIL: usize = 64 * 1024;

/// Unescapes a JSON string body (the part between the quotes).
fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    serde_json::from_str::<String>(&format!("\"{raw}\"")).unwrap_or_else(|_| raw.to_owned())
}

/// The string value after `start` (just past the opening quote), up to its closing
/// quote; `None` if the text ends first.
fn string_at(text: &str, start: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((unescape(&text[start..i]), i)),
            _ => i += 1,
        }
    }
    None
}

/// `haystack.find(needle)` by SIMD substring search (std's two-way search is a
/// large part of reading a session's head and tail).
fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// The first `"key":"value"` in `text` (SDK: first occurrence, `"k":"` before `"k": "`).
pub fn first_string(text: &str, key: &str) -> Option<String> {
    for pat in [format!("\"{key}\":\""), format!("\"{key}\": \"")] {
        if let Some(at) = find(text, &pat) {
            return string_at(text, at + pat.len()).map(|(v, _)| v);
        }
    }
    None
}

/// The last `"key":"value"` in `text`, whichever spacing (SDK: latest position).
pub fn last_string(text: &str, key: &str) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for pat in [format!("\"{key}\":\""), format!("\"{key}\": \"")] {
        let mut from = 0;
        while let Some(rel) = find(&text[from..], &pat) {
            let at = from + rel;
            match string_at(text, at + pat.len()) {
                Some((v, end)) => {
                    if best.as_ref().is_none_or(|(p, _)| at > *p) {
                        best = Some((at, v));
                    }
                    from = end + 1;
                }
                None => break,
            }
            if from >= text.len() {
                break;
            }
        }
    }
    best.map(|(_, v)| v)
}

/// Parses `line` and returns its top-level string `key`, if `type` matches when given.
/// `Err(())` when the line is not JSON.
fn line_value(line: &str, key: &str, ty: Option<&str>) -> Result<Option<String>, ()> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|_| ())?;
    let Some(obj) = v.as_object() else {
        return Ok(None);
    };
    if let Some(t) = ty {
        if obj.get("type").and_then(|x| x.as_str()) != Some(t) {
            return Ok(None);
        }
    }
    Ok(obj.get(key).and_then(|x| x.as_str()).map(str::to_owned))
}

/// The last line of `text` holding `"key":` (and `"type":"ty"` when given) whose JSON
/// has a string `key`. With `recover`, a line glued to a torn one is retried from the
/// last `{"type":"ty"` in it (SDK: metadata lines appended after a torn last line).
pub fn last_line_value(text: &str, key: &str, ty: Option<&str>, recover: bool) -> Option<String> {
    let key_pat = format!("\"{key}\":");
    let type_pats: Vec<String> = match ty {
        None => Vec::new(),
        Some(t) if recover => vec![format!("\"type\":\"{t}\""), format!("\"type\": \"{t}\"")],
        Some(t) => vec![format!("\"type\":\"{t}\"")],
    };
    for line in text.rsplit('\n') {
        if find(line, &key_pat).is_none() {
            continue;
        }
        if !type_pats.is_empty() && !type_pats.iter().any(|p| find(line, p).is_some()) {
            continue;
        }
        let mut v = line_value(line, key, ty);
        if v.is_err() && recover {
            if let Some(first) = type_pats.first() {
                let glued = format!("{{{first}");
                if let Some(d) = line.rfind(&glued) {
                    let before = line.as_bytes().get(d.wrapping_sub(1)).copied();
                    if d > 0 && !matches!(before, Some(b':' | b',' | b'[')) {
                        v = line_value(&line[d..], key, ty);
                    }
                }
            }
        }
        if let Ok(Some(s)) = v {
            return Some(s);
        }
    }
    None
}

/// Metadata kinds appended by rename and tag (SDK: `custom-title`, `ai-title`, `tag`).
pub fn last_meta(text: &str, kind: &str) -> Option<String> {
    let key = match kind {
        "custom-title" => "customTitle",
        "ai-title" => "aiTitle",
        "tag" => "tag",
        _ => return None,
    };
    last_line_value(text, key, Some(kind), true)
}

/// Truncates to `max` UTF-16 units, as JavaScript's `slice` counts (never splitting a
/// surrogate pair).
pub fn truncate_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        let n = c.len_utf16();
        if units + n > max {
            return &s[..i];
        }
        units += n;
    }
    s
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn command_name(s: &str) -> Option<&str> {
    let start = s.find("<command-name>")? + "<command-name>".len();
    let end = s[start..].find("</command-name>")?;
    Some(&s[start..start + end])
}

fn bash_input(s: &str) -> Option<&str> {
    let start = s.find("<bash-input>")? + "<bash-input>".len();
    let end = s[start..].find("</bash-input>")?;
    Some(&s[start..start + end])
}

/// SDK: text that opens with a tag (`<system-reminder>`, `<local-command-...>`) or an
/// interruption notice is not a prompt.
fn is_noise(s: &str) -> bool {
    let t = s.trim_start();
    if t.starts_with("[Request interrupted by user") {
        return true;
    }
    let b = t.as_bytes();
    if b.len() >= 2 && b[0] == b'<' && b[1].is_ascii_lowercase() {
        let rest = &t[1..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        return matches!(rest[end..].chars().next(), Some(c) if c == '>' || c.is_whitespace());
    }
    false
}

/// The prompt text of one user entry, as the SDK shows it as `firstPrompt`, or
/// `None`; a `<command-name>` seen first is kept in `fallback`.
pub fn prompt_of_entry(entry: &serde_json::Value, fallback: &mut String) -> Option<String> {
    if entry.get("type").and_then(|t| t.as_str()) != Some("user") {
        return None;
    }
    if entry.get("isMeta") == Some(&serde_json::Value::Bool(true))
        || entry.get("isCompactSummary") == Some(&serde_json::Value::Bool(true))
    {
        return None;
    }
    let content = entry.get("message")?.get("content")?;
    let mut texts: Vec<&str> = Vec::new();
    match content {
        serde_json::Value::String(s) => texts.push(s),
        serde_json::Value::Array(blocks) => {
            for b in blocks {
                match b.get("type").and_then(|t| t.as_str()) {
                    Some("tool_result") => return None,
                    Some("text") => {
                        if let Some(t) = b.get("text").and_then(|t| t.as_str()) {
                            texts.push(t);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => return None,
    }
    for t in texts {
        let c = t.replace('\n', " ");
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        if let Some(name) = command_name(c) {
            if fallback.is_empty() {
                *fallback = name.to_owned();
            }
            continue;
        }
        if let Some(cmd) = bash_input(c) {
            return Some(format!("! {}", cmd.trim()));
        }
        if is_noise(c) {
            continue;
        }
        if utf16_len(c) > 200 {
            return Some(format!("{}…", truncate_utf16(c, 200).trim()));
        }
        return Some(c.to_owned());
    }
    None
}

/// Lines of `text` that may hold a user's prompt: user entries that are not tool
/// results nor meta (the SDK's cheap checks before parsing).
fn user_prompt_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|line| {
        (line.contains("\"type\":\"user\"") || line.contains("\"type\": \"user\""))
            && !line.contains("\"tool_result\"")
            && !line.contains("\"isMeta\":true")
            && !line.contains("\"isMeta\": true")
    })
}

/// The first prompt in a file's head (SDK `firstPrompt`): the first real user text,
/// else the first slash command's name, else "".
pub fn first_prompt(head: &str) -> String {
    let mut fallback = String::new();
    for line in user_prompt_lines(head) {
        if line.contains("\"isCompactSummary\":true") || line.contains("\"isCompactSummary\": true")
        {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(p) = prompt_of_entry(&v, &mut fallback) {
            return p;
        }
    }
    fallback
}

/// SDK: a session whose first prompt is an image or a document is summarised so.
pub fn attachment_prompt(head: &str) -> &'static str {
    for line in user_prompt_lines(head) {
        if line.contains("\"type\":\"image\"") || line.contains("\"type\": \"image\"") {
            return "Image";
        }
        if line.contains("\"type\":\"document\"") || line.contains("\"type\": \"document\"") {
            return "Document";
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_strings() {
        let t = r#"{"cwd":"/a","x":1}
{"cwd": "/b\"q","gitBranch":"main"}
{"gitBranch":"dev"}"#;
        assert_eq!(first_string(t, "cwd").as_deref(), Some("/a"));
        assert_eq!(last_string(t, "cwd").as_deref(), Some("/b\"q"));
        assert_eq!(last_string(t, "gitBranch").as_deref(), Some("dev"));
        assert_eq!(first_string(t, "nope"), None);
    }

    #[test]
    fn last_meta_wins_and_recovers_glued_lines() {
        let t = concat!(
            r#"{"type":"custom-title","customTitle":"old","sessionId":"s"}"#,
            "\n",
            r#"{"type":"user","torn{"type":"custom-title","customTitle":"new","sessionId":"s"}"#,
            "\n"
        );
        assert_eq!(last_meta(t, "custom-title").as_deref(), Some("new"));
        let t = r#"{"type":"tag","tag":"","sessionId":"s"}"#;
        assert_eq!(last_meta(t, "tag").as_deref(), Some(""));
    }

    #[test]
    fn first_prompt_skips_noise_and_keeps_commands_as_fallback() {
        let head = [
            r#"{"type":"user","message":{"role":"user","content":"<command-name>/clear</command-name>"}}"#,
            r#"{"type":"user","isMeta":true,"message":{"content":"meta"}}"#,
            r#"{"type":"user","message":{"content":"<system-reminder>x</system-reminder>"}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"r"}]}}"#,
        ]
        .join("\n");
        assert_eq!(first_prompt(&head), "/clear");
        let head = format!(
            "{head}\n{}",
            r#"{"type":"user","message":{"content":[{"type":"text","text":"Fix\nthe build"}]}}"#
        );
        assert_eq!(first_prompt(&head), "Fix the build");
        let long = "é".repeat(300);
        let line = format!(r#"{{"type":"user","message":{{"content":"{long}"}}}}"#);
        let p = first_prompt(&line);
        assert_eq!(p.chars().count(), 201);
        assert!(p.ends_with('…'));
    }

    #[test]
    fn utf16_truncation_never_splits_a_pair() {
        assert_eq!(truncate_utf16("a😀b", 2), "a");
        assert_eq!(truncate_utf16("a😀b", 3), "a😀");
    }
}
