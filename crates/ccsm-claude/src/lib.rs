//! Drive the Claude Code CLI from Rust.
//!
//! - [`query`]: one prompt in a fresh process, streamed to its result.
//! - [`Session`]: one long-lived process, many turns ([`Session::send`]), runtime
//!   control (interrupt, model, permission mode, any control request), host
//!   callbacks for tool permissions and hooks.
//! - Lifecycle: the CLI runs as the leader of its own process group; cancel sends the
//!   protocol interrupt, then SIGINT, SIGTERM and SIGKILL with bounded waits, then
//!   sweeps every process the CLI's tools started (see [`process`]). Dropping a
//!   session kills all of it.
//!
//! ```no_run
//! # async fn demo() -> ccsm_claude::Result<()> {
//! use ccsm_claude::{query, Options, Session};
//! let text = query("What is 2 + 2?", Options::new().cwd("/tmp")).await?.text().await?;
//!
//! let session = Session::start(Options::new().model("claude-sonnet-4-5")).await?;
//! let first = session.send("My name is Alice").await?.collect().await?;
//! let second = session.send("What is my name?").await?.collect().await?;
//! println!("{} / {}", first.text(), second.summary());
//! session.close().await?;
//! # Ok(()) }
//! ```

pub mod callbacks;
mod error;
mod find;
mod options;
pub mod process;
pub mod protocol;
mod query;
mod session;

pub use callbacks::{
    CanUseTool, HookCallback, HookInput, HookMatcher, PermissionDecision, ToolPermissionRequest,
};
pub use error::{Error, Result};
pub use find::{candidates, check_version, find_cli, ClaudeCli, MIN_VERSION};
pub use options::Options;
pub use protocol::{ContentBlock, HostEvent, Line, Message, ResultMessage, SystemMessage};
pub use query::{query, Query};
pub use session::{Drained, ExitInfo, Ladder, Session, Turn, TurnOutcome};
