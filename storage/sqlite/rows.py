"""Orders as rows of the orders table, for the modules that read them."""

from __future__ import annotations

import sqlite3

from storage.models import Order, OrderStatus

ORDER_COLUMNS = ", ".join(Order.__slots__)
# Statuses that mean the money was taken at some point.
PAID_STATUSES = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


def order_from(row: sqlite3.Row) -> Order:
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    return Order(**values)
