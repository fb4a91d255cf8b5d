-- 6: the word index in two halves (rows of even and of odd id), so that a
-- catalog built from nothing builds them on two connections at once:
-- PostgreSQL 15 builds a GIN index on one process, and whole it was 15 s of
-- a 37 s build on two cores. A search asks for both (`id % 2 = 0 OR
-- id % 2 = 1`: a BitmapOr of the two). Where the index is away (a bulk load
-- under way, see `bulk.rs`), the load's end builds the halves.
DO $$
BEGIN
    IF to_regclass('texts_tsv') IS NOT NULL THEN
        DROP INDEX texts_tsv;
        CREATE INDEX texts_tsv_0 ON texts USING GIN (tsv) WHERE id % 2 = 0;
        CREATE INDEX texts_tsv_1 ON texts USING GIN (tsv) WHERE id % 2 = 1;
    END IF;
END $$;
