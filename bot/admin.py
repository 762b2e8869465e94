"""The shop owner's commands: sales figures, for the ids in ADMIN_IDS only."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import admin_texts
from bot.money import locale_for
from storage import SQLiteStorage
from webhooks.reconciliation import Reconciler, describe

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]

DAY = 86_400


class StatsPeriod(NamedTuple):
    title: str
    start: Callable[[int], int | None]  # given the time now; None means all time


STATS_PERIODS = {
    "today": StatsPeriod("Today (UTC)", lambda now: now - now % DAY),
    "7d": StatsPeriod("Last 7 days", lambda now: now - 7 * DAY),
    "30d": StatsPeriod("Last 30 days", lambda now: now - 30 * DAY),
    "all": StatsPeriod("All time", lambda now: None),
}
DEFAULT_STATS_PERIODS = ("today", "7d", "all")


class AdminHandlers:
    """Admin commands; anyone else who tries one learns only that it is for admins."""

    def __init__(
        self, *, storage: SQLiteStorage, admin_ids: frozenset[int], reconciler: Reconciler
    ) -> None:
        self.storage = storage
        self.admin_ids = admin_ids
        self.reconciler = reconciler

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(CommandHandler("stats", self.admin_only(self.stats)))
        application.add_handler(CommandHandler("reconcile", self.admin_only(self.reconcile)))

    def admin_only(self, handler: Handler) -> Handler:
        """Wrap an admin command so that anyone else learns only that it is for admins."""

        async def guarded(update: Update, context: Context) -> None:
            user = update.effective_user
            if user is not None and user.id in self.admin_ids:
                await handler(update, context)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(admin_texts.admins_only())

        return guarded

    async def stats(self, update: Update, context: Context) -> None:
        """Paid orders and revenue per currency, for one period or today, 7 days and all time."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        args = [arg.lower() for arg in context.args or []]
        if len(args) > 1 or (args and args[0] not in STATS_PERIODS):
            await message.reply_text(admin_texts.stats_usage(list(STATS_PERIODS)))
            return
        names = args or list(DEFAULT_STATS_PERIODS)
        now = int(time.time())
        periods = [
            (period.title, await self.storage.sales_since(period.start(now)))
            for period in (STATS_PERIODS[name] for name in names)
        ]
        await message.reply_html(admin_texts.sales_report(periods, locale_for(user.language_code)))

    async def reconcile(self, update: Update, context: Context) -> None:
        """Ask Stripe about every order still waiting now, and say what was found and fixed."""
        message = update.effective_message
        if message is None:
            return
        await message.reply_text(admin_texts.reconciling())
        report = await self.reconciler.run()
        await message.reply_text(admin_texts.reconciled(describe(report)))
