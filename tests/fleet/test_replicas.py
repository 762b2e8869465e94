"""Several `python -m bot` processes on one PostgreSQL database, in Telegram's webhook mode,
behind the sandbox's balancer: Stripe's webhooks and Telegram's updates land on any of them.

(a) A replica SIGKILLed mid-stream: every paid session is one paid order, every buyer is told
once (the messages in flight at the kill aside), and nothing goes above Telegram's limits.
(b) A rolling deploy under load: Stripe sees only 2xx and retried 5xx, and nothing is lost."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.outbox.sender import CONCURRENCY as SENDS_IN_FLIGHT
from sandbox.balancer import Balancer
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from sandbox.telegram_emulator.flood import TELEGRAM_LIMITS
from storage import open_storage
from tests.databases import fetch
from tests.helpers import REPO, free_port, session_behind, tap_product, until
from tests.processes import environment
from tests.stripe_sandbox import orders_with_open_sessions

PRELOADED = 200  # buyers whose pending order and open session are made as the replicas start
TAPPING = 4  # buyers who tap Buy through Telegram, their updates going to any replica
KILL_AFTER = 100  # acknowledged deliveries before the kill
# Stripe retries soon: a retry lands on whichever replica is alive.
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 3.2, 3.2)
WEBHOOK_SECRET = "fleet-test-secret"


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator(retry_delays=RETRY_DELAYS) as emulator:
        yield emulator


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramEmulator]:
    """Telegram's published flood limits on: the replicas together must stay within them."""
    async with TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as emulator:
        yield emulator


@pytest.fixture
async def balancer() -> AsyncIterator[Balancer]:
    async with Balancer() as proxy:
        yield proxy


@dataclass
class Fleet:
    """The replicas' shared settings, and the processes running now by their URL."""

    env: dict[str, str]
    folder: Path
    balancer: Balancer
    running: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self) -> str:
        """A new replica, once it is ready, in the balancer; its URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (self.folder / f"replica-{port}.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.folder,
            env={**self.env, "HTTP_PORT": str(port)},
            stdout=log,
            stderr=log,
        )
        log.close()
        await _ready(url, process, self.folder / f"replica-{port}.log")
        self.running[url] = process
        self.balancer.add(url)
        return url

    async def stop(self, url: str, how: signal.Signals) -> int:
        """Out of the balancer first (as a deploy drains it), then the signal; its exit code."""
        self.balancer.remove(url)
        process = self.running.pop(url)
        process.send_signal(how)
        return await asyncio.wait_for(process.wait(), 30)

    async def stop_all(self) -> list[int]:
        return [await self.stop(url, signal.SIGTERM) for url in list(self.running)]


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


async def _ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Wait for GET /readyz to answer 200 (every part started), as a balancer's check does."""
    async with aiohttp.ClientSession() as http:

        async def ready() -> bool:
            assert process.returncode is None, _text(log)
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/readyz") as answer:
                    return answer.status == 200
            return False

        await until(ready, timeout=30, what=f"{url} ready", every=0.05)


@pytest.fixture
async def fleet(
    postgres_url: str,
    tmp_path: Path,
    stripe_api: StripeEmulator,
    telegram: TelegramEmulator,
    balancer: Balancer,
) -> AsyncIterator[Fleet]:
    env = environment(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PUBLIC_BASE_URL=balancer.url,
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        CATALOG_FILE=str(REPO / "catalog.toml"),
        DATABASE_URL=postgres_url,
        HTTP_HOST="127.0.0.1",
        # A replica killed with outbox messages in hand leaves them to the others this soon.
        OUTBOX_LEASE_SECONDS="2",
    )
    stripe_api.webhook_url = f"{balancer.url}/stripe/webhook"
    replicas = Fleet(env, tmp_path, balancer)
    try:
        yield replicas
    finally:
        for process in replicas.running.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def preload(url: str, stripe_api: StripeEmulator, count: int) -> list[tuple[int, str]]:
    """`count` pending orders from distinct buyers, each with its open Checkout Session."""
    store = open_storage(url)
    await store.open()
    try:
        product = ("forest-hiker", "The Forest Hiker", 39700)
        return await orders_with_open_sessions(store, stripe_api, count, product=product)
    finally:
        await store.close()


async def buy_through_telegram(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, count: int
) -> list[tuple[int, str]]:
    """`count` buyers tap Buy in the chat (their updates reach any replica) and get a link."""

    async def one(number: int) -> tuple[int, str]:
        buyer = telegram.user(20_000 + number, f"Tapper {number}")
        pay_message = await tap_product(telegram, buyer, "The Forest Hiker")
        return buyer.id, session_behind(stripe_api, pay_message)["id"]

    return list(await asyncio.gather(*(one(number) for number in range(count))))


def pay(
    stripe_api: StripeEmulator, sessions: list[str], *, at_once: int
) -> list[Awaitable[object]]:
    """Each buyer pays their session, `at_once` of them at a time."""
    limit = asyncio.Semaphore(at_once)

    async def one(session_id: str) -> None:
        async with limit:
            await stripe_api.pay(session_id)

    return [one(session_id) for session_id in sessions]


