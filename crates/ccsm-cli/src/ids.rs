//! Every session a command names, resolved to its full id: the whole id (any
//! case), a unique prefix of it (the short ids tables show), or a conversation's
//! name. The rules are the service's; this walks a command's arguments.

use anyhow::Result;
use ccsm_service::{Service, Source};

use crate::sessions::{SessionsCmd, TagsCmd};

/// Every session a command names, as the full id (prefixes, names, any case).
pub fn resolve_ids(svc: &Service, mut cmd: SessionsCmd, source: Source) -> Result<SessionsCmd> {
    let one = |id: &mut String| -> Result<()> {
        *id = svc.resolve_id(id, source)?;
        Ok(())
    };
    match &mut cmd {
        SessionsCmd::Info { id }
        | SessionsCmd::Describe { id, .. }
        | SessionsCmd::Note { id, .. }
        | SessionsCmd::Tags(TagsCmd::Add { id, .. } | TagsCmd::Rm { id, .. })
        | SessionsCmd::Restore { id, .. }
        | SessionsCmd::Messages { id, .. }
        | SessionsCmd::Subagents { id }
        | SessionsCmd::Rename { id, .. }
        | SessionsCmd::Tag { id, .. }
        | SessionsCmd::Archive { id }
        | SessionsCmd::Unarchive { id }
        | SessionsCmd::Rm { id, .. }
        | SessionsCmd::Clone { id, .. }
        | SessionsCmd::Navigate { id, .. }
        | SessionsCmd::Fork { id, .. } => one(id)?,
        SessionsCmd::Export { ids, .. } => {
            for id in ids {
                one(id)?;
            }
        }
        SessionsCmd::List { .. }
        | SessionsCmd::Search { .. }
        | SessionsCmd::Cleanup { .. }
        | SessionsCmd::Import { .. } => {}
    }
    Ok(cmd)
}
