-- SQLite's 0024: a confirmed refund is asked of Stripe by one replica at a time, the one whose
-- claim (`claimed_until`, Unix seconds; NULL while nobody asks) on the question's row is live.
-- A replica killed mid-request leaves a claim that runs out.
ALTER TABLE refund_questions ADD COLUMN claimed_until DOUBLE PRECISION;
