"""Every state of an order after its link is made, with events in any order."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.helpers import (
    ADMIN_ID,
    buttons,
    from_now_on,
    next_message,
    open_order,
    paid_event,
    rows,
    session_behind,
)
from tests.stripe_sandbox import checkout_params, make_client, stripe_http


def orders(shop: Service) -> list[dict[str, Any]]:
    return rows(shop.settings.database_path, "SELECT * FROM orders ORDER BY id")


def history(shop: Service, order_id: int) -> list[str]:
    found = rows(
        shop.settings.database_path,
        "SELECT status FROM order_history WHERE order_id = ? ORDER BY id",
        order_id,
    )
    return [row["status"] for row in found]


def texts_to(telegram: TelegramEmulator, user: TgUser, fragment: str) -> list[str]:
    """The texts of every message the bot sent the user that contain `fragment`."""
    return [
        call.params["text"]
        for call in telegram.calls_to("sendMessage")
        if call.status == 200
        and str(call.params.get("chat_id")) == str(user.id)
        and fragment in call.params.get("text", "")
    ]


async def test_an_expired_link_loses_its_button_and_offers_the_product_again(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    pay_message, session = await open_order(shop, telegram, stripe_api, ada)

    delivery = await stripe_api.expire_session(session["id"])

    assert json.loads(delivery.response_body)["result"] == "expired"
    await telegram.wait_for(
        "editMessageText", lambda c: c.params.get("message_id") == pay_message["message_id"]
    )
    (edited,) = [
        m for m in telegram.messages_to(ada.id) if m["message_id"] == pay_message["message_id"]
    ]
    assert "This link has expired — tap the product to get a new one" in edited["text"]
    assert [b.get("url") for b in buttons(edited)] == [None]
    (order,) = orders(shop)
    assert order["status"] == "expired"
    assert history(shop, order["id"]) == ["pending", "expired"]

    after = from_now_on(telegram)
    await telegram.tap(ada, edited, buttons(edited)[0]["callback_data"])
    new_pay_message = await next_message(telegram, ada, with_buttons="url", after=after)
    assert session_behind(stripe_api, new_pay_message)["id"] != session["id"]


async def test_a_delayed_payment_that_fails_tells_the_buyer_and_offers_it_again(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    after = from_now_on(telegram)
    await stripe_api.complete_unpaid(session["id"])
    await next_message(telegram, ada, text="being processed", after=after)

    after = from_now_on(telegram)
    delivery = await stripe_api.async_payment_failed(session["id"])

    assert json.loads(delivery.response_body)["result"] == "failed"
    failed = await next_message(telegram, ada, text="did not go through", after=after)
    assert [b["text"] for b in buttons(failed)] == ["Try again"]
    (order,) = orders(shop)
    assert order["status"] == "failed"
    assert history(shop, order["id"]) == ["pending", "processing", "failed"]
    assert not texts_to(telegram, ada, "Payment received")


async def test_async_success_before_completed_pays_once_and_says_it_once(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Stripe may deliver the later event first: the order ends paid, the buyer told once."""
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    complete = {**session, "status": "complete", "payment_intent": "pi_test_bank_debit"}
    completed = stripe_api.build_event(
        "checkout.session.completed", {**complete, "payment_status": "unpaid"}
    )
    succeeded = stripe_api.build_event(
        "checkout.session.async_payment_succeeded", {**complete, "payment_status": "paid"}
    )

    after = from_now_on(telegram)
    first = await stripe_api.deliver(succeeded)
    second = await stripe_api.deliver(completed)
    expired = await stripe_api.deliver(
        stripe_api.build_event("checkout.session.expired", {**session, "status": "expired"})
    )

    results = [json.loads(d.response_body)["result"] for d in (first, second, expired)]
    assert results == ["paid", "unchanged", "unchanged"]
    await next_message(telegram, ada, text="Payment received", after=after)
    (order,) = orders(shop)
    assert order["status"] == "paid"
    assert history(shop, order["id"]) == ["pending", "paid"]
    await shop.stop()  # every queued message has had its chance
    assert len(texts_to(telegram, ada, "Payment received")) == 1
    assert not texts_to(telegram, ada, "being processed")
    # The pay message is never turned into "link expired" (browsing edits other messages).
    assert not [c for c in telegram.calls_to("editMessageText") if "expired" in c.params["text"]]


