-- The Telegram updates the replicas took, by update_id: Telegram may deliver one twice (a
-- retry, a setWebhook meanwhile), and either copy may reach any replica (storage/updates.py).
CREATE TABLE telegram_updates (
    update_id BIGINT PRIMARY KEY,
    seen_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX telegram_updates_by_age ON telegram_updates (seen_at);
