"""The cart: lines added from cards and changed in /cart, one currency, today's prices at
checkout, one Checkout Session for every line, stock held all or nothing, and the lifecycle of a
cart's order (replaced, expired, failed, paid, refunded in part)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path

from bot.buyer.cart import MOST_LINES
from bot.catalog.model import parse_catalog
from bot.outbox.notices import unpaid_notice
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from storage import CartLine
from tests.buyer.steps import (
    add_to_cart,
    add_to_cart_refused,
    cart_rows,
    checkout,
    lamps,
    lamps_toml,
    line_button,
    lines_of,
    open_cart,
)
from tests.helpers import (
    ADMIN_ID,
    answer_to,
    ask,
    buttons,
    from_now_on,
    next_message,
    open_catalog,
    rows,
    session_behind,
    snapshot,
    tap_and_see,
    until,
)


async def test_a_buyer_adds_changes_and_removes_lines_within_their_bounds(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(), lamps()) as shop:
        database, ada = shop.settings.database_path, telegram.user(4242, "Ada")

        added = await add_to_cart(telegram, ada, "Lamp", 2)
        assert "In your cart: Lamp × 2." in added["text"]
        assert "Your cart now holds 2 items · €60.00" in added["text"]
        assert cart_rows(database, ada.id) == [("lamp", 2)]

        cart = await tap_and_see(telegram, ada, added, "cart")
        assert "1. Lamp × 2 — €60.00" in cart["text"] and "Total: €60.00" in cart["text"]
        cart = await tap_and_see(telegram, ada, cart, line_button(cart, "lamp", "+"))
        assert "Lamp × 3 — €90.00" in cart["text"]
        # Three lamps are all there are: one more is refused, and nothing changes.
        update = await telegram.tap(ada, cart, line_button(cart, "lamp", "+"))
        answer = await answer_to(telegram, update)
        assert answer["show_alert"] and answer["text"] == "Only 3 left."
        assert cart_rows(database, ada.id) == [("lamp", 3)]
        cart = await tap_and_see(telegram, ada, cart, line_button(cart, "lamp", "−"))
        assert cart_rows(database, ada.id) == [("lamp", 2)]

        await add_to_cart(telegram, ada, "Shade", 2)
        # Two shades are the most per order: adding one more says so.
        again = await add_to_cart_refused(telegram, ada, "Shade")
        assert again == "At most 2 per order."
        await add_to_cart(telegram, ada, "Bulb")
        home = await open_catalog(telegram, ada)
        assert buttons(home)[0] == {"text": "🛒 Cart (5)", "callback_data": "cart"}

        cart = await tap_and_see(telegram, ada, home, "cart")
        cart = await tap_and_see(telegram, ada, cart, line_button(cart, "shade", "✕"))
        assert cart_rows(database, ada.id) == [("lamp", 2), ("bulb", 1)]
        assert "Shade" not in cart["text"] and "Total: €62.50" in cart["text"]
        emptied = await tap_and_see(telegram, ada, cart, "emptycart")
        assert emptied["text"] == "Your cart is empty. Send /shop to add products."
        assert cart_rows(database, ada.id) == []
        home = await open_catalog(telegram, ada)
        assert not [b for b in buttons(home) if b["callback_data"] == "cart"]


async def test_forged_cart_taps_are_refused_and_change_nothing(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(), lamps()) as shop:
        database, ada = shop.settings.database_path, telegram.user(4242, "Ada")
        cart = await tap_and_see(telegram, ada, await add_to_cart(telegram, ada, "Lamp"), "cart")
        before = snapshot(database)
        for data, said in [
            ("add:lamp:11", "At most 10 per order."),  # lamps have the default bound
            ("add:nothing:1", "Sorry, this product is no longer on sale."),
            ("add:lamp:x", "I did not understand that"),
            ("cl:lamp:4", "Only 3 left."),
            ("newcart:tee:0", "At most 10 per order."),
        ]:
            update = await telegram.forge_tap(ada, cart, data)
            answer = await answer_to(telegram, update)
            assert answer["show_alert"] and said in answer["text"], (data, answer)
        assert snapshot(database) == before


async def test_a_full_cart_fits_one_message_and_refuses_one_more_product(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    """Twenty lines, each with a long title and a changed price, within Telegram's 100 buttons
    and 4,096 characters; the twenty-first product is refused."""
    title = "A product whose title is long enough to be cut in the cart view, number {n:02}"
    products = [
        {"id": f"p{n:02}", "title": title.format(n=n), "price": "1100.00", "currency": "eur"}
        for n in range(MOST_LINES + 1)
    ]
    catalog = parse_catalog({"shop": {"name": "Big"}, "products": products}, source="big.toml")
    async with Service(make_settings(), catalog) as shop:
        ada = telegram.user(4242, "Ada")
        for product in products[:MOST_LINES]:
            await shop.storage.put_in_cart(ada.id, CartLine(product["id"], 10, 100_000, "eur"))

        cart = await open_cart(telegram, ada)

        assert len(buttons(cart)) == 4 * MOST_LINES + 3
        assert cart["text"].count("Price changed since you added it") == MOST_LINES
        assert "Total: €220,000.00" in cart["text"]
        # The last product's card is pages away: its Add to cart tap, as it would arrive.
        answer = await answer_to(
            telegram, await telegram.forge_tap(ada, cart, f"add:p{MOST_LINES}:1")
        )
        refused = answer["text"]
        assert answer["show_alert"] and refused.startswith(
            f"Your cart holds {MOST_LINES} products, as many as it takes"
        )
        assert len(cart_rows(shop.settings.database_path, ada.id)) == MOST_LINES


async def test_a_product_in_another_currency_asks_and_never_mixes(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(), lamps()) as shop:
        database, ada = shop.settings.database_path, telegram.user(4242, "Ada")
        await add_to_cart(telegram, ada, "Lamp")

        question = await add_to_cart(telegram, ada, "Tee")

        assert "Your cart is in EUR, and Tee is priced in USD" in question["text"]
        assert [b["callback_data"] for b in buttons(question)] == [
            "newcart:tee:1",
            "checkout",
            "cart",
        ]
        assert cart_rows(database, ada.id) == [("lamp", 1)]
        after = from_now_on(telegram)
        await telegram.tap(ada, question, "newcart:tee:1")
        added = await next_message(telegram, ada, after=after)
        assert "In your cart: Tee × 1." in added["text"]
        assert cart_rows(database, ada.id) == [("tee", 1)]


async def test_checkout_charges_todays_prices_leaves_out_what_is_off_sale_and_is_paid(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    tmp_path: Path,
) -> None:
    catalog_file = tmp_path / "lamps.toml"
    catalog_file.write_text(lamps_toml())
    async with Service(make_settings(catalog_file=catalog_file), lamps()) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        database, ada = shop.settings.database_path, telegram.user(4242, "Ada")
        await add_to_cart(telegram, ada, "Lamp", 2)
        await add_to_cart(telegram, ada, "Bulb", 3)
        await add_to_cart(telegram, ada, "Shade")
        # The owner raises the lamp's price and takes the shade off sale.
        catalog_file.write_text(lamps_toml(lamp={"price": "35.00"}, shade={"active": False}))
        await shop.live_catalog.reload()

        cart = await open_cart(telegram, ada)
        assert "Price changed since you added it: was €30.00, now €35.00." in cart["text"]
        assert "Lamp × 2 — €70.00" in cart["text"]
        assert "Shade × 1 — no longer on sale: left out of checkout" in cart["text"]
        assert "Total: €77.50" in cart["text"]
        pay = await checkout(telegram, ada, cart)

        session = session_behind(stripe_api, pay)
        items = stripe_api.line_items(session["id"])
        assert [(i["description"], i["quantity"], i["price"]["unit_amount"]) for i in items] == [
            ("Lamp", 2, 3500),
            ("Bulb", 3, 250),
        ]
        (order,) = rows(database, "SELECT * FROM orders")
        assert (order["amount_total"], order["currency"], order["from_cart"]) == (7750, "eur", 1)
        assert lines_of(database, order["id"]) == [("lamp", 3500, 2), ("bulb", 250, 3)]
        assert session["metadata"]["order_id"] == str(order["id"])
        assert session["amount_total"] == 7750
        assert "Lamp × 2" in pay["text"] and "Bulb × 3 — €7.50" in pay["text"]

        after = from_now_on(telegram)
        await stripe_api.pay(session["id"])
        paid = await next_message(telegram, ada, text="Payment received", after=after)
        assert "• Lamp × 2 — €70.00\n• Bulb × 3 — €7.50" in paid["text"]
        intent = stripe_api.payment_intents[stripe_api.sessions[session["id"]]["payment_intent"]]
        assert intent["metadata"]["order_id"] == str(order["id"])
        # What was paid for left the cart; the shade, off sale, stays for the buyer to see.
        assert cart_rows(database, ada.id) == [("shade", 1)]

        listed = await ask(telegram, ada, "/orders")
        assert f"#{reference_for(order['id'])} · Lamp × 2, Bulb × 3 · €77.50" in listed["text"]
        owner = telegram.user(ADMIN_ID, "Owner")
        sales = await ask(telegram, owner, "/sales")
        assert "Lamp × 2 + 1 more · 2 lines · €77.50" in sales["text"]
        details = await ask(telegram, owner, f"/order {reference_for(order['id'])}")
        assert "Lamp × 2 (lamp) · €35.00 each · €70.00" in details["text"]
        assert "Bulb × 3 (bulb) · €2.50 each · €7.50" in details["text"]
        assert "Total €77.50 · 2 lines" in details["text"]

        after = from_now_on(telegram)
        await telegram.send_text(owner, "/export today")
        await telegram.wait_for("sendDocument", after)
        _, data = telegram.documents_to(ADMIN_ID)[-1]
        exported = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        # One row per line, the order's own columns repeated on each.
        assert [
            (r["line"], r["lines"], r["product_id"], r["quantity"], r["line_total"])
            for r in exported
        ] == [("1", "2", "lamp", "2", "70.00"), ("2", "2", "bulb", "3", "7.50")]
        assert {(r["reference"], r["order_total"], r["status"]) for r in exported} == {
            (reference_for(order["id"]), "77.50", "paid")
        }


async def test_two_buyers_racing_for_the_last_unit_of_one_line_one_gets_the_link(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    async with Service(make_settings(), lamps(lamp={"stock": 1})) as shop:
        ada, bob = telegram.user(4242, "Ada"), telegram.user(4343, "Bob")
        await add_to_cart(telegram, ada, "Bulb", 2)
        await add_to_cart(telegram, ada, "Lamp")
        await add_to_cart(telegram, bob, "Lamp")
        carts = [await open_cart(telegram, ada), await open_cart(telegram, bob)]

        updates = await asyncio.gather(
            *(
                telegram.tap(user, cart, "checkout")
                for user, cart in zip((ada, bob), carts, strict=True)
            )
        )

        answers = [await answer_to(telegram, update) for update in updates]
        refused = [a for a in answers if a.get("show_alert")]
        assert [a["text"] for a in refused] == [
            "Sorry, Lamp is sold out: please remove it from your cart."
        ]
        await telegram.wait_until(lambda: len(stripe_api.sessions) == 1, timeout=10)
        (order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
        ada_won = order["telegram_user_id"] == ada.id
        # All or nothing: the refused cart held none of its lines.
        left = await shop.storage.stock_left(["lamp", "bulb"])
        assert left == {"lamp": 0, "bulb": 8 if ada_won else 10}


async def test_a_cart_order_replaced_expired_failed_paid_and_refunded_in_part(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    async with Service(make_settings(), lamps()) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        database, ada = shop.settings.database_path, telegram.user(4242, "Ada")
        await add_to_cart(telegram, ada, "Lamp", 2)
        await add_to_cart(telegram, ada, "Bulb")
        cart = await open_cart(telegram, ada)
        first = session_behind(stripe_api, await checkout(telegram, ada, cart))
        assert await shop.storage.stock_left(["lamp"]) == {"lamp": 1}

        # Checkout again moments later, nothing changed: the link is right there.
        answer = await answer_to(telegram, await telegram.tap(ada, cart, "checkout"))
        assert "already in the chat" in answer["text"]
        # Another quantity: the open link is closed at Stripe, one link replaces it.
        cart = await tap_and_see(telegram, ada, cart, line_button(cart, "lamp", "−"))
        second = session_behind(stripe_api, await checkout(telegram, ada, cart))
        assert stripe_api.sessions[first["id"]]["status"] == "expired"
        statuses = rows(database, "SELECT status FROM orders ORDER BY id")
        assert [row["status"] for row in statuses] == ["expired", "pending"]

        # Expired: the stock comes back, the cart is kept, the pay button leads to the cart.
        after = from_now_on(telegram)
        await stripe_api.expire_session(second["id"])
        (edit,) = await telegram.wait_for("editMessageText", after)
        assert "your cart is kept: open /cart" in edit.params["text"]
        assert edit.params["reply_markup"]["inline_keyboard"] == [
            [{"text": "🛒 View cart", "callback_data": "cart"}]
        ]
        assert await shop.storage.stock_left(["lamp"]) == {"lamp": 3}
        assert cart_rows(database, ada.id) == [("lamp", 1), ("bulb", 1)]
        # /orders leads an unpaid cart order back to the cart; a "New link" for it from an
        # older message says where its new link comes from, and makes none.
        listed = await ask(telegram, ada, "/orders")
        assert buttons(listed) == [{"text": "🛒 View cart", "callback_data": "cart"}]
        answer = await answer_to(telegram, await telegram.forge_tap(ada, listed, "again:2"))
        assert answer["text"] == (
            "This order came from your cart: open /cart and tap Checkout for a new link."
        )
        assert len(stripe_api.sessions) == 2

        # Failed: a delayed payment that did not go through keeps the cart too. (Each step
        # waits for the store, not for the buyer's message: Telegram's pace for one chat would
        # space those a second apart.)
        third = session_behind(stripe_api, await checkout(telegram, ada, cart))
        await stripe_api.complete_unpaid(third["id"])
        await stripe_api.async_payment_failed(third["id"])
        await until(lambda: status_of(database, 3) == "failed")
        failed = await shop.storage.get_order(3)
        assert failed is not None
        # Its notice (queued, sent at the chat's pace) leads back to the cart, not to one product.
        notice = unpaid_notice(failed).reply_markup
        assert notice is not None and notice.to_dict()["inline_keyboard"] == [
            [{"text": "🛒 View cart", "callback_data": "cart"}]
        ]
        assert cart_rows(database, ada.id) == [("lamp", 1), ("bulb", 1)]
        assert await shop.storage.stock_left(["lamp"]) == {"lamp": 3}

        # Paid, then refunded in part from the Dashboard.
        fourth = session_behind(stripe_api, await checkout(telegram, ada, cart))
        await stripe_api.pay(fourth["id"])
        await until(lambda: status_of(database, 4) == "paid")
        assert cart_rows(database, ada.id) == []
        intent = stripe_api.sessions[fourth["id"]]["payment_intent"]
        await stripe_api.refund(intent, 1000)
        await until(lambda: status_of(database, 4) == "partially_refunded")
        (order,) = rows(database, "SELECT * FROM orders WHERE id = 4")
        assert (order["amount_total"], order["amount_refunded"]) == (3250, 1000)
        queued = rows(database, "SELECT kind FROM outbox WHERE order_id = 3 OR order_id = 4")
        assert {row["kind"] for row in queued} >= {"payment_failed", "payment_received", "refunded"}
        owner = telegram.user(ADMIN_ID, "Owner")
        details = await ask(telegram, owner, f"/order {reference_for(order['id'])}")
        assert "Lamp × 1 (lamp)" in details["text"] and "Bulb × 1 (bulb)" in details["text"]
        assert "Refunded €10.00" in details["text"]


def status_of(database: Path, order_id: int) -> str:
    (order,) = rows(database, "SELECT status FROM orders WHERE id = ?", order_id)
    status: str = order["status"]
    return status
