-- Reconciliation reads the waiting orders a batch at a time, those it looked at longest ago
-- first: `check_turn` is the run that last looked at the order (0: never), so that orders
-- Stripe keeps answering the same for cannot keep another from ever being read. `retired_at`
-- marks an order whose Checkout Session Stripe says it does not know (a database moved from
-- test keys to live keys): it leaves the waiting set, holds no stock, and is flagged.
ALTER TABLE orders ADD COLUMN check_turn INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN retired_at INTEGER;
CREATE INDEX orders_waiting ON orders (check_turn, id)
    WHERE status IN ('pending', 'processing') AND checkout_session_id IS NOT NULL
    AND retired_at IS NULL;
