"""/reload (or SIGHUP) on one replica reaches the others: each replica's catalog follows the
database's catalog version, at once on PostgreSQL, which tells the others of a reload. Two
stores on one database stand for two replicas, each with its own copy of the catalog file, as
two machines have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.admin.catalog_reload import CatalogReload
from bot.catalog.model import LiveCatalog, file_loader, load_catalog
from storage import Change, Storage, open_storage
from storage.postgres.changes import LISTENER_NAME, channel
from tests.databases import fetch
from tests.helpers import REPO, until

ATLAS = '\n[[products]]\nid = "atlas"\ntitle = "Atlas"\nprice = "40.00"\ncurrency = "usd"\n'


@dataclass
class Replica:
    file: Path
    store: Storage
    reload: CatalogReload

    def on_sale(self) -> list[str]:
        return [product.id for product in self.reload.live.current.on_sale()]


async def start_replicas(
    url: str, folder: Path, *, follow_seconds: float, told: bool
) -> list[Replica]:
    """Two replicas looking every `follow_seconds`; `told`: told of reloads by their store."""
    made: list[Replica] = []
    for name in ("a", "b"):
        file = folder / name / "catalog.toml"
        file.parent.mkdir()
        file.write_text((REPO / "catalog.toml").read_text(encoding="utf-8"), encoding="utf-8")
        store = open_storage(url)
        await store.open()
        live = LiveCatalog(load_catalog(file), file_loader(file), store)
        await live.start()
        reload = CatalogReload(live, frozenset(), follow_seconds=follow_seconds)
        reload.start(told=told and store.on_change(Change.CATALOG, reload.changed))
        made.append(Replica(file, store, reload))
    return made


async def stop_replicas(made: list[Replica]) -> None:
    for replica in made:
        await replica.reload.stop()
        await replica.store.close()


@pytest.fixture
async def replicas(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Replica, Replica]]:
    made = await start_replicas(database_url, tmp_path, follow_seconds=0.01, told=False)
    try:
        yield made[0], made[1]
    finally:
        await stop_replicas(made)


async def test_a_reload_on_one_replica_reloads_the_others(
    replicas: tuple[Replica, Replica],
) -> None:
    first, second = replicas
    # The deploy put the new file on both machines; the owner reloads one of them.
    for replica in replicas:
        replica.file.write_text(replica.file.read_text(encoding="utf-8") + ATLAS)
    assert "atlas" not in second.on_sale()

    answer = await first.reload.run("/reload by 1")

    assert answer.startswith("Catalog reloaded")
    await until(lambda: "atlas" in second.on_sale())
    assert "atlas" in first.on_sale()


async def test_a_reload_that_fails_on_another_replica_keeps_its_catalog(
    replicas: tuple[Replica, Replica], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = replicas
    before = second.reload.live.current
    first.file.write_text(first.file.read_text(encoding="utf-8") + ATLAS)
    second.file.write_text(second.file.read_text(encoding="utf-8") + ATLAS.replace("40.00", "x"))

    await first.reload.run("SIGHUP")

    await until(lambda: "another process's) failed, keeping ours" in caplog.text)
    assert second.reload.live.current is before
    assert "atlas" in first.on_sale()


async def test_on_postgresql_a_reload_reaches_the_others_without_their_looking(
    postgres_url: str, tmp_path: Path
) -> None:
    # They would look by themselves only after an hour: the notification is what tells them.
    first, second = await start_replicas(postgres_url, tmp_path, follow_seconds=3600, told=True)
    try:
        for replica in (first, second):
            replica.file.write_text(replica.file.read_text(encoding="utf-8") + ATLAS)
        await until(lambda: listening(postgres_url), what="the replicas' listeners")

        await first.reload.run("/reload by 1")

        await until(lambda: "atlas" in second.on_sale(), timeout=10)
    finally:
        await stop_replicas([first, second])


async def listening(url: str) -> bool:
    """Whether both stores' listeners are connected and listening on every channel."""
    rows = await fetch(
        url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = $1 AND query = $2 AND state = 'idle'",
        LISTENER_NAME,
        f'LISTEN "{channel(list(Change)[-1])}"',  # the last channel listened to
    )
    return bool(rows[0]["n"] == 2)
