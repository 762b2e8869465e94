-- The refund questions (/refund) already answered, one row per question message. The first tap
-- on Confirm or Cancel inserts the row; a later tap finds it and is told the question is
-- closed, so a stale button on a second device never reaches Stripe, and a late Cancel never
-- relabels a refund that was made. A message id is unique within its chat only.
CREATE TABLE refund_questions (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    answer      TEXT NOT NULL CHECK (answer IN ('confirmed', 'cancelled')),
    answered_by INTEGER NOT NULL,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
