"""Migrations 0020 and 0021 on a database holding orders and messages: the indexes that held
an order's status are gone or status-free, and every lookup they served still finds its rows
(through the indexes left, and the new one on claimed messages)."""

from __future__ import annotations

import time

from storage.urls import is_postgres
from tests.databases import fetch, opened_storage, write_schema_up_to

# The last migration before these.
BEFORE = 19
T = 10**10  # far ahead: nothing here is due now

_ORDER = (
    "INSERT INTO orders (id, telegram_user_id, chat_id, buyer_name, product_id, product_title,"
    " quantity, unit_amount, amount_total, currency, status, checkout_session_id, checkout_url,"
    " checkout_expires_at, created_at, updated_at, paid_at, from_cart) VALUES"
)
_ROWS = [
    # A buyer's open link for the lamp, and an older lamp order they paid.
    f"{_ORDER} (1, 7, 7, 'Ada', 'lamp', 'Lamp', 1, 3000, 3000, 'eur', 'pending', 'cs_1',"
    " 'https://pay/1', 4000000000, 100, 100, NULL, 0)",
    f"{_ORDER} (2, 7, 7, 'Ada', 'lamp', 'Lamp', 1, 3000, 3000, 'eur', 'paid', 'cs_2',"
    " 'https://pay/2', 4000000000, 50, 50, 60, 0)",
    # Another buyer's open cart link.
    f"{_ORDER} (3, 8, 8, 'Bob', 'bulb', 'Bulb', 2, 250, 500, 'eur', 'pending', 'cs_3',"
    " 'https://pay/3', 4000000000, 100, 100, NULL, 1)",
    "INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)"
    " VALUES (1, 1, 'lamp', 'Lamp', 3000, 1), (2, 1, 'lamp', 'Lamp', 3000, 1),"
    " (3, 1, 'bulb', 'Bulb', 250, 2)",
    # A message due at T, and one to another chat due at T + 50.
    "INSERT INTO outbox (chat_id, kind, order_id, created_at, next_attempt_at)"
    f" VALUES (7, 'payment_received', 2, 60, {T})",
    "INSERT INTO outbox (chat_id, kind, order_id, created_at, next_attempt_at)"
    f" VALUES (9, 'payment_received', NULL, 60, {T + 50})",
]


async def write_schema_before(url: str) -> None:
    """The database as migrations up to BEFORE left it, holding the rows above."""
    await write_schema_up_to(url, BEFORE, _ROWS)


async def index_keys(url: str, table: str) -> dict[str, str]:
    """Each index of the table (the primary key's and UNIQUE's aside), by name, with its
    definition as the database states it."""
    if is_postgres(url):
        rows = await fetch(
            url,
            "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE tablename = $1",
            table,
        )
    else:
        rows = await fetch(
            url,
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
            " AND sql IS NOT NULL",
            table,
        )
    return {row["name"]: " ".join(row["sql"].split()) for row in rows}


async def test_an_existing_database_keeps_its_lookups_with_fewer_status_indexes(
    database_url: str,
) -> None:
    await write_schema_before(database_url)

    async with opened_storage(database_url) as store:
        now = int(time.time())
        link = await store.open_link_for(7, "lamp", now)
        cart_link = await store.open_cart_link_for(8, now)
        waiting = await store.waiting_orders(now, 10)
        # A sender takes the first message at T, for 30 s.
        claimed = await store.claim_messages("sender", T, T + 30, 10, skip_ids=[], skip_chats=[])
        due = await store.next_attempt_at()

    assert link is not None and link.id == 1
    assert cart_link is not None and cart_link.id == 3
    assert [order.id for order in waiting] == [1, 3]
    assert [message.chat_id for message in claimed] == [7]
    # The claimed message is due again when its claim ends, before the other one.
    assert due == T + 30
    orders = await index_keys(database_url, "orders")
    assert "orders_open_links" not in orders and "orders_by_product" not in orders
    cart_index = orders["orders_open_cart_links"]
    assert "(telegram_user_id)" in cart_index and "status" not in cart_index
    assert "outbox_claimed" in await index_keys(database_url, "outbox")
    versions = await fetch(database_url, "SELECT version FROM schema_migrations")
    assert {20, 21} <= {row["version"] for row in versions}
