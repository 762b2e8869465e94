"""Orders as rows of the orders table, for the modules that read them."""

from __future__ import annotations

from storage.models import Order
from storage.order_rules import OrderStatus
from storage.postgres.statements import Record

ORDER_COLUMNS = ", ".join(Order.__slots__)


def order_from(row: Record) -> Order:
    values = dict(row)
    values["status"] = OrderStatus(values["status"])
    return Order(**values)
