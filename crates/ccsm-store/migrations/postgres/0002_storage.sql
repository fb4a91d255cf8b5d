-- Archive chunks are zstd already: stored as they are, not compressed again
-- (pglz tried every 1 MiB chunk and gave up: a quarter of the server's time
-- in a catalog build).
ALTER TABLE archive_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
-- Long message bodies and their vectors: lz4, several times faster than the
-- default pglz, where the server was built with it (Debian's is).
DO $$
BEGIN
    ALTER TABLE texts ALTER COLUMN body SET COMPRESSION lz4;
    ALTER TABLE texts ALTER COLUMN tsv SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END
$$;
