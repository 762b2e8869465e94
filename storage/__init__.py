"""Persistence: orders, Stripe event ids and the outbox, behind one small async interface."""

from storage.models import (
    CurrencyFigures,
    MessageKind,
    NewOrder,
    Order,
    OrderFacts,
    OrderStatus,
    OutboxMessage,
    PeriodFigures,
    ProductRevenue,
    SpanSales,
    StatusChange,
)
from storage.sqlite import SQLiteStorage, StorageError, Transaction

__all__ = [
    "CurrencyFigures",
    "MessageKind",
    "NewOrder",
    "Order",
    "OrderFacts",
    "OrderStatus",
    "OutboxMessage",
    "PeriodFigures",
    "ProductRevenue",
    "SQLiteStorage",
    "SpanSales",
    "StatusChange",
    "StorageError",
    "Transaction",
]
