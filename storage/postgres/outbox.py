"""The outbox: chat messages queued in the transaction that decided them, the senders' claims
on them (one replica each), and what the sender made of each (sent, to be retried, given up)."""

from __future__ import annotations

from collections.abc import Collection

from storage.models import Change, MessageKind, OutboxMessage
from storage.postgres.statements import Reads, Record, Writes, now

_COLUMNS = "id, chat_id, kind, order_id, attempts, detail, next_attempt_at"
# Two parameters: arrays of outbox ids and of chat ids to leave out.
_UNSENT_AND_NOT_SKIPPED = (
    "sent_at IS NULL AND given_up_at IS NULL"
    " AND id <> ALL($1::bigint[]) AND chat_id <> ALL($2::bigint[])"
    # Each chat's oldest waiting message only: one retried later holds back those after it,
    # so that "being processed" never comes after "Payment received".
    " AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id = outbox.chat_id"
    " AND earlier.id < outbox.id AND earlier.sent_at IS NULL AND earlier.given_up_at IS NULL)"
)
# Three parameters: those two, then the time. A message claimed by a replica whose lease has
# not ended is that replica's; the chat's later messages wait behind it (above).
_DUE_AND_FREE = (
    f"{_UNSENT_AND_NOT_SKIPPED} AND next_attempt_at <= $3"
    " AND (claimed_until IS NULL OR claimed_until <= $3)"
)
# What the sender made of a message ends its claim.
_UNCLAIMED = "claimed_by = NULL, claimed_until = NULL"


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
    db.announce(Change.OUTBOX)


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
    db.announce(Change.OUTBOX)


async def due(
    db: Reads,
    at: float,
    limit: int,
    *,
    skip_ids: Collection[int],
    skip_chats: Collection[int],
) -> list[OutboxMessage]:
    """Unsent messages due by `at` and claimed by no replica then, oldest first, leaving out
    the ids and chats skipped."""
    rows = await db.rows(
        f"SELECT {_COLUMNS} FROM outbox WHERE {_DUE_AND_FREE}"
        " ORDER BY next_attempt_at, id LIMIT $4",
        list(skip_ids),
        list(skip_chats),
        float(at),
        limit,
    )
    return [_message(row) for row in rows]


async def claim(
    db: Writes,
    claimant: str,
    at: float,
    until: float,
    limit: int,
    *,
    skip_ids: Collection[int],
    skip_chats: Collection[int],
) -> list[OutboxMessage]:
    """Claim for `claimant`, until `until`, the messages due() would return.

    Replicas claim at once without waiting for each other: a row another claim has locked is
    skipped (SKIP LOCKED), and one it claimed meanwhile no longer passes the WHERE when
    PostgreSQL reads the row again to lock it.
    """
    rows = await db.rows(
        f"WITH picked AS (SELECT id FROM outbox WHERE {_DUE_AND_FREE}"
        " ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)"
        " UPDATE outbox SET claimed_by = $5, claimed_until = $6 FROM picked"
        f" WHERE outbox.id = picked.id RETURNING outbox.{_COLUMNS}",
        list(skip_ids),
        list(skip_chats),
        float(at),
        limit,
        claimant,
        float(until),
    )
    rows.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
    return [_message(row) for row in rows]


async def renew_claims(
    db: Writes, claimant: str, message_ids: Collection[int], until: float
) -> None:
    await db.execute(
        "UPDATE outbox SET claimed_until = $1 WHERE claimed_by = $2 AND sent_at IS NULL"
        " AND given_up_at IS NULL AND id = ANY($3::bigint[])",
        float(until),
        claimant,
        list(message_ids),
    )


async def release_claims(db: Writes, claimant: str, message_ids: Collection[int]) -> None:
    """Give back messages unsent, and tell the other replicas, for them to take at once."""
    await db.execute(
        f"UPDATE outbox SET {_UNCLAIMED} WHERE claimed_by = $1 AND id = ANY($2::bigint[])",
        claimant,
        list(message_ids),
    )
    db.announce(Change.OUTBOX)


def _message(row: Record) -> OutboxMessage:
    return OutboxMessage(
        row["id"],
        row["chat_id"],
        MessageKind(row["kind"]),
        row["order_id"],
        row["attempts"],
        row["detail"],
    )


async def next_attempt_at(
    db: Reads, *, skip_ids: Collection[int], skip_chats: Collection[int]
) -> float | None:
    """When the earliest unsent message is due, or its claim ends if that is later, leaving
    out the ids and chats skipped; None when there is none."""
    rows = await db.rows(
        "SELECT min(greatest(next_attempt_at, claimed_until))"
        f" FROM outbox WHERE {_UNSENT_AND_NOT_SKIPPED}",
        list(skip_ids),
        list(skip_chats),
    )
    value = rows[0][0]
    return float(value) if value is not None else None


async def mark_sent(db: Writes, message_ids: Collection[int]) -> None:
    await db.execute(
        f"UPDATE outbox SET sent_at = $1, attempts = attempts + 1, {_UNCLAIMED}"
        " WHERE id = ANY($2::bigint[])",
        now(),
        list(message_ids),
    )


async def retry_later(db: Writes, message_id: int, at: float, error: str) -> None:
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,"
        f" {_UNCLAIMED} WHERE id = $3",
        float(at),
        error,
        message_id,
    )


async def give_up(db: Writes, message_id: int, error: str) -> None:
    """Stop trying to send a message that can never be delivered (the buyer blocked us)."""
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, given_up_at = $1, last_error = $2,"
        f" {_UNCLAIMED} WHERE id = $3",
        now(),
        error,
        message_id,
    )
