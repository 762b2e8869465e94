-- A chat's messages go out in the order they were queued: the outbox sender only takes a
-- message when no older one to its chat is still waiting, which this index answers.
CREATE INDEX outbox_unsent_by_chat ON outbox (chat_id, id) WHERE sent_at IS NULL AND given_up_at IS NULL;
