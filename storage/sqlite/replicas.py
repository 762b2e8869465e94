"""What several processes on one database decide in it: the catalog's version and each buyer's
recent taps. SQLite has one process, but the rules are PostgreSQL's, so that the tests of one
hold for the other; the turn at a product needs no row here (storage/sqlite/store.py)."""

from __future__ import annotations

from storage.pacing import admit
from storage.sqlite.statements import Reads, Writes


async def catalog_version(db: Reads) -> int:
    rows = await db.rows("SELECT version FROM catalog_version WHERE id = 1")
    return int(rows[0][0])


async def bump_catalog_version(db: Writes) -> int:
    await db.execute("UPDATE catalog_version SET version = version + 1 WHERE id = 1")
    return await catalog_version(db)


async def pace_tap(
    db: Writes, telegram_user_id: int, now: float, window: float, limit: int
) -> float:
    """0 when the buyer's tap may go ahead (and it is counted), else the seconds to wait."""
    rows = await db.rows(
        "SELECT taps FROM buyer_taps WHERE telegram_user_id = ?", (telegram_user_id,)
    )
    taps, wait = admit(rows[0][0] if rows else None, now, window, limit)
    if taps is not None:
        await db.execute(
            "INSERT INTO buyer_taps (telegram_user_id, taps) VALUES (?, ?)"
            " ON CONFLICT (telegram_user_id) DO UPDATE SET taps = excluded.taps",
            (telegram_user_id, taps),
        )
    return wait
