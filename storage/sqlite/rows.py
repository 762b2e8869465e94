"""Orders as rows of the orders table with their lines, for the modules that read them."""

from __future__ import annotations

import json
import sqlite3

from storage.models import Order, OrderLine
from storage.order_rules import OrderStatus

# Every stored column of an order, then its lines as one JSON array (a correlated subquery: the
# queries read `FROM orders` unaliased). Each line is [line_no, product_id, title, unit_amount,
# quantity].
ORDER_COLUMNS = ", ".join(name for name in Order.__slots__ if name != "lines") + (
    ", (SELECT json_group_array(json_array(l.line_no, l.product_id, l.title, l.unit_amount,"
    " l.quantity)) FROM order_lines l WHERE l.order_id = orders.id) AS lines"
)


def lines_from(text: str | None) -> tuple[OrderLine, ...]:
    """The lines of the JSON array ORDER_COLUMNS reads, in their order."""
    rows = sorted(json.loads(text or "[]"))
    return tuple(OrderLine(*row[1:]) for row in rows)


def order_from(row: sqlite3.Row) -> Order:
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    values["lines"] = lines_from(values["lines"])
    values["from_cart"] = bool(values["from_cart"])
    return Order(**values)
