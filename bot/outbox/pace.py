"""When the outbox may send each message, within Telegram's flood limits."""

from __future__ import annotations

import math
import time

# Telegram's flood limits for a bot: about 30 messages a second in all, one a second per chat.
# Beyond them it answers 429, and a burst of confirmations would be spread by retries instead.
MESSAGES_PER_SECOND = 30.0
SECONDS_PER_CHAT = 1.0
# Past slots and chats are forgotten once there are this many of them.
_REMEMBERED = 10_000


class Pace:
    """Send times within Telegram's limits: time is cut into slots (1/30 s), one message per
    slot overall, and two messages to one chat a second of slots apart.

    Each send takes its slot when it asks, so concurrent sends never share one. A message whose
    chat must wait takes the first free slot after its chat's second, and leaves the slots
    before it to other chats: one busy chat does not hold back the messages queued behind it.
    """

    def __init__(
        self,
        per_second: float = MESSAGES_PER_SECOND,
        seconds_per_chat: float = SECONDS_PER_CHAT,
    ) -> None:
        self._interval = 1.0 / per_second
        self._slots_per_chat = math.ceil(seconds_per_chat * per_second)
        self._taken: set[int] = set()
        self._chat_free_from: dict[int, int] = {}

    def reserve(self, chat_id: int) -> float:
        """Seconds to wait before sending to `chat_id`; the slot is taken."""
        now = time.monotonic()
        first = math.ceil(now / self._interval)
        slot = max(first, self._chat_free_from.get(chat_id, first))
        while slot in self._taken:
            slot += 1
        self._taken.add(slot)
        self._chat_free_from[chat_id] = slot + self._slots_per_chat
        if len(self._taken) > _REMEMBERED:
            self._taken = {taken for taken in self._taken if taken >= first}
        if len(self._chat_free_from) > _REMEMBERED:
            self._chat_free_from = {c: s for c, s in self._chat_free_from.items() if s > first}
        return max(slot * self._interval - now, 0.0)
