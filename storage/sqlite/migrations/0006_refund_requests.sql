-- Refunds asked for with /refund: which admin asked (Stripe echoes it in the refund's
-- metadata), and whether that admin was told when Stripe's refund event arrived.
ALTER TABLE refunds ADD COLUMN requested_by INTEGER;
ALTER TABLE refunds ADD COLUMN requester_told INTEGER NOT NULL DEFAULT 0;
