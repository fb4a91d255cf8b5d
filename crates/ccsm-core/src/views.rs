//! The views every front shows: sessions, projects, search hits, names, bundle
//! metadata. The JSON of each is part of ccsm's interface (`--json`, the REST
//! API): field names follow the official Agent SDK's where it has the thing
//! (`SDKSessionInfo`, `SessionMessage`), camelCase otherwise. Fields may be added
//! in later versions; none is renamed or removed. Optional fields are left out
//! when empty, as the SDK leaves them out.

use serde::{Deserialize, Serialize};

/// One session as the SDK's `listSessions()` gives it (`SDKSessionInfo`), field
/// for field.
///
/// ```json
/// {"sessionId": "8b005bc5-61e3-4739-9e48-d98f4b9cdda6", "summary": "What is my name?",
///  "lastModified": 1795000000000, "fileSize": 2048, "customTitle": "naming",
///  "firstPrompt": "What is my name?", "gitBranch": "main", "cwd": "/home/dev/src/alpha",
///  "tag": "important", "createdAt": 1794999000000, "archived": true}
/// ```
///
/// Times are milliseconds since the epoch; `summary` is the title, else the first
/// prompt; `customTitle` through `archived` appear only when set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub session_id: String,
    pub summary: String,
    pub last_modified: i64,
    pub file_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// One message of a conversation as the SDK's `getSessionMessages()` gives it.
///
/// ```json
/// {"type": "user", "uuid": "…", "session_id": "…", "message": {"role": "user", "content": "hi"},
///  "parent_tool_use_id": null, "parent_agent_id": null, "timestamp": "2026-11-20T10:00:00.000Z"}
/// ```
///
/// `message` is the API message as the CLI recorded it; `isCompactSummary` and
/// `is_meta` appear only when true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionMessage {
    #[serde(rename = "type")]
    pub kind: String,
    pub uuid: String,
    pub session_id: Option<String>,
    pub message: serde_json::Value,
    pub parent_tool_use_id: Option<String>,
    pub parent_agent_id: Option<String>,
    /// `isCompactSummary`, when the line is a compaction's summary.
    #[serde(
        rename = "isCompactSummary",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub is_compact_summary: bool,
    /// A meta line the SDK still shows (a compaction's summary, say).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_meta: bool,
    /// When the line was written (ISO 8601), as the SDK gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// A project: a dir under the CLI's `projects/` with the real path its sessions
/// ran in.
///
/// ```json
/// {"path": "/home/dev/src/alpha", "dirName": "-home-dev-src-alpha", "sessions": 11,
///  "size": 1048576, "lastModified": 1795000000000}
/// ```
///
/// `path` is `null` when no entry says where the sessions ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    /// The real path (from the entries' `cwd`; `None` if no entry says it).
    pub path: Option<String>,
    /// The dir name under `projects/`.
    pub dir_name: String,
    pub sessions: usize,
    pub size: u64,
    pub last_modified: i64,
}

/// A session as ccsm lists it: the SDK's [`SessionInfo`] fields, then ccsm's own
/// when set.
///
/// ```json
/// {"sessionId": "…", "summary": "…", "lastModified": 1795000000000, "fileSize": 2048,
///  "gone": true, "tags": ["dairy"], "description": "about milk", "notes": "first note"}
/// ```
///
/// `gone`: the CLI's transcript is deleted and ccsm keeps the archived copy
/// (`sessions restore`); `tags`, `description`, `notes` are ccsm's, never written
/// to Claude Code's files.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    #[serde(flatten)]
    pub info: SessionInfo,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The host whose config dir holds it (a catalog shared by many hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl From<SessionInfo> for SessionView {
    /// A session the files describe: nothing of ccsm's own.
    fn from(info: SessionInfo) -> Self {
        Self {
            info,
            gone: false,
            tags: Vec::new(),
            description: None,
            notes: None,
            host: None,
        }
    }
}

/// A project as `projects list` shows it: [`ProjectInfo`], and with
/// `--include-gone` the number of its sessions whose transcript is gone.
///
/// ```json
/// {"path": "/home/dev/src/alpha", "dirName": "-home-dev-src-alpha", "sessions": 11,
///  "size": 1048576, "lastModified": 1795000000000, "goneSessions": 2}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    #[serde(flatten)]
    pub info: ProjectInfo,
    /// With `--include-gone`: sessions of the project whose transcript is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gone_sessions: Option<u64>,
    /// The host whose folder it is, in a catalog shared by many hosts (two
    /// hosts' folders of one path are two projects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The project's name when hosts' folders were mapped into one
    /// (`projects map`, by hand or by git remote); `path` is then that name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The folders mapped into it, each with its host and sessions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<ProjectFolder>,
}

/// One host's folder of a project that folders of many hosts were mapped into.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectFolder {
    pub host: String,
    pub path: String,
    pub sessions: usize,
}

/// A search result: the session ([`SessionView`]'s fields), the text that
/// matched with the match in `[…]` (empty for a filter-only search) and its score
/// (bm25, smaller is better; 0 when not ranked).
///
/// ```json
/// {"sessionId": "…", "summary": "Milk note", "lastModified": 1795000000000, "fileSize": 2048,
///  "snippet": "buy [milk] on the way", "score": 0.0}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitView {
    #[serde(flatten)]
    pub session: SessionView,
    pub snippet: String,
    pub score: f64,
}

/// A name: a conversation's chain of CLI session ids, oldest first (the latest
/// is the one `run --session NAME` resumes).
///
/// ```json
/// {"name": "tea", "sessions": ["…", "…"], "created": 1795000000000, "updated": 1795000100000}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameView {
    pub name: String,
    pub sessions: Vec<String>,
    pub created: i64,
    pub updated: i64,
}

/// What a bundle carries of ccsm's own metadata for one session (`ccsm` in the
/// bundle's manifest, and in `sessions import --json`). Absent when there is none.
///
/// ```json
/// {"description": "tea talk", "notes": "…", "tags": ["drinks"], "names": [{"name": "tea", "seq": 0}]}
/// ```
///
/// `seq` is the session's place in the name's chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<NameSeq>,
}

impl BundleMeta {
    /// Whether it carries nothing (then a bundle leaves it out).
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.notes.is_none()
            && self.tags.is_empty()
            && self.names.is_empty()
    }
}

/// A session's place in a name's chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NameSeq {
    pub name: String,
    pub seq: u64,
}
