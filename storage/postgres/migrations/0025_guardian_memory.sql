-- SQLite's 0025: the guardian's memory of the conditions it told the admins of, and when
-- (Unix seconds), read by whichever replica has the guardian's turn.
CREATE TABLE guardian_told (
    condition TEXT PRIMARY KEY,
    told_at   DOUBLE PRECISION NOT NULL
);
