"""Payments whose webhook never came: found on the buyer's return, by /reconcile, at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from bot.buyer.tap_guard import TAPS_PER_WINDOW
from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.helpers import (
    ADMIN_ID,
    ONE_LINE_EACH,
    buttons,
    from_now_on,
    new_order,
    next_message,
    open_order,
    reference_in,
    rows,
    session_behind,
    tap_product,
    write_directly,
)
from tests.stripe_sandbox import make_client, stripe_http
from webhooks.fulfilment import Fulfilment
from webhooks.reconciliation import Reconciler


def status_of(shop: Service) -> str:
    (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    status: str = order["status"]
    return status


async def missed(stripe_api: StripeEmulator, closed_port: int) -> None:
    """From now on Stripe's webhooks reach nobody (a wrong endpoint, our server down)."""
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"


def sent_texts(telegram: TelegramEmulator, user: TgUser, fragment: str) -> list[str]:
    return [
        m.get("text", "") for m in telegram.messages_to(user.id) if fragment in m.get("text", "")
    ]


async def test_the_buyers_return_fulfils_a_payment_whose_webhook_is_late(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, closed_port: int
) -> None:
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    await missed(stripe_api, closed_port)
    delivery = await stripe_api.pay(session["id"])
    assert delivery.status == 0 and status_of(shop) == "pending"

    after = from_now_on(telegram)
    payload = session["success_url"].split("?start=")[1]
    await telegram.send_text(ada, f"/start {payload}")
    await next_message(telegram, ada, text="Payment received", after=after)
    assert status_of(shop) == "paid"

    # The webhook arrives at last: nothing more happens.
    stripe_api.webhook_url = None  # drops the retries still scheduled for the wrong endpoint
    stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
    late = await stripe_api.redeliver(delivery.event["id"])
    assert late.status == 200
    await shop.stop()
    assert len(sent_texts(telegram, ada, "Payment received")) == 1
    assert not sent_texts(telegram, ada, "is paid")
    (order,) = rows(shop.settings.database_path, "SELECT id FROM orders")
    sources = rows(
        shop.settings.database_path,
        "SELECT source FROM order_history WHERE order_id = ? ORDER BY id",
        order["id"],
    )
    assert [row["source"] for row in sources] == ["tap", "buyer's return"]


async def test_reconcile_finds_what_the_webhooks_missed(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, closed_port: int
) -> None:
    """Paid, expired and failed sessions, none of whose events arrived, and an orphan order."""
    owner = telegram.user(ADMIN_ID, "Owner")
    buyers = [telegram.user(4242 + n, f"Buyer {n}") for n in range(3)]
    pay_messages, sessions = [], []
    for buyer in buyers:
        pay_message, session = await open_order(shop, telegram, stripe_api, buyer)
        pay_messages.append(pay_message)
        sessions.append(session)
    database = shop.settings.database_path
    await write_directly(
        database,
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, product_id,"
        " product_title, quantity, unit_amount, amount_total, currency, status,"
        " created_at, updated_at) VALUES (1, 1, 'Gone', 'forest-hiker', 'The Forest Hiker',"
        " 1, 39700, 39700, 'usd', 'pending', ?, ?)",
        (int(time.time()) - 26 * 3600, int(time.time()) - 26 * 3600),
    )  # a tap whose process died before Stripe answered
    await write_directly(database, ONE_LINE_EACH)
    await missed(stripe_api, closed_port)
    await stripe_api.pay(sessions[0]["id"])
    await stripe_api.expire_session(sessions[1]["id"])
    await stripe_api.complete_unpaid(sessions[2]["id"])
    await stripe_api.async_payment_failed(sessions[2]["id"])

    after = from_now_on(telegram)
    await telegram.send_text(owner, "/reconcile")
    answer = await next_message(telegram, owner, text="Reconciliation done", after=after)

    assert answer["text"] == (
        "Reconciliation done: 3 checked, 1 paid, 1 expired, 1 failed, 1 abandoned without a link."
    )
    statuses = rows(database, "SELECT status FROM orders ORDER BY id")
    assert [row["status"] for row in statuses] == ["paid", "expired", "failed", "failed"]
    await next_message(telegram, buyers[0], text="Payment received", after=after)
    await next_message(telegram, buyers[2], text="did not go through", after=after)
    await telegram.wait_for(
        "editMessageText",
        lambda c: c.params.get("message_id") == pay_messages[1]["message_id"],
    )
    (expired,) = [
        m
        for m in telegram.messages_to(buyers[1].id)
        if m["message_id"] == pay_messages[1]["message_id"]
    ]
    assert "This link has expired" in expired["text"]
    assert all("url" not in button for button in buttons(expired))

    # A second run finds nothing left to do.
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/reconcile")
    again = await next_message(telegram, owner, text="Reconciliation done", after=after)
    assert again["text"] == "Reconciliation done: 0 checked, nothing changed."


