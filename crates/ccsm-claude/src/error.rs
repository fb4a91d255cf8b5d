use std::path::PathBuf;

/// What went wrong driving the CLI. Each variant is something a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `claude` binary was found; `searched` lists every place looked at.
    #[error("the Claude Code CLI was not found; looked at: {}. Install it (npm install -g @anthropic-ai/claude-code) or set CCSM_CLAUDE_PATH", display_paths(.searched))]
    CliNotFound { searched: Vec<PathBuf> },
    /// The CLI is older than this library supports.
    #[error("Claude Code {found} at {path} is too old; ccsm needs {minimum} or newer")]
    CliTooOld {
        path: PathBuf,
        found: String,
        minimum: String,
    },
    /// Options that cannot go together, refused before anything is spawned.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The process could not be started.
    #[error("could not start {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CLI exited before finishing what it was asked; `stderr_tail` is the end of
    /// what it wrote to stderr.
    #[error("Claude Code exited ({}){}", exit_desc(*.code, *.signal), tail_desc(.stderr_tail))]
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        stderr_tail: String,
    },
    /// A line on stdout that is not the protocol (not JSON, or too long).
    #[error("protocol error: {reason}: {}", shorten(.line))]
    Protocol { line: String, reason: String },
    /// A control request or a wait did not finish in time.
    #[error("timed out waiting for {what}")]
    Timeout { what: String },
    /// The turn or session was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// The model call failed (an error result such as `API Error: 529 ...`).
    #[error("API error{}: {message}", .status.map(|s| format!(" {s}")).unwrap_or_default())]
    Api {
        status: Option<u16>,
        message: String,
    },
    /// The CLI answered a control request with an error.
    #[error("control request {subtype} failed: {message}")]
    Control { subtype: String, message: String },
    /// A turn is already running on this session.
    #[error("a turn is already running in this session")]
    Busy,
    /// The session's process has ended; start a new one.
    #[error("the session has ended")]
    Closed,
    #[error("I/O error talking to Claude Code: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ccsm_core::HasKind for Error {
    fn kind(&self) -> ccsm_core::ErrorKind {
        use ccsm_core::ErrorKind as K;
        match self {
            Self::CliNotFound { .. } | Self::CliTooOld { .. } | Self::Spawn { .. } => {
                K::Unavailable
            }
            Self::InvalidOptions(_) => K::InvalidInput,
            Self::Busy => K::Conflict,
            Self::Exited { .. } | Self::Closed | Self::Api { .. } | Self::Timeout { .. } => {
                K::Unavailable
            }
            Self::Cancelled | Self::Control { .. } | Self::Protocol { .. } | Self::Io(_) => {
                K::Internal
            }
        }
    }
}

fn display_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn exit_desc(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "unknown status".into(),
    }
}

fn tail_desc(tail: &str) -> String {
    let t = tail.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(": {}", shorten(t))
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 400;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// `API Error: 529 {...}` → (Some(529), the whole text).
pub(crate) fn api_error_from_result(text: &str) -> Error {
    let status = text
        .strip_prefix("API Error: ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok());
    Error::Api {
        status,
        message: text.to_owned(),
    }
}
