-- What several bot processes on one database decide together, rather than each in its memory.
-- `catalog_version` is bumped by a reload (/reload, SIGHUP) on any process; the others see it
-- move and reload their own catalog. `buyer_taps` holds each buyer's recent taps (Unix seconds,
-- a JSON list), the pace of taps being the buyer's, not each process's. `buy_turns` is the one
-- Buy tap at a time per buyer and product: a lease, which a process killed mid-tap loses when
-- `until` has passed.
CREATE TABLE catalog_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);
CREATE TABLE buyer_taps (
    telegram_user_id INTEGER PRIMARY KEY,
    taps             TEXT NOT NULL
);
CREATE TABLE buy_turns (
    telegram_user_id INTEGER NOT NULL,
    product_id       TEXT NOT NULL,
    holder           TEXT NOT NULL,
    until            REAL NOT NULL,
    PRIMARY KEY (telegram_user_id, product_id)
);
