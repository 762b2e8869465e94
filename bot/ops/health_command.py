"""`/health` for admins: the guardian's conditions now, with the figures behind each."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.admin.access import admins_only
from bot.handler_groups import ROOMS
from bot.ops.guardian import Guardian


class HealthCommand:
    def __init__(self, guardian: Guardian, admin_ids: frozenset[int]) -> None:
        self._guardian = guardian
        self._admin_ids = admin_ids

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        handler = admins_only(self._admin_ids, self.health)
        application.add_handler(
            CommandHandler("health", handler, filters=filters.ChatType.PRIVATE), group=ROOMS
        )

    async def health(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show every condition the guardian watches, and its figures."""
        if update.effective_message is None:
            return
        findings = await self._guardian.findings()
        active = [finding for finding in findings if finding.active]
        heading = f"{len(active)} problems" if active else "All is well"
        lines = [finding.line() for finding in findings]
        await update.effective_message.reply_text("\n".join([heading, *lines]))
