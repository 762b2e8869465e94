"""A second copy polling with the same token is refused at start-up with one line: Telegram
ends the earlier of two getUpdates long polls with 409 Conflict, so the two copies would take
each other's updates away. The copy that was polling first keeps its place. Polling is refused
as well while a webhook is set: copies in webhook mode would stop getting updates. A token
refused while polling stops the bot: python-telegram-bot polls no more after a 401."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.catalog.model import Catalog
from bot.service import SECOND_POLLER, TOKEN_REFUSED_WHILE_POLLING, Service, StartupError
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import open_catalog
from tests.processes import finish, run_bot, valid


async def test_a_second_copy_polling_with_the_same_token_stops_with_one_line(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, tmp_path: Path
) -> None:
    ada = telegram.user(4242, "Ada")
    await open_catalog(telegram, ada)  # the first copy has polled, and answered
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT="0",
    )

    code, stderr = await finish(await run_bot(env, tmp_path))

    assert code == 1
    told = [line for line in stderr.splitlines() if line.startswith("checkout-bot:")]
    assert told == [f"checkout-bot: {SECOND_POLLER}"]
    assert "TELEGRAM_MODE=webhook" in told[0]
    assert not shop.failed.is_set()
    # The first copy still answers its buyers.
    bob = telegram.user(4343, "Bob")
    assert "Natours" in (await open_catalog(telegram, bob))["text"]


async def test_polling_is_refused_while_copies_run_in_webhook_mode(
    webhook_shop: Service,
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    tmp_path: Path,
) -> None:
    """Polling starts by deleting the webhook: the copies in webhook mode would go deaf."""
    other_database = f"sqlite:///{tmp_path / 'other.db'}"
    with pytest.raises(StartupError, match="Telegram has a webhook set for this bot") as refused:
        async with Service(make_settings(database_url=other_database), catalog):
            pass
    assert "TELEGRAM_MODE=webhook" in str(refused.value)
    assert telegram.calls_to("deleteWebhook") == []
    # The copy in webhook mode still gets its buyers' updates.
    ada = telegram.user(4242, "Ada")
    assert "Natours" in (await open_catalog(telegram, ada))["text"]


async def test_a_token_refused_while_polling_stops_the_bot_with_one_line(
    shop: Service, telegram: TelegramEmulator
) -> None:
    """Left running, the bot would record payments but answer no buyer, for good."""
    ada = telegram.user(4242, "Ada")
    await open_catalog(telegram, ada)
    assert not shop.failed.is_set()

    telegram.token_refused = True  # as after /revoke in @BotFather
    await telegram.send_text(ada, "/start")  # ends the pending long poll; the next is refused

    await asyncio.wait_for(shop.failed.wait(), timeout=5)
    assert shop.failure == TOKEN_REFUSED_WHILE_POLLING
    assert [call.status for call in telegram.calls_to("getUpdates")][-1] == 401
