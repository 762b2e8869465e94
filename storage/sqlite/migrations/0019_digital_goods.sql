-- Digital goods: what each product delivers (written from the catalog at start-up and on each
-- reload), the key pools (one row a code; `order_id` is the order that took it, once, for
-- good), the one-person invite link made for an order (one per group or channel), the file ids Telegram gave for the
-- files the bot uploaded, and the payments made in Telegram Stars, each recorded once by its
-- charge id.
CREATE TABLE digital_products (
    product_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL
);
CREATE TABLE key_codes (
    id INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL,
    code TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    order_id INTEGER REFERENCES orders (id),
    taken_at INTEGER,
    UNIQUE (product_id, code)
);
CREATE INDEX key_codes_free ON key_codes (product_id, id) WHERE order_id IS NULL;
CREATE INDEX key_codes_of_order ON key_codes (order_id) WHERE order_id IS NOT NULL;
CREATE TABLE invite_links (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    chat_id INTEGER NOT NULL,
    invite_link TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (order_id, chat_id)
);
CREATE TABLE sent_files (
    path TEXT PRIMARY KEY,
    file_id TEXT NOT NULL
);
CREATE TABLE star_payments (
    charge_id TEXT PRIMARY KEY,
    order_id INTEGER NOT NULL UNIQUE REFERENCES orders (id),
    telegram_user_id INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    paid_at INTEGER NOT NULL,
    refunded_at INTEGER
);
CREATE INDEX star_payments_of_buyer ON star_payments (telegram_user_id, paid_at);
