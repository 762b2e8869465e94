"""The Telegram updates every replica took (storage/updates.py says why)."""

from __future__ import annotations

from storage.postgres.statements import Writes


async def first_sight(db: Writes, update_id: int, now: float) -> bool:
    """Whether the update is new (and it is recorded); False for a repeat."""
    rows = await db.rows(
        "INSERT INTO telegram_updates (update_id, seen_at) VALUES ($1, $2)"
        " ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
        update_id,
        now,
    )
    return bool(rows)


async def forget_before(db: Writes, since: float) -> None:
    await db.execute("DELETE FROM telegram_updates WHERE seen_at < $1", since)
