"""Persistence: orders, Stripe event ids and the outbox, behind one small async interface (the
Storage protocol), implemented over SQLite by SQLiteStorage and over PostgreSQL by
PostgresStorage; open_storage picks one from the DATABASE_URL."""

from storage.models import (
    CartLine,
    CurrencyFigures,
    InviteLink,
    MessageKind,
    NewOrder,
    Order,
    OrderFacts,
    OrderLine,
    OutboxBacklog,
    OutboxMessage,
    PeriodFigures,
    ProductRevenue,
    RefundAsk,
    RefundClaim,
    SpanSales,
    StarPayment,
    StatusChange,
    delivery_detail,
    delivery_of,
)
from storage.order_rules import OrderStatus
from storage.postgres import PostgresStorage
from storage.postgres.inspect import postgres_problems
from storage.protocol import Reports, Storage, StorageError, Transaction
from storage.sqlite import SQLiteStorage
from storage.sqlite.inspect import database_problems
from storage.urls import is_postgres, open_storage, sqlite_path, url_problem

__all__ = [
    "CartLine",
    "CurrencyFigures",
    "InviteLink",
    "MessageKind",
    "NewOrder",
    "Order",
    "OrderFacts",
    "OrderLine",
    "OrderStatus",
    "OutboxBacklog",
    "OutboxMessage",
    "PeriodFigures",
    "PostgresStorage",
    "ProductRevenue",
    "RefundAsk",
    "RefundClaim",
    "Reports",
    "SQLiteStorage",
    "SpanSales",
    "StarPayment",
    "StatusChange",
    "Storage",
    "StorageError",
    "Transaction",
    "database_problems",
    "delivery_detail",
    "delivery_of",
    "is_postgres",
    "open_storage",
    "postgres_problems",
    "sqlite_path",
    "url_problem",
]
