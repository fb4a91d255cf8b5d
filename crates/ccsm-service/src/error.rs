//! The service's error: what the libraries said, or a refusal of its own, each
//! with its [`ErrorKind`] so a front maps it (exit code, HTTP status) without
//! reading text.

use ccsm_core::{ErrorKind, HasKind};

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Transcripts(#[from] ccsm_transcripts::Error),
    #[error(transparent)]
    Store(#[from] ccsm_store::Error),
    #[error(transparent)]
    Index(#[from] ccsm_index::Error),
    #[error(transparent)]
    Claude(#[from] ccsm_claude::Error),
    /// A refusal or failure of the use case itself.
    #[error("{message}")]
    Failed { kind: ErrorKind, message: String },
    /// What was being done when `source` failed (shown as `context: source`).
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Transcripts(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Index(e) => e.kind(),
            Self::Claude(e) => e.kind(),
            Self::Failed { kind, .. } => *kind,
            Self::Context { source, .. } => source.kind(),
            Self::Io(e) => ccsm_core::error::io_kind(e),
            Self::Json(_) => ErrorKind::InvalidInput,
        }
    }
}

impl Error {
    /// A refusal of kind `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Failed {
            kind,
            message: message.into(),
        }
    }

    /// Invalid input, said as `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Not found, said as `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The catalog file is damaged (or not a catalog): the cure is `catalog
    /// repair`, never a silent rebuild.
    pub fn is_corrupt(&self) -> bool {
        match self {
            Self::Store(e) => e.is_corrupt(),
            Self::Index(ccsm_index::Error::Store(e)) => e.is_corrupt(),
            Self::Context { source, .. } => source.is_corrupt(),
            _ => false,
        }
    }
}

/// `.context(..)` on any result whose error becomes an [`Error`].
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T>;
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: what.into(),
            source: Box::new(e.into()),
        })
    }
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: what().into(),
            source: Box::new(e.into()),
        })
    }
}

/// Returns early with an invalid-input refusal (`bail!` for the service).
macro_rules! invalid {
    ($($t:tt)*) => {
        return Err($crate::Error::invalid(format!($($t)*)))
    };
}
pub(crate) use invalid;
