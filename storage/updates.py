"""Telegram updates already taken. Telegram may deliver an update more than once: it posts
again what got no answer, and a setWebhook meanwhile starts its queue over; with several
replicas either copy may reach any of them. The Bot API's `update_id` is there "to ignore
repeated updates": PostgreSQL keeps the ids every replica saw, SQLite's one process keeps them
in memory (`UpdateBook`). A day covers Telegram's retries; the ids are forgotten after it."""

from __future__ import annotations

from collections import OrderedDict

KEPT_SECONDS = 86_400.0
# Every this many updates, the ids older than a day are forgotten (PostgreSQL).
FORGET_EVERY = 1_000
# At most this many ids in memory (SQLite): a busy day's updates, a few MB.
_REMEMBERED = 100_000


class UpdateBook:
    """The update ids seen lately, in one process's memory."""

    def __init__(self) -> None:
        self._seen: OrderedDict[int, float] = OrderedDict()

    def first_sight(self, update_id: int, now: float) -> bool:
        """Whether the update is new (and it is remembered); False for a repeat."""
        if update_id in self._seen:
            return False
        self._seen[update_id] = now
        while self._seen and (
            len(self._seen) > _REMEMBERED or next(iter(self._seen.values())) < now - KEPT_SECONDS
        ):
            self._seen.popitem(last=False)
        return True
