//! The options of a run: which CLI, where, which model and conversation, and
//! the conversation's name, resolved the same way for every front.

use std::path::PathBuf;

use ccsm_claude::Options;
use ccsm_core::PermissionMode;

use crate::{Error, Result, Service, Source};

/// What a front asks a run to be.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The claude binary (default: the config file's, then PATH).
    pub claude: Option<PathBuf>,
    /// The project directory to run in.
    pub cwd: Option<PathBuf>,
    pub model: Option<String>,
    /// Resume this session (an id, a prefix of one, or a name).
    pub resume: Option<String>,
    /// Continue the most recent session of the directory.
    pub continue_: bool,
    /// With resume or continue: a new session with the same history.
    pub fork: bool,
    pub permission_mode: Option<PermissionMode>,
    pub allowed_tools: Vec<String>,
    /// Start or continue the conversation saved under this name.
    pub session_name: Option<String>,
    /// Continue the conversation saved under this name (it must exist).
    pub load_name: Option<String>,
    /// Stream partial messages (for a live view).
    pub partial: bool,
}

/// A run ready to start: the CLI's options, and the name to save the session
/// under once its id is known.
#[derive(Debug)]
pub struct PreparedRun {
    pub options: Options,
    pub name: Option<String>,
}

impl Service {
    /// Resolves a run's request: a name to its conversation's latest session, a
    /// resume prefix to its id, and the config dir the CLI must write to.
    pub fn prepare_run(&self, r: &RunRequest) -> Result<PreparedRun> {
        let mut resume = r.resume.clone();
        let name = match (&r.session_name, &r.load_name) {
            (Some(n), _) | (None, Some(n)) => {
                let must_exist = r.session_name.is_none();
                match self.catalog()?.store.name(n)? {
                    Some(rec) => resume = rec.sessions.last().cloned(),
                    None if must_exist => {
                        return Err(Error::not_found(format!(
                            "no conversation is saved under the name {n:?}"
                        )))
                    }
                    None => {}
                }
                Some(n.clone())
            }
            (None, None) => {
                // `--resume` takes what every command takes: a prefix, a name, any case.
                if let Some(id) = &resume {
                    resume = Some(self.resolve_id(id, Source::Catalog)?);
                }
                None
            }
        };
        let mut o = Options::new().include_partial_messages(r.partial);
        // The CLI writes where ccsm reads: a named config dir reaches it too.
        if let Some(d) = &self.explicit_dir {
            o = o.env("CLAUDE_CONFIG_DIR", d.as_os_str());
        }
        if let Some(c) = r.claude.as_ref().or(self.config.claude.as_ref()) {
            o = o.cli_path(c.clone());
        }
        if let Some(d) = &r.cwd {
            o = o.cwd(d.clone());
        }
        if let Some(m) = &r.model {
            o = o.model(m.clone());
        }
        if let Some(id) = resume {
            o = o.resume(id);
        }
        if let Some(m) = &r.permission_mode {
            o = o.permission_mode(m.clone());
        }
        if !r.allowed_tools.is_empty() {
            o = o.allowed_tools(r.allowed_tools.clone());
        }
        Ok(PreparedRun {
            options: o.continue_session(r.continue_).fork_session(r.fork),
            name,
        })
    }
}
