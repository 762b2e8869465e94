"""Two shops on one PostgreSQL database, as two replicas behind a balancer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import QUICK_RETRIES


@pytest.fixture
async def two_shops(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    postgres_url: str,
    seconds_per_chat: float,
) -> AsyncIterator[tuple[TelegramEmulator, Service, Service]]:
    """The shop twice on one database; the second reads the updates of a Telegram of its
    own (two copies cannot poll one bot), which stands for the balancer's other backend."""
    async with AsyncExitStack() as stack:
        other = await stack.enter_async_context(TelegramEmulator())
        shops = []
        for settings in (
            make_settings(database_url=postgres_url),
            make_settings(
                database_url=postgres_url,
                telegram_bot_token=other.token,
                telegram_api_base_url=other.base_url,
            ),
        ):
            service = Service(
                settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
            )
            shops.append(await stack.enter_async_context(service))
        stripe_api.webhook_url = f"{shops[0].http_url}/stripe/webhook"
        yield other, shops[0], shops[1]
