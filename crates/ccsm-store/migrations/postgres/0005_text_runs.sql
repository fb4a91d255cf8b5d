-- 5: each indexing step's text rows are consecutive: a run (as SQLite's
-- migration 2 keeps them). Newest-first search jumps from a match to the
-- start of its run (the next session down) instead of reading every row of
-- the session it has found already (twenty sessions of a common word read
-- some 26,000 rows). A run is written only when its rows' ids are
-- consecutive; ids are never used again, so a run whose rows were deleted
-- covers nothing else.
CREATE TABLE text_runs (
    first_id BIGINT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    session_id TEXT NOT NULL
);
CREATE INDEX text_runs_session ON text_runs (session_id);
INSERT INTO text_runs (first_id, last_id, session_id)
SELECT MIN(id), MAX(id), session_id FROM (
    SELECT id, session_id, id - ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS grp
    FROM texts) t
GROUP BY session_id, grp;
