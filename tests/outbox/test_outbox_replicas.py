"""Several outbox senders on one database, as replicas run them: each message is sent once, in
its chat's order, within one budget of Telegram's limits; a dead sender's claims are taken over
once their lease ends, a live sender's never."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from telegram import Bot

from bot.outbox.notices import Outgoing
from bot.outbox.pace import Pace
from bot.outbox.sender import Compose, OutboxSender
from sandbox.telegram_api import RateLimits, TelegramEmulator
from storage import MessageKind, OutboxMessage, Storage
from tests.databases import fetch, opened_storage
from tests.helpers import new_order, until

# Telegram's rates, with little room for bursts (as in test_outbox_pacing.py): three senders
# that each kept Telegram's pace on their own would be refused at once.
STRICT = RateLimits(global_per_second=30, global_burst=5, per_chat_per_second=1, per_chat_burst=2)
LEASE = 30.0


class Clock:
    """Unix seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def numbered(message: OutboxMessage) -> Outgoing:
    return Outgoing(f"message {message.id}")


def message_ids(telegram: TelegramEmulator, chat_id: int) -> list[int]:
    """The outbox ids of the messages Telegram took for a chat, in the order it took them."""
    return [
        int(call.params["text"].removeprefix("message "))
        for call in telegram.calls_to("sendMessage")
        if call.status == 200 and int(call.params["chat_id"]) == chat_id
    ]


async def queue(store: Storage, chat_ids: list[int]) -> list[int]:
    """One message to each chat, in this order; their outbox ids."""
    order = await store.create_order_within_stock(new_order(), {})
    async with store.transaction() as tx:
        for chat_id in chat_ids:
            await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
    rows = await store.due_messages(now=time.time() + 1, limit=1000)
    return [message.id for message in rows]


def sender_on(
    store: Storage, bot: Bot, compose: Compose = numbered, **options: Any
) -> OutboxSender:
    """A sender as a replica runs it, at Telegram's 30 messages a second."""
    return OutboxSender(store, bot, compose, pace=Pace(store, per_second=30), **options)


async def run_until_sent(sender: OutboxSender, telegram: TelegramEmulator, chat_id: int) -> None:
    """Run the sender until it has sent something to the chat."""
    sender.start()
    try:
        await telegram.wait_for("sendMessage", lambda c: c.params["chat_id"] == chat_id)
    finally:
        await sender.stop()


async def claim_of(url: str, message_id: int) -> dict[str, object]:
    (row,) = await fetch(
        url, "SELECT claimed_by, claimed_until, sent_at FROM outbox WHERE id = $1", message_id
    )
    return row


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Storage]:
    async with opened_storage(database_url) as storage:
        yield storage


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(telegram.token, base_url=telegram.base_url) as one:
        yield one


@pytest.mark.flood_limits(STRICT)
async def test_three_replicas_send_each_message_once_in_order_without_a_429(
    postgres_url: str, telegram: TelegramEmulator
) -> None:
    chats = list(range(6100, 6112))
    for chat_id in chats:
        telegram.user(chat_id)
    sent_by: dict[int, list[str]] = defaultdict(list)
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(opened_storage(postgres_url)) for _ in range(3)]
        expected: dict[int, list[int]] = defaultdict(list)
        for _ in range(3):  # three messages to each chat, queued round by round
            order = await stores[0].create_order_within_stock(new_order(), {})
            async with stores[0].transaction() as tx:
                for chat_id in chats:
                    await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        for row in await fetch(postgres_url, "SELECT id, chat_id FROM outbox ORDER BY id"):
            expected[row["chat_id"]].append(row["id"])
        senders = []
        for number, one in enumerate(stores):
            bot = await stack.enter_async_context(Bot(telegram.token, base_url=telegram.base_url))
            # Each holds four at most: all three must take part.
            senders.append(sender_on(one, bot, on_result=sent_by[number].append, max_waiting=4))
        for sender in senders:
            sender.start()
        try:
            await telegram.wait_for("sendMessage", count=3 * len(chats), timeout=20)
        finally:
            for sender in senders:
                await sender.stop()
    assert telegram.too_many_requests == 0
    assert {chat_id: message_ids(telegram, chat_id) for chat_id in chats} == expected
    assert all(results and set(results) == {"sent"} for results in sent_by.values())
    assert len(sent_by) == 3
    left = await fetch(
        postgres_url, "SELECT id FROM outbox WHERE sent_at IS NULL OR claimed_by IS NOT NULL"
    )
    assert left == []


