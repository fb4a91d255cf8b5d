-- 2: calls know their file (subagent transcripts count to their session), notes,
-- the CLI's own cost, and a usage rollup per session, model and day that reports
-- read instead of every call.
ALTER TABLE calls ADD COLUMN file TEXT;
-- The first call's time in the call's file: of two equal copies of a call (a
-- resumed or forked transcript repeats its history), the file that started
-- first keeps it, as ccusage decides, whatever order the files are read in.
ALTER TABLE calls ADD COLUMN rank_ts INTEGER;
ALTER TABLE files ADD COLUMN first_call_ts INTEGER;
UPDATE calls SET file = (SELECT f.path FROM files f WHERE f.session_id = calls.session_id LIMIT 1);
CREATE INDEX calls_file ON calls(file);
ALTER TABLE sessions ADD COLUMN notes TEXT;
ALTER TABLE sessions ADD COLUMN cli_cost_usd REAL;
CREATE TABLE usage_rollup (
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_5m INTEGER NOT NULL,
    cache_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    PRIMARY KEY (session_id, model, day)
) WITHOUT ROWID;
-- Sessions whose calls changed since the rollup was made.
CREATE TABLE usage_dirty (session_id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO usage_dirty SELECT DISTINCT session_id FROM calls;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- A sync counts the sessions present, and a usage report reads what it needs of
-- them, without reading every (wide) session row.
CREATE INDEX sessions_present ON sessions(gone, id, project_dir, cli_cost_usd);
-- Each indexing step's text rows are consecutive: a run. Newest-first search
-- jumps from a match to the start of its run (the next session down) instead of
-- reading every matching message of a session.
CREATE TABLE text_runs (
    first_id INTEGER PRIMARY KEY,
    last_id INTEGER NOT NULL,
    session_id TEXT NOT NULL
);
CREATE INDEX text_runs_session ON text_runs(session_id);
INSERT INTO text_runs (first_id, last_id, session_id)
    SELECT MIN(id), MAX(id), session_id FROM (
        SELECT id, session_id, id - ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS grp
        FROM texts)
    GROUP BY session_id, grp;
-- Text goes into the full-text index one file at a time, not a row at a time
-- through a trigger: FTS5 writes its pending terms out at every statement
-- savepoint, so a trigger made one tiny segment per message, then merged them.
DROP TRIGGER texts_ai;
-- The index's terms, for expanding prefix* into the words it stands for.
CREATE VIRTUAL TABLE text_vocab USING fts5vocab('text_fts', 'row');
-- A call copied into another file moves to it when that copy is larger.
CREATE TRIGGER calls_moved AFTER UPDATE OF session_id ON calls
WHEN old.session_id <> new.session_id BEGIN
    -- (No OR IGNORE: the outer upsert's conflict policy would override it.)
    INSERT INTO usage_dirty (session_id) SELECT old.session_id
    WHERE NOT EXISTS (SELECT 1 FROM usage_dirty WHERE session_id = old.session_id);
    UPDATE sessions SET
        input_tokens = (SELECT COALESCE(SUM(input),0) FROM calls WHERE session_id = old.session_id),
        output_tokens = (SELECT COALESCE(SUM(output),0) FROM calls WHERE session_id = old.session_id),
        cache_creation_tokens = (SELECT COALESCE(SUM(cache_5m + cache_1h),0) FROM calls WHERE session_id = old.session_id),
        cache_read_tokens = (SELECT COALESCE(SUM(cache_read),0) FROM calls WHERE session_id = old.session_id),
        cost_usd = (SELECT COALESCE(SUM(cost),0) FROM calls WHERE session_id = old.session_id)
    WHERE id = old.session_id;
END;
