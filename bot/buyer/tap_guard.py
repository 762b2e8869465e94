"""Pacing of buyers' taps: one link request at a time per buyer and product, and a per-buyer
cap, so that one buyer can neither make five sessions by tapping fast nor use up the Stripe
account's request rate (25/s in test mode, 100/s live, for everyone together)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

TAPS_PER_WINDOW = 10
WINDOW_SECONDS = 60.0


class TapGuard:
    def __init__(
        self,
        *,
        taps_per_window: int = TAPS_PER_WINDOW,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = taps_per_window
        self._window = window_seconds
        self._clock = clock
        self._taps: dict[int, deque[float]] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._users: dict[tuple[int, str], int] = {}

    def wait_needed(self, user_id: int) -> int:
        """0 when this tap may go ahead (and counts it), else the seconds to wait first."""
        now = self._clock()
        taps = self._taps.setdefault(user_id, deque())
        while taps and taps[0] <= now - self._window:
            taps.popleft()
        if len(taps) >= self._limit:
            return max(math.ceil(taps[0] + self._window - now), 1)
        taps.append(now)
        if len(self._taps) > 10_000:  # forget buyers whose window has passed
            self._forget_idle(now)
        return 0

    @asynccontextmanager
    async def one_at_a_time(self, user_id: int, product_id: str) -> AsyncIterator[None]:
        """Serialises a buyer's requests for one product; the second sees the first's link."""
        key = (user_id, product_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def _forget_idle(self, now: float) -> None:
        for user_id in [
            u for u, taps in self._taps.items() if not taps or taps[-1] <= now - self._window
        ]:
            del self._taps[user_id]
