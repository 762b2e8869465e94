"""The SQLite file itself: its connection, PRAGMAs and migrations, reads under a lock, and
transactions that share one COMMIT (group commit), through aiosqlite."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

import aiosqlite

from storage.protocol import StorageError
from storage.sqlite.migrate import apply_migrations
from storage.sqlite.statements import Changed, Parameters, Reads, Writes

log = logging.getLogger(__name__)
V = TypeVar("V")

# At most this many transactions share one COMMIT, so that a steady stream of callers never
# keeps the first of them waiting.
_MAX_BATCH = 256


class _OffLoop:
    """A transaction's reads on aiosqlite's worker thread, inside the batch the caller is in."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def rows(self, sql: str, parameters: Parameters = ()) -> list[sqlite3.Row]:
        return list(await self._connection.execute_fetchall(sql, parameters))


class _Inline:
    """The statements of a transaction block, run on the event loop thread, not aiosqlite's.

    Each hop to aiosqlite's worker thread costs more than the statement itself (a point query
    or insert takes microseconds), and a block's statements run one after another, so the hops
    are what limited the webhook's throughput. Inline statements are safe while the batch holds
    the storage's lock after BEGIN IMMEDIATE: nothing else uses the connection then, and SQLite
    has no lock left to wait for. BEGIN and COMMIT (which waits for the disk) stay on the worker
    thread. Keep statements in a transaction block to indexed lookups and single-row writes;
    a query that reads many rows goes `off_loop`.
    """

    def __init__(self, connection: sqlite3.Connection, off_loop: Reads) -> None:
        self.connection = connection
        self.off_loop = off_loop
        # One cursor for every statement (the engine's too, for the savepoint around each
        # block): connection.execute() makes and drops a cursor per statement. What execute()
        # returns is read at once (rowcount, lastrowid), before the next statement.
        self.cursor = connection.cursor()
        self.cursor.row_factory = sqlite3.Row  # made before the connection's was set

    async def rows(self, sql: str, parameters: Parameters = ()) -> list[sqlite3.Row]:
        return self.cursor.execute(sql, parameters).fetchall()

    async def execute(self, sql: str, parameters: Parameters = ()) -> Changed:
        return self.cursor.execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Parameters]) -> None:
        self.connection.executemany(sql, parameters)


class _Batch:
    """Transactions sharing one BEGIN…COMMIT. Each member that waits for the COMMIT has a
    future of its own in `waiting` (a cancelled member cancels only its own: what
    asyncio.shield around one shared future did, with fewer objects and callbacks)."""

    def __init__(self) -> None:
        self.members = 0
        self.lost: StorageError | None = None
        self.finished = False
        self.waiting: list[asyncio.Future[None]] = []

    async def committed(self) -> None:
        """Return once the batch is durable; raise StorageError if it was not committed."""
        if not self.finished:
            waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(waiter)
            await waiter
        elif self.lost is not None:
            raise self.lost

    def finish(self) -> None:
        """Tell the members waiting what came of the batch."""
        self.finished = True
        for waiter in self.waiting:
            if waiter.done():  # its member was cancelled
                continue
            if self.lost is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(self.lost)


def _itself(inline: _Inline) -> _Inline:
    return inline


class _Member(Generic[V]):
    """One transaction() block in its batch, which the block sees through `view` (the store's
    Transaction, or the statements themselves). A class rather than @asynccontextmanager: the
    generator's machinery (and the StopAsyncIteration that ends it) was a few percent of a
    webhook event's CPU, run twice per event with the store's own wrapper."""

    __slots__ = ("_batch", "_engine", "_view")

    def __init__(self, engine: Engine, view: Callable[[_Inline], V]) -> None:
        self._engine = engine
        self._view = view
        self._batch: _Batch | None = None

    async def __aenter__(self) -> V:
        engine = self._engine
        batch = self._batch = await engine._join_batch()
        try:
            inline = engine._inline_statements
            inline.cursor.execute("SAVEPOINT member")
        except BaseException as exc:
            await engine._leave_batch(batch)
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot start a transaction: {exc}") from exc
            raise
        return self._view(inline)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        engine, batch = self._engine, self._batch
        assert batch is not None
        try:
            if exc is not None:
                engine._undo_member(batch)
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(str(exc)) from exc
                return
            try:
                engine._inline_statements.cursor.execute("RELEASE member")
            except sqlite3.Error as error:
                engine._undo_member(batch)
                raise StorageError(str(error)) from error
        finally:
            await engine._leave_batch(batch)
        await batch.committed()


class Engine:
    """One SQLite file behind one connection.

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
        self._inline: _Inline | None = None
        self.instance_id = ""

    async def open(self) -> None:
        """Open the file (creating it and its folder), apply pending migrations."""
        try:
            _create_private(self._path)
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
        opened: list[sqlite3.Connection] = []

        def connect() -> sqlite3.Connection:
            # Used from the event loop too, but never at the same time: see _Inline.
            opened.append(
                sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            )
            return opened[0]

        db = await aiosqlite.Connection(connect, iter_chunk_size=64)
        self._inline = _Inline(opened[0], _OffLoop(db))
        return db

    @property
    def _inline_statements(self) -> _Inline:
        if self._inline is None:
            raise StorageError("the database is not open")
        return self._inline

    @property
    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("the database is not open")
        return self._db

    async def rows(self, sql: str, parameters: Parameters = ()) -> list[sqlite3.Row]:
        """A read outside any transaction: alone under the lock, on aiosqlite's worker thread."""
        async with self._lock:
            try:
                return list(await self._connection.execute_fetchall(sql, parameters))
            except sqlite3.Error as exc:
                raise StorageError(str(exc)) from exc

    async def ping(self) -> None:
        """Raise StorageError unless the database answers a query."""
        await self.rows("SELECT 1")

    def transaction(self) -> _Member[_Inline]:
        """All or nothing: commits when the block ends, rolls back when it raises.

        Transactions that arrive together share one BEGIN…COMMIT (group commit), so a burst
        of webhook events costs one fsync instead of one each. Each block runs in its own
        SAVEPOINT: a block that raises undoes only its own work. A caller returns only after
        the COMMIT that holds its work is durable, and raises StorageError if it failed.
        """
        return _Member(self, _itself)

    def transaction_as(self, view: Callable[[Writes], V]) -> _Member[V]:
        """transaction(), its block seeing the statements through `view`."""
        return _Member(self, view)

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
        return _Batch()

    def _undo_member(self, batch: _Batch) -> None:
        """Roll back one member's work; if SQLite already rolled back everything, say so."""
        db = self._inline_statements.connection
        try:
            db.execute("ROLLBACK TO member")
            db.execute("RELEASE member")
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
            batch.finish()
            self._lock.release()
            self._turn.release()


# Buyers' names and payment ids are in the file: only the bot's own user may read it. SQLite
# gives its -wal and -shm files the database file's permissions.
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def _create_private(path: Path) -> None:
    """Create the database's folder (0700) and file (0600) if they are missing. A folder that
    exists is left as its owner set it (a volume, a home folder)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=FOLDER_MODE)
        path.parent.chmod(FOLDER_MODE)  # mkdir's mode is filtered by the umask
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
