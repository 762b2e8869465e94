"""SIGKILL in the middle of a stream of payments: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.outbox.sender import CONCURRENCY as SENDS_IN_FLIGHT
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from storage import SQLiteStorage
from tests.helpers import REPO, free_port, rows, until
from tests.stripe_sandbox import orders_with_open_sessions

ORDERS = 300
KILL_AFTER = 90  # acknowledged deliveries before the kill
REDELIVERED = 30  # acknowledged events Stripe sends again anyway
# Long enough for the retries to outlast a restart; Stripe's real schedule spans days.
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0)


@pytest.fixture
async def slow_retrying_stripe() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator(retry_delays=RETRY_DELAYS) as emulator:
        yield emulator


@pytest.fixture
async def unlimited_telegram() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(rate_limits=None) as emulator:
        yield emulator


async def preload(database: Path, stripe_api: StripeEmulator, count: int) -> list[tuple[int, str]]:
    """`count` pending orders from distinct buyers, each with its open Checkout Session."""
    async with SQLiteStorage(database) as store:
        return await orders_with_open_sessions(store, stripe_api, count)


async def start_bot(
    env: dict[str, str], cwd: Path, health: str, telegram: TelegramEmulator
) -> asyncio.subprocess.Process:
    """Start the bot and wait until it is up: the command menu is the last thing it registers,
    after its web server listens."""
    registered = len(telegram.calls_to("setMyCommands"))
    log = (cwd / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=cwd, env=env, stdout=log, stderr=log
    )
    log.close()
    await telegram.wait_for("setMyCommands", count=registered + 1, timeout=30)
    async with aiohttp.ClientSession() as http, http.get(health) as response:
        assert response.status == 200, (cwd / "bot.log").read_text()
    return process


async def test_a_kill_mid_stream_loses_no_payment_and_pays_none_twice(
    tmp_path: Path,
    slow_retrying_stripe: StripeEmulator,
    unlimited_telegram: TelegramEmulator,
) -> None:
    stripe_api, telegram = slow_retrying_stripe, unlimited_telegram
    database = tmp_path / "shop.db"
    orders = await preload(database, stripe_api, ORDERS)
    for buyer, _ in orders:
        telegram.user(buyer, f"Buyer {buyer}")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "STRIPE_SECRET_KEY": stripe_api.api_key,
        "STRIPE_WEBHOOK_SECRET": stripe_api.webhook_secret,
        "STRIPE_API_BASE_URL": stripe_api.base_url,
        "CATALOG_FILE": str(REPO / "catalog.toml"),
        "DATABASE_URL": f"sqlite:///{database}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
    }
    health = f"http://127.0.0.1:{port}/healthz"
    stripe_api.webhook_url = f"http://127.0.0.1:{port}/stripe/webhook"

    bot = await start_bot(env, tmp_path, health, telegram)
    limit = asyncio.Semaphore(16)

    async def buyer_pays(session_id: str) -> None:
        async with limit:
            await stripe_api.pay(session_id)

    paying = asyncio.gather(*(buyer_pays(session_id) for _, session_id in orders))
    await until(lambda: sum(d.acknowledged for d in stripe_api.deliveries) >= KILL_AFTER, 30)
    bot.send_signal(signal.SIGKILL)
    await bot.wait()
    await paying  # every buyer has paid; many of their events went unanswered

    bot = await start_bot(env, tmp_path, health, telegram)
    acknowledged = sorted({d.event["id"] for d in stripe_api.deliveries if d.acknowledged})
    for event_id in random.Random(7).sample(acknowledged, REDELIVERED):
        assert (await stripe_api.redeliver(event_id)).status == 200
    await stripe_api.wait_until_acknowledged(timeout=60)

    def confirmed() -> collections.Counter[int]:
        return collections.Counter(
            int(call.params["chat_id"])
            for call in telegram.calls_to("sendMessage")
            if "Payment received" in str(call.params.get("text"))
        )

    def drained() -> bool:
        # A confirmation in flight at the kill reached its buyer once already, but its row is
        # sent again (and marked) by the new process: wait for that too, not only for the chats.
        return not rows(database, "SELECT id FROM outbox WHERE sent_at IS NULL")

    await until(lambda: len(confirmed()) == ORDERS and drained(), 60)
    bot.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bot.wait(), 30) == 0

    paid = rows(database, "SELECT checkout_session_id FROM orders WHERE status = 'paid'")
    assert sorted(row["checkout_session_id"] for row in paid) == sorted(s for _, s in orders)
    assert len(rows(database, "SELECT id FROM orders")) == ORDERS
    confirmations = rows(
        database, "SELECT order_id, count(*) AS n FROM outbox GROUP BY order_id HAVING n != 1"
    )
    assert confirmations == []
    assert not rows(database, "SELECT id FROM outbox WHERE sent_at IS NULL")
    twice = [chat for chat, count in confirmed().items() if count > 1]
    # The Bot API has no idempotency key: a message in flight at the kill may go out again.
    assert len(twice) <= SENDS_IN_FLIGHT
    assert all(count <= 2 for count in confirmed().values())
    assert set(confirmed()) == {buyer for buyer, _ in orders}
    _report(tmp_path, stripe_api, twice)


def _report(tmp_path: Path, stripe_api: StripeEmulator, twice: list[Any]) -> None:
    """What happened, for whoever reads the test's output on failure or with -s."""
    retried = sum(1 for d in stripe_api.deliveries if d.attempt > 1)
    print(f"deliveries: {len(stripe_api.deliveries)}, retries: {retried}, sent twice: {twice}")
