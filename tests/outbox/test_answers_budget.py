"""The bot's answers draw on the one budget of Telegram's limits with the outbox, across
replicas: three services on one PostgreSQL database, behind a round-robin balancer, answer a
crowd of buyers while their outboxes send confirmations, and Telegram refuses none of it."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import aiohttp
import pytest
from aiohttp import web

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.telegram_api import RateLimits, TelegramEmulator
from storage import MessageKind
from tests.databases import opened_storage
from tests.helpers import ADMIN_ID, QUICK_RETRIES, ask, new_order

# Telegram's rates with little room for bursts: three replicas each keeping 30 a second are
# refused within the first second. (Ten, not test_outbox_pacing.py's five: three services and
# the emulator share this test's event loop, and sends held up together arrive together.)
STRICT = RateLimits(global_per_second=30, global_burst=10, per_chat_per_second=1, per_chat_burst=2)
SECRET = "replicas-webhook-secret_1"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REPLICAS = 3
# At 30 a second, the lot takes two seconds: each replica's share alone would keep within
# Telegram's rate, all of them together not.
CONFIRMED = list(range(9300, 9315))
ASKING = list(range(9400, 9445))


class Balancer:
    """Hands each Telegram update to the next replica in turn, as a load balancer does."""

    def __init__(self) -> None:
        self.replicas: list[str] = []
        self._turns = itertools.count()
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        replica = self.replicas[next(self._turns) % len(self.replicas)]
        secret = {SECRET_HEADER: request.headers.get(SECRET_HEADER, "")}
        body = await request.read()
        async with self._session.post(replica + request.path, data=body, headers=secret) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    async def run(self, stack: AsyncExitStack) -> str:
        """Start listening; its URL."""
        self._session = await stack.enter_async_context(aiohttp.ClientSession())
        app = web.Application()
        app.router.add_post("/telegram/webhook", self.forward)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def replicas(
    postgres_url: str,
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
) -> AsyncIterator[list[Service]]:
    """Three services on one database, in webhook mode behind one balancer, with
    confirmations queued for their outboxes to send as they start."""
    async with opened_storage(postgres_url) as store:
        order = await store.create_order_within_stock(new_order(), {})
        async with store.transaction() as tx:
            for chat_id in CONFIRMED:
                await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
    for chat_id in [*CONFIRMED, *ASKING]:
        telegram.user(chat_id)
    balancer = Balancer()
    async with AsyncExitStack() as stack:
        url = await balancer.run(stack)
        settings = make_settings(
            database_url=postgres_url,
            telegram_mode="webhook",
            telegram_webhook_secret=SECRET,
            public_base_url=url,
        )
        services = []
        for _ in range(REPLICAS):
            service = Service(settings, catalog, outbox_delays=QUICK_RETRIES)
            await stack.enter_async_context(service)
            balancer.replicas.append(service.http_url)
            services.append(service)
        yield services


@pytest.mark.flood_limits(STRICT)
async def test_replicas_answer_a_crowd_within_one_budget_with_their_outboxes(
    replicas: list[Service], telegram: TelegramEmulator
) -> None:
    for chat_id in ASKING:
        await telegram.send_text(telegram.user_of(chat_id), "/help")
    sent = await telegram.wait_for("sendMessage", count=len(CONFIRMED) + len(ASKING), timeout=15)
    assert telegram.too_many_requests == 0
    delivered = Counter(int(call.params["chat_id"]) for call in sent)
    assert delivered == Counter([*CONFIRMED, *ASKING])
    confirmations = [c for c in sent if "Payment received" in c.params["text"]]
    assert sorted(int(c.params["chat_id"]) for c in confirmations) == CONFIRMED


# Telegram stricter than the bot's cap (another program on the token): a message every 2 s.
EVERY_TWO_SECONDS = RateLimits(global_per_second=0.5, global_burst=1, per_chat_per_second=None)


@pytest.mark.flood_limits(EVERY_TWO_SECONDS)
async def test_an_answer_refused_with_429_is_sent_again_once_telegram_allows(
    shop: Service, telegram: TelegramEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    first = await ask(telegram, owner, "/alerts")
    second = await ask(telegram, owner, "/alerts")
    assert first["text"] == second["text"] and first["text"].startswith("Sale alerts are off")
    calls = telegram.calls_to("sendMessage")
    (refused,) = [call for call in calls if call.status == 429]
    told = refused.response["parameters"]["retry_after"]
    (again,) = [call for call in calls if call.at > refused.at]
    assert again.status == 200 and again.at >= refused.at + told
