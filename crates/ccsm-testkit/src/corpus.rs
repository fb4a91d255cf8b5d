//! A Claude-Code-shaped config dir of a chosen size, deterministic from a seed.
//!
//! Line shapes are those the real CLI 2.1.330 writes (see `crates/ccsm-testkit/fixtures`):
//! `queue-operation`, `user` prompts, `attachment`, `assistant` lines (one per content
//! block, repeating `message.id` + `requestId`, with `message.usage`), `user` tool
//! results, `last-prompt`, `custom-title`, `tag`, `cost-state`. Sizes follow real
//! histories (`docs/benchmarks.md`): a log-normal with median ~105 KB and p90
//! ~650 KB, capped at 87 MB; text payloads 0.8 to 4 KB, some tool outputs 8 to 64 KB;
//! about 41% of lines are assistant lines with usage, a third of which repeat the
//! previous message id.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde_json::{json, Value};

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    /// Stop once this many bytes are written (whole sessions).
    pub total_bytes: u64,
    /// Or stop after this many sessions, whichever comes first.
    pub max_sessions: Option<usize>,
    /// Median transcript size in bytes (real histories: ~105 KB).
    pub median_bytes: f64,
    pub seed: u64,
    /// Sessions per project, on average.
    pub sessions_per_project: usize,
    /// Scales assistant messages and tool results (1.0: ~2.4 KB average lines;
    /// 2.0: ~4 KB, the shape of a history of long answers and large tool output).
    pub text_scale: f64,
    /// Words in the vocabulary: 0 keeps the 24 fixed words of the project's first
    /// corpora; more adds made-up words after them, picked by rank with
    /// [`CorpusSpec::skew`].
    pub vocabulary: usize,
    /// The Zipf exponent of word choice over a vocabulary (about 1 in natural
    /// text; 0 is uniform).
    pub skew: f64,
    /// The share of model calls that call a tool (`None`: every call of a turn
    /// but its last, as the first corpora did).
    pub tool_share: Option<f64>,
    /// The share of tool results that are large (8 to 64 KB, times the scale).
    pub big_tool_share: f64,
}

/// A named shape of history: how big lines are, how much is tool output, how
/// rich and skewed the words are, how sessions fall into projects.
pub const SHAPES: [(&str, &str); 3] = [
    (
        "project",
        "the project's first corpora: ~2.4 KB lines, 24 words, 25 sessions per project",
    ),
    (
        "wide",
        "long answers and large tool output: ~4 KB lines, 30,000 words (Zipf 1.07), half the calls use a tool",
    ),
    (
        "many",
        "many small sessions: ~12 KB median, 5,000 words, 150 sessions per project",
    ),
];

impl CorpusSpec {
    /// A shape from [`SHAPES`] of about `total_bytes`, from `seed`.
    pub fn shaped(shape: &str, total_bytes: u64, seed: u64) -> Option<Self> {
        let base = Self::sized(total_bytes, seed);
        Some(match shape {
            "project" => base,
            "wide" => Self {
                text_scale: 2.0,
                vocabulary: 30_000,
                skew: 1.07,
                tool_share: Some(0.5),
                big_tool_share: 0.12,
                ..base
            },
            "many" => Self {
                median_bytes: 12_000.0,
                sessions_per_project: 150,
                vocabulary: 5_000,
                skew: 1.0,
                ..base
            },
            _ => return None,
        })
    }
}

impl CorpusSpec {
    /// About `total_bytes` of sessions from `seed`, everything else as default.
    pub fn sized(total_bytes: u64, seed: u64) -> Self {
        Self {
            total_bytes,
            seed,
            ..Self::default()
        }
    }
}

