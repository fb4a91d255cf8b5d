//! Agents as Claude Code itself understands them: subagent definitions
//! (description, prompt, tools, model) handed to the CLI with `--agents`.
//!
//! Three sources, later ones winning by name: the 12 built-in types ccsm ships
//! (orchestrator, frontend, backend, database, api, middleware, devops,
//! security, performance, quality, documentation, monitoring), the user's own
//! (`<config dir>/agents/*.md` and `<project>/.claude/agents/*.md`, the CLI's
//! format), and definitions kept in the catalog (`ccsm agents set`, the API),
//! which may also replace a built-in one.
//!
//! A definition may name others it `requires`: activating it activates them, in
//! order; a cycle is refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{invalid, Error, Result};
use crate::Service;

/// The catalog record kind of edited definitions.
pub const AGENT_RECORD: &str = "agent";

/// One subagent definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentDef {
    /// The subagent's name, as the CLI's `Task` tool calls it.
    pub name: String,
    /// The seed's type (`BACKEND`...), for built-in ones and those that say it.
    #[serde(default)]
    pub agent_type: Option<String>,
    pub description: String,
    pub prompt: String,
    /// Tools it may use (all when absent).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// `sonnet`, `opus`, `haiku`, a model id, or absent to inherit.
    #[serde(default)]
    pub model: Option<String>,
    /// Agents it needs active with it (by name).
    #[serde(default)]
    pub requires: Vec<String>,
    /// `builtin`, `user`, `project` or `catalog`.
    #[serde(default)]
    pub source: String,
}

/// One agent of a session, as the seed's body gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// A type (`BACKEND`, any case) or, without `name`, nothing else needed.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// Its name; by default the type's built-in agent.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower runs first when several are activated at once.
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub max_memory_mb: Option<u64>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub retry_attempts: Option<u32>,
}

fn yes() -> bool {
    true
}

/// A built-in agent: (type, name, description, tools, requires, prompt).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

const BUILTIN: &[Builtin] = &[
    ("ORCHESTRATOR", "master-orchestrator",
     "Plans multi-step work and splits it among the other agents.",
     &["Read", "Grep", "Glob", "Task", "TodoWrite"], &[],
     "You are the orchestrator. Break the task into steps, hand each step to the agent best suited for it, and check the results before reporting back."),
    ("FRONTEND", "frontend-architecture",
     "UI and UX work: components, styling, accessibility, client-side state.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You are a frontend engineer. Build accessible, responsive interfaces; keep components small and state predictable."),
    ("BACKEND", "backend-services",
     "Server-side services, business logic and API development.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You are a backend engineer. Write clear, tested server code with explicit error handling."),
    ("DATABASE", "database-architect",
     "Schemas, migrations, queries and their performance.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You are a database architect. Design normalized schemas, safe migrations and indexed queries."),
    ("API", "api-integration-specialist",
     "Integrations with external services and API contracts.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash", "WebFetch"], &["backend-services"],
     "You integrate external APIs. Validate every response, handle rate limits and failures, and document contracts."),
    ("MIDDLEWARE", "middleware-specialist",
     "Integration patterns: queues, caches, gateways, middleware layers.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &["backend-services"],
     "You design middleware and integration layers: idempotent, observable, with back-pressure."),
    ("DEVOPS", "devops-deployment",
     "CI/CD, builds, containers and deployment automation.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You automate builds and deployments. Prefer reproducible, declarative pipelines."),
    ("SECURITY", "security-architecture",
     "Threat modelling, vulnerability review, secrets and permissions.",
     &["Read", "Grep", "Glob", "Bash"], &[],
     "You review for security: injection, authentication, authorization, secrets, dependencies. Report findings with severity."),
    ("PERFORMANCE", "performance-optimization",
     "Profiling and optimization of hot paths, memory and latency.",
     &["Read", "Edit", "Grep", "Glob", "Bash"], &["monitoring-observability"],
     "You optimize performance: measure first, change one thing at a time, and show the numbers."),
    ("QUALITY", "quality-assurance",
     "Tests, test frameworks and quality gates.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You write and run tests. Every behaviour a user relies on gets a test that fails without it."),
    ("DOCUMENTATION", "technical-documentation",
     "READMEs, API docs and guides.",
     &["Read", "Edit", "Write", "Grep", "Glob"], &[],
     "You write documentation for newcomers: what it is, how to set it up, usage by example."),
    ("MONITORING", "monitoring-observability",
     "Logging, metrics, tracing and alerting.",
     &["Read", "Edit", "Write", "Grep", "Glob", "Bash"], &[],
     "You add observability: structured logs, metrics with units, alerts that point to causes."),
];

