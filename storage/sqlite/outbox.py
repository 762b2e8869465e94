"""The outbox: chat messages queued in the transaction that decided them, the sender's claims
on them, and what the sender made of each (sent, to be retried, given up)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from storage.models import MessageKind, OutboxMessage
from storage.sqlite.statements import Reads, Writes, now

_COLUMNS = "id, chat_id, kind, order_id, attempts, detail, next_attempt_at"
# Two parameters: JSON arrays of outbox ids and of chat ids to leave out.
_UNSENT_AND_NOT_SKIPPED = (
    "sent_at IS NULL AND given_up_at IS NULL"
    " AND id NOT IN (SELECT value FROM json_each(?))"
    " AND chat_id NOT IN (SELECT value FROM json_each(?))"
    # Each chat's oldest waiting message only: one retried later holds back those after it,
    # so that "being processed" never comes after "Payment received".
    " AND NOT EXISTS (SELECT 1 FROM outbox AS earlier WHERE earlier.chat_id = outbox.chat_id"
    " AND earlier.id < outbox.id AND earlier.sent_at IS NULL AND earlier.given_up_at IS NULL)"
)
# Four parameters: those two, then the time twice. A message claimed by a sender whose lease
# has not ended is that sender's; the chat's later messages wait behind it (above).
_DUE_AND_FREE = (
    f"{_UNSENT_AND_NOT_SKIPPED} AND next_attempt_at <= ?"
    " AND (claimed_until IS NULL OR claimed_until <= ?)"
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
        " VALUES (?, ?, ?, ?, ?, ?)",
        (chat_id, kind.value, order_id, detail, at, at),
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
        " SELECT admin_id, ?, ?, ?, ?, ? FROM admin_alerts WHERE enabled = 1"
        " AND admin_id IN (SELECT value FROM json_each(?)) ORDER BY admin_id",
        (kind.value, order_id, detail, at, at, json.dumps(sorted(admin_ids))),
    )


async def due(
    db: Reads,
    at: float,
    limit: int,
    *,
    skip_ids: Collection[int],
    skip_chats: Collection[int],
) -> list[OutboxMessage]:
    """Unsent messages due by `at` and claimed by no sender then, oldest first, leaving out
    the ids and chats skipped."""
    rows = await db.rows(
        f"SELECT {_COLUMNS} FROM outbox WHERE {_DUE_AND_FREE} ORDER BY next_attempt_at, id LIMIT ?",
        (json.dumps(list(skip_ids)), json.dumps(list(skip_chats)), at, at, limit),
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
    """Claim for `claimant`, until `until`, the messages due() would return. SQLite's one
    writer at a time keeps two claims from taking the same message."""
    rows = await db.rows(
        f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN (SELECT id FROM outbox"
        f" WHERE {_DUE_AND_FREE} ORDER BY next_attempt_at, id LIMIT ?) RETURNING {_COLUMNS}",
        (claimant, until, json.dumps(list(skip_ids)), json.dumps(list(skip_chats)), at, at, limit),
    )
    rows.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
    return [_message(row) for row in rows]


async def renew_claims(
    db: Writes, claimant: str, message_ids: Collection[int], until: float
) -> None:
    await db.execute(
        "UPDATE outbox SET claimed_until = ? WHERE claimed_by = ? AND sent_at IS NULL"
        " AND given_up_at IS NULL AND id IN (SELECT value FROM json_each(?))",
        (until, claimant, json.dumps(list(message_ids))),
    )


async def release_claims(db: Writes, claimant: str, message_ids: Collection[int]) -> None:
    await db.execute(
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
        " WHERE claimed_by = ? AND id IN (SELECT value FROM json_each(?))",
        (claimant, json.dumps(list(message_ids))),
    )


async def forget_claims(db: Writes) -> None:
    """Free every claim: one process owns a SQLite file, so at its start any claim is that of
    a process that died, and its messages need not wait for the lease to end."""
    await db.execute(
        f"UPDATE outbox SET {_UNCLAIMED} WHERE claimed_by IS NOT NULL"
        " AND sent_at IS NULL AND given_up_at IS NULL"
    )


def _message(row: sqlite3.Row) -> OutboxMessage:
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
    # Two cheap reads rather than a min over every unsent message (20 ms at 20,000 of them,
    # under the lock the next group commit waits for): the first unclaimed one in outbox_due's
    # order (past the few in hand), and the claimed ones (outbox_claimed), due when their
    # claim ends if that is later.
    skipped = (json.dumps(list(skip_ids)), json.dumps(list(skip_chats)))
    rows = await db.rows(
        "SELECT min(due) FROM ("
        f"SELECT (SELECT next_attempt_at FROM outbox WHERE {_UNSENT_AND_NOT_SKIPPED}"
        " AND claimed_until IS NULL ORDER BY next_attempt_at LIMIT 1) AS due"
        " UNION ALL SELECT min(max(next_attempt_at, claimed_until)) FROM outbox"
        f" WHERE {_UNSENT_AND_NOT_SKIPPED} AND claimed_until IS NOT NULL)",
        skipped * 2,
    )
    value = rows[0][0]
    return float(value) if value is not None else None


async def mark_sent(db: Writes, message_ids: Collection[int]) -> None:
    await db.execute(
        f"UPDATE outbox SET sent_at = ?, attempts = attempts + 1, {_UNCLAIMED}"
        f" WHERE id IN ({', '.join('?' for _ in message_ids)})",
        (now(), *message_ids),
    )


async def retry_later(db: Writes, message_id: int, at: float, error: str) -> None:
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,"
        f" {_UNCLAIMED} WHERE id = ?",
        (at, error, message_id),
    )


async def give_up(db: Writes, message_id: int, error: str) -> None:
    """Stop trying to send a message that can never be delivered (the buyer blocked us)."""
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, given_up_at = ?, last_error = ?,"
        f" {_UNCLAIMED} WHERE id = ?",
        (now(), error, message_id),
    )
