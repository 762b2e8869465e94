"""Persistence: orders, Stripe event ids and the outbox, behind one small async interface (the
Storage protocol), implemented over SQLite by SQLiteStorage."""

from storage.models import (
    CurrencyFigures,
    MessageKind,
    NewOrder,
    Order,
    OrderFacts,
    OutboxBacklog,
    OutboxMessage,
    PeriodFigures,
    ProductRevenue,
    RefundAsk,
    SpanSales,
    StatusChange,
)
from storage.order_rules import OrderStatus
from storage.protocol import Reports, Storage, StorageError, Transaction
from storage.sqlite import SQLiteStorage
from storage.sqlite.inspect import database_problems

__all__ = [
    "CurrencyFigures",
    "MessageKind",
    "NewOrder",
    "Order",
    "OrderFacts",
    "OrderStatus",
    "OutboxBacklog",
    "OutboxMessage",
    "PeriodFigures",
    "ProductRevenue",
    "RefundAsk",
    "Reports",
    "SQLiteStorage",
    "SpanSales",
    "StatusChange",
    "Storage",
    "StorageError",
    "Transaction",
    "database_problems",
]