impl Default for CorpusSpec {
    fn default() -> Self {
        Self {
            total_bytes: 64 << 20,
            max_sessions: None,
            median_bytes: 105_000.0,
            seed: 42,
            sessions_per_project: 25,
            text_scale: 1.0,
            vocabulary: 0,
            skew: 1.0,
            tool_share: None,
            big_tool_share: 0.1,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct CorpusReport {
    pub sessions: usize,
    pub projects: usize,
    pub bytes: u64,
    pub lines: u64,
    pub assistant_usage_lines: u64,
    pub files: Vec<PathBuf>,
}

const MODELS: [&str; 3] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
];

const WORDS: [&str; 24] = [
    "refactor",
    "the",
    "parser",
    "so",
    "that",
    "errors",
    "carry",
    "their",
    "line",
    "numbers",
    "and",
    "add",
    "tests",
    "for",
    "torn",
    "input",
    "session",
    "index",
    "catalog",
    "search",
    "deploy",
    "migration",
    "cache",
    "Bash",
];

/// The CLI's encoding of a project path into a directory name.
pub fn encode_project_dir(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

struct Gen {
    rng: ChaCha8Rng,
    clock_ms: i64,
    /// See [`CorpusSpec::text_scale`].
    scale: f64,
    /// The words by rank (empty: the 24 fixed words, uniformly).
    vocab: Vec<String>,
    zipf: Option<rand_distr::Zipf<f64>>,
    tool_share: Option<f64>,
    big_tool_share: f64,
}

/// The made-up word of rank `i` after the 24 fixed words (a vocabulary's word of
/// rank `24 + i`): syllables from the rank's digits, so every rank has its own
/// word (benchmarks pick rare words by rank).
pub fn made_up_word(mut i: usize) -> String {
    const SYL: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "du", "fa", "gi", "ho", "ju",
        "be", "co", "de", "wy", "ly",
    ];
    let mut w = String::from("q");
    loop {
        w.push_str(SYL[i % SYL.len()]);
        i /= SYL.len();
        if i == 0 {
            break;
        }
    }
    w
}

impl Gen {
    fn new(seed: u64, spec: Option<&CorpusSpec>) -> std::io::Result<Self> {
        let d = CorpusSpec::default();
        let spec = spec.unwrap_or(&d);
        let vocab: Vec<String> = if spec.vocabulary == 0 {
            Vec::new()
        } else {
            WORDS
                .iter()
                .map(|w| (*w).to_owned())
                .chain((0..).map(made_up_word))
                .take(spec.vocabulary.max(WORDS.len()))
                .collect()
        };
        let zipf = if vocab.is_empty() || spec.skew <= 0.0 {
            None
        } else {
            Some(
                rand_distr::Zipf::new(vocab.len() as f64, spec.skew)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            )
        };
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            clock_ms: 1_790_000_000_000,
            scale: spec.text_scale,
            vocab,
            zipf,
            tool_share: spec.tool_share,
            big_tool_share: spec.big_tool_share,
        })
    }

    fn word(&mut self) -> &str {
        if self.vocab.is_empty() {
            return WORDS[self.rng.random_range(0..WORDS.len())];
        }
        let i = match &self.zipf {
            Some(z) => (z.sample(&mut self.rng) as usize).saturating_sub(1),
            None => self.rng.random_range(0..self.vocab.len()),
        };
        &self.vocab[i.min(self.vocab.len() - 1)]
    }
}

impl Gen {
    fn uuid(&mut self) -> String {
        let bytes: [u8; 16] = self.rng.random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.rng.random_range(0..16), 16).unwrap_or('0'))
            .collect()
    }
    fn text(&mut self, min: usize, max: usize) -> String {
        let len = self.rng.random_range(min..=max);
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            s.push_str(self.word());
            s.push(if self.rng.random_ratio(1, 12) {
                '\n'
            } else {
                ' '
            });
        }
        s
    }
    /// Text of a length scaled by [`CorpusSpec::text_scale`].
    fn long_text(&mut self, min: usize, max: usize) -> String {
        let at = |n: usize| (n as f64 * self.scale).max(1.0) as usize;
        let (min, max) = (at(min), at(max));
        self.text(min, max.max(min))
    }
    fn tick(&mut self) -> String {
        self.clock_ms += self.rng.random_range(50..4000);
        chrono::DateTime::from_timestamp_millis(self.clock_ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }
}

struct SessionCtx<'a> {
    id: &'a str,
    cwd: &'a str,
    branch: &'a str,
}

