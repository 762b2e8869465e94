-- The whole Checkout lifecycle: refunds, the message that holds a pay button (edited when its
-- link expires), amounts that did not match, every status change, and admins' alert choice.

ALTER TABLE orders ADD COLUMN amount_refunded INTEGER NOT NULL DEFAULT 0;
-- The chat message holding the pay button, so an expired link can be taken off it.
ALTER TABLE orders ADD COLUMN pay_message_id INTEGER;
-- Why the admins should look at this order (the amount paid did not match, say); NULL if fine.
ALTER TABLE orders ADD COLUMN flag TEXT;

CREATE INDEX orders_by_payment_intent ON orders (payment_intent_id)
    WHERE payment_intent_id IS NOT NULL;
CREATE INDEX orders_open_links ON orders (telegram_user_id, product_id, status);

-- Every status an order took, with what moved it there.
CREATE TABLE order_history (
    id       INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    status   TEXT NOT NULL,
    at       INTEGER NOT NULL,
    source   TEXT NOT NULL
);

CREATE INDEX order_history_by_order ON order_history (order_id, id);

INSERT INTO order_history (order_id, status, at, source)
    SELECT id, 'pending', created_at, 'migration' FROM orders;
INSERT INTO order_history (order_id, status, at, source)
    SELECT id, status, updated_at, 'migration' FROM orders WHERE status != 'pending';

-- Refunds as Stripe reported them, one row per refund id: the refunded total of an order is
-- computed from these and from the charge's own cumulative figure, whichever says more.
CREATE TABLE refunds (
    id         TEXT PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    amount     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Admins who asked for a message on every sale, refund and failed payment (/alerts on).
CREATE TABLE admin_alerts (
    admin_id   INTEGER PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Kind-specific facts a queued message needs beyond its order (the amount of one refund).
ALTER TABLE outbox ADD COLUMN detail TEXT;
