-- The messages claimed and not yet sent (a few hundred per sender at most): when the next
-- message is due reads the claimed ones through this index and the others in outbox_due's
-- order, instead of every unsent message.
CREATE INDEX outbox_claimed ON outbox (claimed_until)
    WHERE claimed_until IS NOT NULL AND sent_at IS NULL AND given_up_at IS NULL;
