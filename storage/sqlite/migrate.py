"""Numbered schema migrations: `migrations/NNNN_name.sql`, each applied once, in order."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources

import aiosqlite

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped with the package, by version."""
    found = []
    for entry in resources.files("storage.sqlite").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def apply_migrations(db: aiosqlite.Connection) -> list[int]:
    """Apply what this database has not seen yet; returns the versions applied now."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    cursor = await db.execute("SELECT version FROM schema_migrations")
    done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for migration in available_migrations():
        if migration.version in done:
            continue
        # One script, one transaction: a migration that fails half-way leaves nothing behind.
        await db.executescript(
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;"
            "INSERT INTO schema_migrations (version, name, applied_at)"
            f" VALUES ({migration.version}, '{migration.name}', {int(time.time())});\n"
            "COMMIT;"
        )
        applied.append(migration.version)
    return applied
