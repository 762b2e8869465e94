"""Orders as rows of the orders table, for the modules that read them."""

from __future__ import annotations

import sqlite3

from storage.models import Order
from storage.order_rules import OrderStatus

ORDER_COLUMNS = ", ".join(Order.__slots__)


def order_from(row: sqlite3.Row) -> Order:
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    return Order(**values)
