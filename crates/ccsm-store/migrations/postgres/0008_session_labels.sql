-- 8: a session's tags, names and count of touched files kept on its own row.
-- Every listing and search read them from three more tables in a second
-- statement; a short command runs on a new server process whose catalog
-- caches are cold, and planning that statement (three tables, their indexes)
-- cost about a millisecond, rows or not: a tenth of a filter search through
-- the CLI. The tables stay what filters and writes use; the columns are
-- written in the same transaction as they are (tags and names by the
-- commands that change them, the count with the session's totals).
ALTER TABLE sessions
    ADD COLUMN touched_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tag_list TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN name_list TEXT[] NOT NULL DEFAULT '{}';
UPDATE sessions s SET touched_count = t.n
    FROM (SELECT session_id, COUNT(*) AS n FROM touched GROUP BY session_id) t
    WHERE t.session_id = s.id;
UPDATE sessions s SET tag_list = ARRAY(SELECT g.tag FROM tags g WHERE g.session_id = s.id ORDER BY g.tag)
    WHERE EXISTS (SELECT 1 FROM tags g WHERE g.session_id = s.id);
UPDATE sessions s SET name_list = ARRAY(SELECT DISTINCT n.name FROM name_sessions n
                                        WHERE n.session_id = s.id ORDER BY 1)
    WHERE EXISTS (SELECT 1 FROM name_sessions n WHERE n.session_id = s.id);
