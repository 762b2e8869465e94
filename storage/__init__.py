"""Persistence: orders, Stripe event ids and the outbox, behind one small async interface."""

from storage.models import (
    MessageKind,
    NewOrder,
    Order,
    OrderStatus,
    OutboxMessage,
    SalesLine,
    StatusChange,
)
from storage.sqlite import SQLiteStorage, StorageError, Transaction

__all__ = [
    "MessageKind",
    "NewOrder",
    "Order",
    "OrderStatus",
    "OutboxMessage",
    "SQLiteStorage",
    "SalesLine",
    "StatusChange",
    "StorageError",
    "Transaction",
]
