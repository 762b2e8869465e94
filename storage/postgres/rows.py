"""Orders as rows of the orders table with their lines, for the modules that read them."""

from __future__ import annotations

from storage.models import Order
from storage.order_rules import OrderStatus
from storage.postgres.statements import Record
from storage.sqlite.rows import lines_from

# As SQLite's (storage/sqlite/rows.py): every field in Order's own order, the lines as one JSON
# array in their place, so that a row builds an Order positionally.
_LINES = (
    "(SELECT json_agg(json_build_array(l.line_no, l.product_id, l.title, l.unit_amount,"
    " l.quantity))::text FROM order_lines l WHERE l.order_id = orders.id) AS lines"
)
ORDER_COLUMNS = ", ".join(_LINES if name == "lines" else name for name in Order.__slots__)
_STATUS = Order.__slots__.index("status")
_LINES_AT = Order.__slots__.index("lines")
_FROM_CART = Order.__slots__.index("from_cart")


def order_from(row: Record) -> Order:
    """The order of a row of ORDER_COLUMNS."""
    values = list(row.values())
    values[_STATUS] = OrderStatus(values[_STATUS])
    values[_LINES_AT] = lines_from(values[_LINES_AT])
    values[_FROM_CART] = bool(values[_FROM_CART])
    return Order(*values)
