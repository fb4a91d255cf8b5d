//! One-shot queries: one prompt, one process, one turn.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use crate::error::Result;
use crate::options::Options;
use crate::protocol::Line;
use crate::session::{ExitInfo, Ladder, Session, Turn, TurnOutcome};

/// A running one-shot query: a stream of lines ending with the result. The process
/// ends with it (stdin is closed once the result came); dropping the query early
/// kills the process group.
pub struct Query {
    session: Option<Session>,
    turn: Turn,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("session", &self.session)
            .finish()
    }
}

/// Starts the CLI with `options` and sends `prompt` at once (the handshake is
/// pipelined, see [`Session::start_pipelined`]).
pub async fn query(prompt: &str, options: Options) -> Result<Query> {
    let session = Session::start_pipelined(options).await?;
    let turn = session.send(prompt).await?;
    Ok(Query {
        session: Some(session),
        turn,
    })
}

impl Query {
    pub fn session_id(&self) -> Option<String> {
        self.session.as_ref().and_then(Session::session_id)
    }
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }
    /// Asks the CLI to stop the turn.
    pub async fn interrupt(&self) -> Result<()> {
        match &self.session {
            Some(s) => s.interrupt().await,
            None => Ok(()),
        }
    }
    /// Cancels: interrupt, then the signal ladder, then the sweep.
    pub async fn cancel(mut self, ladder: Ladder) -> Option<ExitInfo> {
        match self.session.take() {
            Some(s) => Some(s.cancel(ladder).await),
            None => None,
        }
    }
    /// Reads to the end and closes the process; error results become errors.
    pub async fn collect(mut self) -> Result<TurnOutcome> {
        let session = self.session.take();
        let out = self.turn.collect().await;
        if let Some(s) = session {
            let _ = s.close().await;
        }
        out
    }
    /// Like [`Self::collect`], but an error result is returned as an outcome.
    pub async fn collect_any(mut self) -> Result<TurnOutcome> {
        let session = self.session.take();
        let out = self.turn.collect_any().await;
        if let Some(s) = session {
            let _ = s.close().await;
        }
        out
    }
    /// The final text.
    pub async fn text(self) -> Result<String> {
        self.collect().await.map(|o| o.text())
    }
}

impl Stream for Query {
    type Item = Result<Line>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.turn).poll_next(cx)
    }
}
