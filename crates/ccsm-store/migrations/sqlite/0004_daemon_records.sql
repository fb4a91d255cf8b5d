-- 4: what `ccsm serve` must find again after it crashed: its live runs (with the
-- marker their processes carry), pending approvals, supervision specs. One
-- table of JSON records by kind and key, so the daemon's state can grow
-- without a migration per field.
CREATE TABLE daemon_records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
