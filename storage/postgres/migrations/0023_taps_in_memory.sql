-- SQLite's 0023 drops its table of buyers' taps, now kept in its one process's memory.
-- PostgreSQL's replicas share the pace: its buyer_taps stays.
SELECT 1;
