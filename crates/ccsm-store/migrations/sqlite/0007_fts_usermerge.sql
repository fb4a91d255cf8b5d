-- 7: the merge step after a small sync ('merge' 256, see `tidy`) merges a level
-- only when eight segments gather on it, as automerge does (it was two). With two,
-- the small segment of each re-sync climbed level by level and was soon merged
-- into the big segments of the history: 14,000 pages rewritten after 100 KB
-- appended to a 10 GiB catalog (0.6 s of a 1 s re-sync). Searches over the few
-- more segments this leaves answer as fast (measured on the same catalog).
INSERT INTO text_fts (text_fts, rank) VALUES ('usermerge', 8);
