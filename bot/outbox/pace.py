"""When the outbox may send each message, within Telegram's flood limits: the bot's limits,
shared by every replica on one database."""

from __future__ import annotations

import time
from collections.abc import Callable

from storage import Storage
from storage.send_slots import SlotGrid

# Telegram's flood limit for one chat: about one message a second. (The limit for all chats
# together, about 30 a second, is TELEGRAM_MESSAGES_PER_SECOND: see bot/settings.py.)
SECONDS_PER_CHAT = 1.0


class Pace:
    """Send times within Telegram's limits, taken from the store's send slots
    (storage/send_slots.py): one message per slot (1/30 s at 30 messages a second) and a chat's
    two messages a second apart, for all the bot's processes together. With `per_second` 0
    there is no cap for all chats together; only each chat's second is kept.

    `clock` is read for "now" (Unix seconds: replicas on several machines must agree on the
    slots' numbers); the waits returned are measured against it.
    """

    def __init__(
        self,
        storage: Storage,
        per_second: float,
        seconds_per_chat: float = SECONDS_PER_CHAT,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._grid = SlotGrid(per_second, seconds_per_chat)
        self._clock = clock

    async def reserve(self, chat_id: int) -> float:
        """Seconds to wait before sending to `chat_id`; the slot is taken."""
        starts = await self._storage.reserve_send_slot(chat_id, self._clock(), self._grid)
        # Read again: on PostgreSQL, taking the slot took a round trip.
        return max(starts - self._clock(), 0.0)
