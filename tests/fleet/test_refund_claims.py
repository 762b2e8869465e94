"""A refund on its way to Stripe from one replica: a tap on its question answered by another
replica (the same admin's other device, or another admin) is told it is being requested, and
Stripe is asked once."""

from __future__ import annotations

import asyncio

from telegram import Bot

from bot.admin.refund_desk import RefundDesk
from bot.admin.texts import refund_in_progress
from bot.references import reference_for
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.admin.steps import confirm_button, pay_for, refund_requests
from tests.databases import fetch
from tests.helpers import ADMIN_ID, ask, from_now_on, until
from tests.stripe_sandbox import make_client, stripe_http


async def paid_order(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, postgres_url: str
) -> str:
    """Buyer 1's paid Forest Hiker; its reference, for /refund."""
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order,) = await fetch(postgres_url, "SELECT id FROM orders")
    return reference_for(order["id"])


async def test_a_tap_on_another_replica_while_stripe_is_asked_is_told_so(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    other, _, _ = two_shops
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(
        telegram, owner, f"/refund {await paid_order(telegram, stripe_api, postgres_url)} 50"
    )

    stripe_api.hold_requests()
    try:
        after = from_now_on(telegram)
        await telegram.tap(owner, question, confirm_button(question))
        await stripe_api.wait_until_held()
        elsewhere = from_now_on(other)
        await other.forge_tap(other.user(ADMIN_ID, "Owner"), question, confirm_button(question))
        (answer,) = await other.wait_for("answerCallbackQuery", elsewhere)
    finally:
        stripe_api.release_requests()
    assert answer.params.get("text") == refund_in_progress()
    (ended,) = await telegram.wait_for("editMessageText", after, timeout=10)
    assert "Requested at Stripe" in ended.params["text"]

    assert len(refund_requests(stripe_api)) == 1
    assert [refund["amount"] for refund in stripe_api.refunds.values()] == [5000]

    async def released() -> bool:
        # The claim ends right after the question is edited.
        (stored,) = await fetch(postgres_url, "SELECT claimed_until FROM refund_questions")
        return stored["claimed_until"] is None

    await until(released, what="the claim released", every=0.05)
    (stored,) = await fetch(postgres_url, "SELECT settled FROM refund_questions")
    assert stored == {"settled": "made"}
    assert other.calls_to("editMessageText") == []


async def test_a_replica_starting_while_another_asks_stripe_leaves_the_refund_to_it(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    """Start-up finishes refunds Stripe never answered, except one another replica is asking."""
    other, _, second = two_shops
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(
        telegram, owner, f"/refund {await paid_order(telegram, stripe_api, postgres_url)} 50"
    )

    stripe_api.hold_requests()
    try:
        after = from_now_on(telegram)
        await telegram.tap(owner, question, confirm_button(question))
        await stripe_api.wait_until_held()
        async with stripe_http() as http, Bot(other.token, base_url=other.base_url) as bot:
            starting = RefundDesk(make_client(stripe_api, http), second.storage)
            # Were it to ask Stripe too, its request would be held until the release below.
            await asyncio.wait_for(starting.resume(bot), timeout=10)
        assert stripe_api.held_requests == 1
    finally:
        stripe_api.release_requests()
    (ended,) = await telegram.wait_for("editMessageText", after, timeout=10)
    assert "Requested at Stripe" in ended.params["text"]
    assert len(refund_requests(stripe_api)) == 1
    assert other.calls_to("editMessageText") == []


async def test_a_second_refund_of_the_order_confirmed_on_another_replica_waits_its_turn(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    """Two questions of one order, confirmed on two replicas while the first's refund is on its
    way to Stripe: the second is not asked (what is left cannot be checked before the first is
    recorded), and its admin is told so; asked again, it is checked against the first."""
    other, _, _ = two_shops
    owner, owner_elsewhere = telegram.user(ADMIN_ID, "Owner"), other.user(ADMIN_ID, "Owner")
    reference = await paid_order(telegram, stripe_api, postgres_url)
    # Each emulator numbers the chat's messages on its own, where one Telegram would not give
    # two messages one id: an earlier exchange on the first keeps the questions' ids apart.
    await ask(telegram, owner, "/stats")
    first = await ask(telegram, owner, f"/refund {reference} 300")
    second = await ask(other, owner_elsewhere, f"/refund {reference} 300")
    assert first["message_id"] != second["message_id"]

    stripe_api.hold_requests()
    try:
        after = from_now_on(telegram)
        await telegram.tap(owner, first, confirm_button(first))
        await stripe_api.wait_until_held()
        elsewhere = from_now_on(other)
        await other.tap(owner_elsewhere, second, confirm_button(second))
        (refused,) = await other.wait_for("editMessageText", elsewhere, timeout=10)
    finally:
        stripe_api.release_requests()
    told = refused.params["text"]
    assert "Not refunded: another refund of this order was being requested" in told
    assert refused.params.get("reply_markup") in (None, {"inline_keyboard": []})
    (ended,) = await telegram.wait_for("editMessageText", after, timeout=10)
    assert "Requested at Stripe" in ended.params["text"]
    assert len(refund_requests(stripe_api)) == 1
    assert [refund["amount"] for refund in stripe_api.refunds.values()] == [30000]
    settled = await fetch(postgres_url, "SELECT message_id, settled FROM refund_questions")
    assert {row["message_id"]: row["settled"] for row in settled} == {
        first["message_id"]: "made",
        second["message_id"]: "not_made",
    }

    again = await ask(other, owner_elsewhere, f"/refund {reference} 300")
    assert again["text"].startswith(f"Cannot refund $300.00 on order #{reference}: only $97.00")
