"""The guardian's memory: the lasting conditions it told the admins of, and when."""

from __future__ import annotations

from collections.abc import Mapping

from storage.sqlite.statements import Reads, Writes


async def told(db: Reads) -> dict[str, float]:
    """Each condition told and not yet over: when it was last told (Unix seconds)."""
    rows = await db.rows("SELECT condition, told_at FROM guardian_told", ())
    return {str(row[0]): float(row[1]) for row in rows}


async def remember(db: Writes, conditions: Mapping[str, float]) -> None:
    """Replace the memory with `conditions`, all at once."""
    await db.execute("DELETE FROM guardian_told", ())
    await db.executemany(
        "INSERT INTO guardian_told (condition, told_at) VALUES (?, ?)", list(conditions.items())
    )
