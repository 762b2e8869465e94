-- Every paid order updates each index on paid_at, so keep only those that pay their way:
-- orders_paid_figures starts with paid_at and serves what orders_by_paid_at did, and a buyer's
-- earlier payments are found through orders_by_buyer (a buyer has few orders).
DROP INDEX orders_by_paid_at;
DROP INDEX orders_buyer_paid;
