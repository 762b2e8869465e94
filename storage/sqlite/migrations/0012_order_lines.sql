-- Orders with lines: an order sells one or more products, each as it was sold (title in the
-- buyer's language, unit price of the moment, quantity). Orders made before read as one-line
-- orders. The orders table keeps product_id, product_title, unit_amount (the first line's)
-- and quantity (the units of every line) filled, for readers of the file itself; the lines
-- are what the shop reads.
CREATE TABLE order_lines (
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    line_no     INTEGER NOT NULL CHECK (line_no > 0),
    product_id  TEXT NOT NULL,
    title       TEXT NOT NULL,
    unit_amount INTEGER NOT NULL CHECK (unit_amount > 0),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no)
);

-- Stock counts a product's units across the lines of the orders holding them.
CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);

INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)
    SELECT id, 1, product_id, product_title, unit_amount, quantity FROM orders;

-- An order made from the buyer's cart: one open cart link per buyer, whatever its products.
ALTER TABLE orders ADD COLUMN from_cart INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_open_cart_links ON orders (telegram_user_id, status) WHERE from_cart = 1;
