"""Stock: held by orders that can still be paid, never sold twice, back when a link dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.catalog.model import Catalog, parse_catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from storage import NewOrder, OrderLine, OrderStatus, SQLiteStorage
from tests.helpers import (
    answer_to,
    button_with,
    buttons,
    link_stored,
    open_card,
    open_catalog,
    rows,
    session_behind,
    tap_and_see,
    tap_product,
    until,
    write_directly,
)

BUYERS = 12


def stocked(stock: int, **fields: Any) -> Catalog:
    product = {"id": "lamp", "title": "Lamp", "price": "30.00", "currency": "eur", "stock": stock}
    return parse_catalog(
        {"shop": {"name": "Lamps"}, "products": [product | fields]}, source="test.toml"
    )


async def test_many_buyers_racing_for_the_last_items_get_exactly_the_stock(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    stock = 3
    async with Service(make_settings(), stocked(stock)) as shop:
        buyers = [telegram.user(7000 + n, f"Buyer {n}") for n in range(BUYERS)]
        cards = [await open_card(telegram, buyer, "Lamp") for buyer in buyers]
        # Every buyer taps Buy at once; the updates are handled concurrently.
        updates = await asyncio.gather(
            *(
                telegram.tap(buyer, card, button_with(card, "buy:")["callback_data"])
                for buyer, card in zip(buyers, cards, strict=True)
            )
        )
        answers = [await answer_to(telegram, update) for update in updates]
        refused = [a for a in answers if a.get("show_alert")]
        assert len(refused) == BUYERS - stock
        assert all("sold out" in a["text"] for a in refused)
        await telegram.wait_until(lambda: len(stripe_api.sessions) == stock, timeout=20)
        orders = rows(shop.settings.database_path, "SELECT * FROM orders")
        assert len(orders) == stock and {o["status"] for o in orders} == {"pending"}


async def test_a_sold_out_product_shows_so_and_cannot_be_bought(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(), stocked(1)):
        ada, bob = telegram.user(4242, "Ada"), telegram.user(4343, "Bob")
        card = await open_card(telegram, ada, "Lamp")
        assert "Only 1 left" in card["text"]
        await tap_product(telegram, ada, "Lamp")
        home = await open_catalog(telegram, bob)
        assert [b["text"] for b in buttons(home)] == ["Lamp — sold out"]
        card = await open_card(telegram, bob, "Lamp")
        assert "Sold out" in card["text"]
        assert not [b for b in buttons(card) if b["callback_data"].startswith("buy:")]


async def test_the_quantity_picker_stops_at_what_is_left(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    async with Service(make_settings(), stocked(3, max_per_order=5)):
        await tap_product(telegram, telegram.user(4242, "Ada"), "Lamp")
        bob = telegram.user(4343, "Bob")
        card = await open_card(telegram, bob, "Lamp")
        card = await tap_and_see(telegram, bob, card, plus(card))
        assert "Quantity: 2" in card["text"]
        answer = await answer_to(telegram, await telegram.tap(bob, card, plus(card)))
        assert answer["text"] == "Only 2 left."


def plus(card: dict[str, Any]) -> str:
    (button,) = [b for b in buttons(card) if b["text"] == "+"]
    data: str = button["callback_data"]
    return data


async def test_a_failed_link_gives_its_stock_back(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    async with Service(make_settings(), stocked(1)) as shop:
        stripe_api.fail_next(1, status=400, error_type="invalid_request_error", message="No")
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "Lamp")
        await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
        await telegram.wait_until(
            lambda: any("payment link" in m.get("text", "") for m in telegram.messages_to(ada.id))
        )
        assert rows(shop.settings.database_path, "SELECT status FROM orders") == [
            {"status": "failed"}
        ]
        await tap_product(telegram, telegram.user(4343, "Bob"), "Lamp")
        assert len(stripe_api.sessions) == 1


async def test_stock_comes_back_when_the_session_expires(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    async with Service(make_settings(), stocked(1)) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        await tap_product(telegram, telegram.user(4242, "Ada"), "Lamp")
        (session,) = stripe_api.sessions.values()
        await stripe_api.expire_session(session["id"])
        assert await shop.storage.stock_left(["lamp"]) == {"lamp": 1}


async def test_a_new_stock_number_is_what_the_owner_has_now(tmp_path: Path) -> None:
    """The owner writes how many they have now: what was paid before then had left the shelf,
    what still waits for its payment had not, and is taken from the new number."""
    async with SQLiteStorage(tmp_path / "shop.db") as storage:
        await storage.record_stock_levels({"lamp": 2})
        sold = await storage.create_order_within_stock(new_order(1), {"lamp": 2})
        waiting = await storage.create_order_within_stock(new_order(2), {"lamp": 2})
        assert sold is not None and waiting is not None
        assert await storage.create_order_within_stock(new_order(3), {"lamp": 2}) is None
        async with storage.transaction() as tx:
            await tx.advance(sold, OrderStatus.PAID, source="test")
        await paid_a_minute_ago(tmp_path / "shop.db", sold.id)
        # The same number again (a reload of an unchanged file) is not a restock.
        await storage.record_stock_levels({"lamp": 2})
        assert await storage.stock_left(["lamp"]) == {"lamp": 0}

        # A delivery: the owner counts 5 on the shelf, the waiting order's lamp among them.
        await storage.record_stock_levels({"lamp": 5})
        assert await storage.stock_left(["lamp"]) == {"lamp": 4}
        async with storage.transaction() as tx:  # paid after the count: still off the 5
            await tx.advance(waiting, OrderStatus.PAID, source="test")
        assert await storage.stock_left(["lamp"]) == {"lamp": 4}
        # A tap that still holds the catalog from before the reload cannot write 2 back.
        assert await storage.create_order_within_stock(new_order(4), {"lamp": 2}) is not None
        assert await storage.stock_left(["lamp"]) == {"lamp": 3}


async def test_a_product_whose_stock_line_goes_is_unlimited_and_counts_afresh_later(
    tmp_path: Path,
) -> None:
    async with SQLiteStorage(tmp_path / "shop.db") as storage:
        await storage.record_stock_levels({"lamp": 1})
        first = await storage.create_order_within_stock(new_order(1), {"lamp": 1})
        assert first is not None
        async with storage.transaction() as tx:
            await tx.advance(first, OrderStatus.PAID, source="test")
        await paid_a_minute_ago(tmp_path / "shop.db", first.id)
        assert await storage.stock_left(["lamp"]) == {"lamp": 0}
        await storage.record_stock_levels({})  # the owner deleted the `stock` line
        assert await storage.stock_left(["lamp"]) == {}
        await storage.record_stock_levels({"lamp": 1})  # and writes it again, as counted now
        assert await storage.stock_left(["lamp"]) == {"lamp": 1}


async def paid_a_minute_ago(database: Path, order_id: int) -> None:
    """Date the order's payment a minute back, before the owner's next count."""
    await write_directly(
        database, "UPDATE orders SET paid_at = ? WHERE id = ?", (int(time.time()) - 60, order_id)
    )


def new_order(buyer: int) -> NewOrder:
    return NewOrder(
        telegram_user_id=buyer,
        chat_id=buyer,
        buyer_name="Buyer",
        buyer_username=None,
        language="en",
        currency="eur",
        lines=(OrderLine("lamp", "Lamp", 3000, 1),),
    )


async def test_a_link_for_another_quantity_does_not_count_the_one_it_replaces(
    tmp_path: Path,
) -> None:
    async with SQLiteStorage(tmp_path / "shop.db") as storage:
        first = await storage.create_order_within_stock(new_order(1), {"lamp": 2})
        assert first is not None
        two = replace(new_order(1), lines=(OrderLine("lamp", "Lamp", 3000, 2),))
        assert await storage.create_order_within_stock(two, {"lamp": 2}) is None
        again = await storage.create_order_within_stock(two, {"lamp": 2}, replacing=first.id)
        assert again is not None


async def test_a_refused_bigger_quantity_keeps_the_buyers_open_link(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    async with Service(make_settings(), stocked(2, max_per_order=5)) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        ada, bob = telegram.user(4242, "Ada"), telegram.user(4343, "Bob")
        first = await tap_product(telegram, ada, "Lamp")
        await until(link_stored(shop.settings.database_path))
        link = session_behind(stripe_api, first)
        # Ada looks again (her own unit counts as hers) and picks 2: the card allows it.
        card = await open_card(telegram, ada, "Lamp")
        (more,) = [b for b in buttons(card) if b["text"] == "+"]
        card = await tap_and_see(telegram, ada, card, more["callback_data"])
        assert button_with(card, "buy:")["callback_data"] == "buy:lamp:2"
        # Meanwhile Bob takes the other lamp.
        await tap_product(telegram, bob, "Lamp")

        answer = await answer_to(
            telegram, await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
        )
        assert answer.get("show_alert") and "only 1" in answer["text"]
        # The refusal must leave what Ada had: her link for one lamp, still payable.
        assert stripe_api.sessions[link["id"]]["status"] == "open", "Ada's link was closed"
        statuses = rows(
            shop.settings.database_path,
            "SELECT status FROM orders WHERE telegram_user_id = ? ORDER BY id",
            ada.id,
        )
        assert statuses == [{"status": "pending"}]