def charge_refunded(
    stripe_api: StripeEmulator, payment_intent: str, refunded: int, total: int = 39700
) -> dict[str, Any]:
    """`charge.refunded` as Stripe sends it: the charge with its cumulative refunded amount."""
    charge = {
        "id": "ch_test_1",
        "object": "charge",
        "amount": total,
        "amount_captured": total,
        "amount_refunded": refunded,
        "currency": "usd",
        "payment_intent": payment_intent,
        "refunded": refunded == total,
        "status": "succeeded",
    }
    return stripe_api.build_event("charge.refunded", charge)


def refund_event(
    stripe_api: StripeEmulator, type: str, payment_intent: str, refund_id: str, amount: int
) -> dict[str, Any]:
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": "ch_test_1",
        "currency": "usd",
        "payment_intent": payment_intent,
        "status": "succeeded",
    }
    return stripe_api.build_event(type, refund)


async def paid_order(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, user: TgUser
) -> str:
    """A paid Forest Hiker; returns its PaymentIntent id."""
    _, session = await open_order(shop, telegram, stripe_api, user)
    after = from_now_on(telegram)
    await stripe_api.pay(session["id"])
    await next_message(telegram, user, text="Payment received", after=after)
    (order,) = orders(shop)
    payment_intent: str = order["payment_intent_id"]
    return payment_intent


