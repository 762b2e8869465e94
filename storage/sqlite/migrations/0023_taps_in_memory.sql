-- The buyers' recent taps live in the one process's memory (storage/pacing.py's TapBook): a
-- row written per tap added a COMMIT, and an fsync, to every Buy tap.
DROP TABLE buyer_taps;
