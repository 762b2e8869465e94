"""The PostgreSQL database itself: its connection pool, migrations, reads on any pooled
connection, and transactions on a connection of their own, through asyncpg.

Durability: a transaction block returns only after PostgreSQL answered its COMMIT, and the pool's
sessions run with `synchronous_commit = on` whatever the server's default, so that answer comes
after the WAL record is flushed. Group commit is the server's: commits of concurrent
transactions on different connections share WAL flushes (PostgreSQL's own group commit), so the
engine does not batch them itself the way the SQLite engine must.

A write of one statement needs no BEGIN and COMMIT of its own (`Engine.single`): PostgreSQL
runs a statement sent alone as a transaction of its own, committed (and flushed) before it
answers, which saves two of its three round trips.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from storage.models import Change
from storage.postgres.changes import Changes
from storage.postgres.migrate import apply_migrations
from storage.postgres.statements import Record
from storage.protocol import StorageError

log = logging.getLogger(__name__)

# Connections the pool keeps at most: each transaction block holds one until its COMMIT.
POOL_SIZE = 10
# How long opening a connection of its own (an advisory turn) may take.
CONNECT_SECONDS = 10.0
# What asyncpg and the server raise for a failed statement or a lost connection.
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _rowcount(status: str) -> int:
    """The row count at the end of asyncpg's command tag ("UPDATE 1", "INSERT 0 1")."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdecimal() else 0


async def _reset(connection: asyncpg.Connection) -> None:
    """Make a connection given back to the pool fit for the next user, without a round trip.

    asyncpg's own reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a round trip per transaction and per read, for state this code never
    leaves on a pooled connection (its session locks and LISTEN have connections of their
    own; it opens no cursor and sets nothing outside a transaction). A transaction left open
    (a rollback that failed) is still ended."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class _Connection:
    """A transaction's statements on its one connection, errors turned into StorageError."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        # Told to the other replicas once the transaction has committed.
        self.announced: set[Change] = set()

    def announce(self, change: Change) -> None:
        self.announced.add(change)

    async def rows(self, sql: str, *parameters: Any) -> list[Record]:
        try:
            return list(await self.connection.fetch(sql, *parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc

    async def execute(self, sql: str, *parameters: Any) -> int:
        try:
            return _rowcount(await self.connection.execute(sql, *parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        try:
            await self.connection.executemany(sql, list(parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc


class _Single:
    """A write of one statement on whichever pooled connection is free, outside BEGIN…COMMIT:
    PostgreSQL commits it before it answers. A second statement would not be in the same
    transaction, so it is refused (a query function changed without its caller)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._ran = False
        self.announced: set[Change] = set()

    def announce(self, change: Change) -> None:
        self.announced.add(change)

    def _once(self) -> None:
        if self._ran:
            raise RuntimeError("a write run with Engine.single ran a second statement")
        self._ran = True

    async def rows(self, sql: str, *parameters: Any) -> list[Record]:
        self._once()
        try:
            return list(await self._pool.fetch(sql, *parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc

    async def execute(self, sql: str, *parameters: Any) -> int:
        self._once()
        try:
            return _rowcount(await self._pool.execute(sql, *parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        raise RuntimeError("executemany runs several statements: use a transaction")


class Engine:
    """One PostgreSQL database behind a pool of asyncpg connections."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self.instance_id = ""
        self.changes = Changes(url)

    async def open(self) -> None:
        """Open the pool and apply pending migrations (under an advisory lock)."""
        self.changes = Changes(self._url)
        try:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._pool_size,
                server_settings={"synchronous_commit": "on", "application_name": "checkout-bot"},
                reset=_reset,
            )
            async with self._pool.acquire() as connection:
                await apply_migrations(connection)
                instance_id = await connection.fetchval(
                    "SELECT value FROM meta WHERE key = 'instance_id'"
                )
        except (*DATABASE_ERRORS, ValueError) as exc:
            # ValueError: asyncpg's word for a URL it cannot parse.
            await self.close()
            where = _without_password(self._url)
            raise StorageError(f"cannot open the database {where}: {exc}") from exc
        self.instance_id = str(instance_id)

    async def close(self) -> None:
        await self.changes.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await pool.close()
            except DATABASE_ERRORS:
                log.exception("could not close the database's connections cleanly")

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageError("the database is not open")
        return self._pool

    @asynccontextmanager
    async def advisory_turn(self, name: str) -> AsyncIterator[bool]:
        """Whether this replica holds the advisory lock named `name` while the block runs.

        The lock is taken on a connection of its own, outside the pool, and held by its
        session: when the replica dies its connection closes and the lock goes with it."""
        try:
            connection = await asyncpg.connect(self._url, timeout=CONNECT_SECONDS)
        except (*DATABASE_ERRORS, TimeoutError) as exc:
            raise StorageError(f"cannot take the turn at {name}: {exc}") from exc
        try:
            key = "checkout-bot:" + name
            try:
                mine = await connection.fetchval(
                    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key
                )
            except DATABASE_ERRORS as exc:
                raise StorageError(f"cannot take the turn at {name}: {exc}") from exc
            yield bool(mine)
        finally:
            # Closing the session releases its advisory locks.
            try:
                await connection.close(timeout=CONNECT_SECONDS)
            except (*DATABASE_ERRORS, TimeoutError):
                connection.terminate()

    async def rows(self, sql: str, *parameters: Any) -> list[Record]:
        """A read outside any transaction, on whichever pooled connection is free."""
        try:
            return list(await self.pool.fetch(sql, *parameters))
        except DATABASE_ERRORS as exc:
            raise StorageError(str(exc)) from exc

    async def ping(self) -> None:
        """Raise StorageError unless the database answers a query."""
        await self.rows("SELECT 1")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Connection]:
        """All or nothing on one connection: COMMIT when the block ends (and the block returns
        only once the COMMIT did), ROLLBACK when it raises."""
        try:
            connection = await self.pool.acquire()
        except DATABASE_ERRORS as exc:
            raise StorageError(f"cannot start a transaction: {exc}") from exc
        try:
            transaction = connection.transaction()
            try:
                await transaction.start()
            except DATABASE_ERRORS as exc:
                raise StorageError(f"cannot start a transaction: {exc}") from exc
            statements = _Connection(connection)
            try:
                yield statements
            except BaseException:
                await self._roll_back(transaction)
                raise
            try:
                await transaction.commit()
            except DATABASE_ERRORS as exc:
                await self._roll_back(transaction)
                raise StorageError(f"cannot commit: {exc}") from exc
        finally:
            await self.pool.release(connection)
        self._announce(statements.announced)

    @asynccontextmanager
    async def single(self) -> AsyncIterator[_Single]:
        """A write of one statement, committed by PostgreSQL as it answers."""
        write = _Single(self.pool)
        yield write
        self._announce(write.announced)

    def _announce(self, changes: set[Change]) -> None:
        for change in changes:
            self.changes.announce(change)

    @staticmethod
    async def _roll_back(transaction: asyncpg.transaction.Transaction) -> None:
        try:
            await transaction.rollback()
        except DATABASE_ERRORS:
            # The connection is broken; the server rolls back what it held when it goes.
            log.warning("could not roll back a failed transaction", exc_info=True)


def _without_password(url: str) -> str:
    """The URL as a log line may show it: user and host, never the password."""
    scheme, separator, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}{separator}{credentials.partition(':')[0]}@{place}"