async def test_refunds_in_parts_are_recorded_and_told_once_each(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    payment_intent = await paid_order(shop, telegram, stripe_api, ada)

    after = from_now_on(telegram)
    part = await stripe_api.deliver(
        refund_event(stripe_api, "refund.created", payment_intent, "re_1", 10000)
    )
    # The same refund, reported again through the charge: nothing new to tell.
    same = await stripe_api.deliver(charge_refunded(stripe_api, payment_intent, 10000))
    told = await next_message(telegram, ada, text="refunded", after=after)
    assert "$100.00 of order" in told["text"]
    (order,) = orders(shop)
    assert (order["status"], order["amount_refunded"]) == ("partially_refunded", 10000)

    after = from_now_on(telegram)
    rest = charge_refunded(stripe_api, payment_intent, 39700)
    full = await stripe_api.deliver(rest)
    again = await stripe_api.deliver(rest)
    late = await stripe_api.deliver(
        refund_event(stripe_api, "refund.created", payment_intent, "re_2", 29700)
    )
    told = await next_message(telegram, ada, text="was refunded", after=after)
    assert "$297.00 is on its way back" in told["text"]

    results = [json.loads(d.response_body)["result"] for d in (part, same, full, again, late)]
    assert results == ["refunded", "unchanged", "refunded", "duplicate", "unchanged"]
    (order,) = orders(shop)
    assert (order["status"], order["amount_refunded"]) == ("refunded", 39700)
    assert history(shop, order["id"]) == ["pending", "paid", "partially_refunded", "refunded"]
    await shop.stop()
    assert len(texts_to(telegram, ada, "refunded")) == 2


async def test_a_refund_of_a_payment_we_do_not_know_is_acknowledged_and_ignored(
    shop: Service, stripe_api: StripeEmulator
) -> None:
    delivery = await stripe_api.deliver(charge_refunded(stripe_api, "pi_someone_else", 500, 500))
    assert delivery.status == 200
    assert json.loads(delivery.response_body)["result"] == "not_ours"
    assert not rows(shop.settings.database_path, "SELECT * FROM stripe_events")


async def test_a_refund_before_the_payment_is_known_here_is_retried_later(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A delayed payment refunded before its success reached us: Stripe must come back."""
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    await stripe_api.complete_unpaid(session["id"])
    payment_intent = stripe_api.sessions[session["id"]]["payment_intent"]
    before = orders(shop)

    delivery = await stripe_api.deliver(charge_refunded(stripe_api, payment_intent, 39700))

    assert delivery.status == 409
    assert orders(shop) == before


async def test_a_payment_that_does_not_match_its_order_is_paid_and_flagged(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The money was taken, so the order is paid; the admins are told to look into it."""
    owner = telegram.user(ADMIN_ID, "Owner")
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    after = from_now_on(telegram)
    with caplog.at_level(logging.ERROR):
        delivery = await stripe_api.deliver(paid_event(stripe_api, session, amount_total=100))
    assert json.loads(delivery.response_body)["result"] == "paid"
    (order,) = orders(shop)
    assert order["status"] == "paid" and order["amount_received"] == 100
    assert "paid 100 usd" in order["flag"] and "39700 usd" in order["flag"]
    assert any("paid 100 usd" in record.getMessage() for record in caplog.records)
    flagged = rows(
        shop.settings.database_path, "SELECT chat_id FROM outbox WHERE kind = 'alert_flagged'"
    )
    assert flagged == [{"chat_id": ADMIN_ID}]
    told = await next_message(telegram, owner, text="needs a look", after=after)
    assert "paid 100 usd" in told["text"]


async def test_a_promotion_code_discount_is_recorded_and_is_no_mismatch(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    discounted = paid_event(
        stripe_api,
        session,
        amount_subtotal=39700,
        amount_total=34700,
        total_details={"amount_discount": 5000, "amount_shipping": 0, "amount_tax": 0},
    )
    delivery = await stripe_api.deliver(discounted)
    assert json.loads(delivery.response_body)["result"] == "paid"
    (order,) = orders(shop)
    assert (order["amount_received"], order["amount_discount"]) == (34700, 5000)
    assert order["flag"] is None
    assert not rows(shop.settings.database_path, "SELECT * FROM outbox WHERE kind LIKE 'alert%'")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_any_order_of_events_with_duplicates_ends_in_the_same_states(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, seed: int
) -> None:
    """Card payments, bank debits that succeed and ones that fail, and links left to expire,
    all shuffled, half of the events sent twice: the final states and the buyers' messages are
    what the events mean, whatever their order."""
    buyers = [telegram.user(7000 + n, f"Buyer {n}") for n in range(8)]
    events, expected = [], {}
    for number, buyer in enumerate(buyers):
        _, session = await open_order(shop, telegram, stripe_api, buyer)
        done = {**session, "status": "complete", "payment_intent": f"pi_test_{number}"}
        paid, unpaid = {**done, "payment_status": "paid"}, {**done, "payment_status": "unpaid"}
        kind = ("card", "debit", "failed debit", "expired")[number % 4]
        if kind == "expired":
            steps = [("checkout.session.expired", {**session, "status": "expired"})]
        elif kind == "card":
            steps = [("checkout.session.completed", paid)]
        elif kind == "debit":
            steps = [
                ("checkout.session.completed", unpaid),
                ("checkout.session.async_payment_succeeded", paid),
            ]
        else:
            steps = [
                ("checkout.session.completed", unpaid),
                ("checkout.session.async_payment_failed", unpaid),
            ]
        events += [stripe_api.build_event(type, obj) for type, obj in steps]
        expected[buyer.id] = {"failed debit": "failed", "expired": "expired"}.get(kind, "paid")

    deliveries = await stripe_api.deliver_all(events, duplicate_share=0.5, seed=seed)
    await stripe_api.wait_until_acknowledged([event["id"] for event in events])

    assert all(delivery.status == 200 for delivery in deliveries)
    stored = rows(shop.settings.database_path, "SELECT telegram_user_id, status FROM orders")
    assert {row["telegram_user_id"]: row["status"] for row in stored} == expected
    news = {"paid": "Payment received", "failed": "did not go through"}

    def everyone_told() -> bool:
        return all(
            texts_to(telegram, buyer, news[expected[buyer.id]])
            for buyer in buyers
            if expected[buyer.id] in news
        )

    await telegram.wait_until(everyone_told, timeout=10)
    await shop.stop()
    # Nothing is queued twice either, sent or not.
    twice = rows(
        shop.settings.database_path,
        "SELECT order_id, kind FROM outbox GROUP BY order_id, kind HAVING count(*) > 1",
    )
    assert twice == []
    for buyer in buyers:
        received = texts_to(telegram, buyer, "Payment received")
        failed = texts_to(telegram, buyer, "did not go through")
        told = {"paid": (1, 0), "failed": (0, 1), "expired": (0, 0)}[expected[buyer.id]]
        assert (len(received), len(failed)) == told
        assert len(texts_to(telegram, buyer, "being processed")) <= 1


async def other_integrations_session(stripe_api: StripeEmulator, metadata: dict[str, str]) -> str:
    """A Checkout Session another integration on the same Stripe account makes, with its own
    `order_id` in the metadata (a common key). Returns the session id."""
    async with stripe_http() as http:
        session = await make_client(stripe_api, http).v1.checkout.sessions.create_async(
            checkout_params(metadata=metadata, payment_intent_data={"metadata": metadata})
        )
    session_id: str = session.id
    return session_id


async def test_a_refund_by_another_integration_naming_one_of_our_order_ids_is_not_ours(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Answered 409, Stripe would retry it for days: our order is paid through another
    PaymentIntent, and that buyer is not ours."""
    ada = telegram.user(4242, "Ada")
    await paid_order(shop, telegram, stripe_api, ada)
    (ours,) = orders(shop)
    session_id = await other_integrations_session(stripe_api, {"order_id": str(ours["id"])})
    delivery = await stripe_api.pay(session_id)
    assert json.loads(delivery.response_body)["result"] == "not_ours"
    before = orders(shop)

    deliveries = await stripe_api.refund(stripe_api.sessions[session_id]["payment_intent"])

    assert [(d.status, json.loads(d.response_body)["result"]) for d in deliveries] == [
        (200, "not_ours"),
        (200, "not_ours"),
    ]
    assert orders(shop) == before
    assert not stripe_api.pending_retries()


async def test_another_integrations_order_number_past_sqlites_integers_is_not_ours(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """An order number such as 20250101123045123456 overflowed the lookup: 503 for ever."""
    database = shop.settings.database_path
    before = (rows(database, "SELECT * FROM orders"), rows(database, "SELECT * FROM stripe_events"))
    session_id = await other_integrations_session(stripe_api, {"order_id": "2" * 20})

    delivery = await stripe_api.pay(session_id)

    assert (delivery.status, json.loads(delivery.response_body)["result"]) == (200, "not_ours")
    after = (rows(database, "SELECT * FROM orders"), rows(database, "SELECT * FROM stripe_events"))
    assert after == before


async def test_a_refund_that_fails_leaves_the_refunded_total_and_every_admin_is_told(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A refund can fail after it was made (the card was closed): Stripe puts the money back
    in the balance, and the owner must pay the buyer back some other way."""
    ada = telegram.user(4242, "Ada")
    payment_intent = await paid_order(shop, telegram, stripe_api, ada)
    assert [d.status for d in await stripe_api.refund(payment_intent, 10000)] == [200, 200]
    (order,) = orders(shop)
    assert (order["status"], order["amount_refunded"]) == ("partially_refunded", 10000)
    (refund,) = stripe_api.refunds.values()
    succeeded = dict(refund)

    told = await stripe_api.fail_refund(refund["id"], "expired_or_canceled_card")
    again = await stripe_api.deliver(stripe_api.build_event("refund.failed", refund))
    stale = await stripe_api.deliver(stripe_api.build_event("refund.updated", succeeded))

    results = [json.loads(d.response_body).get("result") for d in (*told, again, stale)]
    assert results == ["ignored", "refund_undone", "unchanged", "unchanged"]
    (order,) = orders(shop)
    assert order["amount_refunded"] == 0
    assert "failed (expired_or_canceled_card)" in order["flag"]
    alerts = rows(
        shop.settings.database_path,
        "SELECT chat_id, detail FROM outbox WHERE kind = 'alert_flagged'",
    )
    assert [a["chat_id"] for a in alerts] == [ADMIN_ID]
    assert refund["id"] in alerts[0]["detail"]


def failed(event: dict[str, Any]) -> dict[str, Any]:
    """The same refund event, for a refund the bank sent back."""
    event["data"]["object"].update(status="failed", failure_reason="expired_or_canceled_card")
    return event


async def test_a_late_charge_refunded_does_not_bring_back_a_refund_that_failed(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A charge written before its refund failed still counts it, and may come after."""
    ada = telegram.user(4242, "Ada")
    payment_intent = await paid_order(shop, telegram, stripe_api, ada)
    created = await stripe_api.deliver(
        refund_event(stripe_api, "refund.created", payment_intent, "re_1", 10000)
    )
    undone = await stripe_api.deliver(
        failed(refund_event(stripe_api, "refund.failed", payment_intent, "re_1", 10000))
    )

    late = await stripe_api.deliver(charge_refunded(stripe_api, payment_intent, 10000))

    results = [json.loads(d.response_body)["result"] for d in (created, undone, late)]
    assert results == ["refunded", "refund_undone", "unchanged"]
    assert orders(shop)[0]["amount_refunded"] == 0
    told = rows(shop.settings.database_path, "SELECT id FROM outbox WHERE kind = 'refunded'")
    assert len(told) == 1


async def test_a_refund_failing_before_we_heard_of_it_leaves_the_other_refunds_counted(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Nothing of re_2 was ever counted, so its failure takes nothing off re_1's 50.00."""
    ada = telegram.user(4242, "Ada")
    payment_intent = await paid_order(shop, telegram, stripe_api, ada)
    await stripe_api.deliver(
        refund_event(stripe_api, "refund.created", payment_intent, "re_1", 5000)
    )

    undone = await stripe_api.deliver(
        failed(refund_event(stripe_api, "refund.failed", payment_intent, "re_2", 3000))
    )

    assert json.loads(undone.response_body)["result"] == "refund_undone"
    (order,) = orders(shop)
    assert order["amount_refunded"] == 5000 and "re_2 failed" in order["flag"]
