-- Every paid order updates each index on paid_at, so keep only those that pay their way:
-- orders_paid_figures starts with paid_at and serves what orders_by_paid_at did, and a buyer's
-- earlier payments are found through orders_by_buyer (a buyer has few orders).
DROP INDEX orders_by_paid_at;
DROP INDEX orders_buyer_paid;

-- The figures sum what buyers paid (amount_received, after promotion codes), not list prices:
-- the covering index holds that column too.
DROP INDEX orders_paid_figures;
CREATE INDEX orders_paid_figures ON orders (paid_at, status, currency, product_id, amount_total,
    amount_received, amount_refunded, quantity, telegram_user_id) WHERE paid_at IS NOT NULL;