fn common(v: &mut Value, s: &SessionCtx<'_>, parent: Option<&str>, uuid: &str, ts: String) {
    v["parentUuid"] = parent.map_or(Value::Null, |p| json!(p));
    v["isSidechain"] = json!(false);
    v["uuid"] = json!(uuid);
    v["timestamp"] = json!(ts);
    v["userType"] = json!("external");
    v["entrypoint"] = json!("cli");
    v["cwd"] = json!(s.cwd);
    v["sessionId"] = json!(s.id);
    v["version"] = json!("2.1.330");
    v["gitBranch"] = json!(s.branch);
}

struct Sink {
    w: BufWriter<std::fs::File>,
    bytes: u64,
    lines: u64,
}

impl Sink {
    fn put(&mut self, v: &Value) -> std::io::Result<()> {
        let line = v.to_string();
        self.w.write_all(line.as_bytes())?;
        self.w.write_all(b"\n")?;
        self.bytes += line.len() as u64 + 1;
        self.lines += 1;
        Ok(())
    }
}

/// Writes one session transcript of about `target` bytes; returns (bytes, lines, usage lines).
fn write_session(
    g: &mut Gen,
    path: &Path,
    s: &SessionCtx<'_>,
    target: u64,
) -> std::io::Result<(u64, u64, u64)> {
    let mut w = Sink {
        w: BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?),
        bytes: 0,
        lines: 0,
    };
    let mut usage_lines = 0u64;
    let model = MODELS[g.rng.random_range(0..MODELS.len())];
    let mut parent: Option<String> = None;
    let mut first = true;
    let mut total_out = 0u64;
    loop {
        let prompt = g.text(40, 400);
        let ts = g.tick();
        w.put(
            &json!({"type":"queue-operation","operation":"enqueue","timestamp": ts,
                       "sessionId": s.id, "content": prompt}),
        )?;
        let uuid = g.uuid();
        let mut user = json!({"type":"user","promptId": g.uuid(),
            "message": {"role":"user","content": prompt}, "permissionMode":"default"});
        common(&mut user, s, parent.as_deref(), &uuid, g.tick());
        w.put(&user)?;
        parent = Some(uuid);
        if first {
            let uuid = g.uuid();
            let mut att = json!({"type":"attachment","attachment":{"type":"environment",
                "snapshot":{"workingDirectory": s.cwd,"isWorktree":false,"isGitRepo":true,
                "platform":"linux","shell":"bash"}},
                "rendered":[{"content":"<system-reminder>\n# Environment\n</system-reminder>"}],
                "renderedRole":"system"});
            common(&mut att, s, parent.as_deref(), &uuid, g.tick());
            w.put(&att)?;
            parent = Some(uuid);
            first = false;
        }
        // One to four model calls per turn; a tool call between them.
        let calls = g.rng.random_range(1..=4);
        for call in 0..calls {
            let msg_id = format!("msg_{}", g.hex(24));
            let req_id = format!("req_{}", g.hex(24));
            let tool = match g.tool_share {
                None => call + 1 < calls,
                Some(share) => g.rng.random_bool(share.clamp(0.0, 1.0)),
            };
            // One line per content block: text, then a tool call or more text.
            let blocks = if g.rng.random_ratio(1, 2) { 2 } else { 1 };
            let input = g.rng.random_range(3..4000u64);
            let cache_read = g.rng.random_range(0..80_000u64);
            let cache_5m = g.rng.random_range(0..2_000u64);
            let cache_1h = if g.rng.random_ratio(1, 5) {
                g.rng.random_range(0..1_000u64)
            } else {
                0
            };
            let final_out = g.rng.random_range(5..2_000u64);
            let mut tool_id = None;
            for b in 0..blocks {
                let last_block = b + 1 == blocks;
                let content = if last_block && tool {
                    let id = format!("toolu_{}", g.hex(24));
                    tool_id = Some(id.clone());
                    json!([{"type":"tool_use","id": id,"name":"Bash",
                            "input":{"command": g.text(10, 120),"description":"run"}}])
                } else {
                    json!([{"type":"text","text": g.long_text(800, 4000)}])
                };
                // Earlier block lines of a streamed message carry partial output counts.
                let out = if last_block { final_out } else { final_out / 2 };
                let uuid = g.uuid();
                let mut a = json!({"type":"assistant","requestId": req_id,
                    "message": {"id": msg_id, "type":"message","role":"assistant","model": model,
                        "content": content,
                        "stop_reason": if last_block { if tool {"tool_use"} else {"end_turn"} } else { "" },
                        "stop_sequence": null,
                        "usage": {"input_tokens": input, "cache_creation_input_tokens": cache_5m + cache_1h,
                            "cache_read_input_tokens": cache_read, "output_tokens": out,
                            "cache_creation": {"ephemeral_5m_input_tokens": cache_5m,
                                               "ephemeral_1h_input_tokens": cache_1h},
                            "service_tier":"standard"}}});
                common(&mut a, s, parent.as_deref(), &uuid, g.tick());
                w.put(&a)?;
                usage_lines += 1;
                parent = Some(uuid);
            }
            total_out += final_out;
            if let Some(id) = tool_id {
                let big = g.rng.random_bool(g.big_tool_share.clamp(0.0, 1.0));
                let output = if big {
                    g.long_text(8_000, 64_000)
                } else {
                    g.long_text(800, 4000)
                };
                let uuid = g.uuid();
                let mut r = json!({"type":"user","message":{"role":"user","content":[
                    {"tool_use_id": id,"type":"tool_result","content": output,"is_error": false}]},
                    "toolUseResult": {"stdout": "", "stderr": "", "interrupted": false}});
                common(&mut r, s, parent.as_deref(), &uuid, g.tick());
                w.put(&r)?;
                parent = Some(uuid);
            }
        }
        w.put(&json!({"type":"last-prompt","lastPrompt": prompt,
                       "leafUuid": parent, "sessionId": s.id}))?;
        if w.bytes >= target {
            break;
        }
    }
    if g.rng.random_ratio(1, 10) {
        w.put(
            &json!({"type":"custom-title","customTitle": g.text(10, 40).trim(), "sessionId": s.id}),
        )?;
    }
    if g.rng.random_ratio(1, 20) {
        w.put(&json!({"type":"tag","tag":"important","sessionId": s.id}))?;
    }
    w.put(
        &json!({"type":"cost-state","sessionId": s.id,"totalCostUSD": 0.01,
        "modelUsage": {model: {"outputTokens": total_out}},"hasUnknownModelCost": false}),
    )?;
    w.w.flush()?;
    Ok((w.bytes, w.lines, usage_lines))
}

