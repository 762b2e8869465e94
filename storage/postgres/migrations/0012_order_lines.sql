-- SQLite's 0012: orders with lines (each product as it was sold), orders made before read as
-- one-line orders, and the orders made from a buyer's cart.
CREATE TABLE order_lines (
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    line_no     INTEGER NOT NULL CHECK (line_no > 0),
    product_id  TEXT NOT NULL,
    title       TEXT NOT NULL,
    unit_amount BIGINT NOT NULL CHECK (unit_amount > 0),
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no)
);

CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);

INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)
    SELECT id, 1, product_id, product_title, unit_amount, quantity FROM orders;

ALTER TABLE orders ADD COLUMN from_cart INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_open_cart_links ON orders (telegram_user_id, status) WHERE from_cart = 1;
