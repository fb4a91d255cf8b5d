//! The vocabulary every ccsm front speaks: ids, permission modes, error kinds,
//! the views of sessions, projects, search hits, names and usage, the state of a
//! live session and the events it publishes. Each wire type documents its JSON.
//!
//! This crate is deliberately small and free of I/O: no tokio, no database, no CLI
//! parsing. Everything here can be used from any other crate without pulling weight.

pub mod error;
pub mod event;
pub mod live;
pub mod run;
pub mod usage;
pub mod views;

pub use error::{ErrorKind, HasKind};
pub use event::{Event, EventRecord};
pub use live::{ApprovalView, LiveStatus, ProcessView, StartedBy};
pub use run::RunStatus;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Claude Code session id: a UUID, always in its lower-case hyphenated form.
///
/// Session ids become file names (`<id>.jsonl`), so a value that came from outside
/// (a command line, an HTTP path, a bundle) must be parsed through this type before
/// it touches the file system: `../../etc/passwd` is not a session id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(uuid::Uuid);

impl SessionId {
    /// A fresh random (v4) id, as the CLI makes for a new session.
    pub fn new_v4() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// The id as the CLI writes it (lower-case, hyphenated).
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

/// Why a string is not a session id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a session id (expected a UUID such as 8b005bc5-61e3-4739-9e48-d98f4b9cdda6): {0:?}")]
pub struct InvalidSessionId(pub String);

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the hyphenated form: the CLI never writes another, and accepting
        // `urn:uuid:` or braces would make two spellings of one file name.
        if s.len() != 36 {
            return Err(InvalidSessionId(s.to_owned()));
        }
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| InvalidSessionId(s.to_owned()))
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<SessionId> for String {
    fn from(value: SessionId) -> Self {
        value.to_string()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// The CLI's permission modes (`--permission-mode`). Open: a mode a newer CLI
/// knows and this build does not is kept as [`PermissionMode::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    Auto,
    BypassPermissions,
    Manual,
    DontAsk,
    Plan,
    Other(String),
}

impl PermissionMode {
    /// The spelling the CLI uses on its command line and in the protocol.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Default => "default",
            Self::AcceptEdits => "acceptEdits",
            Self::Auto => "auto",
            Self::BypassPermissions => "bypassPermissions",
            Self::Manual => "manual",
            Self::DontAsk => "dontAsk",
            Self::Plan => "plan",
            Self::Other(s) => s,
        }
    }
}

impl FromStr for PermissionMode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "default" => Self::Default,
            "acceptEdits" => Self::AcceptEdits,
            "auto" => Self::Auto,
            "bypassPermissions" => Self::BypassPermissions,
            "manual" => Self::Manual,
            "dontAsk" => Self::DontAsk,
            "plan" => Self::Plan,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl PermissionMode {
    /// The modes this build knows, as the CLI spells them.
    pub const KNOWN: [&'static str; 7] = [
        "default",
        "acceptEdits",
        "auto",
        "bypassPermissions",
        "manual",
        "dontAsk",
        "plan",
    ];

    /// A mode a person typed: only a known one (an unknown word is refused, never
    /// silently the default mode).
    pub fn parse_known(s: &str) -> Result<Self, String> {
        match s.parse::<Self>() {
            Ok(Self::Other(o)) => Err(format!(
                "unknown permission mode {o:?}: one of {}",
                Self::KNOWN.join(", ")
            )),
            Ok(m) => Ok(m),
            Err(never) => match never {},
        }
    }
}

impl fmt::Display for PermissionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PermissionMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PermissionMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or(Self::Other(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_round_trips_the_cli_spelling() {
        let s = "8b005bc5-61e3-4739-9e48-d98f4b9cdda6";
        let id: SessionId = s.parse().unwrap();
        assert_eq!(id.to_string(), s);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        let back: SessionId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn hostile_session_ids_are_refused() {
        for bad in [
            "../../etc/passwd",
            "",
            "8b005bc561e347399e48d98f4b9cdda6",
            "{8b005bc5-61e3-4739-9e48-d98f4b9cdda6}",
            "8b005bc5-61e3-4739-9e48-d98f4b9cdda6/..",
        ] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn unknown_permission_modes_are_kept() {
        let m: PermissionMode = serde_json::from_str("\"someFutureMode\"").unwrap();
        assert_eq!(m, PermissionMode::Other("someFutureMode".into()));
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"someFutureMode\"");
        let m: PermissionMode = "acceptEdits".parse().unwrap();
        assert_eq!(m, PermissionMode::AcceptEdits);
    }
}
