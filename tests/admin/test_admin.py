"""The owner's console through the Telegram emulator: figures, sales, orders, and what everyone
else learns from it (nothing)."""

from __future__ import annotations

import re

import pytest
from babel import Locale
from babel.numbers import format_percent

from bot.catalog.model import Catalog
from bot.money import Money
from bot.references import reference_for
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.admin.steps import database, pay_for, stored, table_of
from tests.helpers import (
    ADMIN_ID,
    ask,
    buttons,
    from_now_on,
    link_stored,
    next_message,
    paid_event,
    rows,
    session_behind,
    tap_product,
    until,
)

EN = Locale("en")


async def test_stats_show_each_figure_per_currency_for_today_7_and_30_days(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, catalog: Catalog
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    await pay_for(telegram, stripe_api, 2, "Trail map")
    await pay_for(telegram, stripe_api, 2, "Trail map")  # a returning buyer? not before today
    await pay_for(telegram, stripe_api, 3, "The Snow Adventurer")
    await tap_product(telegram, telegram.user(4, "Browser"), "The Forest Hiker")  # not paid

    report = (await ask(telegram, telegram.user(ADMIN_ID, "Owner"), "/stats"))["text"]

    table = table_of(report)
    assert report.splitlines()[1].split() == ["Today", "Last", "7", "days", "Last", "30", "days"]
    usd = [catalog.get("forest-hiker").price, *[catalog.get("trail-map").price] * 2]  # type: ignore[union-attr]
    gross = Money(sum(price.minor for price in usd), "usd")
    average = Money(round(gross.minor / 3), "usd")
    jpy = catalog.get("snow-adventurer").price  # type: ignore[union-attr]
    expected = {
        ("USD", "Paid orders"): "3",
        ("USD", "Gross"): gross.format(EN),
        ("USD", "Refunds"): Money(0, "usd").format(EN),
        ("USD", "Net"): gross.format(EN),
        ("USD", "Avg order"): average.format(EN),
        ("JPY", "Paid orders"): "1",
        ("JPY", "Gross"): jpy.format(EN),
        ("", "Links created"): "5",
        ("", "Paid share"): format_percent(4 / 5, locale=EN),
        ("", "New buyers"): "3",
        ("", "Returning"): "0",
    }
    for key, value in expected.items():
        assert table[key] == [value] * 3, key
    top = report.split("Top products")[1]
    assert f"USD 1. The Forest Hiker: {usd[0].format(EN)}" in top
    assert f"JPY 1. The Snow Adventurer: {jpy.format(EN)}" in top


async def test_stats_for_one_period_a_range_and_wrong_ones(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "Trail map")
    owner = telegram.user(ADMIN_ID, "Owner")
    report = (await ask(telegram, owner, "/stats month"))["text"]
    assert table_of(report)["USD", "Paid orders"] == ["1"]

    old = (await ask(telegram, owner, "/stats 2020-01-01..2020-12-31"))["text"]
    assert old.splitlines()[1].strip() == "2020-01-01 to 2020-12-31"
    assert table_of(old)["", "Paid orders"] == ["0"]

    for wrong in ("yesterday", "2020-12-31..2020-01-01", "2020-02-30..2020-03-01", "7d 30d"):
        answer = (await ask(telegram, owner, f"/stats {wrong}"))["text"]
        assert "Usage: /stats [today|7d|30d|month|all|YYYY-MM-DD..YYYY-MM-DD]" in answer, wrong


async def test_sales_lists_paid_orders_newest_first_and_pages_through_older_ones(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    for user_id in (1, 2, 3):
        await pay_for(telegram, stripe_api, user_id, "Trail map")
    await tap_product(telegram, telegram.user(4, "Browser"), "The Forest Hiker")  # not paid
    paid = rows(database(shop), "SELECT id FROM orders WHERE status = 'paid' ORDER BY id DESC")
    references = [f"#{reference_for(row['id'])}" for row in paid]
    owner = telegram.user(ADMIN_ID, "Owner")

    first = await ask(telegram, owner, "/sales 2")
    listed = re.findall(r"#[0-9A-Z]{4,}", first["text"])
    assert listed == references[:2]
    assert "@buyer3" in first["text"] and "Trail map × 1" in first["text"]
    (older,) = buttons(first)

    after = from_now_on(telegram)
    await telegram.tap(owner, first, older["callback_data"])
    second = await next_message(telegram, owner, after=after)
    assert re.findall(r"#[0-9A-Z]{4,}", second["text"]) == references[2:]
    assert buttons(second) == []  # nothing older
    assert buttons(telegram.messages_to(ADMIN_ID)[-2]) == []  # the tapped button is gone

    for wrong in ("/sales 0", "/sales 51", "/sales many"):
        assert (await ask(telegram, owner, wrong))["text"] == "Usage: /sales [N], N from 1 to 50"


async def test_older_tapped_twice_sends_one_page_and_no_error(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """The second tap's removal of the button is refused by Telegram ("message is not
    modified"): the first tap sends the page, the second stops there."""
    for user_id in (1, 2, 3):
        await pay_for(telegram, stripe_api, user_id, "Trail map")
    owner = telegram.user(ADMIN_ID, "Owner")
    first = await ask(telegram, owner, "/sales 1")
    (older,) = buttons(first)
    after = from_now_on(telegram)

    await telegram.tap(owner, first, older["callback_data"])
    await telegram.tap(owner, first, older["callback_data"])
    await telegram.wait_for("answerCallbackQuery", after, count=2)
    await next_message(telegram, owner, text="Older paid orders", after=after)
    # Both taps handled to the end, the error handler included.
    processor = shop.application.update_processor
    await until(lambda: processor.current_concurrent_updates == 0)

    said = [
        call.params["text"]
        for call in telegram.calls
        if after(call) and call.method == "sendMessage" and call.status == 200
    ]
    assert len(said) == 1 and said[0].startswith("<b>Older paid orders</b>"), said


async def test_order_shows_one_order_with_stripe_ids_and_history(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    session = await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order,) = rows(database(shop), "SELECT * FROM orders")
    owner = telegram.user(ADMIN_ID, "Owner")

    text = (await ask(telegram, owner, f"/order {reference_for(order['id']).lower()}"))["text"]

    assert text.startswith(f"Order #{reference_for(order['id'])} · paid")
    assert session["id"] in text and order["payment_intent_id"] in text
    assert order["payment_intent_id"].startswith("pi_")
    history = text.split("History")[1].splitlines()[1:]
    assert [line.split(" ", 2)[2] for line in history] == [
        "pending · tap",
        "paid · checkout.session.completed",
    ]

    missing = (await ask(telegram, owner, "/order ZZZZZZ"))["text"]
    assert missing == "No order #ZZZZZZ."
    assert (await ask(telegram, owner, "/order"))["text"].startswith("Usage: /order")


ADMIN_ONLY = [
    "/stats",
    "/stats all",
    "/sales",
    "/order {ref}",
    "/order ZZZZ",
    "/export",
    "/chart",
    "/refund {ref}",
    "/refund ZZZZ 1",
    "/alerts on",
    "/reconcile",
]


@pytest.mark.parametrize("command", ADMIN_ONLY)
async def test_anyone_else_is_told_it_is_for_admins_and_nothing_more(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, command: str
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order,) = rows(database(shop), "SELECT id FROM orders")
    await until(link_stored(database(shop)))
    before = stored(shop)
    eve = telegram.user(6666, "Eve")

    answer = await ask(telegram, eve, command.format(ref=reference_for(order["id"])))

    assert answer["text"] == "Sorry, this command is for the shop's admins."
    assert "reply_markup" not in answer
    assert telegram.documents_to(eve.id) == [] and telegram.photos_to(eve.id) == []
    assert stored(shop) == before


async def test_a_forged_admin_button_tells_anyone_else_only_that_it_is_for_admins(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order,) = rows(database(shop), "SELECT id, amount_total FROM orders")
    eve = telegram.user(6666, "Eve")
    message = await tap_product(telegram, eve, "Trail map")  # any message of the bot's to Eve
    await until(link_stored(database(shop)))
    before = stored(shop)
    stripe_requests = len(stripe_api.requests)
    start = from_now_on(telegram)

    for data in (
        f"adm:refund:{order['id']}:{order['amount_total']}",
        f"adm:cancel:{order['id']}:1",
        "adm:sales:10:1:1",
    ):
        after = from_now_on(telegram)
        await telegram.forge_tap(eve, message, data)
        (answer,) = await telegram.wait_for("answerCallbackQuery", after)
        assert answer.params["text"] == "Sorry, this command is for the shop's admins."

    assert stored(shop) == before
    assert len(stripe_api.requests) == stripe_requests
    said = [call.method for call in telegram.calls if start(call) and call.method != "getUpdates"]
    assert said == ["answerCallbackQuery"] * 3


async def test_an_admin_button_forged_with_numbers_past_sqlites_is_answered_quietly(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Even from the owner's own modified client: no "something went wrong", nothing stored."""
    owner = telegram.user(ADMIN_ID, "Owner")
    message = await ask(telegram, owner, "/alerts")
    before = stored(shop)
    start = from_now_on(telegram)

    for data in (
        f"adm:refund:{'9' * 20}:1",
        f"adm:cancel:1:{'9' * 20}",
        f"adm:sales:{'9' * 20}:1:1",
    ):
        after = from_now_on(telegram)
        await telegram.forge_tap(owner, message, data)
        await telegram.wait_for("answerCallbackQuery", after)

    assert stored(shop) == before
    said = [call.method for call in telegram.calls if start(call) and call.method != "getUpdates"]
    assert said == ["answerCallbackQuery"] * 3


async def test_a_payment_in_another_currency_is_never_counted_as_the_orders_currency(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A USD order paid in euros (flagged: the money was taken) used to show its euros as
    dollars; the figures count what the order was for, and the flag says what was taken."""
    ada = telegram.user(4242, "Ada")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(database(shop)))
    session = session_behind(stripe_api, pay_message)
    in_euros = paid_event(
        stripe_api,
        session,
        payment_intent="pi_test_in_euros",
        currency="eur",
        amount_subtotal=30000,
        amount_total=30000,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    )
    delivery = await stripe_api.deliver(in_euros)
    assert delivery.status == 200
    (order,) = rows(database(shop), "SELECT status, flag, amount_received FROM orders")
    assert order["status"] == "paid" and "30000 eur" in order["flag"]
    assert order["amount_received"] is None
    # The flag also goes to every admin: once it is out, the owner's next message is the figures.
    unsent = "SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL"
    await until(lambda: not rows(database(shop), unsent), timeout=30)

    report = (await ask(telegram, telegram.user(ADMIN_ID, "Owner"), "/stats today"))["text"]

    table = table_of(report)
    assert table[("USD", "Gross")] == [Money(39700, "usd").format(EN)]
    assert not [key for key in table if key[0] == "EUR"]
