"""The buyer's side of the chat: commands, taps that cannot be served, Stripe failing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from bot.catalog.model import Catalog, localized
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    button_for,
    button_with,
    buttons,
    from_now_on,
    next_message,
    open_card,
    open_catalog,
    rows,
    snapshot,
    tap_and_see,
    tap_product,
)


async def test_start_greets_and_lists_every_product_on_sale(
    shop: Service, telegram: TelegramEmulator, catalog: Catalog
) -> None:
    ada = telegram.user(4242, "Ada")
    after = from_now_on(telegram)
    catalog_message = await open_catalog(telegram, ada)
    greeting = await next_message(telegram, ada, text="Welcome", after=after)
    assert "Ada" in greeting["text"] and catalog.shop_name in greeting["text"]
    titles = [button["text"] for button in buttons(catalog_message)]
    assert titles == [localized(c.title, "en") for c in catalog.categories_on_sale()]


async def test_shop_shows_titles_in_the_buyers_language(
    shop: Service, telegram: TelegramEmulator
) -> None:
    marie = telegram.user(5151, "Marie", language_code="fr")
    after = from_now_on(telegram)
    await telegram.send_text(marie, "/shop")
    message = await next_message(telegram, marie, with_buttons="callback_data", after=after)
    tours = await tap_and_see(
        telegram, marie, message, button_for(message, "Circuits")["callback_data"]
    )
    assert button_for(tours, "L'Explorateur des mers")["text"].endswith("497,00\xa0€")


@pytest.mark.parametrize("change", ["taken off sale", "deleted"])
async def test_an_old_button_for_a_product_no_longer_sold_gets_a_polite_answer(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    change: str,
) -> None:
    ada = telegram.user(4242, "Ada")
    settings = make_settings()
    async with Service(settings, catalog):
        old_card = await open_card(telegram, ada, "The Forest Hiker")
    # The owner edits the catalog and restarts; the buyer taps the button still on screen.
    if change == "deleted":
        products = tuple(p for p in catalog.products if p.id != "forest-hiker")
    else:
        products = tuple(
            replace(p, active=False) if p.id == "forest-hiker" else p for p in catalog.products
        )
    async with Service(settings, replace(catalog, products=products)) as shop:
        before = snapshot(shop.settings.database_path)
        data = button_with(old_card, "buy:")["callback_data"]
        update = await telegram.tap(ada, old_card, data)
        query_id = update["callback_query"]["id"]
        (answer,) = await telegram.wait_for(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert "no longer on sale" in answer.params["text"]
        assert snapshot(shop.settings.database_path) == before
    assert not stripe_api.sessions


@pytest.mark.parametrize(
    ("status", "error_type", "times"),
    [(400, "invalid_request_error", 1), (429, "rate_limit_error", 1), (500, "api_error", 3)],
    ids=["refused", "rate limited", "server error"],
)
async def test_stripe_refusing_fails_the_order_and_asks_the_buyer_to_retry(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    status: int,
    error_type: str,
    times: int,
) -> None:
    """400 and 429 are not retried by stripe-python; 500 is, twice: the third failure is final."""
    stripe_api.fail_next(times, status=status, error_type=error_type, message="No such thing")
    ada = telegram.user(4242, "Ada")
    card = await open_card(telegram, ada, "The Forest Hiker")
    after = from_now_on(telegram)
    await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
    answer = await next_message(telegram, ada, after=after)
    assert "could not create a payment link" in answer["text"]
    assert not buttons(answer)
    (order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
    assert order["status"] == "failed"
    assert "No such thing" in order["failure_reason"]
    assert order["checkout_session_id"] is None
    # Once Stripe answers again, the same tap works.
    await tap_product(telegram, ada, "The Forest Hiker")
    assert len(stripe_api.sessions) == 1


async def test_stripe_unreachable_fails_the_order_and_asks_the_buyer_to_retry(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    closed_port: int,
) -> None:
    nobody_listens = f"http://127.0.0.1:{closed_port}"
    async with Service(make_settings(stripe_api_base_url=nobody_listens), catalog) as shop:
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "The Forest Hiker")
        after = from_now_on(telegram)
        await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
        answer = await next_message(telegram, ada, after=after, timeout=15)
        assert "could not create a payment link" in answer["text"]
        (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
        assert order["status"] == "failed"


async def test_the_tap_is_answered_before_the_link_is_made(
    shop: Service, telegram: TelegramEmulator
) -> None:
    """Telegram shows a spinner on the button until the callback query is answered."""
    ada = telegram.user(4242, "Ada")
    await tap_product(telegram, ada, "The Forest Hiker")
    methods = [
        c.method for c in telegram.calls if c.method in ("answerCallbackQuery", "sendMessage")
    ]
    assert methods[-2:] == ["answerCallbackQuery", "sendMessage"]


async def test_orders_lists_only_the_buyers_own_orders(
    shop: Service, telegram: TelegramEmulator
) -> None:
    ada, bob = telegram.user(4242, "Ada"), telegram.user(4343, "Bob")
    await tap_product(telegram, ada, "The Forest Hiker")
    await tap_product(telegram, bob, "Trail map")
    after = from_now_on(telegram)
    await telegram.send_text(ada, "/orders")
    answer = await next_message(telegram, ada, after=after)
    assert "The Forest Hiker × 1" in answer["text"] and "waiting for payment" in answer["text"]
    assert "Trail map" not in answer["text"]


async def test_help_explains_and_names_the_support_contact(
    shop: Service, telegram: TelegramEmulator, catalog: Catalog
) -> None:
    ada = telegram.user(4242, "Ada")
    after = from_now_on(telegram)
    await telegram.send_text(ada, "/help")
    answer = await next_message(telegram, ada, after=after)
    assert catalog.support is not None and catalog.support in answer["text"]


async def test_anything_else_points_to_the_shop(shop: Service, telegram: TelegramEmulator) -> None:
    ada = telegram.user(4242, "Ada")
    after = from_now_on(telegram)
    await telegram.send_text(ada, "do you ship to Mars?")
    answer = await next_message(telegram, ada, after=after)
    assert "/shop" in answer["text"]


async def test_someone_elses_return_link_reveals_nothing(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada, eve = telegram.user(4242, "Ada"), telegram.user(6666, "Eve")
    await tap_product(telegram, ada, "The Forest Hiker")
    (session,) = stripe_api.sessions.values()
    payload = session["success_url"].split("?start=")[1]
    after = from_now_on(telegram)
    await telegram.send_text(eve, f"/start {payload}")
    answer = await next_message(telegram, eve, after=after)
    assert "Welcome" in answer["text"]
    assert all("Forest" not in m.get("text", "") for m in telegram.messages_to(eve.id))


async def test_a_shop_with_nothing_active_says_so(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    closed = replace(catalog, products=tuple(replace(p, active=False) for p in catalog.products))
    async with Service(make_settings(), closed):
        ada = telegram.user(4242, "Ada")
        after = from_now_on(telegram)
        await telegram.send_text(ada, "/start")
        answer = await next_message(telegram, ada, after=after)
    assert "nothing on sale" in answer["text"] and not buttons(answer)
