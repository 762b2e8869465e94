"""Numbered schema migrations for PostgreSQL: `migrations/NNNN_name.sql`, each applied once, in
order, under an advisory lock so that replicas starting together migrate once.

The numbers follow SQLite's (storage/sqlite/migrations/): 0001 here is SQLite's 0001 to 0009
in one file, and a later change gets the same number in both sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from storage.postgres.statements import now

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_lock's key for migrations: any fixed number, the same in every replica.
MIGRATION_LOCK = 0x636B6F75745F6D67  # "ckout_mg"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped with the package, by version."""
    found = []
    for entry in resources.files("storage.postgres").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def apply_migrations(connection: asyncpg.Connection) -> list[int]:
    """Apply what this database has not seen yet; returns the versions applied now.

    The advisory lock is the session's: a second replica waits here until the first has
    finished, then finds every migration recorded and applies none.
    """
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        done = {row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            # One migration, one transaction: one that fails half-way leaves nothing behind.
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    now(),
                )
            applied.append(migration.version)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
