-- 3: subagent transcripts' text is searchable as their session's. Each text row
-- knows the subagent transcript it came from (NULL: the session's own), so a
-- re-read of one file replaces only its rows. Subagent transcripts indexed before
-- (calls only) are read again by the next sync.
ALTER TABLE texts ADD COLUMN file TEXT;
DELETE FROM files WHERE path LIKE '%/subagents/%';
-- Copies of a call in files other than the one it counts to (a fork repeats its
-- original's history): when that file is gone, or re-read without the call, the
-- best copy left takes its place, as the files' own report would count it.
CREATE TABLE call_copies (
    key TEXT NOT NULL,
    file TEXT NOT NULL,
    session_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    model TEXT NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_5m INTEGER NOT NULL,
    cache_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cost REAL,
    rank_ts INTEGER,
    PRIMARY KEY (key, file)
) WITHOUT ROWID;
CREATE INDEX call_copies_file ON call_copies(file);
CREATE INDEX call_copies_session ON call_copies(session_id);
-- The index's terms one instance at a time: prefix* expands by seeking from one
-- word to the next (the 'row' view counts every entry of each word it passes).
CREATE VIRTUAL TABLE text_vocab_i USING fts5vocab('text_fts', 'instance');
-- A small sync's segment merges with its like as soon as there are two (see
-- `tidy`); bulk writes keep automerge's eight.
INSERT INTO text_fts (text_fts, rank) VALUES ('usermerge', 2);
