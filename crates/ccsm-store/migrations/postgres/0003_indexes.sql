-- A session's text rows by their order (newest last): a search under filters
-- looks into each session it allows from its newest row down and stops at
-- the first that matches (with the index by kind, it read every row of the
-- session and sorted them: 13 ms for twenty sessions against 1.4 ms).
-- The deletes by kind or file of one session use it as they used the other.
CREATE INDEX IF NOT EXISTS texts_session_id ON texts (session_id, id);
DROP INDEX IF EXISTS texts_session;
