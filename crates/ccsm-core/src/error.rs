//! What kind of failure an error is, so a front maps it without reading its text:
//! the CLI chooses a message and an exit code, the daemon an HTTP status.

use serde::{Deserialize, Serialize};

/// The kinds of failure every library error maps to (`kind()` on each crate's
/// error type). Fronts map these, never error strings: not found is 404 over
/// HTTP, invalid input 400, conflict 409, unavailable 503, internal 500 (whose
/// body says nothing internal).
///
/// JSON: `"notFound"`, `"conflict"`, `"invalidInput"`, `"unavailable"`,
/// `"internal"`. More kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ErrorKind {
    /// What was named does not exist (a session, a name, a project, a file).
    NotFound,
    /// It exists, and the request would clash with it (an id taken, a lock held,
    /// a copy that would be overwritten).
    Conflict,
    /// The request itself is wrong: a bad id, path, date, query, bundle or option.
    InvalidInput,
    /// Something needed is missing or down: the `claude` CLI, a database, the network.
    Unavailable,
    /// A failure of ccsm or of the machine (I/O, a damaged catalog): a bug or an
    /// accident, not the caller's doing.
    Internal,
}

impl ErrorKind {
    /// The JSON spelling (`notFound`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "notFound",
            Self::Conflict => "conflict",
            Self::InvalidInput => "invalidInput",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its [`ErrorKind`]. Every ccsm library error implements it.
pub trait HasKind {
    /// What kind of failure this is.
    fn kind(&self) -> ErrorKind;
}

impl HasKind for std::io::Error {
    fn kind(&self) -> ErrorKind {
        io_kind(self)
    }
}

/// The kind of an I/O error: a missing file is not found, a refused permission or
/// an existing file a conflict, bad data invalid input, the rest internal.
pub fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as Io;
    match e.kind() {
        Io::NotFound => ErrorKind::NotFound,
        Io::AlreadyExists | Io::PermissionDenied => ErrorKind::Conflict,
        Io::InvalidInput | Io::InvalidData | Io::UnexpectedEof => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    }
}
