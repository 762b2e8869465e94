"""Persistence: orders, Stripe event ids and the outbox, behind one small async interface."""

from storage.models import (
    CurrencyFigures,
    DailySales,
    MessageKind,
    NewOrder,
    Order,
    OrderStatus,
    OutboxMessage,
    PeriodFigures,
    ProductRevenue,
    StatusChange,
)
from storage.sqlite import SQLiteStorage, StorageError, Transaction

__all__ = [
    "CurrencyFigures",
    "DailySales",
    "MessageKind",
    "NewOrder",
    "Order",
    "OrderStatus",
    "OutboxMessage",
    "PeriodFigures",
    "ProductRevenue",
    "SQLiteStorage",
    "StatusChange",
    "StorageError",
    "Transaction",
]
