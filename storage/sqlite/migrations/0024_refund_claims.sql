-- A confirmed refund is asked of Stripe by one replica at a time: the one whose claim on the
-- question's row is live. `claimed_until` (Unix seconds) is NULL while nobody asks, set while a
-- replica's request is on its way, and cleared when it ends; a replica killed meanwhile leaves
-- a claim that runs out, and the next tap or start asks again with the same key. Questions
-- stored before this migration are unclaimed.
ALTER TABLE refund_questions ADD COLUMN claimed_until REAL;
