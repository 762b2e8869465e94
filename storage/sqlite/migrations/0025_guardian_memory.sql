-- The guardian's memory: each lasting condition it told the admins of, and when (Unix
-- seconds), until it ends. Whichever replica has the guardian's turn reads it, so a condition
-- is told once an hour while it lasts, not once more each time the turn moves.
CREATE TABLE guardian_told (
    condition TEXT PRIMARY KEY,
    told_at   REAL NOT NULL
);
