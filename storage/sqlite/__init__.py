"""The store in one SQLite file, through aiosqlite: the engine (connection, migrations, group
commit) and the queries of each concept, composed by SQLiteStorage."""

from storage.sqlite.store import SQLiteStorage

__all__ = ["SQLiteStorage"]
