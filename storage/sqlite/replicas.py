"""What several processes on one database decide in it: the catalog's version. SQLite has one
process, but the rule is PostgreSQL's, so that the tests of one hold for the other; the turn at
a product and the buyers' taps need no row here (storage/sqlite/store.py)."""

from __future__ import annotations

from storage.sqlite.statements import Reads, Writes


async def catalog_version(db: Reads) -> int:
    rows = await db.rows("SELECT version FROM catalog_version WHERE id = 1")
    return int(rows[0][0])


async def bump_catalog_version(db: Writes) -> int:
    await db.execute("UPDATE catalog_version SET version = version + 1 WHERE id = 1")
    return await catalog_version(db)
