-- 1: the first schema.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    project_dir TEXT NOT NULL,
    project_path TEXT,
    file_path TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    custom_title TEXT,
    first_prompt TEXT,
    git_branch TEXT,
    cwd TEXT,
    native_tag TEXT,
    created_at INTEGER,
    last_modified INTEGER NOT NULL DEFAULT 0,
    file_size INTEGER NOT NULL DEFAULT 0,
    archived INTEGER,
    messages INTEGER NOT NULL DEFAULT 0,
    user_turns INTEGER NOT NULL DEFAULT 0,
    tool_calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    models TEXT NOT NULL DEFAULT '',
    tools TEXT NOT NULL DEFAULT '',
    first_activity INTEGER,
    last_activity INTEGER,
    description TEXT,
    gone INTEGER NOT NULL DEFAULT 0,
    archive_key TEXT
);
CREATE INDEX sessions_project ON sessions(project_path, last_modified DESC);
CREATE INDEX sessions_modified ON sessions(last_modified DESC);
CREATE TABLE tags (
    session_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (session_id, tag)
);
CREATE INDEX tags_tag ON tags(tag);
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    head_hash TEXT NOT NULL
);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    key TEXT UNIQUE,
    ts INTEGER NOT NULL,
    model TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_5m INTEGER NOT NULL,
    cache_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cost REAL
);
CREATE INDEX calls_session ON calls(session_id);
CREATE INDEX calls_ts ON calls(ts);
CREATE TABLE touched (
    session_id TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (session_id, path)
);
-- The text lives in an ordinary table (indexed by session, so a session's rows
-- are found without scanning); the FTS index follows it through triggers.
CREATE TABLE texts (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    uuid TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX texts_session ON texts(session_id, kind);
CREATE VIRTUAL TABLE text_fts USING fts5(
    title, body, content = 'texts', content_rowid = 'id', tokenize = 'unicode61'
);
-- Fewer, larger merges while indexing in bulk; titles weigh ten times the body.
INSERT INTO text_fts (text_fts, rank) VALUES ('automerge', 8);
INSERT INTO text_fts (text_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
CREATE TRIGGER texts_ai AFTER INSERT ON texts BEGIN
    INSERT INTO text_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER texts_ad AFTER DELETE ON texts BEGIN
    INSERT INTO text_fts (text_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TABLE names (
    name TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE name_sessions (
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (name, seq)
);
CREATE INDEX name_sessions_session ON name_sessions(session_id);
