"""A confirmed refund whose request never got Stripe's answer (Stripe out of reach, the process
killed): it is finished with the same idempotency key at the next start or the next tap, or the
admin is told plainly that it was not made."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.catalog.model import Catalog
from bot.references import reference_for
from bot.service import STRIPE_NETWORK_RETRIES, Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.admin.steps import confirm, paid_order, refund_requests
from tests.helpers import ADMIN_ID, QUICK_RETRIES, ask, buttons, from_now_on, rows, until
from tests.stripe_sandbox import make_client, stripe_http


def question_now(telegram: TelegramEmulator, question: dict[str, Any]) -> dict[str, Any]:
    (now,) = [
        m for m in telegram.messages_to(ADMIN_ID) if m["message_id"] == question["message_id"]
    ]
    return now


def settled(settings: Settings) -> list[Any]:
    return [
        row["settled"]
        for row in rows(settings.database_path, "SELECT settled FROM refund_questions")
    ]


def keys_asked(stripe_api: StripeEmulator) -> set[str]:
    return {request.headers["Idempotency-Key"] for request in refund_requests(stripe_api)}


async def unanswered_refund(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, owner: TgUser
) -> dict[str, Any]:
    """A paid order, and a refund of 50 confirmed while Stripe cannot be reached."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 50")
    async with stripe_api.outage("unreachable"):
        ended = await confirm(telegram, owner, question)
    assert "not made yet" in ended["text"]
    assert [b["text"] for b in buttons(ended)] == ["Ask Stripe again"]
    assert stripe_api.refunds == {} and settled(shop.settings) == [None]
    return question


async def test_a_refund_stripe_never_answered_is_made_at_the_next_start(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> None:
    settings, owner = make_settings(), telegram.user(ADMIN_ID, "Owner")
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        question = await unanswered_refund(shop, telegram, stripe_api, owner)
    (key,) = keys_asked(stripe_api)
    after = from_now_on(telegram)
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ):
        await telegram.wait_for("editMessageText", after, timeout=10)
        ended = question_now(telegram, question)
    assert "Requested at Stripe" in ended["text"] and buttons(ended) == []
    (refund,) = stripe_api.refunds.values()
    assert refund["amount"] == 5000
    assert keys_asked(stripe_api) == {key}
    assert settled(settings) == ["made"]


async def test_a_refund_made_whose_answer_was_lost_is_found_a_day_later_not_made_again(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> None:
    """Stripe made the refund but its answer never came back; the bot starts again 25 hours
    later, when Stripe no longer knows the request's idempotency key (it would make a second
    refund): the refund made is found at Stripe and recorded instead."""
    settings, owner = make_settings(), telegram.user(ADMIN_ID, "Owner")
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        order, _ = await paid_order(shop, telegram, stripe_api)
        question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 50")
        async with stripe_api.outage("answer_lost"):
            ended = await confirm(telegram, owner, question)
        assert "not made yet" in ended["text"]
        (made,) = stripe_api.refunds.values()
        await stripe_api.wait_until_acknowledged()  # its events reached the shop
    stripe_api.clock = lambda: time.time() + 25 * 3600
    after = from_now_on(telegram)
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ):
        await telegram.wait_for("editMessageText", after, timeout=10)
        ended = question_now(telegram, question)
    assert "Requested at Stripe" in ended["text"] and made["id"] in ended["text"]
    assert buttons(ended) == []
    assert list(stripe_api.refunds) == [made["id"]]
    assert stripe_api.charges[made["charge"]]["amount_refunded"] == 5000
    stored = rows(settings.database_path, "SELECT id, amount, status FROM refunds")
    assert stored == [{"id": made["id"], "amount": 5000, "status": "succeeded"}]
    (refunded,) = rows(settings.database_path, "SELECT status, amount_refunded FROM orders")
    assert refunded == {"status": "partially_refunded", "amount_refunded": 5000}
    assert settled(settings) == ["made"]