async def test_reconcile_is_for_admins_only(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    await open_order(shop, telegram, stripe_api, ada)
    reads_before = len(stripe_api.requests)
    after = from_now_on(telegram)
    await telegram.send_text(ada, "/reconcile")
    answer = await next_message(telegram, ada, after=after)
    assert "for the shop's admins" in answer["text"]
    assert len(stripe_api.requests) == reads_before


async def test_start_up_reconciles_what_was_paid_while_the_bot_was_down(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
    seconds_per_chat: float,
) -> None:
    settings = make_settings()
    ada = telegram.user(4242, "Ada")
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        _, session = await open_order(shop, telegram, stripe_api, ada)
    await missed(stripe_api, closed_port)  # the bot is down: nobody answers
    await stripe_api.pay(session["id"])

    after = from_now_on(telegram)
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat):
        await next_message(telegram, ada, text="Payment received", after=after)
    (order,) = rows(settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "paid"


async def test_a_refund_made_in_stripes_dashboard_reaches_the_order_and_the_buyer(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    after = from_now_on(telegram)
    await stripe_api.pay(session["id"])
    await next_message(telegram, ada, text="Payment received", after=after)
    payment_intent = stripe_api.sessions[session["id"]]["payment_intent"]

    after = from_now_on(telegram)
    deliveries = await stripe_api.refund(payment_intent, 5000)
    assert [d.status for d in deliveries] == [200, 200]
    told = await next_message(telegram, ada, text="refunded", after=after)
    assert "$50.00 of order" in told["text"]

    after = from_now_on(telegram)
    await stripe_api.refund(payment_intent)
    told = await next_message(telegram, ada, text="was refunded", after=after)
    assert "$347.00 is on its way back" in told["text"]
    (order,) = rows(shop.settings.database_path, "SELECT status, amount_refunded FROM orders")
    assert order == {"status": "refunded", "amount_refunded": 39700}
    await shop.stop()
    assert len(sent_texts(telegram, ada, "refunded")) == 2


async def test_a_stripe_key_refused_is_said_at_start_up(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The owner learns of a wrong key when the bot starts, not from the first buyer."""
    with caplog.at_level(logging.WARNING):
        async with Service(make_settings(stripe_secret_key="sk_test_not_this_account"), catalog):
            pass
    refused = [r.getMessage() for r in caplog.records if "STRIPE_SECRET_KEY" in r.getMessage()]
    assert len(refused) == 1 and refused[0].startswith("Stripe refused STRIPE_SECRET_KEY")
    assert "sk_test_not_this_account" not in refused[0]


async def test_returning_through_the_success_link_of_a_failed_payment_does_not_promise_it(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    session = session_behind(stripe_api, pay_message)
    after = from_now_on(telegram)
    await stripe_api.complete_unpaid(session["id"])  # a bank debit
    await next_message(telegram, ada, text="being processed", after=after)
    after = from_now_on(telegram)
    await stripe_api.async_payment_failed(session["id"])
    await next_message(telegram, ada, text="did not go through", after=after)
    (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "failed"

    # Ada opens the success page again (her browser's history): /start paid-REF.
    after = from_now_on(telegram)
    await telegram.send_text(ada, f"/start paid-{reference_in(pay_message)}")
    told = await next_message(telegram, ada, after=after)
    assert "waiting for Stripe to confirm" not in told["text"], told["text"]


async def test_returning_again_and_again_is_paced_like_taps(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Each return asks Stripe about the order; a buyer sending it in a loop must not use up
    the account's request rate that every buyer's link needs."""
    ada = telegram.user(4242, "Ada")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    session = session_behind(stripe_api, pay_message)
    returns = TAPS_PER_WINDOW * 2
    for _ in range(returns):
        after = from_now_on(telegram)
        await telegram.send_text(ada, f"/start paid-{reference_in(pay_message)}")
        told = await next_message(telegram, ada, after=after)
        assert "waiting for Stripe to confirm" in told["text"], told["text"]
    reads = [
        r
        for r in stripe_api.requests
        if r.method == "GET" and r.path == f"/v1/checkout/sessions/{session['id']}"
    ]
    # The Buy tap counted too: the returns had the rest of the buyer's window.
    assert 0 < len(reads) <= TAPS_PER_WINDOW - 1
    (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "pending"


async def test_a_lost_webhook_is_found_behind_orders_stripe_does_not_know(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, closed_port: int
) -> None:
    """Orders made with other Stripe keys come first, more than a run reads: the paid one
    behind them is found within ceil(waiting / batch) runs, and each unknown one is retired
    and its admins told once."""
    admins = frozenset({ADMIN_ID})
    later = int(time.time()) + 3600
    for user_id in range(1, 5):
        order = await shop.storage.create_order_within_stock(new_order(user_id), stock={})
        assert order is not None
        await shop.storage.attach_checkout(order.id, f"cs_test_other_{user_id}", "https://", later)
        await shop.storage.set_pay_message(order.id, 1)
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    await missed(stripe_api, closed_port)
    await stripe_api.pay(session["id"])

    async with stripe_http() as http:
        fulfilment = Fulfilment(shop.storage, admin_ids=admins, on_queued=lambda: None)
        reconciler = Reconciler(
            shop.storage,
            make_client(stripe_api, http),
            fulfilment,
            admin_ids=admins,
            batch_size=2,
            requests_per_second=1000,
        )
        reports = [await reconciler.run() for _ in range(3)]  # 5 waiting, 2 a run
        again = await reconciler.run()

    database = shop.settings.database_path
    ada_order = rows(database, "SELECT status FROM orders WHERE telegram_user_id = 4242")
    assert ada_order == [{"status": "paid"}]
    assert [report.retired for report in reports] == [2, 2, 0]
    assert (again.checked, again.retired) == (0, 0)
    told = rows(database, "SELECT chat_id, order_id FROM outbox WHERE kind = 'alert_flagged'")
    flagged = rows(database, "SELECT id, flag FROM orders WHERE retired_at IS NOT NULL")
    assert sorted(row["order_id"] for row in told) == [row["id"] for row in flagged]
    assert {row["chat_id"] for row in told} == {ADMIN_ID} and len(flagged) == 4
    assert all("Stripe does not know" in row["flag"] for row in flagged)
