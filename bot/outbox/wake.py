"""The outbox sender's alarm clock: it naps until told there is news, or until a deadline."""

from __future__ import annotations

import asyncio


class Wake:
    """A flag one task naps on: `set()` ends the nap at once, and a nap begun while the flag
    is set does not sleep at all.

    asyncio.wait_for(event.wait(), seconds) did the same, but built a task, a waiter and a
    timer on every nap, after each look at the outbox (0.3% of a webhook event's
    instructions under load). A nap here is one future and one timer.
    """

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def nap(self, seconds: float) -> None:
        """Return once the flag is set, or after `seconds`, whichever comes first (one napper
        at a time)."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _ring, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _ring(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
