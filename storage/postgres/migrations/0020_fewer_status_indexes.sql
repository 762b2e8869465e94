-- SQLite's 0020: marking an order paid rewrites every index entry that holds its status. A
-- buyer's open link for a product is found through orders_by_buyer (a buyer has few orders),
-- no query reads orders by product since stock is counted over order_lines (0012), and a
-- buyer's open cart link needs no status in its key.
DROP INDEX orders_open_links;
DROP INDEX orders_by_product;
DROP INDEX orders_open_cart_links;
CREATE INDEX orders_open_cart_links ON orders (telegram_user_id) WHERE from_cart = 1;
