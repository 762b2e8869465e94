"""/reload (or SIGHUP) on one replica reaches the others: each replica's catalog follows the
database's catalog version. Two stores on one database stand for two replicas, each with its
own copy of the catalog file, as two machines have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.admin.catalog_reload import CatalogReload
from bot.catalog.model import LiveCatalog, file_loader, load_catalog
from storage import Storage, open_storage
from tests.helpers import REPO, until

ATLAS = '\n[[products]]\nid = "atlas"\ntitle = "Atlas"\nprice = "40.00"\ncurrency = "usd"\n'


@dataclass
class Replica:
    file: Path
    store: Storage
    reload: CatalogReload

    def on_sale(self) -> list[str]:
        return [product.id for product in self.reload.live.current.on_sale()]


@pytest.fixture
async def replicas(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Replica, Replica]]:
    made: list[Replica] = []
    for name in ("a", "b"):
        file = tmp_path / name / "catalog.toml"
        file.parent.mkdir()
        file.write_text((REPO / "catalog.toml").read_text(encoding="utf-8"), encoding="utf-8")
        store = open_storage(database_url)
        await store.open()
        live = LiveCatalog(load_catalog(file), file_loader(file), store)
        await live.start()
        reload = CatalogReload(live, frozenset(), follow_seconds=0.01)
        reload.start()
        made.append(Replica(file, store, reload))
    try:
        yield made[0], made[1]
    finally:
        for replica in made:
            await replica.reload.stop()
            await replica.store.close()


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
