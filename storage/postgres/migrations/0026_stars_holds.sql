-- SQLite's 0026: the hold an invoice in Telegram Stars takes again at its pre-checkout query
-- (Unix seconds; NULL: none since the order was made).
ALTER TABLE orders ADD COLUMN held_until BIGINT;
