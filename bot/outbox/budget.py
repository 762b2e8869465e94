"""The bot's answers within the same budget as the outbox: python-telegram-bot's rate limiter,
taking each message's send slot from the store (bot/outbox/pace.py), so that the answers and
confirmations of every replica on one database keep to Telegram's limits together."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from storage import Storage
from storage.send_slots import SlotGrid

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

# A 429 that comes anyway (Telegram stricter than the pace, another program on the same token)
# is waited out and the answer tried again this many times.
MAX_RETRIES = 2
# Methods that put a message in a chat or change one: what Telegram's flood limits count.
# Others (answerCallbackQuery, sendChatAction, getChat, invite links) go at once.
_MESSAGE_METHODS = ("send", "copyMessage", "forwardMessage", "editMessage")
_NOT_MESSAGES = frozenset({"sendChatAction"})
# Slots this short (caps of 10 a second and more) let an answer go at once in the slot under
# way, in that one slot: the next message may then follow within this time, a burst of two.
SHORT_SLOT_SECONDS = 0.1


def is_message(endpoint: str) -> bool:
    """Whether a Bot API method sends a message or changes one."""
    return endpoint.startswith(_MESSAGE_METHODS) and endpoint not in _NOT_MESSAGES


class SharedBudget(BaseRateLimiter[None]):
    """Each message the handlers send takes a send slot of the store (storage/send_slots.py),
    as the outbox's do: one per slot for all chats (`per_second`, TELEGRAM_MESSAGES_PER_SECOND;
    0: no cap), on every replica together. The slot is the next free one: an answer queues
    with the outbox's few sends already waiting for theirs (eight a replica at most), not
    behind its backlog, which waits in the database.

    An answer keeps no second in its chat, neither after the outbox's messages nor after
    another answer: it follows a person's tap or command, a short burst Telegram allows in a
    chat, and a second's wait would be felt by every buyer whose handler sends two messages
    or who taps just after a confirmation. The outbox keeps the chats' seconds, for the chat
    that gets many messages (an owner's sale alerts). A 429 is waited out, then the message
    takes a fresh slot, up to `max_retries` times.

    The outbox takes its slots itself (it gives a message back when it stops while waiting),
    so its sends go through a bot without this limiter."""

    def __init__(
        self,
        storage: Storage,
        per_second: float,
        *,
        max_retries: int = MAX_RETRIES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds, the same for every replica (slots are numbered from them)."""
        self._storage = storage
        self._grid = SlotGrid(per_second)
        self._max_retries = max_retries
        self._clock = clock

    async def initialize(self) -> None:
        """Nothing to open: the slots are the store's."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        counted = is_message(endpoint)
        attempt = 0
        while True:
            if counted:
                await self._wait_for_slot()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                attempt += 1
                wait = exc.retry_after
                seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                log.info("%s: Telegram says retry in %s s", endpoint, seconds)
                await asyncio.sleep(seconds)

    async def _wait_for_slot(self) -> None:
        try:
            delay = await self._slot()
        except Exception:
            # An answer now (a 429 at worst) is better than none while the store is away.
            log.warning("no send slot from the store; sending without one", exc_info=True)
            return
        if delay > 0:
            await asyncio.sleep(delay)

    async def _slot(self) -> float:
        """Take the slot for a message; seconds to wait for it.

        The next free slot may be up to a slot's length away (1/30 s) when nothing else is
        being sent: a wait every buyer would feel on every answer. So an answer takes the slot
        under way when it is free, and goes at once. Then the next message may go at the next
        slot's start, just after it: with short slots (`SHORT_SLOT_SECONDS`) a burst of two
        that Telegram's limits allow, and the answer takes one slot. With long slots (a cap of
        a few messages a second) two messages so close would break the owner's cap, so the
        answer takes the following slot as well, if free, or waits for the next free one.
        (Taking two slots at every cap made each answer cost two: at 20 taps a second the
        answers alone wanted 40 of the 30 slots, and queued.)"""
        grid, reserve = self._grid, self._storage.reserve_send_slot
        now = self._clock()
        if not grid.exclusive:  # no cap: slots a millisecond long, shared
            return await reserve(None, now, grid) - now
        # Asked as of a slot ago, so that the slot under way counts as free if it is.
        starts = await reserve(None, now - grid.interval, grid)
        if starts <= now:
            if grid.interval <= SHORT_SLOT_SECONDS:
                return 0.0
            following = await reserve(None, now, grid)
            if following < starts + 1.5 * grid.interval:
                return 0.0
            starts = following
        # Read the clock again: on PostgreSQL, taking a slot took a round trip.
        return starts - self._clock()
