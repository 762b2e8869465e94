"""/orders with a new link for unpaid ones, /help with the support contact, the discount."""

from __future__ import annotations

from collections.abc import Callable

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    answer_to,
    buttons,
    from_now_on,
    next_message,
    reference_in,
    rows,
    session_behind,
    snapshot,
    tap_product,
)


async def test_orders_newest_first_with_a_new_link_for_an_unpaid_one(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    maps = session_behind(stripe_api, await tap_product(telegram, ada, "Trail map", quantity=3))
    await stripe_api.expire_session(maps["id"])
    # The pay message loses its link; wait for that, so it is not taken for the next answer.
    await telegram.wait_for("editMessageText", lambda c: "expired" in str(c.params.get("text")))
    paid = await tap_product(telegram, ada, "The Forest Hiker")
    session = next(s for s in stripe_api.sessions.values() if s["url"] == buttons(paid)[0]["url"])
    after = from_now_on(telegram)
    await stripe_api.pay(session["id"])
    await next_message(telegram, ada, text="Payment received", after=after)

    after = from_now_on(telegram)
    await telegram.send_text(ada, "/orders")
    listing = await next_message(telegram, ada, after=after)
    lines = listing["text"].splitlines()[1:]
    assert "The Forest Hiker × 1" in lines[0] and lines[0].endswith("paid")
    assert "Trail map × 3" in lines[1] and lines[1].endswith("link expired")
    (again,) = buttons(listing)  # only the unpaid order gets one
    assert again["text"].startswith("New link for #")

    after = from_now_on(telegram)
    await telegram.tap(ada, listing, again["callback_data"])
    await next_message(telegram, ada, with_buttons="url", after=after)
    newest = rows(shop.settings.database_path, "SELECT * FROM orders ORDER BY id DESC")[0]
    assert (newest["product_id"], newest["quantity"]) == ("trail-map", 3)


async def test_someone_elses_new_link_button_is_refused(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada, eve = telegram.user(4242, "Ada"), telegram.user(6666, "Eve")
    await tap_product(telegram, ada, "Trail map")
    (order,) = rows(shop.settings.database_path, "SELECT id FROM orders")
    after = from_now_on(telegram)
    await telegram.send_text(eve, "/orders")
    eves = await next_message(telegram, eve, after=after)
    before = snapshot(shop.settings.database_path)
    update = await telegram.forge_tap(eve, eves, f"again:{order['id']}")
    (answer,) = await telegram.wait_for(
        "answerCallbackQuery",
        lambda c: c.params["callback_query_id"] == update["callback_query"]["id"],
    )
    assert answer.params.get("show_alert") is True
    assert snapshot(shop.settings.database_path) == before
    assert len(stripe_api.sessions) == 1


async def test_help_names_the_support_contact_setting_first(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(support_contact="support@shop.example"), catalog):
        ada = telegram.user(4242, "Ada", language_code="fr")
        after = from_now_on(telegram)
        await telegram.send_text(ada, "/help")
        answer = await next_message(telegram, ada, after=after)
    assert "Écrivez à support@shop.example" in answer["text"]
    assert catalog.support is not None and catalog.support not in answer["text"]


async def test_new_link_for_an_order_paid_meanwhile_says_it_is_paid(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    after = from_now_on(telegram)
    await telegram.send_text(ada, "/orders")
    listing = await next_message(telegram, ada, after=after)
    (again,) = buttons(listing)
    after = from_now_on(telegram)
    await stripe_api.pay(session_behind(stripe_api, pay_message)["id"])
    await next_message(telegram, ada, text="Payment received", after=after)

    product = shop.live_catalog.current.get("forest-hiker")
    assert product is not None and product.active  # it is on sale, as it was

    after = from_now_on(telegram)
    answer = await answer_to(telegram, await telegram.tap(ada, listing, again["callback_data"]))
    told = await next_message(telegram, ada, after=after)
    assert "text" not in answer
    assert "is paid" in told["text"] and reference_in(pay_message) in told["text"]
    assert len(stripe_api.sessions) == 1, "no new link for a paid order"
