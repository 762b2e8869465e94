"""The whole sale with the shop's orders in PostgreSQL: tap → Checkout link → paid once (a
duplicate delivery changes nothing) → buyer told."""

from __future__ import annotations

from collections.abc import Callable

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.databases import fetch
from tests.helpers import QUICK_RETRIES, from_now_on, next_message, session_behind, tap_product


async def test_a_sale_on_postgresql(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    settings = make_settings(database_url=postgres_url)
    async with Service(settings, catalog, outbox_delays=QUICK_RETRIES) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        ada = telegram.user(4242, "Ada", username="ada", language_code="en")
        pay_message = await tap_product(telegram, ada, "The Forest Hiker")
        session = session_behind(stripe_api, pay_message)
        after = from_now_on(telegram)
        delivery = await stripe_api.pay(session["id"])
        assert delivery.status == 200, delivery.response_body
        confirmation = await next_message(telegram, ada, text="Payment received", after=after)
        assert "The Forest Hiker × 1" in confirmation["text"]
        again = await stripe_api.redeliver(delivery.event["id"])
        assert again.status == 200, again.response_body

    (order,) = await fetch(postgres_url, "SELECT * FROM orders")
    assert (order["status"], order["amount_received"]) == ("paid", 39700)
    assert order["checkout_session_id"] == session["id"]
    history = await fetch(postgres_url, "SELECT status FROM order_history ORDER BY id")
    assert [change["status"] for change in history] == ["pending", "paid"]
    (message,) = await fetch(postgres_url, "SELECT * FROM outbox")
    assert message["chat_id"] == ada.id and message["sent_at"] is not None
