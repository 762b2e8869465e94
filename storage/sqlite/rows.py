"""Orders as rows of the orders table with their lines, for the modules that read them."""

from __future__ import annotations

import sqlite3

import orjson

from storage.models import Order, OrderLine
from storage.order_rules import OrderStatus

# An order's lines as one JSON array (a correlated subquery: the queries read `FROM orders`
# unaliased). Each line is [line_no, product_id, title, unit_amount, quantity].
_LINES = (
    "(SELECT json_group_array(json_array(l.line_no, l.product_id, l.title, l.unit_amount,"
    " l.quantity)) FROM order_lines l WHERE l.order_id = orders.id) AS lines"
)
# Every field of an order, in Order's own order, so that a row builds one positionally: a
# dict of the row and keyword arguments were a tenth of reading an order.
ORDER_COLUMNS = ", ".join(_LINES if name == "lines" else name for name in Order.__slots__)
_STATUS = Order.__slots__.index("status")
_LINES_AT = Order.__slots__.index("lines")
_FROM_CART = Order.__slots__.index("from_cart")
# OrderStatus(text) goes through the enum's metaclass, a tenth of building an order.
_STATUSES = {status.value: status for status in OrderStatus}


def lines_from(text: str | None) -> tuple[OrderLine, ...]:
    """The lines of the JSON array ORDER_COLUMNS reads, in their order."""
    if not text or text == "[]":
        return ()
    rows = sorted(orjson.loads(text))
    return tuple(OrderLine(*row[1:]) for row in rows)


def order_from(row: sqlite3.Row) -> Order:
    """The order of a row of ORDER_COLUMNS."""
    values = list(row)
    values[_STATUS] = _STATUSES[values[_STATUS]]
    values[_LINES_AT] = lines_from(values[_LINES_AT])
    values[_FROM_CART] = bool(values[_FROM_CART])
    return Order(*values)