async def test_a_dead_senders_claim_is_taken_over_once_its_lease_ends(
    store: Storage, bot: Bot, telegram: TelegramEmulator, database_url: str
) -> None:
    held, other = 6201, 6202
    for chat_id in (held, other):
        telegram.user(chat_id)
    held_id, other_id = await queue(store, [held, other])
    # A replica claimed the first message, then was killed before sending it.
    now = time.time()
    (claimed,) = await store.claim_messages("killed-replica", now, now + LEASE, limit=1)
    assert claimed.id == held_id

    await run_until_sent(sender_on(store, bot, lease=LEASE), telegram, other)
    # It looked at the outbox and sent what was free; the dead replica's message is still its.
    assert message_ids(telegram, other) == [other_id]
    assert message_ids(telegram, held) == []
    assert (await claim_of(database_url, held_id))["claimed_by"] == "killed-replica"

    after_the_lease = Clock()
    after_the_lease.now += LEASE
    await run_until_sent(sender_on(store, bot, wall_clock=after_the_lease), telegram, held)
    assert message_ids(telegram, held) == [held_id]
    assert (await claim_of(database_url, held_id))["sent_at"] is not None


async def test_a_live_senders_claim_is_renewed_and_never_taken_over(
    store: Storage, bot: Bot, telegram: TelegramEmulator, database_url: str
) -> None:
    held, other = 6301, 6302
    for chat_id in (held, other):
        telegram.user(chat_id)
    composing, release = asyncio.Event(), asyncio.Event()

    async def slow_compose(message: OutboxMessage) -> Outgoing:
        """The held chat's message takes longer than a lease to write."""
        if message.chat_id == held:
            composing.set()
            await release.wait()
        return await numbered(message)

    held_id, other_id = await queue(store, [held, other])
    clock = Clock()  # read after queueing, so that the messages are due
    # It holds one message at most: the held chat's, queued first.
    slow = sender_on(store, bot, slow_compose, lease=LEASE, wall_clock=clock, max_waiting=1)
    results: list[str] = []
    other_replica = sender_on(store, bot, lease=LEASE, wall_clock=clock, on_result=results.append)
    slow.start()
    try:
        await asyncio.wait_for(composing.wait(), 5)
        first_lease = await claim_of(database_url, held_id)
        assert first_lease["claimed_by"] == slow.claimant
        # Most of the lease passes; the sender looks again and renews what it holds.
        clock.now += LEASE * 5 / 6
        slow.notify()

        async def renewed() -> bool:
            lease = await claim_of(database_url, held_id)
            return bool(lease["claimed_until"] != first_lease["claimed_until"])

        await until(renewed, what="the claim's renewal")
        # The first lease has ended: another replica looks, and sends only what is free.
        clock.now += LEASE / 3
        other_replica.start()
        await telegram.wait_for("sendMessage", lambda c: c.params["chat_id"] == other)
        await until(lambda: bool(results))  # told once Telegram's answer is back
        assert results == ["sent"]
        assert (await claim_of(database_url, held_id))["claimed_by"] == slow.claimant
        release.set()
        await telegram.wait_for("sendMessage", lambda c: c.params["chat_id"] == held)
    finally:
        release.set()
        await slow.stop()
        await other_replica.stop()
    assert message_ids(telegram, held) == [held_id]
    assert message_ids(telegram, other) == [other_id]


class Ticking:
    """Unix seconds that move on by a millisecond at each reading: each claim has its own."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


async def test_a_full_sender_claims_more_a_tenth_of_its_hands_at_a_time(
    store: Storage, bot: Bot, telegram: TelegramEmulator, database_url: str
) -> None:
    """With 20 messages in hand, the next ones are claimed once two sends have ended, in one
    claim, rather than one claim after each send."""
    chats = list(range(6401, 6423))
    for chat_id in chats:
        telegram.user(chat_id)
    gates = {chat_id: asyncio.Event() for chat_id in chats}

    async def gated(message: OutboxMessage) -> Outgoing:
        await gates[message.chat_id].wait()
        return await numbered(message)

    ids = await queue(store, chats)
    sender = sender_on(store, bot, gated, wall_clock=Ticking(), max_waiting=20)
    sender.start()
    try:

        async def claimed(message_ids: list[int]) -> bool:
            claims = [await claim_of(database_url, id_) for id_ in message_ids]
            return all(claim["claimed_by"] == sender.claimant for claim in claims)

        await until(lambda: claimed(ids[:20]), what="the first 20 claimed", every=0.05)
        assert (await claim_of(database_url, ids[20]))["claimed_by"] is None
        for chat_id in chats[:2]:
            gates[chat_id].set()
            await telegram.wait_for(
                "sendMessage", lambda c, chat_id=chat_id: c.params["chat_id"] == chat_id
            )
        await until(lambda: claimed(ids[20:]), what="the last two claimed", every=0.05)
        last, after = [await claim_of(database_url, id_) for id_ in ids[20:]]
        assert last["claimed_until"] == after["claimed_until"]  # one claim took both
        for gate in gates.values():
            gate.set()
        await until(
            lambda: len(telegram.calls_to("sendMessage")) == len(chats), what="every message"
        )
    finally:
        for gate in gates.values():
            gate.set()
        await sender.stop()
    assert [message_ids(telegram, chat_id) for chat_id in chats] == [[id_] for id_ in ids]
