"""What the query modules run their SQL on: reads anywhere, writes inside a transaction only.

The engine provides both: its own reads (each statement on a pooled connection, outside any
transaction) and a transaction's connection. A function that writes asks for `Writes`, so that
no write can run outside a transaction. Parameters are asyncpg's: $1, $2, … in the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from asyncpg import Record

from storage.models import Change
from storage.sqlite.statements import now

__all__ = ["Reads", "Record", "Writes", "now"]


class Reads(Protocol):
    """Where queries run: the engine's reads, or a transaction's connection."""

    async def rows(self, sql: str, *parameters: Any) -> list[Record]:
        """Every row of a query."""
        ...


class Writes(Reads, Protocol):
    """A transaction's connection: its statements commit or roll back together."""

    async def execute(self, sql: str, *parameters: Any) -> int:
        """Run one statement; how many rows it inserted, updated or deleted."""
        ...

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None: ...

    def announce(self, change: Change) -> None:
        """Tell the other processes on the database of `change` once this has committed."""
        ...
