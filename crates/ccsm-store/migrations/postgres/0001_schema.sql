-- 1: the catalog on PostgreSQL: the same tables as SQLite's, in PostgreSQL's
-- types, shared by many hosts: a session and a transcript's state belong to the
-- host that last indexed them (`host`), and each host's sync sees only its own. Text is searched through a tsvector per row (title words weighed 'A',
-- body words 'D'), made by ccsm from its own tokens (as SQLite's unicode61
-- splits text) and indexed with GIN.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL DEFAULT '',
    project_dir TEXT NOT NULL,
    project_path TEXT,
    file_path TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    custom_title TEXT,
    first_prompt TEXT,
    git_branch TEXT,
    cwd TEXT,
    native_tag TEXT,
    created_at BIGINT,
    last_modified BIGINT NOT NULL DEFAULT 0,
    file_size BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN,
    messages BIGINT NOT NULL DEFAULT 0,
    user_turns BIGINT NOT NULL DEFAULT 0,
    tool_calls BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    models TEXT NOT NULL DEFAULT '',
    tools TEXT NOT NULL DEFAULT '',
    first_activity BIGINT,
    last_activity BIGINT,
    description TEXT,
    gone BOOLEAN NOT NULL DEFAULT FALSE,
    archive_key TEXT,
    notes TEXT,
    cli_cost_usd DOUBLE PRECISION
);
CREATE INDEX sessions_project ON sessions(project_path, last_modified DESC);
CREATE INDEX sessions_modified ON sessions(last_modified DESC, id DESC);
CREATE INDEX sessions_dir ON sessions(project_dir);
CREATE INDEX sessions_host ON sessions(host, gone);
CREATE TABLE tags (
    session_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (session_id, tag)
);
CREATE INDEX tags_tag ON tags(tag);
CREATE TABLE files (
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    session_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    mtime BIGINT NOT NULL,
    "offset" BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    first_call_ts BIGINT,
    PRIMARY KEY (host, path)
);
CREATE INDEX files_session ON files(session_id);
CREATE TABLE calls (
    key TEXT,
    session_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    model TEXT NOT NULL,
    input BIGINT NOT NULL,
    output BIGINT NOT NULL,
    cache_5m BIGINT NOT NULL,
    cache_1h BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    cost DOUBLE PRECISION,
    file TEXT,
    rank_ts BIGINT
);
CREATE UNIQUE INDEX calls_key ON calls(key);
CREATE INDEX calls_session ON calls(session_id);
CREATE INDEX calls_file ON calls(file);
CREATE INDEX calls_ts ON calls(ts);
CREATE TABLE call_copies (
    key TEXT NOT NULL,
    file TEXT NOT NULL,
    session_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    model TEXT NOT NULL,
    input BIGINT NOT NULL,
    output BIGINT NOT NULL,
    cache_5m BIGINT NOT NULL,
    cache_1h BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    cost DOUBLE PRECISION,
    rank_ts BIGINT,
    PRIMARY KEY (key, file)
);
CREATE INDEX call_copies_file ON call_copies(file);
CREATE INDEX call_copies_session ON call_copies(session_id);
CREATE TABLE touched (
    session_id TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (session_id, path)
);
CREATE TABLE texts (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    uuid TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    file TEXT,
    tsv TSVECTOR NOT NULL
);
CREATE INDEX texts_session ON texts(session_id, kind);
CREATE INDEX texts_tsv ON texts USING GIN (tsv);
CREATE TABLE names (
    name TEXT PRIMARY KEY,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
CREATE TABLE name_sessions (
    name TEXT NOT NULL,
    seq BIGINT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (name, seq)
);
CREATE INDEX name_sessions_session ON name_sessions(session_id);
CREATE TABLE usage_rollup (
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    input BIGINT NOT NULL,
    output BIGINT NOT NULL,
    cache_5m BIGINT NOT NULL,
    cache_1h BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    PRIMARY KEY (session_id, model, day)
);
CREATE TABLE usage_dirty (session_id TEXT PRIMARY KEY);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Each daemon's own records (its runs, approvals, supervision specs).
CREATE TABLE daemon_records (
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (host, kind, key)
);
-- What every host's daemon reads: each host's live sessions, commands for a host.
CREATE TABLE shared_records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
-- Transcripts travel through the database: each archived session version (a
-- ccsm bundle, zstd-compressed) as a list of 1 MiB chunks, each stored once
-- by its SHA-256 (a grown session's new version shares its old chunks).
CREATE TABLE archives (
    key TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    host TEXT NOT NULL,
    size BIGINT NOT NULL,
    chunks TEXT[] NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX archives_session ON archives(session_id);
CREATE TABLE archive_chunks (
    hash TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);
