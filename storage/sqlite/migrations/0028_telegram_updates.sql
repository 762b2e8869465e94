-- PostgreSQL's 0028 records the Telegram updates its replicas took. SQLite's one process keeps
-- them in memory (storage/updates.py's UpdateBook): nothing to change here.
SELECT 1;