async def test_a_tap_asks_again_with_the_same_key_then_the_question_is_closed(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await unanswered_refund(shop, telegram, stripe_api, owner)
    (key,) = keys_asked(stripe_api)
    (again,) = buttons(question_now(telegram, question))
    after = from_now_on(telegram)
    await telegram.tap(owner, question_now(telegram, question), again["callback_data"])
    await telegram.wait_for("editMessageText", after, timeout=10)
    assert "Requested at Stripe" in question_now(telegram, question)["text"]
    assert len(stripe_api.refunds) == 1 and keys_asked(stripe_api) == {key}
    assert settled(shop.settings) == ["made"]

    after = from_now_on(telegram)
    await telegram.forge_tap(owner, question, again["callback_data"])
    (answer,) = await telegram.wait_for("answerCallbackQuery", after)
    assert answer.params["text"] == "This question is closed."
    assert len(stripe_api.refunds) == 1


async def test_asked_again_while_stripe_cannot_list_refunds_nothing_is_asked(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Whether the refund was made is unknown until Stripe lists the payment's refunds: without
    that list, asking again could refund twice, so the question stays as it was."""
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await unanswered_refund(shop, telegram, stripe_api, owner)
    (again,) = buttons(question_now(telegram, question))
    requests_before = len(refund_requests(stripe_api))
    stripe_api.fail_next(1 + STRIPE_NETWORK_RETRIES)
    seen = len(telegram.calls)
    await telegram.tap(owner, question_now(telegram, question), again["callback_data"])
    # The same text and button again: Telegram answers that the message is not modified.
    await until(
        lambda: any(c.method == "editMessageText" for c in telegram.calls[seen:]),
        what="the question shown again",
    )
    ended = question_now(telegram, question)
    assert "not made yet" in ended["text"]
    assert [b["text"] for b in buttons(ended)] == ["Ask Stripe again"]
    listed = [r for r in stripe_api.requests if r.method == "GET" and r.path == "/v1/refunds"]
    assert [r.status for r in listed] == [500] * (1 + STRIPE_NETWORK_RETRIES)
    assert len(refund_requests(stripe_api)) == requests_before
    assert stripe_api.refunds == {} and settled(shop.settings) == [None]


async def test_a_refund_stripe_refuses_when_asked_again_is_said_not_made(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
    seconds_per_chat: float,
) -> None:
    """While the bot was down, the owner refunded the whole payment from Stripe's Dashboard."""
    settings, owner = make_settings(), telegram.user(ADMIN_ID, "Owner")
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        question = await unanswered_refund(shop, telegram, stripe_api, owner)
        (order,) = rows(settings.database_path, "SELECT payment_intent_id FROM orders")
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"
    await stripe_api.refund(order["payment_intent_id"])
    after = from_now_on(telegram)
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ):
        await telegram.wait_for("editMessageText", after, timeout=10)
        ended = question_now(telegram, question)
    assert "Stripe refused the refund: Charge " in ended["text"]
    assert "has already been refunded" in ended["text"]
    assert [r["amount"] for r in stripe_api.refunds.values()] == [39700]
    assert settled(settings) == ["not_made"]


async def test_a_question_asked_before_its_key_went_into_the_metadata_is_still_found(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A refund the previous version asked (its metadata without the question's key), made at
    Stripe, its answer lost; asked again within Stripe's 24 hours by this version, whose
    request carries more metadata: Stripe refuses a known key with other parameters, so the
    bot asks as that version did, and Stripe answers with the refund it made then."""
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await unanswered_refund(shop, telegram, stripe_api, owner)
    (key,) = keys_asked(stripe_api)
    (order,) = rows(shop.settings.database_path, "SELECT id, payment_intent_id FROM orders")
    async with stripe_http() as http:
        made = await make_client(stripe_api, http).v1.refunds.create_async(
            {
                "payment_intent": order["payment_intent_id"],
                "amount": 5000,
                "metadata": {"order_id": str(order["id"]), "requested_by": str(ADMIN_ID)},
            },
            {"idempotency_key": key},
        )
    await stripe_api.wait_until_acknowledged()

    (again,) = buttons(question_now(telegram, question))
    after = from_now_on(telegram)
    await telegram.tap(owner, question_now(telegram, question), again["callback_data"])
    await telegram.wait_for("editMessageText", after, timeout=10)

    ended = question_now(telegram, question)
    assert "Requested at Stripe" in ended["text"] and made.id in ended["text"]
    assert list(stripe_api.refunds) == [made.id]
    assert settled(shop.settings) == ["made"]
    stored = rows(shop.settings.database_path, "SELECT id, amount FROM refunds")
    assert stored == [{"id": made.id, "amount": 5000}]
