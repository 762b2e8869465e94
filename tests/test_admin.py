"""Admins' commands, and what everyone else learns from them (nothing)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.catalog import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.conftest import ADMIN_ID
from tests.helpers import from_now_on, next_message, session_behind, tap_product


async def pay_for(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, user_id: int, title: str
) -> None:
    buyer = telegram.user(user_id, f"Buyer {user_id}")
    session = session_behind(stripe_api, await tap_product(telegram, buyer, title))
    after = from_now_on(telegram)
    assert (await stripe_api.pay(session["id"])).status == 200
    await next_message(telegram, buyer, text="Payment received", after=after)


async def test_stats_shows_paid_orders_and_revenue_per_currency(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")  # $397.00
    await pay_for(telegram, stripe_api, 2, "Trail map")  # $12.50
    await pay_for(telegram, stripe_api, 3, "The Snow Adventurer")  # ¥4,800
    await tap_product(telegram, telegram.user(4, "Browser"), "The Forest Hiker")  # not paid

    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/stats")
    report = (await next_message(telegram, owner, after=after))["text"]

    sections = report.split("\n\n")[1:]
    assert [section.splitlines()[0] for section in sections] == [
        "Today (UTC)",
        "Last 7 days",
        "All time",
    ]
    for section in sections:
        assert "JPY: 1 order, ¥4,800" in section
        assert "USD: 2 orders, $409.50" in section


async def test_stats_for_one_period_and_a_wrong_one(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "Trail map")
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/stats 30d")
    report = (await next_message(telegram, owner, after=after))["text"]
    assert report.splitlines()[2:] == ["Last 30 days", "USD: 1 order, $12.50"]

    after = from_now_on(telegram)
    await telegram.send_text(owner, "/stats yesterday")
    answer = (await next_message(telegram, owner, after=after))["text"]
    assert answer == "Usage: /stats [today|7d|30d|all]"


async def test_stats_with_no_sales_says_so(shop: Service, telegram: TelegramEmulator) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/stats")
    report = (await next_message(telegram, owner, after=after))["text"]
    assert report.count("no paid orders") == 3


async def test_stats_for_anyone_else_says_it_is_for_admins_and_nothing_more(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    eve = telegram.user(6666, "Eve")
    after = from_now_on(telegram)
    await telegram.send_text(eve, "/stats")
    answer = await next_message(telegram, eve, after=after)
    assert "for the shop's admins" in answer["text"]
    assert "397" not in answer["text"] and "order" not in answer["text"]


async def test_commands_are_registered_and_admin_ones_only_for_admins(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    telegram.user(ADMIN_ID, "Owner")  # the owner has opened the bot before
    async with Service(make_settings(), catalog):
        buyers = {c["command"] for c in telegram.commands()}
        owner = {c["command"] for c in telegram.commands({"type": "chat", "chat_id": ADMIN_ID})}
    assert {"start", "shop", "orders", "help"} <= buyers
    assert "stats" not in buyers
    assert owner == buyers | {"stats", "reload"}


async def test_a_refused_command_list_is_logged_and_the_bot_runs_on(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An admin who never opened the bot: Telegram answers "chat not found"."""
    async with Service(make_settings(admin_ids=frozenset({777})), catalog):
        ada = telegram.user(4242, "Ada")
        after = from_now_on(telegram)
        await telegram.send_text(ada, "/help")
        await next_message(telegram, ada, after=after)
    assert "could not register admin commands for 777" in caplog.text
