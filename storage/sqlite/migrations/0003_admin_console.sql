-- The owner's console: indexes for its figures, listings and exports, and each admin's language
-- (alerts are written in it: amounts read as the admin reads them).

-- /stats, /chart and /sales read paid orders by the time they were paid; the index holds every
-- column the figures sum, so they never touch the table itself.
CREATE INDEX orders_paid_figures ON orders (paid_at, status, currency, product_id, amount_total,
    amount_refunded, quantity, telegram_user_id) WHERE paid_at IS NOT NULL;
-- New or returning buyer: did they pay before?
CREATE INDEX orders_buyer_paid ON orders (telegram_user_id, paid_at) WHERE paid_at IS NOT NULL;
-- Checkout links created in a period, and /export, which reads orders by creation time.
CREATE INDEX orders_by_created_at ON orders (created_at);

ALTER TABLE admin_alerts ADD COLUMN language TEXT;
