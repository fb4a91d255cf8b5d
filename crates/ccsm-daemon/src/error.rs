//! The daemon's errors: each knows its kind, which the HTTP layer maps to a
//! status; a 5xx answer never shows the internal message.

use ccsm_core::{ErrorKind, HasKind};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No session, name, process or approval by that id.
    #[error("{0}")]
    NotFound(String),
    /// The session is busy, live elsewhere, already ended...
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] ccsm_service::Error),
    #[error(transparent)]
    Claude(#[from] ccsm_claude::Error),
    /// A bug or an accident (a task that panicked, a poisoned lock).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Conflict(_) => ErrorKind::Conflict,
            Self::Invalid(_) => ErrorKind::InvalidInput,
            Self::Service(e) => e.kind(),
            Self::Claude(e) => e.kind(),
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// Runs a synchronous use case of the service off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("a task failed: {e}")))?
}
