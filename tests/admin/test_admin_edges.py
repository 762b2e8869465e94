"""The console at its edges: discounts, two admins, refunds racing their events, many
currencies, and input that looks like a number or a reference but is not one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from babel import Locale

from bot.catalog.model import Catalog
from bot.money import Money
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.admin.steps import confirm, paid_order, refund_requests, table_of
from tests.helpers import (
    ADMIN_ID,
    ONE_LINE_EACH,
    ask,
    buttons,
    from_now_on,
    next_message,
    open_order,
    paid_event,
    rows,
    write_directly,
)

EN = Locale("en")
OTHER_ADMIN = 900_002


async def test_figures_and_refunds_count_what_the_buyer_paid_after_a_discount(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A promotion code took 50.00 off a 397.00 order: 347.00 was paid, and is what counts."""
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    discounted = paid_event(
        stripe_api,
        session,
        payment_intent="pi_test_discounted",
        amount_subtotal=39700,
        amount_total=34700,
        total_details={"amount_discount": 5000, "amount_shipping": 0, "amount_tax": 0},
    )
    delivery = await stripe_api.deliver(discounted)
    assert json.loads(delivery.response_body)["result"] == "paid"
    (order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
    owner = telegram.user(ADMIN_ID, "Owner")

    report = (await ask(telegram, owner, "/stats today"))["text"]
    question = (await ask(telegram, owner, f"/refund {reference_for(order['id'])}"))["text"]

    paid = Money(34700, "usd").format(EN)
    assert table_of(report)["USD", "Gross"] == [paid]
    assert question.startswith(f"Refund {paid} of order")


async def test_two_admins_refunding_the_same_amount_make_two_refunds(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> None:
    """Message ids are counted per chat: two admins' questions can share one."""
    settings = make_settings(admin_ids=frozenset({ADMIN_ID, OTHER_ADMIN}))
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        order, _ = await paid_order(shop, telegram, stripe_api)
        reference = reference_for(order["id"])
        questions = []
        for admin_id in (ADMIN_ID, OTHER_ADMIN):
            admin = telegram.user(admin_id, f"Admin {admin_id}")
            question = await ask(telegram, admin, f"/refund {reference} 10")
            questions.append(question["message_id"])
            after = from_now_on(telegram)
            await telegram.tap(admin, question, buttons(question)[0]["callback_data"])
            await telegram.wait_for("editMessageText", after, timeout=10)
        keys = {r.headers["Idempotency-Key"] for r in refund_requests(stripe_api)}
    assert questions[0] == questions[1]  # the case that matters
    assert len(keys) == 2
    assert len(stripe_api.refunds) == 2


async def test_a_refund_beyond_what_was_asked_already_is_refused_before_its_event(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
) -> None:
    """Two questions of 300.00 on a 397.00 order, confirmed while Stripe's events are late:
    the bot, not Stripe, refuses the second."""
    order, _ = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    reference = reference_for(order["id"])
    first = await ask(telegram, owner, f"/refund {reference} 300")
    second = await ask(telegram, owner, f"/refund {reference} 300")
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"  # events late

    await confirm(telegram, owner, first)
    ended = await confirm(telegram, owner, second)

    assert len(refund_requests(stripe_api)) == 1
    assert "more than" in ended["text"] or "left" in ended["text"]


async def test_the_admin_who_asked_hears_when_stripe_made_the_refund(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """With sale alerts off, the admin who asked is still told when Stripe's event comes."""
    order, buyer = await paid_order(shop, telegram, stripe_api)
    owner = telegram.user(ADMIN_ID, "Owner")
    question = await ask(telegram, owner, f"/refund {reference_for(order['id'])} 10")
    after = from_now_on(telegram)
    await confirm(telegram, owner, question)
    await next_message(telegram, buyer, text="refunded", after=after)
    told = await next_message(telegram, owner, text="↩️ Refund", after=after)
    assert reference_for(order["id"]) in told["text"]


async def test_stats_in_many_currencies_come_in_messages_telegram_takes(
    shop: Service, telegram: TelegramEmulator
) -> None:
    currencies = ["usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "sek", "nok", "dkk"]
    now = int(time.time())
    await write_directly(
        shop.settings.database_path,
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, product_id, product_title,"
        " quantity, unit_amount, amount_total, currency, status, created_at, updated_at,"
        " paid_at) VALUES (?, ?, 'B', ?, ?, 1, 123456789, 123456789, ?, 'paid', ?, ?, ?)",
        [
            (n, n, f"p{n}{c}", f"Product number {n} in {c}", c, now, now, now)
            for c in currencies
            for n in range(3)
        ],
        many=True,
    )
    await write_directly(shop.settings.database_path, ONE_LINE_EACH)
    owner = telegram.user(ADMIN_ID, "Owner")
    await telegram.send_text(owner, "/stats")
    await telegram.wait_until(
        lambda: any("Top products" in m.get("text", "") for m in telegram.messages_to(owner.id))
    )
    texts = [m["text"] for m in telegram.messages_to(owner.id)]
    assert len(texts) > 1 and all(len(text) <= 4096 for text in texts)
    shown = "\n".join(texts)
    assert all(currency.upper() in shown for currency in currencies)


async def test_numbers_and_references_that_are_not_ours_get_plain_answers(
    shop: Service, telegram: TelegramEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    assert (await ask(telegram, owner, "/sales ²"))["text"].startswith("Usage")
    last_day = await ask(telegram, owner, "/stats 9999-12-31..9999-12-31")
    assert "last day there is" in last_day["text"]
    for command in ("/order ZZZZZZZZZZZZZZ", "/refund ZZZZZZZZZZZZZZ"):
        assert (await ask(telegram, owner, command))["text"] == "No order #ZZZZZZZZZZZZZZ."
    ada = telegram.user(4242, "Ada")
    greeting = await ask(telegram, ada, "/start paid-ZZZZZZZZZZZZZZ")
    assert "went wrong" not in greeting["text"]


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/stats " + "x" * 4080, f"Unknown period '{'x' * 31}…'. Usage: /stats ["),
        ("/export " + "x" * 4080, f"Unknown period '{'x' * 31}…'. Usage: /export ["),
        ("/chart " + "x" * 4080, f"Unknown period '{'x' * 31}…'. Usage: /chart ["),
        # upper() makes three letters of each ligature: 4,500 characters quoted whole.
        ("/order " + "ﬃ" * 1500, f"No order #{('FFI' * 11)[:31]}…."),
        ("/refund " + "ﬃ" * 1500, f"No order #{('FFI' * 11)[:31]}…."),
    ],
)
async def test_a_long_argument_is_quoted_cut_in_the_answer(
    shop: Service, telegram: TelegramEmulator, command: str, answer: str
) -> None:
    """Quoted whole, it made an answer over Telegram's 4,096 characters, which Telegram
    refused: the owner read "something went wrong" instead."""
    reply = await ask(telegram, telegram.user(ADMIN_ID, "Owner"), command)
    assert reply["text"].startswith(answer)
