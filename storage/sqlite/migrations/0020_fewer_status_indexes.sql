-- Marking an order paid rewrites every index entry that holds its status, on the webhook's hot
-- path. Kept: orders_by_status (the metrics' count per status scans it, not the table),
-- orders_waiting (reconciliation's queue), orders_paid_figures and orders_by_payment_intent.
-- Dropped: orders_open_links, whose lookup (a buyer's open link for a product) reads the
-- buyer's few orders through orders_by_buyer; and orders_by_product, which no query has used
-- since stock is counted over order_lines (0012).
DROP INDEX orders_open_links;
DROP INDEX orders_by_product;
-- A buyer's open cart link: their cart orders are few, so the status need not be in the key,
-- and an order's move leaves this index alone.
DROP INDEX orders_open_cart_links;
CREATE INDEX orders_open_cart_links ON orders (telegram_user_id) WHERE from_cart = 1;