/// Writes a corpus under `config_dir/projects/` (the dir is created).
pub fn generate(config_dir: &Path, spec: &CorpusSpec) -> std::io::Result<CorpusReport> {
    let mut g = Gen::new(spec.seed, Some(spec))?;
    // mu = ln(median); sigma from p90 / median = 650 / 105 at z = 1.2816.
    let sigma = (650.0f64 / 105.0).ln() / 1.2816;
    let dist = LogNormal::new(spec.median_bytes.ln(), sigma)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let projects_dir = config_dir.join("projects");
    std::fs::create_dir_all(&projects_dir)?;
    // A config dir the CLI has run in has its registry of running processes
    // (`sessions/<pid>.json`), empty when none runs.
    std::fs::create_dir_all(config_dir.join("sessions"))?;
    let mut report = CorpusReport::default();
    let mut project: Option<(String, PathBuf)> = None;
    while report.bytes < spec.total_bytes && spec.max_sessions.is_none_or(|m| report.sessions < m) {
        if project.is_none()
            || g.rng
                .random_ratio(1, spec.sessions_per_project.max(1) as u32)
        {
            let cwd = format!("/home/dev/src/project-{:03}", report.projects);
            let dir = projects_dir.join(encode_project_dir(&cwd));
            std::fs::create_dir_all(&dir)?;
            project = Some((cwd, dir));
            report.projects += 1;
        }
        let Some((cwd, dir)) = &project else { break };
        let remaining = spec.total_bytes - report.bytes;
        let target = (dist.sample(&mut g.rng) as u64)
            .clamp(2_000, 87_000_000)
            .min(remaining);
        let id = g.uuid();
        let path = dir.join(format!("{id}.jsonl"));
        let ctx = SessionCtx {
            id: &id,
            cwd,
            branch: "main",
        };
        let (b, l, u) = write_session(&mut g, &path, &ctx, target)?;
        report.bytes += b;
        report.lines += l;
        report.assistant_usage_lines += u;
        report.sessions += 1;
        report.files.push(path);
    }
    Ok(report)
}

