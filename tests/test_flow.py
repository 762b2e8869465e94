"""The whole sale, through both emulators: /start → tap → Checkout link → paid → buyer told."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.helpers import (
    button_for,
    buttons,
    from_now_on,
    next_message,
    open_catalog,
    rows,
    session_behind,
    tap_and_see,
    tap_product,
)


def database_of(shop: Service) -> Any:
    return shop.settings.database_path


async def buy_and_pay(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, user: TgUser
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tap The Forest Hiker, pay its session; returns the session and the confirmation."""
    pay_message = await tap_product(telegram, user, "The Forest Hiker")
    session = session_behind(stripe_api, pay_message)
    after = from_now_on(telegram)
    delivery = await stripe_api.pay(session["id"])
    assert delivery.status == 200, delivery.response_body
    confirmation = await next_message(telegram, user, text="Payment received", after=after)
    return stripe_api.sessions[session["id"]], confirmation


async def check_the_sale(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada", username="ada", language_code="en")

    home = await open_catalog(telegram, ada)
    tours = await tap_and_see(telegram, ada, home, button_for(home, "Tours")["callback_data"])
    assert button_for(tours, "The Forest Hiker")["text"] == "The Forest Hiker — $397.00"
    assert button_for(tours, "The Snow Adventurer")["text"].endswith("¥4,800")
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(home) + buttons(tours))

    session, confirmation = await buy_and_pay(shop, telegram, stripe_api, ada)

    (order,) = rows(database_of(shop), "SELECT * FROM orders")
    assert order["status"] == "paid"
    assert order["checkout_session_id"] == session["id"]
    assert order["payment_intent_id"] == session["payment_intent"] is not None
    assert (order["amount_total"], order["currency"]) == (39700, "usd")
    assert order["amount_received"] == 39700
    assert order["paid_at"] is not None

    # The confirmation names the order, the product, the quantity and the amount.
    text = confirmation["text"]
    assert "The Forest Hiker × 1" in text and "$397.00" in text
    reference = text.split("#")[1].split()[0]
    assert session["success_url"].endswith(f"?start=paid-{reference}")

    (event,) = rows(database_of(shop), "SELECT * FROM stripe_events")
    assert event["type"] == "checkout.session.completed"
    await shop.stop()  # lets the sender record the send it just made
    (outbox,) = rows(database_of(shop), "SELECT * FROM outbox")
    assert outbox["sent_at"] is not None and outbox["chat_id"] == ada.id


async def test_a_sale_in_polling_mode(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await check_the_sale(shop, telegram, stripe_api)
    assert telegram.calls_to("getUpdates"), "polling mode reads updates with getUpdates"


async def test_a_sale_in_webhook_mode(
    webhook_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    (registration,) = telegram.calls_to("setWebhook")
    assert registration.params["url"] == f"{webhook_shop.http_url}/telegram/webhook"
    assert registration.params["secret_token"] == "test-webhook-secret_123"
    assert set(registration.params["allowed_updates"]) == {
        "message",
        "callback_query",
        "pre_checkout_query",  # Telegram Stars: the bot is asked before each payment
    }

    await check_the_sale(webhook_shop, telegram, stripe_api)

    assert not telegram.calls_to("getUpdates")
    assert telegram.webhook_deliveries
    assert all(delivery.status == 200 for delivery in telegram.webhook_deliveries)


async def test_the_checkout_session_is_made_as_designed(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="fr")
    started = int(time.time())
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")

    (request,) = [
        r for r in stripe_api.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
    ]
    params = request.params
    (order,) = rows(database_of(shop), "SELECT * FROM orders")
    metadata = {
        "order_id": str(order["id"]),
        "telegram_user_id": "4242",
        "chat_id": "4242",
        "product_id": "forest-hiker",
    }
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == "4242"
    assert params["metadata"] == metadata
    assert params["payment_intent_data"]["metadata"] == metadata
    assert params["locale"] == "fr"
    (item,) = params["line_items"]
    assert item["quantity"] == "1"
    assert item["price_data"]["currency"] == "usd"
    assert item["price_data"]["unit_amount"] == "39700"
    assert item["price_data"]["product_data"]["name"] == "The Forest Hiker"
    # At least the configured 30 minutes, with room for a retried request to still qualify.
    expires_at = int(params["expires_at"])
    assert started + 30 * 60 < expires_at <= int(time.time()) + 35 * 60
    username = telegram.bot_user["username"]
    assert params["success_url"].startswith(f"https://t.me/{username}?start=paid-")
    assert params["cancel_url"].startswith(f"https://t.me/{username}?start=cancel-")
    assert request.headers.get("Idempotency-Key", "").endswith(f"-order-{order['id']}")

    # The Pay button shows the amount in the buyer's language and opens the session.
    session = session_behind(stripe_api, pay_message)
    assert buttons(pay_message)[0]["text"] == "Payer 397,00\xa0$US"
    assert order["checkout_session_id"] == session["id"]
    assert order["status"] == "pending"


@pytest.mark.parametrize("minutes", [30, 1440])
async def test_a_retried_create_request_makes_one_valid_session(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    minutes: int,
) -> None:
    """stripe-python retries a failed create with the same key and body: one session, and an
    `expires_at` Stripe still accepts at the later moment of the retry, at both bounds."""
    async with Service(make_settings(checkout_expires_minutes=minutes), catalog):
        stripe_api.fail_next(1, status=500, should_retry=True)
        ada = telegram.user(4242, "Ada")
        pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    creates = [
        r for r in stripe_api.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
    ]
    assert [r.status for r in creates] == [500, 200]
    assert len({r.headers["Idempotency-Key"] for r in creates}) == 1
    assert len(stripe_api.sessions) == 1
    assert session_behind(stripe_api, pay_message)["status"] == "open"


async def test_the_same_event_twice_pays_once_and_tells_once(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    await buy_and_pay(shop, telegram, stripe_api, ada)
    first = stripe_api.deliveries[-1]

    again = await stripe_api.deliver(first.event)
    assert again.status == 200

    (order,) = rows(database_of(shop), "SELECT * FROM orders")
    assert order["status"] == "paid"
    assert len(rows(database_of(shop), "SELECT * FROM stripe_events")) == 1
    assert len(rows(database_of(shop), "SELECT * FROM outbox")) == 1
    confirmations = [
        m for m in telegram.messages_to(ada.id) if "Payment received" in m.get("text", "")
    ]
    assert len(confirmations) == 1


async def test_async_payment_succeeded_after_an_unpaid_completion_pays(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A bank debit: completed while unpaid (the buyer is told it is processing), then
    async_payment_succeeded pays the order."""
    ada = telegram.user(4242, "Ada")
    session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker"))
    after = from_now_on(telegram)
    unpaid = await stripe_api.complete_unpaid(session["id"])
    assert unpaid.status == 200
    await next_message(telegram, ada, text="being processed", after=after)
    (order,) = rows(database_of(shop), "SELECT * FROM orders")
    assert order["status"] == "processing"

    after = from_now_on(telegram)
    assert (await stripe_api.async_payment_succeeded(session["id"])).status == 200
    await next_message(telegram, ada, text="Payment received", after=after)
    (order,) = rows(database_of(shop), "SELECT * FROM orders")
    assert order["status"] == "paid"


async def test_the_return_link_tells_the_buyer_where_the_order_stands(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    session, _ = await buy_and_pay(shop, telegram, stripe_api, ada)
    payload = session["success_url"].split("?start=")[1]

    after = from_now_on(telegram)
    await telegram.send_text(ada, f"/start {payload}")
    answer = await next_message(telegram, ada, after=after)
    assert "is paid" in answer["text"]
