"""/refund through both emulators: the question, the confirmation, Stripe's refund and its event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from babel import Locale

from bot.catalog.model import Catalog
from bot.money import Money
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.admin.steps import confirm, confirm_button, paid_order, refund_requests, stored
from tests.helpers import (
    ADMIN_ID,
    ask,
    buttons,
    from_now_on,
    next_message,
    rows,
    stale_tap,
    tap_product,
)

EN = Locale("en")


def cancel_button(question: dict[str, Any]) -> str:
    _, cancel = buttons(question)
    assert cancel["text"] == "Cancel"
    data: str = cancel["callback_data"]
    return data


def question_now(telegram: TelegramEmulator, question: dict[str, Any]) -> dict[str, Any]:
    """The question message as the chat shows it now."""
    (now,) = [
        m for m in telegram.messages_to(ADMIN_ID) if m["message_id"] == question["message_id"]
    ]
    return now


async def tap_again(
    telegram: TelegramEmulator, owner: TgUser, question: dict[str, Any], data: str
) -> str:
    """A tap on a button of the question as it was first sent (the chat open on a second device
    whose buttons were not refreshed); the notice the tap is answered with."""
    after = from_now_on(telegram)
    await telegram.forge_tap(owner, question, data)
    (answer,) = await telegram.wait_for("answerCallbackQuery", after)
    return str(answer.params.get("text", ""))


async def test_a_confirmed_refund_is_asked_of_stripe_and_applied_when_its_event_arrives(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    await ask(telegram, owner, "/alerts on")
    reference = reference_for(order["id"])
    amount = Money.parse("100", "usd")

    question = await ask(telegram, owner, f"/refund {reference} 100")
    assert question["text"].startswith(f"Refund {amount.format(EN)} of order #{reference}")
    assert refund_requests(stripe_api) == []

    after = from_now_on(telegram)
    ended = await confirm(telegram, owner, question)

    (request,) = refund_requests(stripe_api)
    assert request.params["payment_intent"] == order["payment_intent_id"]
    assert int(request.params["amount"]) == amount.minor
    assert request.params["metadata"]["order_id"] == str(order["id"])
    assert request.headers["Idempotency-Key"].endswith(f"-{question['message_id']}")
    (refund,) = stripe_api.refunds.values()
    assert f"Requested at Stripe: {refund['id']} (succeeded)" in ended["text"]
    assert buttons(ended) == []

    told = await next_message(telegram, buyer, text="refunded", after=after)
    assert amount.format(EN) in told["text"]
    alert = await next_message(telegram, owner, text="↩️ Refund", after=after)
    assert f"{amount.format(EN)} on #{reference}" in alert["text"]
    (after_refund,) = rows(shop.settings.database_path, "SELECT * FROM orders")
    assert after_refund["status"] == "partially_refunded"
    assert after_refund["amount_refunded"] == amount.minor


async def test_double_taps_on_confirm_refund_once(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 10")
    after = from_now_on(telegram)

    ended = await confirm(telegram, owner, question, taps=3)
    await next_message(telegram, buyer, text="refunded", after=after)

    assert "Requested at Stripe" in ended["text"]
    assert len(stripe_api.refunds) == 1
    keys = {request.headers["Idempotency-Key"] for request in refund_requests(stripe_api)}
    assert len(keys) == 1
    await telegram.wait_for("answerCallbackQuery", after, count=3)
    (stored_order,) = rows(shop.settings.database_path, "SELECT amount_refunded FROM orders")
    assert stored_order["amount_refunded"] == Money.parse("10", "usd").minor


async def test_two_questions_of_an_order_confirmed_together_are_checked_one_after_the_other(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """In one process the second Confirm waits for the first's request, then finds what is
    left too little: Stripe is asked once."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    reference = reference_for(order["id"])
    first = await ask(telegram, owner, f"/refund {reference} 300")
    second = await ask(telegram, owner, f"/refund {reference} 300")

    stripe_api.hold_requests()
    try:
        after = from_now_on(telegram)
        await telegram.tap(owner, first, confirm_button(first))
        await stripe_api.wait_until_held()
        await telegram.tap(owner, second, confirm_button(second))
    finally:
        stripe_api.release_requests()
    await telegram.wait_for("editMessageText", after, count=2, timeout=10)
    assert "Requested at Stripe" in question_now(telegram, first)["text"]
    assert question_now(telegram, second)["text"] == (
        f"Cannot refund $300.00 on order #{reference}: only $97.00 is left"
        " (paid $397.00, refunded or asked of Stripe $300.00)."
    )
    assert len(refund_requests(stripe_api)) == 1


