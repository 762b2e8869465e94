"""A look at a PostgreSQL database without changing it (the doctor's): does it answer, and has
every migration shipped been applied?"""

from __future__ import annotations

import asyncpg

from storage.postgres.engine import DATABASE_ERRORS
from storage.postgres.migrate import available_migrations


async def postgres_problems(url: str) -> list[str]:
    """What stops the bot from using the database; empty when nothing does."""
    try:
        connection = await asyncpg.connect(url, timeout=10)
    except (*DATABASE_ERRORS, ValueError, TimeoutError) as exc:
        return [f"cannot connect to the database: {exc}"]
    try:
        exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        applied = (
            {row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")}
            if exists
            else set()
        )
    except DATABASE_ERRORS as exc:
        return [f"the database cannot be read as the shop's database: {exc}"]
    finally:
        await connection.close()
    pending = [m.version for m in available_migrations() if m.version not in applied]
    if pending:
        return [f"migrations {pending} are not applied yet (the bot applies them at start)"]
    return []
