"""Reloading the catalog without a restart: `/reload` for admins, and SIGHUP."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.admin.access import admins_only
from bot.catalog.model import Catalog, CatalogError, LiveCatalog
from bot.handler_groups import ROOMS
from storage import StorageError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


def reloaded(catalog: Catalog) -> str:
    """What an admin reads after a reload that worked (admin texts are English only)."""
    return (
        f"Catalog reloaded: {len(catalog.on_sale())} product(s) on sale,"
        f" {len(catalog.products)} in all."
    )


def reload_failed(error: str) -> str:
    return f"The catalog was not reloaded; the previous one stays in use.\n{error}"


class CatalogReload:
    """Swaps the live catalog for a freshly loaded one; a failure keeps the old one."""

    def __init__(self, live: LiveCatalog, admin_ids: frozenset[int]) -> None:
        self.live = live
        self.admin_ids = admin_ids
        self._signalled: set[asyncio.Task[str]] = set()

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        guarded = admins_only(self.admin_ids, self.reload)
        command = CommandHandler("reload", guarded, filters=filters.ChatType.PRIVATE)
        application.add_handler(command, group=ROOMS)

    async def reload(self, update: Update, context: Context) -> None:
        """Reload the catalog and say how it went."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        await message.reply_text(await self.run(f"/reload by {user.id}"))

    def on_signal(self) -> None:
        """SIGHUP: reload in the background; the outcome goes to the log."""
        task = asyncio.get_running_loop().create_task(self.run("SIGHUP"))
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    async def run(self, cause: str) -> str:
        """Reload once; the admin-facing outcome."""
        try:
            catalog = await self.live.reload()
        except (CatalogError, StorageError) as exc:
            log.error("catalog reload (%s) failed, keeping the previous one: %s", cause, exc)
            return reload_failed(str(exc))
        log.info("catalog reloaded (%s): %d product(s) on sale", cause, len(catalog.on_sale()))
        return reloaded(catalog)
