-- A confirmed refund question remembers what it asked of Stripe (the order, the amount, the
-- idempotency key) until Stripe's answer is recorded, so that a process killed in between
-- finishes it, with the same key, at its next start or on the next tap. `settled` is NULL
-- while Stripe's answer is awaited, then 'made' or 'not_made'. Questions answered before this
-- migration have no key and are settled as they were. (SQLite's 0010, in PostgreSQL's words.)
ALTER TABLE refund_questions ADD COLUMN order_id BIGINT;
ALTER TABLE refund_questions ADD COLUMN amount BIGINT;
ALTER TABLE refund_questions ADD COLUMN idempotency_key TEXT;
ALTER TABLE refund_questions ADD COLUMN settled TEXT CHECK (settled IN ('made', 'not_made'));
CREATE INDEX refund_questions_unsettled ON refund_questions (answered_at)
    WHERE idempotency_key IS NOT NULL AND settled IS NULL;
