"""Pacing of buyers' taps: one link request at a time per buyer and product, and a per-buyer
cap, so that one buyer can neither make five sessions by tapping fast nor use up the Stripe
account's request rate (25/s in test mode, 100/s live, for everyone together).

The database decides both, so that they hold whichever process (replica) answers a tap: the
buyer's recent taps are counted there, and the turn at a product is a lease there. Within one
process a second tap for the same product waits for the first, and then sees its link."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from storage import Storage

TAPS_PER_WINDOW = 10
WINDOW_SECONDS = 60.0
# A turn outlives the longest a tap may take (Stripe's timeout and retries, then Telegram):
# a process killed mid-tap holds the buyer up for no longer than this.
TURN_SECONDS = 90.0


class TapGuard:
    def __init__(
        self,
        storage: Storage,
        *,
        taps_per_window: int = TAPS_PER_WINDOW,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds, the same for every process on the database."""
        self._storage = storage
        self._limit = taps_per_window
        self._window = window_seconds
        self._clock = clock
        # Who holds a turn: this process, as the database knows it.
        self._holder = uuid.uuid4().hex
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._users: dict[tuple[int, str], int] = {}

    async def wait_needed(self, user_id: int) -> int:
        """0 when this tap may go ahead (and counts it), else the seconds to wait first."""
        wait = await self._storage.pace_tap(user_id, self._clock(), self._window, self._limit)
        return max(math.ceil(wait), 1) if wait else 0

    @asynccontextmanager
    async def one_at_a_time(
        self, user_id: int, product_id: str, *, doing: str = ""
    ) -> AsyncIterator[bool]:
        """Serialises a buyer's requests for one product; the second sees the first's link.
        False inside when another process is answering the same buyer for the same product.
        `doing` names what the turn is for, which another process may read (`held_for`)."""
        key = (user_id, product_id)
        holder = f"{self._holder} {doing}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                now = self._clock()
                mine = await self._storage.take_buy_turn(
                    user_id, product_id, holder, now, now + TURN_SECONDS
                )
                try:
                    yield mine
                finally:
                    if mine:
                        await self._storage.end_buy_turn(user_id, product_id, holder)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def held_for(self, user_id: int, product_id: str) -> str | None:
        """What another process holds the buyer's turn at the product for (the `doing` it was
        taken with); None when nobody holds it now."""
        holder = await self._storage.buy_turn_holder(user_id, product_id, self._clock())
        return None if holder is None else holder.partition(" ")[2]
