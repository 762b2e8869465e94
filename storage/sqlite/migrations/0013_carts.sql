-- Buyers' carts: what each buyer put aside to check out together. A cart is its buyer's alone,
-- holds one currency, and is dropped when untouched for 30 days (`touched_at`). Each line keeps
-- the unit price it had when added, so the cart can say when the catalog's price changed.
CREATE TABLE carts (
    telegram_user_id INTEGER PRIMARY KEY,
    touched_at       INTEGER NOT NULL
);

CREATE INDEX carts_by_touch ON carts (touched_at);

CREATE TABLE cart_lines (
    telegram_user_id INTEGER NOT NULL REFERENCES carts (telegram_user_id),
    product_id       TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_amount      INTEGER NOT NULL CHECK (unit_amount > 0),
    currency         TEXT NOT NULL,
    -- Lines are shown in the order they were added.
    position         INTEGER NOT NULL,
    PRIMARY KEY (telegram_user_id, product_id)
);
