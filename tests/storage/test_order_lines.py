"""Orders with lines and buyers' carts in the store, on both backends: the migration of orders
stored before lines, all-or-nothing stock across lines, carts, and the figures per product."""

from __future__ import annotations

import time

from storage import CartLine, NewOrder, OrderFacts, OrderLine, OrderStatus, Storage, open_storage
from storage.sqlite.carts import CART_SECONDS
from tests.databases import execute, fetch, write_schema_up_to

# The last migration before orders had lines.
BEFORE_LINES = 11

LAMP = OrderLine("lamp", "Lamp", 3000, 2)
BULB = OrderLine("bulb", "Bulb", 250, 3)


def order_of(buyer: int, *lines: OrderLine, currency: str = "eur") -> NewOrder:
    return NewOrder(buyer, buyer, f"Buyer {buyer}", None, "en", currency, lines, from_cart=True)


async def write_todays_schema(url: str) -> None:
    """The database as the shop wrote it before lines: migrations up to BEFORE_LINES, and two
    orders (one paid) stored by that schema's own columns."""
    insert = (
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, product_id, product_title,"
        " quantity, unit_amount, amount_total, currency, status, created_at, updated_at,"
        " paid_at, checkout_session_id) VALUES (7, 7, 'Ada', 'lamp', 'Lampe', 2, 3000, 6000,"
        " 'eur', 'paid', 100, 100, 100, 'cs_paid'), (8, 8, 'Bob', 'bulb', 'Bulb', 1, 250, 250,"
        " 'eur', 'pending', 200, 200, NULL, 'cs_open')"
    )
    await write_schema_up_to(url, BEFORE_LINES, [insert])


async def test_orders_stored_before_lines_read_as_one_line_orders(database_url: str) -> None:
    await write_todays_schema(database_url)

    storage = open_storage(database_url)
    await storage.open()
    try:
        paid, pending = await storage.get_order(1), await storage.get_order(2)
        assert paid is not None and pending is not None
        assert paid.lines == (OrderLine("lamp", "Lampe", 3000, 2),)
        assert pending.lines == (OrderLine("bulb", "Bulb", 250, 1),)
        assert not paid.from_cart and not pending.from_cart
        # The figures and the stock read the lines the migration made.
        figures = await storage.reports.period_figures(None, None, top=5)
        (lamp,) = figures.top_products
        assert (lamp.product_id, lamp.quantity, lamp.revenue) == ("lamp", 2, 6000)
        await storage.record_stock_levels({"bulb": 5})
        assert await storage.stock_left(["bulb"]) == {"bulb": 4}  # Bob's open link holds one
    finally:
        await storage.close()
    versions = await fetch(database_url, "SELECT version FROM schema_migrations ORDER BY version")
    # Later migrations (others' numbers) may follow; these ran in their turn.
    assert [row["version"] for row in versions if row["version"] <= 13][-3:] == [11, 12, 13]


async def test_an_order_holds_every_line_or_none(store: Storage) -> None:
    stock = {"lamp": 3, "bulb": 3}
    first = await store.create_order_within_stock(order_of(1, LAMP, BULB), stock)
    assert first is not None
    assert first.lines == (LAMP, BULB) and first.amount_total == 6000 + 750
    assert first.from_cart and first.units == 5
    assert await store.stock_left(["lamp", "bulb"]) == {"lamp": 1, "bulb": 0}

    # The lamp line fits, the bulb line does not: nothing is stored, nothing held.
    assert await store.create_order_within_stock(order_of(2, LAMP, BULB), stock) is None
    assert await store.stock_left(["lamp", "bulb"]) == {"lamp": 1, "bulb": 0}
    assert [o.id for o in await store.orders_of_buyer(2, 10)] == []

    # Replacing the buyer's own order counts its units as theirs.
    again = await store.create_order_within_stock(
        order_of(1, LAMP, BULB), stock, replacing=first.id
    )
    assert again is not None

    # The buyer's open cart link is theirs alone, and not an open link for its products.
    await store.attach_checkout(again.id, "cs_cart", "https://pay/cart", int(time.time()) + 1800)
    cart_link = await store.open_cart_link_for(1, int(time.time()))
    assert cart_link is not None and cart_link.id == again.id
    assert await store.open_link_for(1, "lamp", int(time.time())) is None
    assert await store.open_cart_link_for(2, int(time.time())) is None


