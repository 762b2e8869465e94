"""The send slots of every replica on this database (storage/send_slots.py's rule), so that
Telegram's flood limits hold for the bot as a whole, not for each replica."""

from __future__ import annotations

from storage.postgres.statements import Writes
from storage.send_slots import SlotGrid

# pg_advisory_xact_lock's key for taking a slot: replicas take theirs one after another.
PACE_LOCK = 0x636B6F75745F7063  # "ckout_pc"


async def reserve(db: Writes, chat_id: int | None, now: float, grid: SlotGrid) -> float:
    """Take the slot for a message to `chat_id` (None: no chat's spacing); when it starts
    (Unix seconds). The slots and chats whose time has passed are dropped on the way.

    One statement: migration 0022's reserve_send_slot, which holds the advisory lock while it
    applies send_slots.place's rule to the slots and chats stored (a round trip, not nine)."""
    rows = await db.rows(
        "SELECT reserve_send_slot($1, $2, $3, $4, $5, $6)",
        PACE_LOCK,
        chat_id,
        grid.first(now),
        grid.slots_per_second,
        grid.exclusive,
        grid.slots_per_chat,
    )
    return grid.starts(int(rows[0][0]))
