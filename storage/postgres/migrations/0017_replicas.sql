-- SQLite's 0017: the catalog's version (bumped by a reload on any replica) and each buyer's
-- recent taps; and, PostgreSQL's only, the one Buy tap at a time per buyer and product across
-- replicas: a lease, which a replica killed mid-tap loses once `until` has passed.
CREATE TABLE catalog_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);
CREATE TABLE buyer_taps (
    telegram_user_id BIGINT PRIMARY KEY,
    taps             TEXT NOT NULL
);
CREATE TABLE buy_turns (
    telegram_user_id BIGINT NOT NULL,
    product_id       TEXT NOT NULL,
    holder           TEXT NOT NULL,
    until            DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (telegram_user_id, product_id)
);
