"""Which backend a DATABASE_URL names, and the store it opens: sqlite:///PATH (the default) or
postgresql://… (postgres:// too, as hosting platforms write it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from storage.postgres import PostgresStorage
from storage.postgres.engine import POOL_SIZE
from storage.protocol import Storage
from storage.sqlite import SQLiteStorage

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_PREFIXES)


def sqlite_path(url: str) -> Path | None:
    """The file a sqlite:/// URL names; None for any other URL."""
    if url.startswith(SQLITE_PREFIX) and url != SQLITE_PREFIX:
        return Path(url.removeprefix(SQLITE_PREFIX))
    return None


def url_problem(url: str) -> str | None:
    """Why the URL names no store this bot can open; None when it does."""
    if sqlite_path(url) is not None:
        return None
    if is_postgres(url) and url.partition("://")[2].strip("/"):
        return None
    return "expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def open_storage(
    url: str, *, pool_size: int = POOL_SIZE, clock: Callable[[], float] = time.time
) -> Storage:
    """The store the URL names, not opened yet (its open() connects and migrates);
    `pool_size`: PostgreSQL's most connections; `clock`: Unix seconds, read for whether an
    order still holds its units."""
    path = sqlite_path(url)
    if path is not None:
        return SQLiteStorage(path, clock=clock)
    if is_postgres(url):
        return PostgresStorage(url, pool_size=pool_size, clock=clock)
    raise ValueError(url_problem(url))
