"""The send slots of every replica on this database (storage/send_slots.py's rule), so that
Telegram's flood limits hold for the bot as a whole, not for each replica."""

from __future__ import annotations

from storage.postgres.statements import Writes
from storage.send_slots import SlotGrid, place

# pg_advisory_xact_lock's key for taking a slot: replicas take theirs one after another.
PACE_LOCK = 0x636B6F75745F7063  # "ckout_pc"


async def reserve(db: Writes, chat_id: int | None, now: float, grid: SlotGrid) -> float:
    """Take the slot for a message to `chat_id` (None: no chat's spacing); when it starts
    (Unix seconds). The slots and chats whose time has passed are dropped on the way."""
    await db.execute("SELECT pg_advisory_xact_lock($1)", PACE_LOCK)
    first = grid.first(now)
    # The slot under way is kept: the bot's answers may still take it (bot/outbox/budget.py).
    since = grid.micros(first - 1)
    await db.execute("DELETE FROM outbox_pace_slots WHERE at < $1", since)
    await db.execute("DELETE FROM outbox_pace_chats WHERE free_from <= $1", since)
    chat_free_from = None
    if chat_id is not None:
        sql = "SELECT free_from FROM outbox_pace_chats WHERE chat_id = $1"
        if chat := await db.rows(sql, chat_id):
            chat_free_from = grid.slot_at(chat[0]["free_from"])
    taken: set[int] = set()
    if grid.exclusive:
        rows = await db.rows(
            "SELECT at FROM outbox_pace_slots WHERE at >= $1",
            grid.micros(max(first, chat_free_from or first)),
        )
        taken = {grid.slot_at(row["at"]) for row in rows}
    slot = place(grid, first, taken, chat_free_from)
    if grid.exclusive:
        await db.execute(
            "INSERT INTO outbox_pace_slots (at) VALUES ($1) ON CONFLICT DO NOTHING",
            grid.micros(slot),
        )
    if chat_id is None:
        return grid.starts(slot)
    await db.execute(
        "INSERT INTO outbox_pace_chats (chat_id, free_from) VALUES ($1, $2)"
        " ON CONFLICT (chat_id) DO UPDATE SET free_from = excluded.free_from",
        chat_id,
        grid.micros(slot + grid.slots_per_chat),
    )
    return grid.starts(slot)
