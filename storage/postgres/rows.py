"""Orders as rows of the orders table with their lines, for the modules that read them."""

from __future__ import annotations

from storage.models import Order
from storage.order_rules import OrderStatus
from storage.postgres.statements import Record
from storage.sqlite.rows import lines_from

# As SQLite's (storage/sqlite/rows.py): the stored columns, then the lines as one JSON array.
ORDER_COLUMNS = ", ".join(name for name in Order.__slots__ if name != "lines") + (
    ", (SELECT json_agg(json_build_array(l.line_no, l.product_id, l.title, l.unit_amount,"
    " l.quantity))::text FROM order_lines l WHERE l.order_id = orders.id) AS lines"
)


def order_from(row: Record) -> Order:
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    values["lines"] = lines_from(values["lines"])
    values["from_cart"] = bool(values["from_cart"])
    return Order(**values)
