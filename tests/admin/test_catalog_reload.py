"""Reloading the catalog: /reload for admins (and SIGHUP); a failed reload keeps the old one."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from bot.catalog.model import load_catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.catalog.steps import reload_as
from tests.helpers import (
    ADMIN_ID,
    REPO,
    buttons,
    open_catalog,
)
from tests.processes import finish, run_bot, valid

NEW_CATEGORY = '\n[[categories]]\nid = "maps"\ntitle = "Maps"\n'
NEW_PRODUCT = (
    '\n[[products]]\nid = "atlas"\ntitle = "Atlas"\nprice = "40.00"\ncurrency = "usd"\n'
    'category = "maps"\n'
)


def copy_of_the_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text((REPO / "catalog.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


async def test_an_admin_reloads_an_edited_catalog(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator, tmp_path: Path
) -> None:
    path = copy_of_the_catalog(tmp_path)
    async with Service(make_settings(catalog_file=path), load_catalog(path)):
        path.write_text(path.read_text(encoding="utf-8") + NEW_CATEGORY + NEW_PRODUCT)
        answer = await reload_as(telegram, ADMIN_ID)
        assert answer.startswith("Catalog reloaded: 5 product(s) on sale")
        home = await open_catalog(telegram, telegram.user(4242, "Ada"))
        assert "Maps" in [b["text"] for b in buttons(home)]


async def test_a_broken_catalog_is_refused_precisely_and_the_old_one_stays(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator, tmp_path: Path
) -> None:
    path = copy_of_the_catalog(tmp_path)
    async with Service(make_settings(catalog_file=path), load_catalog(path)) as shop:
        before = shop.live_catalog.current
        home_before = await open_catalog(telegram, telegram.user(4242, "Ada"))
        broken = NEW_CATEGORY + NEW_PRODUCT.replace('"40.00"', '"40.001"')
        path.write_text(path.read_text(encoding="utf-8") + broken)
        answer = await reload_as(telegram, ADMIN_ID)
        assert "not reloaded; the previous one stays in use" in answer
        assert f"{path}: product 'atlas', field 'price'" in answer
        assert shop.live_catalog.current is before
        home_after = await open_catalog(telegram, telegram.user(4242, "Ada"))
        assert buttons(home_after) == buttons(home_before)


async def test_a_buyer_cannot_reload(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator, tmp_path: Path
) -> None:
    path = copy_of_the_catalog(tmp_path)
    async with Service(make_settings(catalog_file=path), load_catalog(path)) as shop:
        before = shop.live_catalog.current
        path.write_text(path.read_text(encoding="utf-8") + NEW_CATEGORY + NEW_PRODUCT)
        answer = await reload_as(telegram, 4242)
        assert "admins" in answer and "reloaded" not in answer.lower()
        assert shop.live_catalog.current is before


async def test_sighup_reloads_and_a_missing_file_keeps_the_catalog(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator, tmp_path: Path
) -> None:
    path = copy_of_the_catalog(tmp_path)
    async with Service(make_settings(catalog_file=path), load_catalog(path)) as shop:
        path.write_text(path.read_text(encoding="utf-8") + NEW_CATEGORY + NEW_PRODUCT)
        assert "Catalog reloaded" in await shop.catalog_reload.run("SIGHUP")
        assert shop.live_catalog.current.get("atlas") is not None
        reloaded = shop.live_catalog.current
        path.unlink()
        assert "file not found" in await shop.catalog_reload.run("SIGHUP")
        assert shop.live_catalog.current is reloaded


async def test_sighup_to_the_process_reloads_the_catalog(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    path = copy_of_the_catalog(tmp_path)
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        CATALOG_FILE=str(path),
        HTTP_HOST="127.0.0.1",
        HTTP_PORT="0",  # any free port: nobody connects to it
    )
    process = await run_bot(env, tmp_path)
    await telegram.wait_for("setMyCommands", timeout=20)
    path.write_text(path.read_text(encoding="utf-8") + NEW_CATEGORY + NEW_PRODUCT)
    process.send_signal(signal.SIGHUP)
    assert process.stderr is not None
    async with asyncio.timeout(20):
        while b"catalog reloaded (SIGHUP)" not in (line := await process.stderr.readline()):
            assert line, "the process ended before reloading"
    home = await open_catalog(telegram, telegram.user(4242, "Ada"))
    assert "Maps" in [b["text"] for b in buttons(home)]
    process.send_signal(signal.SIGTERM)
    code, stderr = await finish(process)
    assert code == 0, stderr
