"""The outbox sender: delivers queued chat messages, retrying until Telegram takes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.notices import Outgoing
from storage import OutboxMessage, SQLiteStorage, StorageError

log = logging.getLogger(__name__)

Compose = Callable[[OutboxMessage], Awaitable[Outgoing | None]]

BATCH_SIZE = 50
# Sends in flight at once: enough to fill Telegram's ~30 messages/s over a real network's
# round trips; Pace keeps the rate.
CONCURRENCY = 8
# Telegram's flood limits for a bot: about 30 messages a second in all, one a second per chat.
# Beyond them it answers 429, and a burst of confirmations would be spread by retries instead.
MESSAGES_PER_SECOND = 30.0
SECONDS_PER_CHAT = 1.0
MAX_BACKOFF_SECONDS = 300.0
# Even with nothing due, look again now and then: rows may have been queued by another path
# that did not call notify().
IDLE_CHECK_SECONDS = 30.0
# How long stop() lets the sends in flight finish (and their outcome be recorded).
STOP_GRACE_SECONDS = 10.0


def backoff_seconds(attempts: int) -> float:
    """1 s, 2 s, 4 s… after each failed attempt, at most five minutes."""
    return min(2.0 ** max(attempts, 0), MAX_BACKOFF_SECONDS)


class Pace:
    """Send times within Telegram's limits: evenly spaced overall, and a second apart per chat.

    Each send reserves its slot when it asks, so concurrent sends never share one.
    """

    def __init__(
        self,
        per_second: float = MESSAGES_PER_SECOND,
        seconds_per_chat: float = SECONDS_PER_CHAT,
    ) -> None:
        self._interval = 1.0 / per_second
        self._seconds_per_chat = seconds_per_chat
        self._next_slot = 0.0
        self._chat_free_at: dict[int, float] = {}

    def reserve(self, chat_id: int) -> float:
        """Seconds to wait before sending to `chat_id`; the slot is taken."""
        now = time.monotonic()
        at = max(now, self._next_slot, self._chat_free_at.get(chat_id, 0.0))
        self._next_slot = at + self._interval
        if len(self._chat_free_at) > 10_000:  # forget chats whose second has passed
            self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}
        self._chat_free_at[chat_id] = at + self._seconds_per_chat
        return at - now


class OutboxSender:
    """Drains the outbox in the background of the bot's event loop.

    A message is marked sent only after Telegram accepted it, so a crash can repeat the one
    message in flight but never lose one. Messages Telegram will never take (the buyer blocked
    the bot, the chat is gone) are set aside at once instead of retried.
    """

    def __init__(self, storage: SQLiteStorage, bot: Bot, compose: Compose) -> None:
        self._storage = storage
        self._bot = bot
        self._compose = compose
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._pace = Pace()
        self._halt = asyncio.Event()  # set by stop(): sends still waiting for their slot give up

    def notify(self) -> None:
        """Something was queued: look at the outbox now rather than at the next check."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._halt.clear()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Stop after the sends in flight; what is still queued waits for the next start."""
        if self._task is None:
            return
        task, self._task = self._task, None
        self._stopping = True
        self._halt.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
                delay = await self._seconds_until_next()
            except StorageError:
                log.exception("the outbox could not be read; trying again shortly")
                delay = backoff_seconds(2)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def drain(self) -> None:
        """Send everything that is due now."""
        while not self._stopping and (
            batch := await self._storage.due_messages(time.time(), BATCH_SIZE)
        ):
            await asyncio.gather(*(self._send(message) for message in batch))

    async def _seconds_until_next(self) -> float:
        due = await self._storage.next_attempt_at()
        if due is None:
            return IDLE_CHECK_SECONDS
        return min(max(due - time.time(), 0.0), IDLE_CHECK_SECONDS)

    async def _wait_for_slot(self, chat_id: int) -> bool:
        """Wait for this send's slot in the pace; False when the sender stops meanwhile."""
        delay = self._pace.reserve(chat_id)
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), delay)
        return not self._halt.is_set()

    async def _send(self, message: OutboxMessage) -> None:
        # A message left unsent here stays due: the next start sends it.
        if not await self._wait_for_slot(message.chat_id):
            return
        async with self._slots:
            outgoing = await self._compose(message)
            if outgoing is None:
                await self._storage.give_up(message.id, "nothing to say: its order is gone")
                return
            try:
                await self._deliver(message.chat_id, outgoing)
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                await self._storage.retry_later(message.id, time.time() + seconds, str(exc))
            except (Forbidden, BadRequest) as exc:
                # Forbidden: the buyer blocked the bot. BadRequest: the chat is gone or the text
                # is refused. Retrying changes neither.
                log.warning("outbox message %s undeliverable: %s", message.id, exc)
                await self._storage.give_up(message.id, str(exc))
            except Exception as exc:  # network errors, 5xx: Telegram may take it later
                delay = backoff_seconds(message.attempts)
                log.warning("outbox message %s: %s; retrying in %.0f s", message.id, exc, delay)
                await self._storage.retry_later(message.id, time.time() + delay, str(exc))
            else:
                await self._storage.mark_sent([message.id])

    async def _deliver(self, chat_id: int, outgoing: Outgoing) -> None:
        if outgoing.edit_message_id is not None:
            await self._bot.edit_message_text(
                outgoing.text,
                chat_id=chat_id,
                message_id=outgoing.edit_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=outgoing.reply_markup,
            )
        else:
            await self._bot.send_message(
                chat_id,
                outgoing.text,
                parse_mode=ParseMode.HTML,
                reply_markup=outgoing.reply_markup,
            )