async def test_a_deliberate_second_refund_of_the_same_amount_is_a_new_refund(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    for _ in range(2):
        # The first refund's notice to the owner (who asked for it) may come after this ask.
        command = f"/refund {reference_for(order['id'])} 10"
        question = await ask(telegram, owner, command, with_buttons="callback_data")
        after = from_now_on(telegram)
        await confirm(telegram, owner, question)
        await next_message(telegram, buyer, text="refunded", after=after)
    assert len(stripe_api.refunds) == 2
    (stored_order,) = rows(shop.settings.database_path, "SELECT amount_refunded FROM orders")
    assert stored_order["amount_refunded"] == 2 * Money.parse("10", "usd").minor


async def test_without_an_amount_the_rest_is_refunded(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await stripe_api.refund(order["payment_intent_id"], 5000)  # from the dashboard first
    await next_message(telegram, buyer, text="refunded", after=after)

    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])}")
    left = Money(order["amount_total"] - 5000, "usd")
    assert question["text"].startswith(f"Refund {left.format(EN)} of order")
    after = from_now_on(telegram)
    await confirm(telegram, owner, question)
    await next_message(telegram, buyer, text="was refunded", after=after)
    (stored_order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
    assert (stored_order["status"], stored_order["amount_refunded"]) == (
        "refunded",
        order["amount_total"],
    )


async def test_a_refund_from_stripes_dashboard_reaches_the_admins_with_alerts_and_the_order(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    await ask(telegram, owner, "/alerts on")
    after = from_now_on(telegram)
    await stripe_api.refund(order["payment_intent_id"])
    alert = await next_message(telegram, owner, text="↩️ Refund", after=after)
    total = Money(order["amount_total"], "usd").format(EN)
    assert f"{total} of {total} refunded in all" in alert["text"]
    details = (await ask(telegram, owner, f"/order {reference_for(order['id'])}"))["text"]
    assert details.startswith(f"Order #{reference_for(order['id'])} · refunded")
    assert details.splitlines()[-1].split(" ", 2)[2].startswith("refunded · ")


async def test_a_cancelled_question_cannot_be_confirmed_afterwards(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 50")
    after = from_now_on(telegram)
    await telegram.tap(owner, question, cancel_button(question))
    await telegram.wait_for("editMessageText", after)

    notice = await tap_again(telegram, owner, question, confirm_button(question))

    assert notice == "This question is closed."
    assert refund_requests(stripe_api) == []
    assert question_now(telegram, question)["text"].endswith("Not refunded.")


async def test_a_late_cancel_leaves_a_confirmed_refund_as_it_was_made(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 50")
    ended = await confirm(telegram, owner, question)
    assert "Requested at Stripe" in ended["text"]

    notice = await tap_again(telegram, owner, question, cancel_button(question))

    assert notice == "This question is closed."
    assert question_now(telegram, question)["text"] == ended["text"]
    assert len(stripe_api.refunds) == 1


async def test_a_question_answered_before_a_restart_stays_closed(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> None:
    """The answer is in the database, not in the process that took it."""
    settings = make_settings()
    owner = telegram.user(ADMIN_ID, "Owner")
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        order, _ = await paid_order(shop, telegram, stripe_api)
        question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 50")
        after = from_now_on(telegram)
        await telegram.tap(owner, question, cancel_button(question))
        await telegram.wait_for("editMessageText", after)
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        notice = await tap_again(telegram, owner, question, confirm_button(question))
    assert notice == "This question is closed."
    assert refund_requests(stripe_api) == []
    (answered,) = rows(settings.database_path, "SELECT * FROM refund_questions")
    assert (answered["message_id"], answered["answer"]) == (question["message_id"], "cancelled")


async def test_nothing_is_offered_once_everything_was_asked_of_stripe(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
) -> None:
    """Stripe's refund event is late: the order is still paid here, but a question would
    offer to refund $0.00."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    reference = reference_for(order["id"])
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"  # events late
    await confirm(telegram, owner, await ask(telegram, owner, f"/refund {reference}"))

    for command in (f"/refund {reference}", f"/refund {reference} 1"):
        reply = await ask(telegram, owner, command)
        assert reply["text"] == (
            f"Order #{reference}: all of the $397.00 paid was refunded or asked of Stripe;"
            " nothing left to refund."
        )
        assert buttons(reply) == []
    assert len(refund_requests(stripe_api)) == 1


async def test_a_refusal_counts_the_refunds_asked_and_what_the_buyer_paid(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
) -> None:
    """300.00 of a 397.00 order was asked of Stripe, its event not in yet."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    reference = reference_for(order["id"])
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"  # events late
    await confirm(telegram, owner, await ask(telegram, owner, f"/refund {reference} 300"))

    reply = await ask(telegram, owner, f"/refund {reference} 200")

    assert reply["text"] == (
        f"Cannot refund $200.00 on order #{reference}: only $97.00 is left"
        " (paid $397.00, refunded or asked of Stripe $300.00)."
    )
    assert buttons(reply) == []


@pytest.mark.parametrize(
    ("argument", "answer"),
    [
        ("400", "Cannot refund $400.00 on order #{ref}: only $397.00 is left"),
        # Past Babel's 28 digits, past 4,096 characters of reply, past int()'s 4,300 digits,
        # and past the decimal context's exponents.
        ("1e30", "1e30 is more than Stripe takes: at most 999999.99 USD. Give the amount in USD"),
        ("1e3000", "1e3000 is more than Stripe takes"),
        ("1e5000", "1e5000 is more than Stripe takes"),
        ("1e999999", "1e999999 is more than Stripe takes"),
        ("1000000", "1000000 is more than Stripe takes"),
        ("abc", "'abc' is not a decimal number. Give the amount in USD"),
        ("1.234", "1.234 has more decimals than USD allows (2). Give the amount in USD"),
        ("0", "The amount must be more than zero. Give the amount in USD"),
        ("-5", "The amount must be more than zero. Give the amount in USD"),
    ],
)
async def test_a_wrong_amount_is_refused_before_stripe_is_asked(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    argument: str,
    answer: str,
) -> None:
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    # The owner's first message stores that their chat shows the admins' menu: sent before
    # the snapshot, so that it holds only what the refund could have changed.
    await ask(telegram, owner, "/alerts")
    before = stored(shop)
    reference = reference_for(order["id"])
    reply = await ask(telegram, owner, f"/refund {reference} {argument}")
    assert reply["text"].startswith(answer.format(ref=reference))
    assert buttons(reply) == []
    assert refund_requests(stripe_api) == []
    assert stored(shop) == before


async def test_orders_that_cannot_be_refunded_and_wrong_commands_are_refused(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await tap_product(telegram, telegram.user(5, "Browser"), "Trail map")
    (pending,) = rows(shop.settings.database_path, "SELECT id FROM orders")
    owner = telegram.user(ADMIN_ID, "Owner")
    reference = reference_for(pending["id"])
    replies = {
        f"/refund {reference}": f"Order #{reference} is pending: there is nothing to refund.",
        "/refund ZZZZZZ": "No order #ZZZZZZ.",
        "/refund": "Usage: /refund <reference> [amount]",
        f"/refund {reference} 1 2": "Usage: /refund <reference> [amount]",
    }
    for command, answer in replies.items():
        assert (await ask(telegram, owner, command))["text"].startswith(answer), command
    assert refund_requests(stripe_api) == []


async def test_an_open_question_is_checked_again_when_confirmed(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """The rest was refunded from the dashboard while the question waited: Stripe is not asked."""
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])}")
    after = from_now_on(telegram)
    await stripe_api.refund(order["payment_intent_id"])
    await next_message(telegram, buyer, text="was refunded", after=after)

    ended = await confirm(telegram, owner, question)
    assert "is refunded: there is nothing to refund" in ended["text"]
    assert refund_requests(stripe_api) == []


async def test_cancel_leaves_the_order_alone_and_a_stripe_refusal_is_told(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 5")
    after = from_now_on(telegram)
    await telegram.tap(owner, question, buttons(question)[1]["callback_data"])
    await telegram.wait_for("editMessageText", after)
    (ended,) = [
        m for m in telegram.messages_to(ADMIN_ID) if m["message_id"] == question["message_id"]
    ]
    assert ended["text"].endswith("Not refunded.") and buttons(ended) == []
    assert refund_requests(stripe_api) == []

    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 5")
    stripe_api.fail_next(3, status=402, error_type="card_error", message="The bank said no")
    ended = await confirm(telegram, owner, question)
    assert "Stripe refused the refund: The bank said no" in ended["text"]
    assert stripe_api.refunds == {}
    (stored_order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    assert stored_order["status"] == "paid"


async def test_a_confirm_telegram_delivers_late_still_makes_the_refund(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Across a restart Telegram refuses to answer the tap ("query is too old"); the answer is
    already recorded, so the refund must still be asked for, or the question is closed undone."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 10")
    after = from_now_on(telegram)

    await telegram.push_update(stale_tap(owner, question, confirm_button(question), 1))

    await telegram.wait_for("editMessageText", after)
    (request,) = refund_requests(stripe_api)
    assert request.params["amount"] == "1000"
