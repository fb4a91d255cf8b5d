-- 4: the usage of present sessions summed by day and model (as SQLite's
-- migration 6 keeps it), in step with the rollup and with each session's
-- `gone` by triggers, so that every path that writes either table is
-- covered. A report per day, week or month reads these few rows: its cost
-- follows the days of history, not the sessions (summing the rollup per
-- report cost 1.3-3.4 ms at 3,000 sessions). The triggers run once per
-- statement over its rows (a rollup is written a thousand sessions at a
-- time). Every write to these tables holds the writers' lock.
CREATE TABLE usage_days (
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    calls BIGINT NOT NULL,
    input BIGINT NOT NULL,
    output BIGINT NOT NULL,
    cache_5m BIGINT NOT NULL,
    cache_1h BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    PRIMARY KEY (day, model)
);

INSERT INTO usage_days
SELECT u.day, u.model, SUM(u.calls), SUM(u.input), SUM(u.output), SUM(u.cache_5m),
       SUM(u.cache_1h), SUM(u.cache_read)
FROM usage_rollup u JOIN sessions s ON s.id = u.session_id
WHERE NOT s.gone
GROUP BY u.day, u.model;

-- Adds rows (day, model, sums; negative to take away) to the sums (a SUM of
-- BIGINTs is NUMERIC).
CREATE OR REPLACE FUNCTION usage_days_add(d TEXT, m TEXT, c NUMERIC, i NUMERIC, o NUMERIC,
                               c5 NUMERIC, c1 NUMERIC, cr NUMERIC) RETURNS void AS $$
    INSERT INTO usage_days VALUES (d, m, c::bigint, i::bigint, o::bigint, c5::bigint,
                                   c1::bigint, cr::bigint)
    ON CONFLICT (day, model) DO UPDATE SET calls = usage_days.calls + excluded.calls,
        input = usage_days.input + excluded.input, output = usage_days.output + excluded.output,
        cache_5m = usage_days.cache_5m + excluded.cache_5m,
        cache_1h = usage_days.cache_1h + excluded.cache_1h,
        cache_read = usage_days.cache_read + excluded.cache_read;
$$ LANGUAGE sql;

-- Rollup rows of present sessions come, go or change.
CREATE OR REPLACE FUNCTION usage_days_rows() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM usage_days_add(r.day, r.model, -r.c, -r.i, -r.o, -r.c5, -r.c1, -r.cr)
        FROM (SELECT o.day, o.model, SUM(o.calls) c, SUM(o.input) i, SUM(o.output) o,
                     SUM(o.cache_5m) c5, SUM(o.cache_1h) c1, SUM(o.cache_read) cr
              FROM old_rows o JOIN sessions s ON s.id = o.session_id AND NOT s.gone
              GROUP BY o.day, o.model) r;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM usage_days_add(r.day, r.model, r.c, r.i, r.o, r.c5, r.c1, r.cr)
        FROM (SELECT n.day, n.model, SUM(n.calls) c, SUM(n.input) i, SUM(n.output) o,
                     SUM(n.cache_5m) c5, SUM(n.cache_1h) c1, SUM(n.cache_read) cr
              FROM new_rows n JOIN sessions s ON s.id = n.session_id AND NOT s.gone
              GROUP BY n.day, n.model) r;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER usage_days_rows_in AFTER INSERT ON usage_rollup
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_days_rows();
CREATE TRIGGER usage_days_rows_out AFTER DELETE ON usage_rollup
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_days_rows();
CREATE TRIGGER usage_days_rows_change AFTER UPDATE ON usage_rollup
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_days_rows();

-- Sessions become present or gone, appear or are forgotten: all their rows,
-- added (`sign` 1) or taken away (-1).
CREATE OR REPLACE FUNCTION usage_days_sessions_add(ids TEXT[], sign INT) RETURNS void AS $$
    SELECT usage_days_add(r.day, r.model, r.c, r.i, r.o, r.c5, r.c1, r.cr)
    FROM (SELECT u.day, u.model, sign * SUM(u.calls) c, sign * SUM(u.input) i,
                 sign * SUM(u.output) o, sign * SUM(u.cache_5m) c5,
                 sign * SUM(u.cache_1h) c1, sign * SUM(u.cache_read) cr
          FROM usage_rollup u WHERE u.session_id = ANY(ids)
          GROUP BY u.day, u.model) r;
$$ LANGUAGE sql;

CREATE OR REPLACE FUNCTION usage_days_sessions() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM usage_days_sessions_add(ARRAY(SELECT id FROM new_rows WHERE NOT gone), 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM usage_days_sessions_add(ARRAY(SELECT id FROM old_rows WHERE NOT gone), -1);
    ELSE
        PERFORM usage_days_sessions_add(ARRAY(SELECT n.id FROM new_rows n
            JOIN old_rows o ON o.id = n.id WHERE o.gone AND NOT n.gone), 1);
        PERFORM usage_days_sessions_add(ARRAY(SELECT n.id FROM new_rows n
            JOIN old_rows o ON o.id = n.id WHERE NOT o.gone AND n.gone), -1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER usage_days_sessions_in AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_days_sessions();
CREATE TRIGGER usage_days_sessions_out AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION usage_days_sessions();
CREATE TRIGGER usage_days_sessions_change AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_days_sessions();
