"""Stripe's event ids: an event delivered twice is applied once."""

from __future__ import annotations

from storage.postgres.statements import Writes, now


async def remember(db: Writes, event_id: str, event_type: str) -> bool:
    """Record a Stripe event id; False when it was recorded before (a duplicate delivery).

    Two transactions inserting the same id: the second waits for the first to commit, then
    inserts nothing (or inserts, if the first rolled back)."""
    changed = await db.execute(
        "INSERT INTO stripe_events (id, type, received_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO NOTHING",
        event_id,
        event_type,
        now(),
    )
    return changed == 1
