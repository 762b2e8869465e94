-- Each outbox message is claimed by one sender before it is sent: `claimed_by` names the
-- sender, `claimed_until` (Unix seconds) is when its lease ends and another sender may take
-- the message over (its sender died with it in hand). One process owns a SQLite file, so the
-- shared send pace of PostgreSQL's 0015 lives in that process's memory here.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until REAL;
