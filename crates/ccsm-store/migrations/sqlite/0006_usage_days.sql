-- 6: the usage of present sessions summed by day and model, kept in step with
-- the rollup and with each session's `gone` by triggers (every path that writes
-- either table is covered, whatever it is). A report per day, week or month reads
-- these few rows: its cost follows the days of history, not the sessions.
CREATE TABLE usage_days (
    day TEXT NOT NULL,
    model TEXT NOT NULL,
    calls INTEGER NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_5m INTEGER NOT NULL,
    cache_1h INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    PRIMARY KEY (day, model)
) WITHOUT ROWID;

INSERT INTO usage_days
SELECT u.day, u.model, SUM(u.calls), SUM(u.input), SUM(u.output), SUM(u.cache_5m),
       SUM(u.cache_1h), SUM(u.cache_read)
FROM usage_rollup u JOIN sessions s ON s.id = u.session_id
WHERE s.gone = 0
GROUP BY u.day, u.model;

-- A rollup row of a present session comes or goes.
CREATE TRIGGER usage_days_row_in AFTER INSERT ON usage_rollup
WHEN EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id AND gone = 0)
BEGIN
    INSERT INTO usage_days VALUES (NEW.day, NEW.model, NEW.calls, NEW.input, NEW.output,
        NEW.cache_5m, NEW.cache_1h, NEW.cache_read)
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;

CREATE TRIGGER usage_days_row_out AFTER DELETE ON usage_rollup
WHEN EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id AND gone = 0)
BEGIN
    UPDATE usage_days SET calls = calls - OLD.calls, input = input - OLD.input,
        output = output - OLD.output, cache_5m = cache_5m - OLD.cache_5m,
        cache_1h = cache_1h - OLD.cache_1h, cache_read = cache_read - OLD.cache_read
    WHERE day = OLD.day AND model = OLD.model;
END;

CREATE TRIGGER usage_days_row_change AFTER UPDATE ON usage_rollup
BEGIN
    UPDATE usage_days SET calls = calls - OLD.calls, input = input - OLD.input,
        output = output - OLD.output, cache_5m = cache_5m - OLD.cache_5m,
        cache_1h = cache_1h - OLD.cache_1h, cache_read = cache_read - OLD.cache_read
    WHERE day = OLD.day AND model = OLD.model
      AND EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id AND gone = 0);
    INSERT INTO usage_days SELECT NEW.day, NEW.model, NEW.calls, NEW.input, NEW.output,
        NEW.cache_5m, NEW.cache_1h, NEW.cache_read
    WHERE EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id AND gone = 0)
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;

-- A session becomes present or gone, appears or is forgotten: all its rows.
CREATE TRIGGER usage_days_session_in AFTER INSERT ON sessions
WHEN NEW.gone = 0
BEGIN
    INSERT INTO usage_days SELECT day, model, calls, input, output, cache_5m, cache_1h,
        cache_read FROM usage_rollup WHERE session_id = NEW.id
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;

CREATE TRIGGER usage_days_session_back AFTER UPDATE OF gone ON sessions
WHEN OLD.gone != 0 AND NEW.gone = 0
BEGIN
    INSERT INTO usage_days SELECT day, model, calls, input, output, cache_5m, cache_1h,
        cache_read FROM usage_rollup WHERE session_id = NEW.id
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;

CREATE TRIGGER usage_days_session_gone AFTER UPDATE OF gone ON sessions
WHEN OLD.gone = 0 AND NEW.gone != 0
BEGIN
    INSERT INTO usage_days SELECT day, model, -calls, -input, -output, -cache_5m, -cache_1h,
        -cache_read FROM usage_rollup WHERE session_id = OLD.id
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;

CREATE TRIGGER usage_days_session_out AFTER DELETE ON sessions
WHEN OLD.gone = 0
BEGIN
    INSERT INTO usage_days SELECT day, model, -calls, -input, -output, -cache_5m, -cache_1h,
        -cache_read FROM usage_rollup WHERE session_id = OLD.id
    ON CONFLICT (day, model) DO UPDATE SET calls = calls + excluded.calls,
        input = input + excluded.input, output = output + excluded.output,
        cache_5m = cache_5m + excluded.cache_5m, cache_1h = cache_1h + excluded.cache_1h,
        cache_read = cache_read + excluded.cache_read;
END;
