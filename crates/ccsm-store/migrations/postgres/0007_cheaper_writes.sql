-- 7: the sessions' trigger of migration 4 called its summing function (SQL,
-- planned again at each call) once or twice per statement, even when no
-- session came or went: each upsert of a session and each update of its
-- totals paid 0.2-0.3 ms, a tenth of a catalog build's writes. It now finds
-- the sessions that came or went in one pass and sums only for those that
-- have rows in the rollup. What it adds and takes away is unchanged.
CREATE OR REPLACE FUNCTION usage_days_sessions() RETURNS trigger AS $$
DECLARE
    came TEXT[];
    went TEXT[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        came := ARRAY(SELECT id FROM new_rows WHERE NOT gone);
    ELSIF TG_OP = 'DELETE' THEN
        went := ARRAY(SELECT id FROM old_rows WHERE NOT gone);
    ELSE
        SELECT array_agg(n.id) FILTER (WHERE NOT n.gone),
               array_agg(n.id) FILTER (WHERE n.gone)
        INTO came, went
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.gone <> n.gone;
    END IF;
    IF cardinality(came) > 0
       AND EXISTS (SELECT 1 FROM usage_rollup WHERE session_id = ANY(came)) THEN
        PERFORM usage_days_sessions_add(came, 1);
    END IF;
    IF cardinality(went) > 0
       AND EXISTS (SELECT 1 FROM usage_rollup WHERE session_id = ANY(went)) THEN
        PERFORM usage_days_sessions_add(went, -1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- A row's word vector is stored apart and as it is: lz4 saved 16% of its
-- bytes for a fifth of the server's time in writing it, and each read
-- (the index's build, ranking) undid it.
ALTER TABLE texts ALTER COLUMN tsv SET STORAGE EXTERNAL;
