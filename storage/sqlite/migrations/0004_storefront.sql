-- The storefront: stock counted from the number the owner last wrote, the language each buyer
-- chose with /language, and the discount a promotion code gave on an order.

-- What a promotion code took off the order (Stripe's total_details.amount_discount), in the
-- order's currency; NULL until the payment is recorded.
ALTER TABLE orders ADD COLUMN amount_discount INTEGER;

CREATE INDEX orders_by_product ON orders (product_id, status);

-- The `stock` the owner last wrote in the catalog for a product, with the highest order id and
-- the time when the bot first saw that number: orders paid before then do not count against it
-- (they had left the shelf the owner counted), so a new number after a delivery restocks.
CREATE TABLE stock_levels (
    product_id     TEXT PRIMARY KEY,
    stock          INTEGER NOT NULL CHECK (stock >= 0),
    after_order_id INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL
);

-- The language a buyer picked with /language; without a row, Telegram's language_code decides.
CREATE TABLE buyer_languages (
    telegram_user_id INTEGER PRIMARY KEY,
    language         TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
);