def confirmations(telegram: TelegramEmulator) -> collections.Counter[int]:
    return collections.Counter(
        int(call.params["chat_id"])
        for call in telegram.calls_to("sendMessage")
        if call.status == 200 and "Payment received" in str(call.params.get("text"))
    )


async def settled(url: str, telegram: TelegramEmulator, buyers: set[int]) -> None:
    """Wait until every buyer was told and the outbox has nothing left to send."""

    async def all_told() -> bool:
        unsent = await fetch(url, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        return set(confirmations(telegram)) >= buyers and unsent[0]["n"] == 0

    await until(all_told, timeout=60, what="every buyer told, nothing left to send", every=0.05)


async def open_shop(
    fleet: Fleet, stripe_api: StripeEmulator, telegram: TelegramEmulator, url: str, replicas: int
) -> tuple[list[tuple[int, str]], list[str]]:
    """The buyers' pending orders (made while the replicas start), and the replicas' URLs."""
    orders, *started = await asyncio.gather(
        preload(url, stripe_api, PRELOADED), *(fleet.start() for _ in range(replicas))
    )
    for buyer, _ in orders:
        telegram.user(buyer, f"Buyer {buyer}")
    return orders, started


async def wind_down(
    fleet: Fleet,
    stripe_api: StripeEmulator,
    telegram: TelegramEmulator,
    url: str,
    orders: list[tuple[int, str]],
) -> collections.Counter[int]:
    """Once every event is acknowledged and every buyer told, stop the replicas cleanly and
    check that each paid session is one paid order with one queued confirmation; what each
    buyer was sent."""
    await stripe_api.wait_until_acknowledged(timeout=30)
    await settled(url, telegram, {buyer for buyer, _ in orders})
    assert await fleet.stop_all() == [0, 0]
    paid = await fetch(url, "SELECT checkout_session_id FROM orders WHERE status = 'paid'")
    assert sorted(row["checkout_session_id"] for row in paid) == sorted(s for _, s in orders)
    queued_twice = await fetch(
        url, "SELECT order_id FROM outbox GROUP BY order_id HAVING count(*) != 1"
    )
    assert queued_twice == []
    return confirmations(telegram)


async def test_a_replica_killed_mid_stream_loses_no_payment_and_pays_none_twice(
    fleet: Fleet, stripe_api: StripeEmulator, telegram: TelegramEmulator, postgres_url: str
) -> None:
    orders, replicas = await open_shop(fleet, stripe_api, telegram, postgres_url, 3)
    orders += await buy_through_telegram(telegram, stripe_api, TAPPING)
    paying = asyncio.gather(*pay(stripe_api, [session for _, session in orders], at_once=16))
    await until(
        lambda: sum(d.acknowledged for d in stripe_api.deliveries) >= KILL_AFTER,
        timeout=30,
        what=f"the replicas to acknowledge {KILL_AFTER} events",
    )
    # Killed where it stands, and left in the balancer: it refuses connections, so the
    # balancer passes it over; what it was answering gets no answer, and Stripe retries it.
    killed = fleet.running.pop(replicas[0])
    killed.kill()
    await killed.wait()
    await paying
    told = await wind_down(fleet, stripe_api, telegram, postgres_url, orders)

    assert set(told) == {buyer for buyer, _ in orders}
    # The Bot API has no idempotency key: a message the killed replica had in flight may go
    # out again from another replica; no other message goes twice.
    twice = [chat for chat, count in told.items() if count > 1]
    assert len(twice) <= SENDS_IN_FLIGHT and all(count <= 2 for count in told.values())
    refused = [call.method for call in telegram.calls if call.status == 429]
    assert refused == []


async def test_a_rolling_deploy_under_load_loses_nothing(
    fleet: Fleet, stripe_api: StripeEmulator, telegram: TelegramEmulator, postgres_url: str
) -> None:
    orders, old = await open_shop(fleet, stripe_api, telegram, postgres_url, 2)
    sessions = [session for _, session in orders]
    chunk = len(sessions) // len(old)
    # One by one: the new replica joins once ready; the old one leaves the balancer and
    # stops cleanly (SIGTERM) while a share of the buyers pay.
    for number, url in enumerate(old):
        await fleet.start()
        paying = pay(stripe_api, sessions[number * chunk : (number + 1) * chunk], at_once=8)
        *_, code = await asyncio.gather(*paying, fleet.stop(url, signal.SIGTERM))
        assert code == 0
    await asyncio.gather(*pay(stripe_api, sessions[len(old) * chunk :], at_once=8))
    told = await wind_down(fleet, stripe_api, telegram, postgres_url, orders)

    answers = collections.Counter(d.status for d in stripe_api.deliveries)
    assert all(200 <= status < 300 or 500 <= status < 600 for status in answers), answers
    assert told == dict.fromkeys((buyer for buyer, _ in orders), 1)
