"""What the query modules run their SQL on: reads anywhere, writes inside a transaction only.

The engine provides both: its own reads (each statement alone, outside any transaction) and a
transaction's connection. A function that writes asks for `Writes`, so that no write can run
outside the group commit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

Parameters = Sequence[Any] | Mapping[str, Any]


class Reads(Protocol):
    """Where queries run: the engine's reads, or a transaction's connection."""

    async def rows(self, sql: str, parameters: Parameters = ()) -> list[sqlite3.Row]:
        """Every row of a query."""
        ...


class Changed(Protocol):
    """What a write did."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...


class Writes(Reads, Protocol):
    """A transaction's connection: its statements commit or roll back together."""

    async def execute(self, sql: str, parameters: Parameters = ()) -> Changed: ...

    async def executemany(self, sql: str, parameters: Iterable[Parameters]) -> None: ...

    @property
    def off_loop(self) -> Reads:
        """The same transaction, for a query that reads many rows (a count over a product's
        orders): it runs on aiosqlite's worker thread, and the event loop goes on meanwhile."""
        ...


def now() -> int:
    """The time rows are stamped with: whole seconds of the Unix clock."""
    return int(time.time())