async def test_a_cart_keeps_one_currency_loses_what_was_paid_and_is_dropped_untouched(
    store: Storage, database_url: str
) -> None:
    assert await store.put_in_cart(1, CartLine("lamp", 2, 3000, "eur"))
    assert await store.put_in_cart(1, CartLine("bulb", 1, 250, "eur"))
    # Another currency is refused and changes nothing; a new cart takes it.
    assert not await store.put_in_cart(1, CartLine("tee", 1, 2000, "usd"))
    assert [line.product_id for line in await store.cart(1)] == ["lamp", "bulb"]
    await store.set_cart_quantity(1, "lamp", 4)
    await store.set_cart_quantity(1, "bulb", 0)
    assert await store.cart(1) == [CartLine("lamp", 4, 3000, "eur")]
    assert await store.cart(2) == []

    assert await store.put_in_cart(1, CartLine("tee", 1, 2000, "usd"), new_cart=True)
    assert await store.cart(1) == [CartLine("tee", 1, 2000, "usd")]
    await store.empty_cart(1)
    assert await store.cart(1) == []

    await store.put_in_cart(1, CartLine("lamp", 3, 3000, "eur"))
    await store.put_in_cart(1, CartLine("bulb", 1, 250, "eur"))
    await store.put_in_cart(1, CartLine("shade", 1, 900, "eur"))
    async with store.transaction() as tx:
        await tx.take_from_cart(1, (OrderLine("lamp", "Lamp", 3000, 2), BULB))
    # What was not paid for stays: a lamp more than was paid, and the shade.
    assert await store.cart(1) == [
        CartLine("lamp", 1, 3000, "eur"),
        CartLine("shade", 1, 900, "eur"),
    ]

    await store.put_in_cart(2, CartLine("lamp", 1, 3000, "eur"))
    month_ago = int(time.time()) - CART_SECONDS - 1
    await execute(
        database_url, f"UPDATE carts SET touched_at = {month_ago} WHERE telegram_user_id = 1"
    )
    assert await store.cart(1) == []
    # The next change to any cart drops it from the table.
    await store.put_in_cart(2, CartLine("bulb", 1, 250, "eur"))
    left = await fetch(database_url, "SELECT DISTINCT telegram_user_id FROM cart_lines")
    assert [row["telegram_user_id"] for row in left] == [2]


async def test_top_products_count_units_and_revenue_across_lines(store: Storage) -> None:
    """Figures against sums written here: three paid orders, one with a promotion code."""
    paid = [
        (order_of(1, LAMP, BULB), 6750),  # 2 lamps 60.00, 3 bulbs 7.50: paid in full
        (order_of(2, OrderLine("lamp", "Lamp", 3000, 1)), 3000),
        (order_of(3, BULB, OrderLine("shade", "Shade", 900, 1)), 1300),  # 16.50 less 3.50
    ]
    for new, received in paid:
        order = await store.create_order_within_stock(new, {})
        assert order is not None
        async with store.transaction() as tx:
            facts = OrderFacts(amount_received=received)
            assert await tx.advance(order, OrderStatus.PAID, source="test", facts=facts)
    unpaid = await store.create_order_within_stock(order_of(4, LAMP), {})
    assert unpaid is not None

    figures = await store.reports.period_figures(None, None, top=5)

    (eur,) = figures.currencies
    assert (eur.orders, eur.gross) == (3, 6750 + 3000 + 1300)
    top = [(p.product_id, p.orders, p.quantity, p.revenue) for p in figures.top_products]
    # Order 3's 1300 shared by list price: bulbs 750 × 1300 / 1650 = 590, shade 900 × … = 709.
    assert top == [("lamp", 2, 3, 9000), ("bulb", 2, 6, 750 + 590), ("shade", 1, 1, 709)]
