-- SQLite's 0013: buyers' carts, one per buyer, dropped when untouched for 30 days.
CREATE TABLE carts (
    telegram_user_id BIGINT PRIMARY KEY,
    touched_at       BIGINT NOT NULL
);

CREATE INDEX carts_by_touch ON carts (touched_at);

CREATE TABLE cart_lines (
    telegram_user_id BIGINT NOT NULL REFERENCES carts (telegram_user_id),
    product_id       TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_amount      BIGINT NOT NULL CHECK (unit_amount > 0),
    currency         TEXT NOT NULL,
    position         INTEGER NOT NULL,
    PRIMARY KEY (telegram_user_id, product_id)
);
