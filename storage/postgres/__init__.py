"""The store in PostgreSQL, through an asyncpg connection pool: the engine (pool, migrations
under an advisory lock, transactions), and the queries of each concept, composed by
PostgresStorage."""

from storage.postgres.store import PostgresStorage

__all__ = ["PostgresStorage"]
