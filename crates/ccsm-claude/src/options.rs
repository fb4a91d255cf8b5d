//! Session options and the CLI flags they become.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ccsm_core::{PermissionMode, SessionId};
use serde_json::Value;

use crate::callbacks::{CanUseTool, HookMatcher};
use crate::error::{Error, Result};

/// Everything a session is started with. Build with the setters:
///
/// ```
/// use ccsm_claude::Options;
/// let opts = Options::new().model("claude-sonnet-4-5").cwd("/tmp").max_turns(3);
/// ```
#[derive(Clone)]
pub struct Options {
    pub cli_path: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    pub env_remove: Vec<OsString>,
    pub model: Option<String>,
    pub fallback_model: Option<String>,
    pub system_prompt: Option<String>,
    pub append_system_prompt: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    pub permission_prompt_tool: Option<String>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub tools: Option<Vec<String>>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    pub mcp_config: Vec<String>,
    pub strict_mcp_config: bool,
    pub agents: Option<Value>,
    pub agent: Option<String>,
    pub add_dirs: Vec<PathBuf>,
    pub settings: Option<String>,
    pub setting_sources: Option<Vec<String>>,
    pub effort: Option<String>,
    pub name: Option<String>,
    pub json_schema: Option<Value>,
    pub include_partial_messages: bool,
    pub session_id: Option<SessionId>,
    pub resume: Option<String>,
    pub continue_session: bool,
    pub fork_session: bool,
    pub resume_session_at: Option<String>,
    pub no_session_persistence: bool,
    /// Flags passed through as they are, after the typed ones.
    pub extra_args: Vec<String>,
    /// Answers the CLI's `can_use_tool` requests; sets `--permission-prompt-tool stdio`.
    pub can_use_tool: Option<Arc<dyn CanUseTool>>,
    /// Hooks registered at `initialize`, answered through `hook_callback`.
    pub hooks: Vec<(String, HookMatcher)>,
    /// How long a control request may wait for its answer.
    pub control_timeout: Duration,
    /// How many bytes of stderr are kept for error messages.
    pub stderr_tail_bytes: usize,
    /// The marker every process of this run carries (`CCSM_RUN_ID`); a fresh
    /// one when unset. A supervisor that records it can find and stop the run's
    /// processes after it crashed itself.
    pub run_id: Option<String>,
    /// Longest stdout line accepted; longer is a protocol error (memory stays bounded).
    pub max_line_bytes: usize,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("cwd", &self.cwd)
            .field("model", &self.model)
            .field("resume", &self.resume)
            .field("continue", &self.continue_session)
            .field("fork", &self.fork_session)
            .field("can_use_tool", &self.can_use_tool.is_some())
            .field("hooks", &self.hooks.len())
            .finish_non_exhaustive()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cli_path: None,
            cwd: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            model: None,
            fallback_model: None,
            system_prompt: None,
            append_system_prompt: None,
            permission_mode: None,
            permission_prompt_tool: None,
            allowed_tools: Vec::new(),
            disallowed_tools: Vec::new(),
            tools: None,
            max_turns: None,
            max_budget_usd: None,
            mcp_config: Vec::new(),
            strict_mcp_config: false,
            agents: None,
            agent: None,
            add_dirs: Vec::new(),
            settings: None,
            setting_sources: None,
            effort: None,
            name: None,
            json_schema: None,
            include_partial_messages: false,
            session_id: None,
            resume: None,
            continue_session: false,
            fork_session: false,
            resume_session_at: None,
            no_session_persistence: false,
            extra_args: Vec::new(),
            can_use_tool: None,
            hooks: Vec::new(),
            control_timeout: Duration::from_secs(30),
            stderr_tail_bytes: 64 * 1024,
            run_id: None,
            max_line_bytes: 64 << 20,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, v: impl Into<$ty>) -> Self {
            self.$field = Some(v.into());
            self
        }
    )*};
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// The `claude` binary to run (else found as [`crate::find_cli`] says).
        cli_path: PathBuf => cli_path;
        /// The working directory: the project the session belongs to.
        cwd: PathBuf => cwd;
        model: String => model;
        fallback_model: String => fallback_model;
        system_prompt: String => system_prompt;
        append_system_prompt: String => append_system_prompt;
        permission_mode: PermissionMode => permission_mode;
        permission_prompt_tool: String => permission_prompt_tool;
        agents: Value => agents;
        agent: String => agent;
        settings: String => settings;
        effort: String => effort;
        /// The session's display name (`-n`).
        name: String => name;
        json_schema: Value => json_schema;
        session_id: SessionId => session_id;
        /// Resume a session by id or name.
        resume: String => resume;
        /// With `resume`: cut the resumed history at this message uuid.
        resume_session_at: String => resume_session_at;
    }

    pub fn max_turns(mut self, n: u32) -> Self {
        self.max_turns = Some(n);
        self
    }
    pub fn max_budget_usd(mut self, usd: f64) -> Self {
        self.max_budget_usd = Some(usd);
        self
    }
    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn env_remove(mut self, k: impl Into<OsString>) -> Self {
        self.env_remove.push(k.into());
        self
    }
    pub fn allowed_tools<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.allowed_tools.extend(t.into_iter().map(Into::into));
        self
    }
    pub fn disallowed_tools<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.disallowed_tools.extend(t.into_iter().map(Into::into));
        self
    }
    pub fn tools<I: IntoIterator<Item = S>, S: Into<String>>(mut self, t: I) -> Self {
        self.tools = Some(t.into_iter().map(Into::into).collect());
        self
    }
    pub fn mcp_config(mut self, c: impl Into<String>) -> Self {
        self.mcp_config.push(c.into());
        self
    }
    pub fn strict_mcp_config(mut self, on: bool) -> Self {
        self.strict_mcp_config = on;
        self
    }
    pub fn add_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.add_dirs.push(d.into());
        self
    }
    pub fn setting_sources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.setting_sources = Some(s.into_iter().map(Into::into).collect());
        self
    }
    pub fn include_partial_messages(mut self, on: bool) -> Self {
        self.include_partial_messages = on;
        self
    }
    /// Continue the most recent session of the working directory.
    pub fn continue_session(mut self, on: bool) -> Self {
        self.continue_session = on;
        self
    }
    /// With resume or continue: a new session id, the same history.
    pub fn fork_session(mut self, on: bool) -> Self {
        self.fork_session = on;
        self
    }
    pub fn no_session_persistence(mut self, on: bool) -> Self {
        self.no_session_persistence = on;
        self
    }
    pub fn extra_arg(mut self, a: impl Into<String>) -> Self {
        self.extra_args.push(a.into());
        self
    }
    pub fn can_use_tool(mut self, cb: impl CanUseTool + 'static) -> Self {
        self.can_use_tool = Some(Arc::new(cb));
        self
    }
    pub fn hook(mut self, event: impl Into<String>, matcher: HookMatcher) -> Self {
        self.hooks.push((event.into(), matcher));
        self
    }
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }
    pub fn control_timeout(mut self, t: Duration) -> Self {
        self.control_timeout = t;
        self
    }

    /// Refuses combinations the CLI would reject or silently misread.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidOptions(m.to_owned()));
        if self.resume.is_some() && self.continue_session {
            return bad("resume and continue cannot be used together");
        }
        if self.session_id.is_some() && self.continue_session && !self.fork_session {
            return bad("session_id cannot be used with continue (it would name a session that already exists); add fork to give the continuation a new id");
        }
        if self.session_id.is_some() && self.resume.is_some() && !self.fork_session {
            return bad("session_id cannot be used with resume unless fork is set");
        }
        if self.fork_session && self.resume.is_none() && !self.continue_session {
            return bad("fork needs resume or continue: there is nothing to fork");
        }
        if self.resume_session_at.is_some() && self.resume.is_none() {
            return bad("resume_session_at needs resume");
        }
        if self
            .max_budget_usd
            .is_some_and(|b| !(b.is_finite() && b > 0.0))
        {
            return bad("max_budget_usd must be a positive number");
        }
        if self.max_turns == Some(0) {
            return bad("max_turns must be at least 1");
        }
        if let Some(r) = &self.resume {
            if r.trim().is_empty() || r.starts_with('-') {
                return bad("resume needs a session id or name");
            }
        }
        if self.can_use_tool.is_some()
            && self
                .permission_prompt_tool
                .as_deref()
                .is_some_and(|t| t != "stdio")
        {
            return bad("can_use_tool answers over stdio; it cannot be combined with another permission_prompt_tool");
        }
        Ok(())
    }

    /// The CLI arguments for a stream-json session (after [`Self::validate`]).
    pub fn to_args(&self) -> Result<Vec<OsString>> {
        self.validate()?;
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            a.push(k.into());
            if let Some(v) = v {
                a.push(v.into());
            }
        };
        push("-p", None);
        push("--output-format", Some("stream-json".into()));
        push("--input-format", Some("stream-json".into()));
        push("--verbose", None);
        let opt = |push: &mut dyn FnMut(&str, Option<String>), k: &str, v: &Option<String>| {
            if let Some(v) = v {
                push(k, Some(v.clone()));
            }
        };
        opt(&mut push, "--model", &self.model);
        opt(&mut push, "--fallback-model", &self.fallback_model);
        opt(&mut push, "--system-prompt", &self.system_prompt);
        opt(
            &mut push,
            "--append-system-prompt",
            &self.append_system_prompt,
        );
        if let Some(m) = &self.permission_mode {
            push("--permission-mode", Some(m.to_string()));
        }
        let prompt_tool = if self.can_use_tool.is_some() {
            Some("stdio".to_owned())
        } else {
            self.permission_prompt_tool.clone()
        };
        opt(&mut push, "--permission-prompt-tool", &prompt_tool);
        if !self.allowed_tools.is_empty() {
            push("--allowedTools", Some(self.allowed_tools.join(",")));
        }
        if !self.disallowed_tools.is_empty() {
            push("--disallowedTools", Some(self.disallowed_tools.join(",")));
        }
        if let Some(t) = &self.tools {
            push("--tools", Some(t.join(",")));
        }
        if let Some(n) = self.max_turns {
            push("--max-turns", Some(n.to_string()));
        }
        if let Some(b) = self.max_budget_usd {
            push("--max-budget-usd", Some(b.to_string()));
        }
        for c in &self.mcp_config {
            push("--mcp-config", Some(c.clone()));
        }
        if self.strict_mcp_config {
            push("--strict-mcp-config", None);
        }
        if let Some(ag) = &self.agents {
            push("--agents", Some(ag.to_string()));
        }
        opt(&mut push, "--agent", &self.agent);
        for d in &self.add_dirs {
            push("--add-dir", Some(d.display().to_string()));
        }
        opt(&mut push, "--settings", &self.settings);
        if let Some(s) = &self.setting_sources {
            push("--setting-sources", Some(s.join(",")));
        }
        opt(&mut push, "--effort", &self.effort);
        opt(&mut push, "--name", &self.name);
        if let Some(s) = &self.json_schema {
            push("--json-schema", Some(s.to_string()));
        }
        if self.include_partial_messages {
            push("--include-partial-messages", None);
        }
        if let Some(id) = &self.session_id {
            push("--session-id", Some(id.to_string()));
        }
        opt(&mut push, "--resume", &self.resume);
        if self.continue_session {
            push("--continue", None);
        }
        if self.fork_session {
            push("--fork-session", None);
        }
        opt(&mut push, "--resume-session-at", &self.resume_session_at);
        if self.no_session_persistence {
            push("--no-session-persistence", None);
        }
        for e in &self.extra_args {
            push(e, None);
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(o: &Options) -> Vec<String> {
        o.to_args()
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn flags_follow_the_options() {
        let a = args(
            &Options::new()
                .model("m")
                .permission_mode(PermissionMode::AcceptEdits)
                .allowed_tools(["Bash", "Read"])
                .resume("abc")
                .fork_session(true)
                .max_budget_usd(1.5),
        );
        let s = a.join(" ");
        assert!(
            s.starts_with("-p --output-format stream-json --input-format stream-json --verbose")
        );
        assert!(s.contains("--model m"));
        assert!(s.contains("--permission-mode acceptEdits"));
        assert!(s.contains("--allowedTools Bash,Read"));
        assert!(s.contains("--resume abc --fork-session"));
        assert!(s.contains("--max-budget-usd 1.5"));
    }

    #[test]
    fn invalid_combinations_are_refused_before_spawning() {
        let id = SessionId::new_v4();
        for (o, why) in [
            (
                Options::new().session_id(id).continue_session(true),
                "continue",
            ),
            (
                Options::new().resume("a").continue_session(true),
                "together",
            ),
            (Options::new().fork_session(true), "nothing to fork"),
            (Options::new().resume_session_at("u"), "needs resume"),
            (Options::new().max_budget_usd(-1.0), "positive"),
            (Options::new().resume("--model"), "session id or name"),
        ] {
            let err = o.validate().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidOptions(m) if m.contains(why)),
                "{err}"
            );
        }
        Options::new()
            .session_id(id)
            .resume("x")
            .fork_session(true)
            .validate()
            .unwrap();
    }
}
