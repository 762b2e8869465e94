"""The outbox: chat messages queued in the transaction that decided them, and what the sender
made of each (sent, to be retried, given up)."""

from __future__ import annotations

from collections.abc import Collection

from storage.models import MessageKind, OutboxMessage
from storage.postgres.statements import Reads, Writes, now

# Two parameters: arrays of outbox ids and of chat ids to leave out.
_UNSENT_AND_NOT_SKIPPED = (
    "sent_at IS NULL AND given_up_at IS NULL"
    " AND id <> ALL($1::bigint[]) AND chat_id <> ALL($2::bigint[])"
    # Each chat's oldest waiting message only: one retried later holds back those after it,
    # so that "being processed" never comes after "Payment received".
    " AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id = outbox.chat_id"
    " AND earlier.id < outbox.id AND earlier.sent_at IS NULL AND earlier.given_up_at IS NULL)"
)


async def enqueue(
    db: Writes, chat_id: int, kind: MessageKind, order_id: int | None, detail: str | None
) -> None:
    """Queue a chat message; the outbox sender delivers it after the commit."""
    at = now()
    await db.execute(
        "INSERT INTO outbox (chat_id, kind, order_id, detail, created_at, next_attempt_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        chat_id,
        kind.value,
        order_id,
        detail,
        at,
        float(at),
    )


async def enqueue_alerts(
    db: Writes,
    kind: MessageKind,
    order_id: int,
    admin_ids: Collection[int],
    detail: str | None,
) -> None:
    """Queue one message per admin who turned sale alerts on and is still an admin (an id
    taken out of ADMIN_IDS keeps its row, and must hear nothing more)."""
    at = now()
    await db.execute(
        "INSERT INTO outbox (chat_id, kind, order_id, detail, created_at, next_attempt_at)"
        " SELECT admin_id, $1, $2, $3, $4, $5 FROM admin_alerts WHERE enabled = 1"
        " AND admin_id = ANY($6::bigint[]) ORDER BY admin_id",
        kind.value,
        order_id,
        detail,
        at,
        float(at),
        sorted(admin_ids),
    )


async def due(
    db: Reads,
    at: float,
    limit: int,
    *,
    skip_ids: Collection[int],
    skip_chats: Collection[int],
) -> list[OutboxMessage]:
    """Unsent messages due by `at`, oldest first, leaving out the ids and chats the sender
    is already busy with."""
    rows = await db.rows(
        "SELECT id, chat_id, kind, order_id, attempts, detail FROM outbox"
        f" WHERE {_UNSENT_AND_NOT_SKIPPED} AND next_attempt_at <= $3"
        " ORDER BY next_attempt_at, id LIMIT $4",
        list(skip_ids),
        list(skip_chats),
        float(at),
        limit,
    )
    return [
        OutboxMessage(
            row["id"],
            row["chat_id"],
            MessageKind(row["kind"]),
            row["order_id"],
            row["attempts"],
            row["detail"],
        )
        for row in rows
    ]


async def next_attempt_at(
    db: Reads, *, skip_ids: Collection[int], skip_chats: Collection[int]
) -> float | None:
    """When the earliest unsent message is due, leaving out the ids and chats skipped;
    None when there is none."""
    rows = await db.rows(
        f"SELECT min(next_attempt_at) FROM outbox WHERE {_UNSENT_AND_NOT_SKIPPED}",
        list(skip_ids),
        list(skip_chats),
    )
    value = rows[0][0]
    return float(value) if value is not None else None


async def mark_sent(db: Writes, message_ids: Collection[int]) -> None:
    await db.execute(
        "UPDATE outbox SET sent_at = $1, attempts = attempts + 1 WHERE id = ANY($2::bigint[])",
        now(),
        list(message_ids),
    )


async def retry_later(db: Writes, message_id: int, at: float, error: str) -> None:
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2"
        " WHERE id = $3",
        float(at),
        error,
        message_id,
    )


async def give_up(db: Writes, message_id: int, error: str) -> None:
    """Stop trying to send a message that can never be delivered (the buyer blocked us)."""
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, given_up_at = $1, last_error = $2"
        " WHERE id = $3",
        now(),
        error,
        message_id,
    )
