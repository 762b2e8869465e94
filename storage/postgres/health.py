"""The figures behind the shop's health: what waits in the outbox, and orders by status."""

from __future__ import annotations

from storage.models import OutboxBacklog
from storage.order_rules import OrderStatus
from storage.postgres.statements import Reads

_WAITING = "sent_at IS NULL AND given_up_at IS NULL"


async def outbox_backlog(db: Reads) -> OutboxBacklog:
    """How many messages wait to be sent, and when the oldest of them was queued."""
    rows = await db.rows(f"SELECT count(*), min(created_at) FROM outbox WHERE {_WAITING}")
    count, oldest = rows[0][0], rows[0][1]
    return OutboxBacklog(waiting=int(count), oldest_queued_at=oldest)


async def orders_by_status(db: Reads) -> dict[OrderStatus, int]:
    """How many orders are in each status; every status is named, with 0 for none."""
    rows = await db.rows("SELECT status, count(*) FROM orders GROUP BY status")
    counts = dict.fromkeys(OrderStatus, 0)
    counts.update({OrderStatus(row[0]): int(row[1]) for row in rows})
    return counts
