-- What several bot processes on one database decide together, rather than each in its memory
-- (PostgreSQL's 0017; SQLite has one process, and needs no turns at a product: buy_turns is
-- PostgreSQL's only). `catalog_version` is bumped by a reload (/reload, SIGHUP); a process
-- that sees it move reloads its own catalog. `buyer_taps` holds each buyer's recent taps (Unix
-- seconds, a JSON list).
CREATE TABLE catalog_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);
CREATE TABLE buyer_taps (
    telegram_user_id INTEGER PRIMARY KEY,
    taps             TEXT NOT NULL
);
