"""The SQLite implementation of the store, through aiosqlite."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import aiosqlite

from storage.migrate import apply_migrations
from storage.models import (
    MessageKind,
    NewOrder,
    Order,
    OrderFacts,
    OrderStatus,
    OutboxMessage,
    StatusChange,
)
from storage.reports import Reports
from storage.rows import ORDER_COLUMNS, order_from
from storage.stock import record_levels, units_left

log = logging.getLogger(__name__)

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

# At most this many transactions share one COMMIT, so that a steady stream of callers never
# keeps the first of them waiting.
_MAX_BATCH = 256


class StorageError(Exception):
    """The database could not do what was asked (it is unreachable, full, or corrupt)."""


def _now() -> int:
    return int(time.time())


class Transaction:
    """The operations that must commit together, such as recording a payment and its message."""

    def __init__(self, connection: _InlineConnection) -> None:
        self._db = connection

    async def write(self, sql: str, parameters: Sequence[Any]) -> None:
        """One statement of the store's own (SQLiteStorage's single writes)."""
        await self._db.execute(sql, parameters)

    async def remember_event(self, event_id: str, event_type: str) -> bool:
        """Record a Stripe event id; False when it was recorded before (a duplicate delivery)."""
        cursor = await self._db.execute(
            "INSERT INTO stripe_events (id, type, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (event_id, event_type, _now()),
        )
        return cursor.rowcount == 1

    async def get_order(self, order_id: int) -> Order | None:
        return await _fetch_order(self._db, "id = ?", (order_id,))

    async def order_with_payment_intent(self, payment_intent_id: str) -> Order | None:
        return await _fetch_order(self._db, "payment_intent_id = ?", (payment_intent_id,))

    async def record_refund(self, refund_id: str, order_id: int, amount: int, status: str) -> int:
        """Store a refund as Stripe last reported it; returns the order's succeeded total.

        A failed or canceled refund stays so: an older event saying it succeeded may come after.
        """
        await self._db.execute(
            "INSERT INTO refunds (id, order_id, amount, status, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = CASE"
            " WHEN refunds.status IN ('failed', 'canceled') THEN refunds.status"
            " ELSE excluded.status END",
            (refund_id, order_id, amount, status, _now()),
        )
        cursor = await self._db.execute(
            "SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = ? AND status = ?",
            (order_id, "succeeded"),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def undone_refunds(self, order_id: int) -> int:
        """What the order's failed and canceled refunds came to: money that went back to the
        shop's balance, which an older charge figure may still count as refunded."""
        cursor = await self._db.execute(
            "SELECT coalesce(sum(amount), 0) FROM refunds"
            " WHERE order_id = ? AND status IN ('failed', 'canceled')",
            (order_id,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def refund_status(self, refund_id: str) -> str | None:
        """The status last stored for a refund; None before any event about it."""
        cursor = await self._db.execute("SELECT status FROM refunds WHERE id = ?", (refund_id,))
        row = await cursor.fetchone()
        return str(row[0]) if row is not None else None

    async def tell_requester_once(self, refund_id: str, admin_id: int) -> bool:
        """Note that the admin who asked for a refund is being told of it; False if they were."""
        cursor = await self._db.execute(
            "UPDATE refunds SET requested_by = ?, requester_told = 1"
            " WHERE id = ? AND requester_told = 0",
            (admin_id, refund_id),
        )
        return cursor.rowcount == 1

    async def answer_refund_question(
        self, chat_id: int, message_id: int, *, confirmed: bool, admin_id: int
    ) -> bool:
        """Record the answer to a refund question; False when it was answered before."""
        cursor = await self._db.execute(
            "INSERT INTO refund_questions (chat_id, message_id, answer, answered_by, answered_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING",
            (chat_id, message_id, "confirmed" if confirmed else "cancelled", admin_id, _now()),
        )
        return cursor.rowcount == 1

    async def alerts_enabled(self, admin_id: int) -> bool:
        cursor = await self._db.execute(
            "SELECT 1 FROM admin_alerts WHERE admin_id = ? AND enabled = 1", (admin_id,)
        )
        return await cursor.fetchone() is not None

    async def insert_order(self, new: NewOrder) -> int:
        """Store a pending order; returns its id."""
        now = _now()
        cursor = await self._db.execute(
            "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, buyer_username,"
            " language, product_id, product_title, quantity, unit_amount, amount_total,"
            " currency, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.telegram_user_id,
                new.chat_id,
                new.buyer_name,
                new.buyer_username,
                new.language,
                new.product_id,
                new.product_title,
                new.quantity,
                new.unit_amount,
                new.amount_total,
                new.currency,
                OrderStatus.PENDING.value,
                now,
                now,
            ),
        )
        assert cursor.lastrowid is not None
        await self._record_status(cursor.lastrowid, OrderStatus.PENDING, now, "tap")
        return cursor.lastrowid

    async def advance(
        self, order: Order, target: OrderStatus, *, source: str, facts: OrderFacts | None = None
    ) -> bool:
        """Move `order` to `target` if the state diagram allows it from its stored status, and
        store the facts given with it.

        The status it moves from is checked in the UPDATE itself, so two fulfilments racing on
        the same order cannot both move it. `source` says what moved it, for the order's
        history. Returns whether this call moved it.
        """
        if not order.status.can_move_to(target):
            return False
        now = _now()
        fields: dict[str, object] = {"status": target.value, "updated_at": now}
        if target is OrderStatus.PAID:
            fields["paid_at"] = now
        if facts is not None:
            # Column names are OrderFacts' own fields, never a caller's words.
            given = ((name, getattr(facts, name)) for name in OrderFacts.__slots__)
            fields.update((name, value) for name, value in given if value is not None)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        cursor = await self._db.execute(
            f"UPDATE orders SET {assignments} WHERE id = ? AND status = ?",
            (*fields.values(), order.id, order.status.value),
        )
        if cursor.rowcount != 1:
            return False
        await self._record_status(order.id, target, now, source)
        return True

    async def set_checkout_session(self, order_id: int, session_id: str) -> None:
        """Store the Checkout Session Stripe made for the order, when the process stopped
        before it could."""
        await self._db.execute(
            "UPDATE orders SET checkout_session_id = ?, updated_at = ? WHERE id = ?",
            (session_id, _now(), order_id),
        )

    async def set_amount_refunded(self, order_id: int, amount: int) -> None:
        """Store the order's refunded total."""
        await self._db.execute(
            "UPDATE orders SET amount_refunded = ?, updated_at = ? WHERE id = ?",
            (amount, _now(), order_id),
        )

    async def flag_order(self, order_id: int, flag: str) -> None:
        """Say why the owner should look at the order (a refund that failed)."""
        await self._db.execute(
            "UPDATE orders SET flag = ?, updated_at = ? WHERE id = ?", (flag, _now(), order_id)
        )

    async def _record_status(
        self, order_id: int, status: OrderStatus, at: int, source: str
    ) -> None:
        await self._db.execute(
            "INSERT INTO order_history (order_id, status, at, source) VALUES (?, ?, ?, ?)",
            (order_id, status.value, at, source),
        )

    async def enqueue(
        self, chat_id: int, kind: MessageKind, order_id: int | None, detail: str | None = None
    ) -> None:
        """Queue a chat message; the outbox sender delivers it after the commit."""
        now = _now()
        await self._db.execute(
            "INSERT INTO outbox (chat_id, kind, order_id, detail, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chat_id, kind.value, order_id, detail, now, now),
        )

    async def enqueue_alerts(
        self,
        kind: MessageKind,
        order_id: int,
        admin_ids: Collection[int],
        detail: str | None = None,
    ) -> None:
        """Queue one message per admin who turned sale alerts on and is still an admin (an id
        taken out of ADMIN_IDS keeps its row, and must hear nothing more)."""
        now = _now()
        await self._db.execute(
            "INSERT INTO outbox (chat_id, kind, order_id, detail, created_at, next_attempt_at)"
            " SELECT admin_id, ?, ?, ?, ?, ? FROM admin_alerts WHERE enabled = 1"
            " AND admin_id IN (SELECT value FROM json_each(?)) ORDER BY admin_id",
            (kind.value, order_id, detail, now, now, json.dumps(sorted(admin_ids))),
        )


class _InlineCursor:
    """An aiosqlite-shaped cursor over a statement that already ran on the event loop."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def description(self) -> Any:
        return self._cursor.description

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class _InlineConnection:
    """The statements of a transaction block, run on the event loop thread, not aiosqlite's.

    Each hop to aiosqlite's worker thread costs more than the statement itself (a point query
    or insert takes microseconds), and a block's statements run one after another, so the hops
    are what limited the webhook's throughput. Inline statements are safe while the batch holds
    the storage's lock after BEGIN IMMEDIATE: nothing else uses the connection then, and SQLite
    has no lock left to wait for. BEGIN and COMMIT (which waits for the disk) stay on the worker
    thread. Keep statements in a transaction block to indexed lookups and single-row writes.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _InlineCursor:
        return _InlineCursor(self._connection.execute(sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _InlineCursor:
        return _InlineCursor(self._connection.executemany(sql, parameters))


class _Batch:
    """Transactions sharing one BEGIN…COMMIT; `committed` resolves when it is durable."""

    def __init__(self, committed: asyncio.Future[None]) -> None:
        self.committed = committed
        self.members = 0
        self.lost: StorageError | None = None


class SQLiteStorage:
    """Orders, Stripe event ids and the outbox in one SQLite file.

    aiosqlite runs statements on one worker thread. Every operation here holds one lock for
    its whole duration, so a transaction's statements never interleave with another's on the
    shared connection.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # Group commit: callers of transaction() take turns on the connection (`_turn`)
        # inside the open batch, which holds `_lock` from its BEGIN to its COMMIT.
        self._turn = asyncio.Lock()
        self._queued = 0
        self._batch: _Batch | None = None
        self._orphan: asyncio.Task[None] | None = None
        self._inline: _InlineConnection | None = None
        self.instance_id = ""
        # The owner's figures: queries of their own module, read through this store.
        self.reports = Reports(self._fetchall)

    async def open(self) -> None:
        """Open the file (creating it and its folder), apply pending migrations."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await self._connect()
            self._db.row_factory = sqlite3.Row
            # WAL lets readers work during a write; FULL syncs the log at every commit, so a
            # 200 answered to Stripe survives a power cut.
            await self._db.execute("PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = FULL")
            await self._db.execute("PRAGMA foreign_keys = ON")
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await apply_migrations(self._db)
            cursor = await self._db.execute("SELECT value FROM meta WHERE key = 'instance_id'")
            row = await cursor.fetchone()
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StorageError(f"cannot open the database {self._path}: {exc}") from exc
        assert row is not None
        self.instance_id = row["value"]

    async def close(self) -> None:
        if self._db is not None:
            db, self._db, self._inline = self._db, None, None
            await db.close()

    async def _connect(self) -> aiosqlite.Connection:
        """aiosqlite's connection, keeping its sqlite3 connection for inline statements."""

        def connect() -> sqlite3.Connection:
            # Used from the event loop too, but never at the same time: see _InlineConnection.
            raw = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._inline = _InlineConnection(raw)
            return raw

        return await aiosqlite.Connection(connect, iter_chunk_size=64)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _inline_connection(self) -> _InlineConnection:
        if self._inline is None:
            raise StorageError("the database is not open")
        return self._inline

    @property
    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("the database is not open")
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """All or nothing: commits when the block ends, rolls back when it raises.

        Transactions that arrive together share one BEGIN…COMMIT (group commit), so a burst
        of webhook events costs one fsync instead of one each. Each block runs in its own
        SAVEPOINT: a block that raises undoes only its own work. A caller returns only after
        the COMMIT that holds its work is durable, and raises StorageError if it failed.
        """
        batch = await self._join_batch()
        try:
            db = self._inline_connection
            try:
                await db.execute("SAVEPOINT member")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot start a transaction: {exc}") from exc
            try:
                yield Transaction(db)
            except sqlite3.Error as exc:
                await self._undo_member(batch)
                raise StorageError(str(exc)) from exc
            except BaseException:
                await self._undo_member(batch)
                raise
            try:
                await db.execute("RELEASE member")
            except sqlite3.Error as exc:
                await self._undo_member(batch)
                raise StorageError(str(exc)) from exc
        finally:
            await self._leave_batch(batch)
        await asyncio.shield(batch.committed)

    async def _join_batch(self) -> _Batch:
        """Wait for this caller's turn on the connection, in the open batch or a new one."""
        self._queued += 1
        try:
            await self._turn.acquire()
        except BaseException:
            self._queued -= 1
            if self._batch is not None and not self._queued and not self._turn.locked():
                # The last member handed this batch to us; with no one left to finish it,
                # a task does, or its members would wait for ever.
                self._orphan = asyncio.create_task(self._finish_orphan(self._batch))
            raise
        self._queued -= 1
        try:
            if self._batch is None:
                self._batch = await self._open_batch()
        except BaseException:
            self._turn.release()
            raise
        self._batch.members += 1
        return self._batch

    async def _open_batch(self) -> _Batch:
        await self._lock.acquire()  # other operations wait until the batch is committed
        try:
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise StorageError(f"cannot start a transaction: {exc}") from exc
        except BaseException:
            self._lock.release()
            raise
        return _Batch(asyncio.get_running_loop().create_future())

    async def _undo_member(self, batch: _Batch) -> None:
        """Roll back one member's work; if SQLite already rolled back everything, say so."""
        db = self._inline_connection
        try:
            await db.execute("ROLLBACK TO member")
            await db.execute("RELEASE member")
        except sqlite3.Error as exc:
            batch.lost = StorageError(f"the transaction was rolled back: {exc}")
        if not db.in_transaction:
            batch.lost = batch.lost or StorageError("the transaction was rolled back")

    async def _leave_batch(self, batch: _Batch) -> None:
        """Hand the turn to the next caller in the batch, or commit the batch if none waits."""
        if self._queued and batch.members < _MAX_BATCH and batch.lost is None:
            self._turn.release()
            return
        self._batch = None
        # Shielded: a cancelled caller must not leave the batch half finished.
        await asyncio.shield(self._finish(batch))

    async def _finish_orphan(self, batch: _Batch) -> None:
        await self._turn.acquire()
        if self._batch is batch:
            self._batch = None
            await self._finish(batch)
        else:
            self._turn.release()

    async def _finish(self, batch: _Batch) -> None:
        """Commit (or, when lost, roll back) the batch, tell its members, free the connection."""
        try:
            db = self._connection
            if batch.lost is None:
                try:
                    await db.commit()
                except sqlite3.Error as exc:
                    batch.lost = StorageError(f"cannot commit: {exc}")
            if batch.lost is not None and db.in_transaction:
                try:
                    await db.rollback()
                except sqlite3.Error:
                    log.exception("could not roll back a failed transaction")
        finally:
            if batch.lost is None:
                batch.committed.set_result(None)
            else:
                batch.committed.set_exception(batch.lost)
                batch.committed.exception()  # members who raised themselves never look
            self._lock.release()
            self._turn.release()

    async def _execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        """One write, committed together with the transactions open beside it (group commit)."""
        async with self.transaction() as tx:
            await tx.write(sql, parameters)

    async def _fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            try:
                cursor = await self._connection.execute(sql, parameters)
                return list(await cursor.fetchall())
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc

    async def ping(self) -> None:
        """Raise StorageError unless the database answers a query."""
        await self._fetchall("SELECT 1")

    # Orders

    async def get_order(self, order_id: int) -> Order | None:
        return await self._one_order("id = ?", (order_id,))

    async def _one_order(self, where: str, parameters: Sequence[Any]) -> Order | None:
        async with self._lock:
            try:
                return await _fetch_order(self._connection, where, parameters)
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc

    async def attach_checkout(
        self, order_id: int, session_id: str, url: str, expires_at: int
    ) -> None:
        """Remember the Checkout Session made for a pending order."""
        await self._execute(
            "UPDATE orders SET checkout_session_id = ?, checkout_url = ?,"
            " checkout_expires_at = ?, updated_at = ? WHERE id = ?",
            (session_id, url, expires_at, _now(), order_id),
        )

    async def open_link_for(
        self, telegram_user_id: int, product_id: str, valid_after: int
    ) -> Order | None:
        """The buyer's newest pending order for a product whose link is still valid then."""
        return await self._one_order(
            "telegram_user_id = ? AND product_id = ? AND status = ? AND checkout_url"
            " IS NOT NULL AND checkout_expires_at > ? ORDER BY id DESC LIMIT 1",
            (telegram_user_id, product_id, OrderStatus.PENDING.value, valid_after),
        )

    async def set_pay_message(self, order_id: int, message_id: int) -> None:
        """Remember the chat message holding the order's pay button (edited when it expires)."""
        await self._execute(
            "UPDATE orders SET pay_message_id = ?, updated_at = ? WHERE id = ?",
            (message_id, _now(), order_id),
        )

    async def fail_order(self, order: Order, reason: str) -> bool:
        """Mark an order failed (no payment link could be made for it)."""
        async with self.transaction() as tx:
            return await tx.advance(
                order,
                OrderStatus.FAILED,
                source="no checkout session",
                facts=OrderFacts(failure_reason=reason),
            )

    async def waiting_orders(self, updated_before: int, limit: int) -> list[Order]:
        """Pending and processing orders with a session, untouched after `updated_before`."""
        rows = await self._fetchall(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status IN (?, ?)"
            " AND checkout_session_id IS NOT NULL AND updated_at <= ? ORDER BY id LIMIT ?",
            (OrderStatus.PENDING.value, OrderStatus.PROCESSING.value, updated_before, limit),
        )
        return [order_from(row) for row in rows]

    async def fail_orphans(self, created_before: int) -> int:
        """Fail pending orders that never got a Checkout Session and now never can."""
        rows = await self._fetchall(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE status = ?"
            " AND checkout_session_id IS NULL AND created_at < ?",
            (OrderStatus.PENDING.value, created_before),
        )
        failed = 0
        for order in map(order_from, rows):
            failed += await self.fail_order(order, "no checkout session was made")
        return failed

    async def orders_of_buyer(self, telegram_user_id: int, limit: int) -> list[Order]:
        """The buyer's latest orders, newest first."""
        rows = await self._fetchall(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE telegram_user_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (telegram_user_id, limit),
        )
        return [order_from(row) for row in rows]

    async def refunds_asked(self, order_id: int) -> int:
        """The refunds of an order Stripe made or is making (failed and canceled ones aside)."""
        rows = await self._fetchall(
            "SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = ?"
            " AND status NOT IN ('failed', 'canceled')",
            (order_id,),
        )
        return int(rows[0][0])

    async def answer_refund_question(
        self, chat_id: int, message_id: int, *, confirmed: bool, admin_id: int
    ) -> bool:
        """Record the first answer to the refund question in message `message_id` of the chat;
        False when it was answered before (a stale button on a second device, a Cancel after a
        Confirm), durably: a restart does not open it again."""
        async with self.transaction() as tx:
            return await tx.answer_refund_question(
                chat_id, message_id, confirmed=confirmed, admin_id=admin_id
            )

    async def history_of(self, order_id: int) -> list[StatusChange]:
        """The statuses an order took, oldest first."""
        rows = await self._fetchall(
            "SELECT status, at, source FROM order_history WHERE order_id = ? ORDER BY id",
            (order_id,),
        )
        return [StatusChange(OrderStatus(row["status"]), row["at"], row["source"]) for row in rows]

    # Admins

    async def set_alerts(self, admin_id: int, enabled: bool) -> None:
        """Remember whether an admin wants a message on every sale, refund and failure."""
        await self._execute(
            "INSERT INTO admin_alerts (admin_id, enabled, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (admin_id) DO UPDATE SET enabled = excluded.enabled,"
            " updated_at = excluded.updated_at",
            (admin_id, int(enabled), _now()),
        )

    async def alerts_enabled(self, admin_id: int) -> bool:
        rows = await self._fetchall(
            "SELECT enabled FROM admin_alerts WHERE admin_id = ?", (admin_id,)
        )
        return bool(rows and rows[0]["enabled"])

    # The outbox

    async def due_messages(
        self,
        now: float,
        limit: int,
        *,
        skip_ids: Collection[int] = (),
        skip_chats: Collection[int] = (),
    ) -> list[OutboxMessage]:
        """Unsent messages due by `now`, oldest first, leaving out the ids and chats the sender
        is already busy with."""
        rows = await self._fetchall(
            "SELECT id, chat_id, kind, order_id, attempts, detail FROM outbox"
            f" WHERE {_UNSENT_AND_NOT_SKIPPED} AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (json.dumps(list(skip_ids)), json.dumps(list(skip_chats)), now, limit),
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
        self, *, skip_ids: Collection[int] = (), skip_chats: Collection[int] = ()
    ) -> float | None:
        """When the earliest unsent message is due, leaving out the ids and chats skipped;
        None when there is none."""
        rows = await self._fetchall(
            f"SELECT min(next_attempt_at) FROM outbox WHERE {_UNSENT_AND_NOT_SKIPPED}",
            (json.dumps(list(skip_ids)), json.dumps(list(skip_chats))),
        )
        value = rows[0][0]
        return float(value) if value is not None else None

    async def mark_sent(self, message_ids: Iterable[int]) -> None:
        ids = list(message_ids)
        if ids:
            await self._execute(
                f"UPDATE outbox SET sent_at = ?, attempts = attempts + 1"
                f" WHERE id IN ({', '.join('?' for _ in ids)})",
                (_now(), *ids),
            )

    async def retry_later(self, message_id: int, at: float, error: str) -> None:
        await self._execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
            " WHERE id = ?",
            (at, error, message_id),
        )

    async def give_up(self, message_id: int, error: str) -> None:
        """Stop trying to send a message that can never be delivered (the buyer blocked us)."""
        await self._execute(
            "UPDATE outbox SET attempts = attempts + 1, given_up_at = ?, last_error = ?"
            " WHERE id = ?",
            (_now(), error, message_id),
        )

    # Admin console

    async def set_admin_language(self, admin_id: int, language: str | None) -> None:
        """Remember the language an admin's alerts are written for (after set_alerts)."""
        await self._execute(
            "UPDATE admin_alerts SET language = ? WHERE admin_id = ?", (language, admin_id)
        )

    async def admin_menu_chats(self) -> set[int]:
        """The chats last given the admins' command menu."""
        return {row[0] for row in await self._fetchall("SELECT chat_id FROM admin_menus")}

    async def set_admin_menu(self, chat_id: int, shown: bool) -> None:
        if shown:
            sql = "INSERT INTO admin_menus (chat_id) VALUES (?) ON CONFLICT DO NOTHING"
        else:
            sql = "DELETE FROM admin_menus WHERE chat_id = ?"
        await self._execute(sql, (chat_id,))

    async def admin_language(self, admin_id: int) -> str | None:
        rows = await self._fetchall(
            "SELECT language FROM admin_alerts WHERE admin_id = ?", (admin_id,)
        )
        return rows[0]["language"] if rows else None

    # Storefront

    async def record_stock_levels(self, levels: Mapping[str, int]) -> None:
        """Remember the catalog's `stock` numbers (at start-up and on each reload): a changed
        number is what the owner has now; a product without one is unlimited."""
        async with self.transaction():
            db = self._connection
            await db.execute(
                "DELETE FROM stock_levels WHERE product_id NOT IN (SELECT value FROM json_each(?))",
                (json.dumps(list(levels)),),
            )
            await record_levels(db, levels, replace=True)

    async def stock_left(
        self, product_ids: Iterable[str], *, replacing: int | None = None
    ) -> dict[str, int]:
        """Units left of each product that has a recorded stock (others are unlimited), not
        counting the order `replacing` names (the buyer's own open link, about to be replaced)."""
        async with self._lock:
            try:
                return await units_left(self._connection, list(product_ids), replacing)
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc

    async def create_order_within_stock(
        self, new: NewOrder, stock: int | None, *, replacing: int | None = None
    ) -> Order | None:
        """Store a pending order unless fewer than its quantity are left; None if so.

        Counting and inserting happen in one IMMEDIATE transaction, so two buyers racing for
        the last unit cannot both get it. `stock` is the catalog's number (None: unlimited);
        `replacing` is the buyer's open order this one replaces, whose units are not counted.
        """
        async with self.transaction() as tx:
            if stock is not None:
                db = self._connection
                # Only start-up and reloads change a recorded number: a tap still holding the
                # catalog from before a reload must not write its old number back.
                await record_levels(db, {new.product_id: stock}, replace=False)
                left = (await units_left(db, [new.product_id], replacing))[new.product_id]
                if left < new.quantity:
                    return None
            order = await tx.get_order(await tx.insert_order(new))
        assert order is not None
        return order

    async def buyer_language(self, telegram_user_id: int) -> str | None:
        """The language a buyer picked with /language, if they did."""
        rows = await self._fetchall(
            "SELECT language FROM buyer_languages WHERE telegram_user_id = ?",
            (telegram_user_id,),
        )
        return str(rows[0]["language"]) if rows else None

    async def set_buyer_language(self, telegram_user_id: int, language: str) -> None:
        await self._execute(
            "INSERT INTO buyer_languages (telegram_user_id, language, updated_at)"
            " VALUES (?, ?, ?) ON CONFLICT (telegram_user_id) DO UPDATE SET"
            " language = excluded.language, updated_at = excluded.updated_at",
            (telegram_user_id, language, _now()),
        )


class _Statements(Protocol):
    """What reading an order needs: aiosqlite's connection, or a transaction's inline one."""

    async def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...


async def _fetch_order(db: _Statements, where: str, parameters: Sequence[Any]) -> Order | None:
    cursor = await db.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where}", parameters)
    row = await cursor.fetchone()
    return order_from(row) if row is not None else None
