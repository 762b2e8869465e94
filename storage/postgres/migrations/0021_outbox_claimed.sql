-- SQLite's 0021: the messages claimed and not yet sent (a few hundred per sender at most), so
-- that when the next message is due can be read without going over every unsent message.
CREATE INDEX outbox_claimed ON outbox (claimed_until)
    WHERE claimed_until IS NOT NULL AND sent_at IS NULL AND given_up_at IS NULL;
