"""When the outbox may send each message, within Telegram's flood limits."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Telegram's flood limit for one chat: about one message a second. (The limit for all chats
# together, about 30 a second, is TELEGRAM_MESSAGES_PER_SECOND: see bot/settings.py.)
SECONDS_PER_CHAT = 1.0
# With no cap for all chats together, sends are still placed on a grid this fine (slots a
# second), only they may share a slot.
_FINEST_GRID = 1000.0
# Past slots and chats are forgotten once there are this many of them.
_REMEMBERED = 10_000


class Pace:
    """Send times within Telegram's limits: time is cut into slots (1/30 s at 30 messages a
    second), one message per slot overall, and two messages to one chat a second of slots
    apart. With `per_second` 0 there is no cap for all chats together: any number of messages
    may share a slot, and only each chat's second is kept.

    Each send takes its slot when it asks, so concurrent sends never share one. A message whose
    chat must wait takes the first free slot after its chat's second, and leaves the slots
    before it to other chats: one busy chat does not hold back the messages queued behind it.

    `clock` is read for "now" (monotonic seconds); the waits returned are measured against it.
    """

    def __init__(
        self,
        per_second: float,
        seconds_per_chat: float = SECONDS_PER_CHAT,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second < 0 or seconds_per_chat < 0:
            raise ValueError("a pace is 0 (no cap) or a positive rate")
        self._exclusive = per_second > 0
        slots_per_second = per_second if self._exclusive else _FINEST_GRID
        self._interval = 1.0 / slots_per_second
        self._slots_per_chat = math.ceil(seconds_per_chat * slots_per_second)
        self._clock = clock
        self._taken: set[int] = set()
        self._chat_free_from: dict[int, int] = {}

    def reserve(self, chat_id: int) -> float:
        """Seconds to wait before sending to `chat_id`; the slot is taken."""
        now = self._clock()
        first = math.ceil(now / self._interval)
        slot = max(first, self._chat_free_from.get(chat_id, first))
        if self._exclusive:
            while slot in self._taken:
                slot += 1
            self._taken.add(slot)
        self._chat_free_from[chat_id] = slot + self._slots_per_chat
        if len(self._taken) > _REMEMBERED:
            self._taken = {taken for taken in self._taken if taken >= first}
        if len(self._chat_free_from) > _REMEMBERED:
            self._chat_free_from = {c: s for c, s in self._chat_free_from.items() if s > first}
        return max(slot * self._interval - now, 0.0)
