"""On PostgreSQL a replica's sender is told of the messages another replica queues
(LISTEN/NOTIFY) and sends them at once, although it looks at the outbox by itself only every
two minutes; its listening connection comes back when it is cut."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from telegram import Bot

from bot.outbox.notices import Outgoing
from bot.outbox.pace import Pace
from bot.outbox.sender import TOLD_IDLE_CHECK_SECONDS, OutboxSender
from sandbox.telegram_api import TelegramEmulator
from storage import Change, MessageKind, OutboxMessage, Storage
from storage.postgres.changes import LISTENER_NAME, channel
from tests.databases import fetch, opened_storage
from tests.helpers import new_order, until

# Far longer than any wait here: only a notification can wake the sender in time.
assert TOLD_IDLE_CHECK_SECONDS >= 60
# The listener's last LISTEN: once pg_stat_activity shows it, every channel is listened to.
LAST_LISTEN = f'LISTEN "{channel(list(Change)[-1])}"'


async def numbered(message: OutboxMessage) -> Outgoing:
    return Outgoing(f"message {message.id}")


async def listeners(url: str) -> list[int]:
    """The backends listening on every channel for a store on this database."""
    rows = await fetch(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = $1 AND query = $2 AND state = 'idle'",
        LISTENER_NAME,
        LAST_LISTEN,
    )
    return [row["pid"] for row in rows]


async def listening(url: str) -> bool:
    return bool(await listeners(url))


async def queue(store: Storage, url: str, chat_id: int) -> int:
    """One message to the chat, queued as a replica's fulfilment does; its outbox id."""
    order = await store.create_order_within_stock(new_order(), {})
    async with store.transaction() as tx:
        await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
    (row,) = await fetch(url, "SELECT max(id) AS id FROM outbox")
    return int(row["id"])


@pytest.fixture
async def replicas(postgres_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two stores on one database: the first queues, the second's sender sends."""
    async with opened_storage(postgres_url) as first, opened_storage(postgres_url) as second:
        yield first, second


@pytest.fixture
async def sender(
    replicas: tuple[Storage, Storage], telegram: TelegramEmulator, postgres_url: str
) -> AsyncIterator[OutboxSender]:
    """The second replica's sender, told by its store of what the others queue."""
    store = replicas[1]
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        one = OutboxSender(store, bot, numbered, pace=Pace(store, per_second=30))
        told = store.on_change(Change.OUTBOX, one.notify)
        assert told
        one.start(told=told)
        try:
            await until(lambda: listening(postgres_url), what="the listener")
            yield one
        finally:
            await one.stop()


def sent_to(telegram: TelegramEmulator, chat_id: int) -> list[str]:
    return [
        call.params["text"]
        for call in telegram.calls_to("sendMessage")
        if call.status == 200 and int(call.params["chat_id"]) == chat_id
    ]


async def test_a_replica_sends_at_once_what_another_replica_queued(
    replicas: tuple[Storage, Storage],
    sender: OutboxSender,
    telegram: TelegramEmulator,
    postgres_url: str,
) -> None:
    first, _ = replicas
    for chat_id in (7101, 7102):
        telegram.user(chat_id)
        message_id = await queue(first, postgres_url, chat_id)
        # The sender was idle, waiting minutes for its next look: it was told.
        await telegram.wait_for("sendMessage", lambda c, chat=chat_id: c.params["chat_id"] == chat)
        assert sent_to(telegram, chat_id) == [f"message {message_id}"]


async def test_the_listener_comes_back_after_its_connection_is_cut(
    replicas: tuple[Storage, Storage],
    sender: OutboxSender,
    telegram: TelegramEmulator,
    postgres_url: str,
) -> None:
    first, _ = replicas
    (cut,) = await listeners(postgres_url)
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", cut)
    finally:
        await connection.close()

    async def listening_again() -> bool:
        return bool(set(await listeners(postgres_url)) - {cut})

    await until(listening_again, what="a new listener")
    telegram.user(7201)
    message_id = await queue(first, postgres_url, 7201)
    await telegram.wait_for("sendMessage", lambda c: c.params["chat_id"] == 7201)
    assert sent_to(telegram, 7201) == [f"message {message_id}"]