/// Writes one transcript of about `bytes` bytes (the 600 MB single-file case).
pub fn generate_single(config_dir: &Path, bytes: u64, seed: u64) -> std::io::Result<PathBuf> {
    let mut g = Gen::new(seed, None)?;
    let cwd = "/home/dev/src/huge";
    let dir = config_dir.join("projects").join(encode_project_dir(cwd));
    std::fs::create_dir_all(&dir)?;
    let id = g.uuid();
    let path = dir.join(format!("{id}.jsonl"));
    let ctx = SessionCtx {
        id: &id,
        cwd,
        branch: "main",
    };
    write_session(&mut g, &path, &ctx, bytes)?;
    Ok(path)
}

/// Parses `1GiB`, `600MB`, `100KiB`, `12345`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_corpus() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = CorpusSpec {
            total_bytes: 2 << 20,
            ..CorpusSpec::default()
        };
        let ra = generate(a.path(), &spec).unwrap();
        let rb = generate(b.path(), &spec).unwrap();
        assert_eq!(ra.bytes, rb.bytes);
        assert_eq!(ra.sessions, rb.sessions);
        for (fa, fb) in ra.files.iter().zip(&rb.files) {
            assert_eq!(std::fs::read(fa).unwrap(), std::fs::read(fb).unwrap());
        }
    }

    #[test]
    fn corpus_has_the_real_line_mix() {
        let d = tempfile::tempdir().unwrap();
        let r = generate(
            d.path(),
            &CorpusSpec {
                total_bytes: 8 << 20,
                ..CorpusSpec::default()
            },
        )
        .unwrap();
        assert!(r.bytes >= 8 << 20);
        let share = r.assistant_usage_lines as f64 / r.lines as f64;
        assert!((0.3..0.55).contains(&share), "assistant share {share}");
        // Every line is JSON with a type, as the CLI writes them.
        for f in &r.files {
            for line in std::fs::read_to_string(f).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                assert!(v["type"].is_string());
            }
        }
    }

    #[test]
    fn each_shape_is_what_it_says_and_the_same_from_its_seed() {
        for (name, _) in SHAPES {
            let d = tempfile::tempdir().unwrap();
            let spec = CorpusSpec::shaped(name, 3 << 20, 3).unwrap();
            let r = generate(d.path(), &spec).unwrap();
            let again = tempfile::tempdir().unwrap();
            let r2 = generate(again.path(), &spec).unwrap();
            assert_eq!((r.bytes, r.lines), (r2.bytes, r2.lines), "{name}");
            let mut words: std::collections::HashMap<String, u64> = Default::default();
            for f in &r.files {
                for line in std::fs::read_to_string(f).unwrap().lines() {
                    let v: Value = serde_json::from_str(line).unwrap();
                    if let Some(t) = v["message"]["content"][0]["text"].as_str() {
                        for w in t.split_whitespace() {
                            *words.entry(w.to_owned()).or_default() += 1;
                        }
                    }
                }
            }
            let total: u64 = words.values().sum();
            let top = words.values().max().copied().unwrap_or(0) as f64 / total as f64;
            let avg_line = r.bytes / r.lines;
            let per_project = r.sessions as f64 / r.projects as f64;
            let what = format!(
                "{name}: {} words, top {top:.3}, {avg_line} B lines, {per_project:.0} sessions/project",
                words.len()
            );
            eprintln!("{what}");
            match name {
                "project" => {
                    assert!(
                        words.len() <= 24 && (1500..3500).contains(&avg_line),
                        "{what}"
                    )
                }
                "wide" => assert!(
                    words.len() > 2000 && avg_line > 3000 && (0.02..0.3).contains(&top),
                    "{what}"
                ),
                _ => assert!(words.len() > 500 && per_project > 40.0, "{what}"),
            }
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("600MB"), Some(600_000_000));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("12 parsecs"), None);
    }
}
