"""The outbox sender: delivers queued chat messages, retrying until Telegram takes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.outbox.notices import Outgoing
from bot.outbox.pace import Pace
from bot.outbox.wake import Wake
from storage import OutboxMessage, Storage

log = logging.getLogger(__name__)

Compose = Callable[[OutboxMessage], Awaitable[Outgoing | None]]
# The write that records what came of a send: kept to be tried again when it fails.
Record = Callable[[], Awaitable[None]]

# Sends in flight at once: enough to fill Telegram's ~30 messages/s over a real network's
# round trips; Pace keeps the rate.
CONCURRENCY = 8
# Messages taken from the outbox and waiting for their slot, ten seconds of sends at Telegram's
# rate: a flash sale's thousands of rows stay in the database, not in memory (nor in the
# claims of one replica).
MAX_WAITING = 300
# Once that many are in hand, more are claimed a tenth of it at a time: a claim walks past the
# messages in hand, and one claim per send that ended was a tenth of the sender's CPU at a
# flash sale's rate. The messages still in hand keep the sends going meanwhile.
REFILL_SHARE = 10
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
# Even with nothing due, look again now and then: rows may have been queued by another path
# that did not call notify().
IDLE_CHECK_SECONDS = 30.0
# The same when the store tells the sender of every message another process queues
# (PostgreSQL's notifications, `start(told=True)`): only a notification lost on the way is
# waited for this long.
TOLD_IDLE_CHECK_SECONDS = 120.0
# After the outbox could not be read, or what came of a send could not be recorded.
TROUBLE_RETRY_SECONDS = 4.0
# How long stop() lets the sends in flight finish (and their outcome be recorded).
STOP_GRACE_SECONDS = 10.0
# How long a sender's claim on a message lasts unless renewed (OUTBOX_LEASE_SECONDS's
# default): a replica killed with messages in hand has them taken over this long after its
# last renewal. The sender renews two thirds of it before it ends, so that a live sender's
# claim is never taken over.
LEASE_SECONDS = 30.0


@dataclass(frozen=True)
class RetryDelays:
    """How long the sender waits before trying again. The defaults are the bot's; tests pass
    shorter ones, through Service, so that none waits out a real backoff."""

    # After a message's first failed attempt; doubled after each further one, up to `most`.
    first: float = FIRST_BACKOFF_SECONDS
    most: float = MAX_BACKOFF_SECONDS
    # After the outbox could not be read, or what came of a send could not be recorded.
    trouble: float = TROUBLE_RETRY_SECONDS

    def backoff(self, attempts: int) -> float:
        """1 s, 2 s, 4 s… after each failed attempt, at most five minutes (by default)."""
        return min(self.first * 2.0 ** max(attempts, 0), self.most)


RETRY_DELAYS = RetryDelays()


class OutboxSender:
    """Drains the outbox in the background of the bot's event loop, as a pipeline.

    Each message gets its own send as soon as it is due, which waits for its slot in the pace
    and records what Telegram answered; no send waits for another. One message per chat is
    taken at a time, so a chat's messages keep their order and a busy chat (an admin's sale
    alerts, a second apart) neither fills the pipeline nor holds back other chats.

    Several senders (one per replica) may drain one outbox: each message is claimed by one of
    them for a lease, renewed while the message is in hand, ended by recording what came of it
    or by giving it back at stop; a sender that dies leaves its claims to run out, then the
    others take the messages over. A chat's next message is not taken while its oldest is
    held, so order is kept across senders too. The pace is the store's, shared by all.

    A message is marked sent only after Telegram accepted it, so a crash can repeat a message
    in flight but never lose one. When that mark cannot be written, the sender remembers it and
    writes it later instead of sending the message again. Messages Telegram will never take
    (the buyer blocked the bot, the chat is gone) are set aside at once instead of retried.
    """

    def __init__(
        self,
        storage: Storage,
        bot: Bot,
        compose: Compose,
        *,
        pace: Pace,
        delays: RetryDelays = RETRY_DELAYS,
        on_result: Callable[[str], None] | None = None,
        lease: float = LEASE_SECONDS,
        max_waiting: int = MAX_WAITING,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        # Who holds a claim: unique to this sender, and telling which process it is.
        self.claimant = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lease = lease
        # At most this many messages in hand, waiting for their place or their slot.
        self._max_waiting = max_waiting
        # Claim no fewer than this many at a time (one, for a small max_waiting).
        self._refill = max(1, max_waiting // REFILL_SHARE)
        # Unix seconds, as the outbox's times and leases are (replicas must agree on them).
        self._wall_clock = wall_clock
        self._held: set[int] = set()  # claimed and not yet recorded nor given back
        self._given_back: set[int] = set()  # claimed, left unsent by a stop
        self._renew_at = 0.0
        # Told what came of each send: "sent", "429", "403" or "error" (the metrics).
        self._on_result = on_result
        self._bot = bot
        self._compose = compose
        self._wake = Wake()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._slots = asyncio.Semaphore(CONCURRENCY)
        # The one pace of the bot's messages, built from TELEGRAM_MESSAGES_PER_SECOND.
        self._pace = pace
        self._delays = delays
        self._halt = asyncio.Event()  # set by stop(): sends still waiting for their slot give up
        self._sending: dict[int, asyncio.Task[None]] = {}  # by chat id
        self._unrecorded: dict[int, Record] = {}  # by message id
        self._record_again_at = 0.0
        self._idle_check = IDLE_CHECK_SECONDS

    def notify(self) -> None:
        """Something was queued: look at the outbox now rather than at the next check."""
        self._wake.set()

    def start(self, *, told: bool = False) -> None:
        """Send in the background. `told`: notify() is called for every message queued, by
        this process or another (the store says so), so the idle look can be rare."""
        self._idle_check = TOLD_IDLE_CHECK_SECONDS if told else IDLE_CHECK_SECONDS
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
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    delay = await self._step()
                except Exception:  # a database error, a bug: the next look may go better
                    log.exception("the outbox sender failed; trying again shortly")
                    delay = self._delays.trouble
                await self._wake.nap(delay)
            await asyncio.gather(*self._sending.values())
            await self._record_again()
            await self._give_back()
            if self._unrecorded:
                log.warning(
                    "%d messages Telegram took could not be recorded as sent;"
                    " if the process ends now, they are sent again at its next start",
                    len(self._unrecorded),
                )
        finally:
            for send in self._sending.values():
                send.cancel()
            # Kept: the claims on what Telegram took (renewed, so that no one sends it again).
            # A send cancelled may have gone out: its claim is left to run out, as at a crash.
            self._held.intersection_update(self._unrecorded)

    async def _step(self) -> float:
        """Start a send for each message due, as far as there is room (claimed a tenth of the
        hands at a time once they are full); seconds until the next look (a send that ends
        wakes the sender sooner)."""
        if self._unrecorded and time.monotonic() >= self._record_again_at:
            await self._record_again()
        if self._wall_clock() >= self._renew_at:
            await self._renew()
        while (room := self._max_waiting - len(self._sending)) >= self._refill:
            now = self._wall_clock()
            claimed = await self._storage.claim_messages(
                self.claimant,
                now,
                now + self._lease,
                room,
                # Skipped: the messages in hand, and the chats of those (whose next must wait).
                skip_ids=list(self._unrecorded),
                skip_chats=list(self._sending),
            )
            for message in claimed:
                self._held.add(message.id)
                self._begin(message)
            if len(claimed) < room:
                return await self._seconds_until_next()
        return min(self._idle_check, self._lease / 3)

    async def _seconds_until_next(self) -> float:
        due = await self._storage.next_attempt_at(
            skip_ids=list(self._unrecorded), skip_chats=list(self._sending)
        )
        delay = self._idle_check if due is None else due - self._wall_clock()
        if self._unrecorded:
            delay = min(delay, self._record_again_at - time.monotonic())
        if self._held:
            delay = min(delay, self._renew_at - self._wall_clock())
        return min(max(delay, 0.0), self._idle_check)

    async def _renew(self) -> None:
        """Extend the claims on the messages in hand, every third of a lease: long before they
        end, and again at the next look when the store could not be reached."""
        now = self._wall_clock()
        await self._storage.renew_claims(self.claimant, list(self._held), now + self._lease)
        self._renew_at = now + self._lease / 3

    async def _give_back(self) -> None:
        """Let the other senders take at once the messages a stop left unsent."""
        given_back, self._given_back = list(self._given_back), set()
        self._held.difference_update(given_back)
        try:
            await self._storage.release_claims(self.claimant, given_back)
        except Exception:
            log.exception(
                "cannot give back %d unsent messages: their claims run out", len(given_back)
            )

    def _begin(self, message: OutboxMessage) -> None:
        send = asyncio.create_task(self._send(message), name=f"outbox-message-{message.id}")
        self._sending[message.chat_id] = send
        send.add_done_callback(partial(self._ended, message.chat_id))

    def _ended(self, chat_id: int, send: asyncio.Task[None]) -> None:
        # A send cancelled by a stop may end after the next start began one for its chat.
        if self._sending.get(chat_id) is send:
            del self._sending[chat_id]
        # The chat's next message may be due, and this one may come back sooner than the
        # look the sender is waiting for.
        self._wake.set()

    async def _wait_for_slot(self, chat_id: int) -> bool:
        """Wait for this send's slot in the pace; False when the sender stops meanwhile."""
        delay = await self._pace.reserve(chat_id)
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), delay)
        return not self._halt.is_set()

    async def _send(self, message: OutboxMessage) -> None:
        # Recorded within the place: a crash can repeat at most CONCURRENCY messages.
        async with self._slots:
            if self._halt.is_set():
                self._given_back.add(message.id)  # stopping: unsent, it stays due
                return
            composed = await self._composed(message)
            record = (
                await self._paced(message, composed) if isinstance(composed, Outgoing) else composed
            )
            if record is None:
                self._given_back.add(message.id)  # stopping: unsent, it stays due
                return
            try:
                await record()
                self._held.discard(message.id)
            except Exception:
                # Forgotten, a message Telegram took would be sent again at every look.
                log.exception("outbox message %s: cannot record what came of it", message.id)
                self._unrecorded[message.id] = record
                self._record_again_at = time.monotonic() + self._delays.trouble

    async def _paced(self, message: OutboxMessage, outgoing: Outgoing) -> Record | None:
        """Send in the message's slot of the pace; None when the sender stops meanwhile."""
        # The slot is taken right before the send: one taken earlier could pass while this
        # waited for its place, and the sends behind it would bunch up.
        try:
            if not await self._wait_for_slot(message.chat_id):
                return None
        except Exception as exc:  # the store could not give a slot
            log.exception("outbox message %s: no slot to send it in", message.id)
            at = self._wall_clock() + self._delays.trouble
            return partial(self._storage.retry_later, message.id, at, repr(exc))
        return await self._delivered(message, outgoing)

    async def _composed(self, message: OutboxMessage) -> Outgoing | Record:
        """The message's text, or the write that records why there is none to send."""
        storage, message_id = self._storage, message.id
        try:
            outgoing = await self._compose(message)
        except Exception as exc:  # its order could not be read: it may be, later
            delay = self._delays.backoff(message.attempts)
            log.exception(
                "outbox message %s cannot be written; retrying in %.3g s", message_id, delay
            )
            at = self._wall_clock() + delay
            return partial(storage.retry_later, message_id, at, repr(exc))
        if outgoing is None:
            return partial(storage.give_up, message_id, "nothing to say any more")
        return outgoing

    async def _delivered(self, message: OutboxMessage, outgoing: Outgoing) -> Record:
        """Send one message; returns the write that records what came of it."""
        storage, message_id = self._storage, message.id
        try:
            await self._deliver(message.chat_id, outgoing)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
            self._tell("429")
            at = self._wall_clock() + seconds
            return partial(storage.retry_later, message_id, at, str(exc))
        except (Forbidden, BadRequest) as exc:
            # Forbidden: the buyer blocked the bot. BadRequest: the chat is gone or the text
            # is refused. Retrying changes neither.
            log.warning(
                "outbox message %s undeliverable: %s",
                message_id,
                exc,
                extra={"chat_id": message.chat_id},
            )
            self._tell("403" if isinstance(exc, Forbidden) else "error")
            return partial(storage.give_up, message_id, str(exc))
        except Exception as exc:  # network errors, 5xx: Telegram may take it later
            delay = self._delays.backoff(message.attempts)
            log.warning("outbox message %s: %s; retrying in %.3g s", message_id, exc, delay)
            self._tell("error")
            return partial(storage.retry_later, message_id, self._wall_clock() + delay, str(exc))
        self._tell("sent")
        return partial(storage.mark_sent, [message_id])

    def _tell(self, result: str) -> None:
        if self._on_result is not None:
            self._on_result(result)

    async def _record_again(self) -> None:
        """Write what came of the sends whose record failed, while the database lets us."""
        for message_id, record in list(self._unrecorded.items()):
            try:
                await record()
            except Exception:
                log.exception("outbox message %s: still cannot record what came of it", message_id)
                self._record_again_at = time.monotonic() + self._delays.trouble
                return
            del self._unrecorded[message_id]
            self._held.discard(message_id)

    async def _deliver(self, chat_id: int, outgoing: Outgoing) -> None:
        if outgoing.document is not None:
            sent = await self._bot.send_document(
                chat_id,
                outgoing.document,
                caption=outgoing.text,
                parse_mode=ParseMode.HTML,
                reply_markup=outgoing.reply_markup,
            )
            if outgoing.on_sent is not None:
                await outgoing.on_sent(sent)
        elif outgoing.edit_message_id is not None:
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
