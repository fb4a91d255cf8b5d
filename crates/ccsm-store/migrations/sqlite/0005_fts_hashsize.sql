-- 5: the full-text index keeps up to 32 MiB of new terms in memory before it
-- writes them out as a segment (FTS5's default is 1 MiB). A bulk sync's
-- transaction (48 MB of transcripts) then makes one segment instead of dozens,
-- and the merges that fold segments together do a fraction of the work.
INSERT INTO text_fts (text_fts, rank) VALUES ('hashsize', 33554432);
