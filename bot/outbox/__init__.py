"""The outbox: chat messages queued with the database change that caused them, sent later."""
