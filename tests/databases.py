"""The two backends for the tests: a scratch PostgreSQL database of its own for each test (on
127.0.0.1:5432, user postgres, trust auth), created and dropped here, and reading what a
database holds through another connection, whichever backend it is."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from storage import Storage, is_postgres, open_storage, sqlite_path
from storage.postgres.migrate import available_migrations as postgres_migrations
from storage.sqlite.migrate import available_migrations as sqlite_migrations
from tests.helpers import write_directly

SERVER = "postgresql://postgres@127.0.0.1:5432"
# Where CREATE DATABASE and DROP DATABASE are sent from: the machine's own test database.
MAINTENANCE = f"{SERVER}/test"


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A new, empty database with a unique name (xdist's workers run side by side), dropped
    after the test with whatever connections are left to it; skips without PostgreSQL."""
    try:
        admin = await asyncpg.connect(MAINTENANCE, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is not reachable at {MAINTENANCE} ({exc}): .ci/run starts it")
    name = f"checkout_test_{uuid.uuid4().hex}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{SERVER}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def replicas_on(url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two stores open on one database, as two replicas (processes) on it have."""
    first, second = open_storage(url), open_storage(url)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()


async def fetch(url: str, sql: str, *parameters: Any) -> list[dict[str, Any]]:
    """The rows of a query, read through a connection of its own (what was committed). The
    SQL is written once for both: $1, $2… for PostgreSQL become ? for SQLite."""
    if is_postgres(url):
        connection = await asyncpg.connect(url)
        try:
            return [dict(row) for row in await connection.fetch(sql, *parameters)]
        finally:
            await connection.close()
    path = sqlite_path(url)
    assert path is not None
    for index in range(len(parameters), 0, -1):
        sql = sql.replace(f"${index}", "?")
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, parameters)]


async def execute(url: str, sql: str) -> None:
    """Run one statement through a connection of its own (a test breaking the schema)."""
    if is_postgres(url):
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()
        return
    path = sqlite_path(url)
    assert path is not None
    await write_directly(path, sql)


@asynccontextmanager
async def opened_storage(url: str) -> AsyncIterator[Storage]:
    """The store at `url`, opened (and migrated) for the block, closed after it."""
    storage = open_storage(url)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def write_schema_up_to(url: str, last: int, statements: Sequence[str] = ()) -> None:
    """The database as the migrations up to `last` left it, then `statements` run on it, as a
    shop running that version wrote them: for the tests of a later migration on data."""
    if is_postgres(url):
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            )
            for migration in postgres_migrations():
                if migration.version <= last:
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations VALUES ($1, $2, 0)",
                        migration.version,
                        migration.name,
                    )
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()
        return
    path = sqlite_path(url)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
        for migration in sqlite_migrations():
            if migration.version <= last:
                db.executescript(migration.sql)
                with db:
                    db.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, 0)",
                        (migration.version, migration.name),
                    )
        with db:
            for statement in statements:
                db.execute(statement)
    finally:
        db.close()
