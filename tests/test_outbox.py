"""Confirmations survive Telegram failing: kept in the outbox, retried, set aside when hopeless."""

from __future__ import annotations

from collections.abc import Callable

from bot.catalog import Catalog
from bot.outbox import backoff_seconds
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import from_now_on, next_message, rows, session_behind, tap_product


async def test_a_confirmation_waits_out_an_outage_and_arrives_once(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker"))

    telegram.outage = True
    failed_before = len(telegram.calls_to("sendMessage"))
    assert (await stripe_api.pay(session["id"])).status == 200
    # The sender tried during the outage and was refused.
    await telegram.wait_until(
        lambda: any(c.status == 502 for c in telegram.calls_to("sendMessage")[failed_before:])
    )
    (pending,) = rows(shop.settings.database_path, "SELECT * FROM outbox")
    assert pending["sent_at"] is None and pending["given_up_at"] is None

    after = from_now_on(telegram)
    telegram.outage = False
    await next_message(telegram, ada, text="Payment received", after=after, timeout=10)
    await shop.stop()  # lets the sender record the send it just made
    (sent,) = rows(shop.settings.database_path, "SELECT * FROM outbox")
    assert sent["sent_at"] is not None and sent["attempts"] >= 2
    confirmations = [m for m in telegram.messages_to(ada.id) if "Payment received" in m["text"]]
    assert len(confirmations) == 1


async def test_a_buyer_who_blocked_the_bot_is_not_retried(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    settings = make_settings()
    async with Service(settings, catalog) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        ada = telegram.user(4242, "Ada")
        session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker"))
        telegram.block(ada.id)
        assert (await stripe_api.pay(session["id"])).status == 200
        await telegram.wait_until(
            lambda: any(c.status == 403 for c in telegram.calls_to("sendMessage"))
        )
    # Stopping lets the send in flight finish and its outcome be recorded.
    (message,) = rows(settings.database_path, "SELECT * FROM outbox")
    assert message["given_up_at"] is not None and message["sent_at"] is None
    assert "blocked" in message["last_error"]
    (order,) = rows(settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "paid"
    assert len([c for c in telegram.calls_to("sendMessage") if c.status == 403]) == 1


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [backoff_seconds(n) for n in range(4)] == [1, 2, 4, 8]
    assert backoff_seconds(30) == 300
