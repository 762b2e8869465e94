"""Flood control: token buckets like Telegram's, answering 429 with a retry_after."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class RateLimits:
    """Token buckets for the sending methods; the defaults are Telegram's published flood
    limits (``TELEGRAM_LIMITS``).

    ``None`` as a rate disables that bucket.
    """

    global_per_second: float | None = 30
    global_burst: int = 30
    per_chat_per_second: float | None = 1
    per_chat_burst: int = 5


# Telegram's limits for a bot: ~30 messages a second in all, one a second per chat.
TELEGRAM_LIMITS: Final = RateLimits()


class _TokenBucket:
    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    """A global bucket shared by all chats, and one bucket per chat."""

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._global = self._bucket(limits.global_per_second, limits.global_burst)
        self._chats: dict[int, _TokenBucket | None] = {}

    @staticmethod
    def _bucket(rate: float | None, burst: int) -> _TokenBucket | None:
        return _TokenBucket(rate, burst) if rate is not None else None

    def acquire(self, chat_id: int) -> int | None:
        """Takes a token from the global and the chat's bucket, or returns whole seconds to wait."""
        if chat_id not in self._chats:
            limits = self._limits
            self._chats[chat_id] = self._bucket(limits.per_chat_per_second, limits.per_chat_burst)
        buckets = [bucket for bucket in (self._global, self._chats[chat_id]) if bucket is not None]
        now = time.monotonic()
        wait = max((bucket.wait_time(now) for bucket in buckets), default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