/// The 12 built-in definitions.
pub fn builtin_agents() -> Vec<AgentDef> {
    BUILTIN
        .iter()
        .map(|(t, name, desc, tools, requires, prompt)| AgentDef {
            name: (*name).into(),
            agent_type: Some((*t).into()),
            description: (*desc).into(),
            prompt: (*prompt).into(),
            tools: Some(tools.iter().map(|s| (*s).to_owned()).collect()),
            model: None,
            requires: requires.iter().map(|s| (*s).to_owned()).collect(),
            source: "builtin".into(),
        })
        .collect()
}

/// A definition in the CLI's own format: a Markdown file whose front matter
/// (`---` lines) gives `name`, `description`, `tools` (comma-separated) and
/// `model`, one `key: value` per line; the body is the prompt.
pub fn parse_agent_file(text: &str, source: &str) -> Option<AgentDef> {
    let rest = text.strip_prefix("---")?;
    let end = rest.find("\n---")?;
    let (head, body) = (&rest[..end], &rest[end + 4..]);
    let mut fields: HashMap<String, String> = HashMap::new();
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            fields.insert(k.trim().to_ascii_lowercase(), v.to_owned());
        }
    }
    let name = fields.get("name").filter(|n| valid_agent_name(n))?.clone();
    Some(AgentDef {
        name,
        agent_type: fields.get("agent_type").map(|t| t.to_ascii_uppercase()),
        description: fields.get("description").cloned().unwrap_or_default(),
        prompt: body.trim().to_owned(),
        tools: fields.get("tools").map(|t| {
            t.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        model: fields.get("model").cloned().filter(|m| m != "inherit"),
        requires: fields
            .get("requires")
            .map(|r| {
                r.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        source: source.into(),
    })
}

/// Letters, digits, `-` and `_`, 1 to 64 of them.
pub fn valid_agent_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn read_agent_dir(dir: &Path, source: &str, out: &mut BTreeMap<String, AgentDef>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
        .collect();
    files.sort();
    for f in files {
        // A definition is small; a huge file is not one.
        if std::fs::metadata(&f).map_or(true, |m| m.len() > 256 << 10) {
            continue;
        }
        if let Some(d) = std::fs::read_to_string(&f)
            .ok()
            .and_then(|t| parse_agent_file(&t, source))
        {
            out.insert(d.name.clone(), d);
        }
    }
}

impl Service {
    /// Every agent a session in `project` can use, by name: built-in, the
    /// user's, the project's, then the catalog's.
    pub fn agents(&self, project: Option<&Path>) -> Result<Vec<AgentDef>> {
        let mut all: BTreeMap<String, AgentDef> = builtin_agents()
            .into_iter()
            .map(|d| (d.name.clone(), d))
            .collect();
        read_agent_dir(&self.config_dir().join("agents"), "user", &mut all);
        if let Some(p) = project {
            read_agent_dir(&p.join(".claude").join("agents"), "project", &mut all);
        }
        let (saved, _) = self.load_records::<AgentDef>(AGENT_RECORD)?;
        for (_, mut d) in saved {
            d.source = "catalog".into();
            all.insert(d.name.clone(), d);
        }
        Ok(all.into_values().collect())
    }

    /// Keeps a definition in the catalog (new, or replacing one by its name).
    pub fn save_agent(&self, def: &AgentDef) -> Result<()> {
        if !valid_agent_name(&def.name) {
            invalid!(
                "agent name {:?}: letters, digits, - and _ only (1-64)",
                def.name
            );
        }
        if def.description.trim().is_empty() || def.prompt.trim().is_empty() {
            invalid!("agent {}: a description and a prompt are needed", def.name);
        }
        let mut all = self.agents(None)?;
        all.retain(|d| d.name != def.name);
        all.push(def.clone());
        order(&all, std::slice::from_ref(&def.name))?;
        self.save_record(AGENT_RECORD, &def.name, def)
    }

    /// Removes a catalog definition; whether there was one.
    pub fn remove_agent(&self, name: &str) -> Result<bool> {
        self.delete_record(AGENT_RECORD, name)
    }

    /// The agents a session's specs activate, with what they require, in the
    /// order they are to start (required ones first; by priority otherwise);
    /// unknown agents and cycles are refused.
    pub fn active_agents(
        &self,
        specs: &[AgentSpec],
        project: Option<&Path>,
    ) -> Result<Vec<AgentDef>> {
        let all = self.agents(project)?;
        let mut wanted: Vec<(i32, String)> = Vec::new();
        for s in specs.iter().filter(|s| s.enabled) {
            wanted.push((s.priority.unwrap_or(0), spec_name(s, &all)?));
        }
        wanted.sort();
        let names: Vec<String> = wanted.into_iter().map(|(_, n)| n).collect();
        let ordered = order(&all, &names)?;
        Ok(ordered
            .into_iter()
            .filter_map(|n| all.iter().find(|d| d.name == n).cloned())
            .collect())
    }
}

/// The name a spec means: its `name` if that is an agent, else its type's.
pub fn spec_name(s: &AgentSpec, all: &[AgentDef]) -> Result<String> {
    if let Some(n) = &s.name {
        if all.iter().any(|d| &d.name == n) {
            return Ok(n.clone());
        }
    }
    if let Some(t) = &s.agent_type {
        let t = t.to_ascii_uppercase();
        // A named agent of that type (the user's own), else the built-in one.
        let typed: Vec<&AgentDef> = all
            .iter()
            .filter(|d| d.agent_type.as_deref() == Some(t.as_str()))
            .collect();
        if let Some(d) = s
            .name
            .as_ref()
            .and_then(|n| typed.iter().find(|d| &d.name == n))
            .or_else(|| typed.iter().find(|d| d.source != "builtin"))
            .or_else(|| typed.first())
        {
            return Ok(d.name.clone());
        }
        invalid!(
            "agent type {t:?} is not one of {}",
            BUILTIN.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
        );
    }
    match &s.name {
        Some(n) => Err(Error::not_found(format!("no agent named {n:?}"))),
        None => invalid!("an agent needs an agent_type or a name"),
    }
}

/// `names` and everything they require, required ones first; a cycle or an
/// unknown requirement is refused.
fn order(all: &[AgentDef], names: &[String]) -> Result<Vec<String>> {
    fn visit(
        n: &str,
        all: &[AgentDef],
        path: &mut Vec<String>,
        done: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) -> Result<()> {
        if done.contains(n) {
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_owned());
            invalid!(
                "agents require each other in a cycle: {}",
                cycle.join(" -> ")
            );
        }
        let Some(d) = all.iter().find(|d| d.name == n) else {
            return Err(Error::not_found(format!("no agent named {n:?}")));
        };
        path.push(n.to_owned());
        for r in &d.requires {
            visit(r, all, path, done, out)?;
        }
        path.pop();
        done.insert(n.to_owned());
        out.push(n.to_owned());
        Ok(())
    }
    let (mut path, mut done, mut out) = (Vec::new(), HashSet::new(), Vec::new());
    for n in names {
        visit(n, all, &mut path, &mut done, &mut out)?;
    }
    Ok(out)
}

/// The `--agents` JSON the CLI takes for `defs`.
pub fn agents_json(defs: &[AgentDef]) -> Option<Value> {
    if defs.is_empty() {
        return None;
    }
    let mut m = serde_json::Map::new();
    for d in defs {
        let mut a = json!({"description": d.description, "prompt": d.prompt});
        if let Some(t) = &d.tools {
            a["tools"] = json!(t);
        }
        if let Some(model) = &d.model {
            a["model"] = json!(model);
        }
        m.insert(d.name.clone(), a);
    }
    Some(Value::Object(m))
}
