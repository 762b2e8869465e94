-- A pending order without a Checkout Session (an invoice in Telegram Stars) holds its units
-- until `held_until` (Unix seconds) as well as for its first minutes: the bot's yes to a
-- pre-checkout query takes the hold again, if the units are still there, so that the payment
-- that follows finds them. NULL: no hold taken since the order was made.
ALTER TABLE orders ADD COLUMN held_until INTEGER;
