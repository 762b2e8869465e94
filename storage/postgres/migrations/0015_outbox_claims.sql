-- SQLite's 0015: each outbox message is claimed by one sender (a replica) before it is sent;
-- `claimed_until` (Unix seconds) is when the lease ends and another replica may take it over.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until DOUBLE PRECISION;

-- Telegram's flood limits are the bot's, not a replica's: every replica takes its send slots
-- here. A slot is a step of the grid set by TELEGRAM_MESSAGES_PER_SECOND, taken by one message
-- and kept as when it starts (`at`, microseconds of the Unix clock); a chat's next message may
-- not take a slot before `free_from` (the same unit). Both tables hold only the slots and
-- chats of the coming seconds.
CREATE TABLE outbox_pace_slots (
    at BIGINT PRIMARY KEY
);
CREATE TABLE outbox_pace_chats (
    chat_id   BIGINT PRIMARY KEY,
    free_from BIGINT NOT NULL
);
CREATE INDEX outbox_pace_chats_by_time ON outbox_pace_chats (free_from);
