"""The storage tests' store: opened on the `database_url` of each backend, closed after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage import Storage, open_storage


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Storage]:
    storage = open_storage(database_url)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()
