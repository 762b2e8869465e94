"""Reloading the catalog without a restart: `/reload` for admins, SIGHUP, and a reload on
another process on the same database (each process checks the database's catalog version when
the store tells it another process reloaded, and every few seconds or, when the store tells,
every minute; it reloads its own catalog when the version moved)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.admin.access import admins_only
from bot.catalog.model import Catalog, CatalogError, LiveCatalog
from bot.handler_groups import ROOMS
from storage import StorageError

log = logging.getLogger(__name__)

# How often each process looks whether another one reloaded: one cheap read.
FOLLOW_SECONDS = 5.0
# The same when the store tells of the others' reloads (PostgreSQL's notifications): a look
# now and then in case a notification was lost.
TOLD_FOLLOW_SECONDS = 60.0

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

    def __init__(
        self,
        live: LiveCatalog,
        admin_ids: frozenset[int],
        *,
        follow_seconds: float = FOLLOW_SECONDS,
    ) -> None:
        self.live = live
        self.admin_ids = admin_ids
        self._follow_seconds = follow_seconds
        self._signalled: set[asyncio.Task[str]] = set()
        self._following: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def start(self, *, told: bool = False) -> None:
        """Follow the reloads of the other processes on the database, in the background.
        `told`: changed() is called when another process reloads, so looks can be rare."""
        every = max(self._follow_seconds, TOLD_FOLLOW_SECONDS) if told else self._follow_seconds
        self._following = asyncio.create_task(self._follow(every), name="catalog-follow")

    def changed(self) -> None:
        """Another process reloaded (the store says so): look now."""
        self._changed.set()

    async def stop(self) -> None:
        if self._following is not None:
            task, self._following = self._following, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, every: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), every)
            self._changed.clear()
            try:
                catalog = await self.live.follow()
            except (CatalogError, StorageError) as exc:
                log.error("catalog reload (another process's) failed, keeping ours: %s", exc)
                continue
            if catalog is not None:
                log.info(
                    "catalog reloaded (another process's reload): %d product(s) on sale",
                    len(catalog.on_sale()),
                )

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
