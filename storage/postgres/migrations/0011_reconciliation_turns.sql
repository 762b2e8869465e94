-- SQLite's 0011: reconciliation's rotation through the waiting orders, and the orders whose
-- Checkout Session Stripe does not know, retired from it.
ALTER TABLE orders ADD COLUMN check_turn BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN retired_at BIGINT;
CREATE INDEX orders_waiting ON orders (check_turn, id)
    WHERE status IN ('pending', 'processing') AND checkout_session_id IS NOT NULL
    AND retired_at IS NULL;
