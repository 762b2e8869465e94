"""The shop owner's console: figures, sales, orders, exports, charts, refunds and alerts, for the
ids in ADMIN_IDS only."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import date, timedelta
from typing import Any

import stripe
from babel import Locale
from babel.numbers import get_currency_symbol
from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)

from bot.admin import keyboards as admin_keyboards
from bot.admin import texts as admin_texts
from bot.admin.access import Handler, admins_only
from bot.admin.chart import ChartData, ChartError, CurrencySeries, draw
from bot.admin.export import CHUNK_ORDERS, write_csv
from bot.admin.periods import (
    MONTHLY_MOST_DAYS,
    Period,
    PeriodError,
    bar_starts,
    day_count,
    midnight,
    parse_period,
    step_for,
    today_in,
)
from bot.admin.refund_desk import RefundDesk
from bot.answers import answer_tap
from bot.handler_groups import ROOMS
from bot.money import Money, locale_for
from bot.references import order_id_for
from bot.settings import Settings
from storage import Storage
from webhooks.reconciliation import Reconciler, describe
from webhooks.stars import StarPayments

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

DEFAULT_STATS_PERIODS = ("today", "7d", "30d")
DEFAULT_PERIOD = "30d"
TOP_PRODUCTS = 3
SALES_DEFAULT, SALES_MOST = 10, 50
# Telegram refuses a bot's documents over 50 MB.
DOCUMENT_MOST_BYTES = 50 * 1024 * 1024


class AdminHandlers:
    """Admin commands and buttons; anyone else who tries one learns only that it is for admins."""

    def __init__(
        self,
        *,
        storage: Storage,
        settings: Settings,
        stripe_client: stripe.StripeClient,
        reconciler: Reconciler,
        star_payments: StarPayments | None = None,
    ) -> None:
        self.storage = storage
        self.reconciler = reconciler
        self.admin_ids = settings.admin_ids
        self.timezone = settings.timezone
        self.refunds = RefundDesk(stripe_client, storage, star_payments)
        # One chart at a time: each is a process that loads matplotlib.
        self._drawing = asyncio.Semaphore(1)

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        commands: dict[str, Handler] = {
            "stats": self.stats,
            "sales": self.sales,
            "order": self.order,
            "export": self.export,
            "chart": self.chart,
            "refund": self.refunds.ask,
            "alerts": self.alerts,
            "reconcile": self.reconcile,
        }
        # Private chats only: in a group, figures and buyers' names would be read by everyone.
        private = filters.ChatType.PRIVATE
        application.add_handlers(
            [
                *(
                    CommandHandler(name, admins_only(self.admin_ids, handler), filters=private)
                    for name, handler in commands.items()
                ),
                CallbackQueryHandler(
                    admins_only(self.admin_ids, self.tap), pattern=admin_keyboards.PATTERN
                ),
            ],
            group=ROOMS,
        )

    async def tap(self, update: Update, context: Context) -> None:
        """An admin's button: a page of older sales, or an answer to a refund question."""
        query = update.callback_query
        if query is None:
            return
        if admin_keyboards.sales_cursor_from(query.data or "") is not None:
            await self.older_sales(update, context)
        else:
            await self.refunds.answer(update, context)

    def _period(self, text: str) -> Period:
        return parse_period(text, self.timezone, time.time())

    async def _period_argument(
        self, message: Message, context: Context, command: str
    ) -> Period | None:
        """The one optional period argument (30 days by default); None once told it is wrong."""
        args = context.args or []
        try:
            if len(args) > 1:
                raise PeriodError("give one period")
            return self._period(args[0] if args else DEFAULT_PERIOD)
        except PeriodError as exc:
            await message.reply_html(admin_texts.period_error(command, str(exc)))
            return None

    async def stats(self, update: Update, context: Context) -> None:
        """Figures per currency for one period, or today, 7 days and 30 days side by side."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        args = context.args or []
        try:
            if len(args) > 1:
                raise PeriodError("give one period")
            periods = [self._period(name) for name in (args or DEFAULT_STATS_PERIODS)]
        except PeriodError as exc:
            await message.reply_html(admin_texts.period_error("stats", str(exc)))
            return
        figures = [
            (
                period,
                await self.storage.reports.period_figures(period.start, period.end, TOP_PRODUCTS),
            )
            for period in periods
        ]
        locale = locale_for(user.language_code)
        for text in admin_texts.stats_report(figures, self.timezone, locale):
            await message.reply_html(text)

    async def sales(self, update: Update, context: Context) -> None:
        """The latest paid orders, newest first, with a button to page through older ones."""
        message = update.effective_message
        if message is None:
            return
        args = context.args or []
        count = int(args[0]) if len(args) == 1 and args[0].isdecimal() else 0
        if len(args) > 1 or (args and not 1 <= count <= SALES_MOST):
            await message.reply_text(admin_texts.sales_usage(SALES_MOST))
            return
        await self._send_sales(update, message, count or SALES_DEFAULT, None)

    async def older_sales(self, update: Update, context: Context) -> None:
        """The "Older" button under a page of sales: the next page, in new messages."""
        query = update.callback_query
        cursor = admin_keyboards.sales_cursor_from(query.data or "") if query else None
        if query is None or cursor is None or not isinstance(query.message, Message):
            return
        await answer_tap(query)
        if not 1 <= cursor.count <= SALES_MOST:
            return
        try:
            await query.edit_message_reply_markup(None)
        except BadRequest as exc:
            # The button was already taken off: a second tap, whose page the first one sends.
            if "not modified" in exc.message:
                return
            raise
        before = (cursor.paid_at, cursor.order_id)
        await self._send_sales(update, query.message, cursor.count, before)

    async def _send_sales(
        self, update: Update, message: Message, count: int, before: tuple[int, int] | None
    ) -> None:
        user = update.effective_user
        locale = locale_for(user.language_code if user else None)
        # One more than shown tells whether an "Older" button has anything behind it.
        orders = await self.storage.reports.paid_orders(count + 1, before)
        shown = orders[:count]
        pages = admin_texts.sales_page(shown, self.timezone, locale, first=before is None)
        for page in pages[:-1]:
            await message.reply_html(page)
        markup = None
        if len(orders) > count:
            last = shown[-1]
            assert last.paid_at is not None
            markup = admin_keyboards.older_sales(
                admin_keyboards.SalesCursor(count, last.paid_at, last.id)
            )
        await message.reply_html(pages[-1], reply_markup=markup)

    async def order(self, update: Update, context: Context) -> None:
        """One order in full: amounts, buyer, Stripe ids and its history of statuses."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        args = context.args or []
        if len(args) != 1:
            await message.reply_html(admin_texts.order_usage())
            return
        order_id = order_id_for(args[0])
        order = await self.storage.get_order(order_id) if order_id is not None else None
        if order is None:
            await message.reply_html(admin_texts.no_such_order(args[0]))
            return
        history = await self.storage.history_of(order.id)
        locale = locale_for(user.language_code)
        goods = admin_texts.goods_lines(
            await self.storage.keys_of(order.id),
            await self.storage.invite_links_of(order.id),
            await self.storage.star_payment_of(order.id),
        )
        await message.reply_html(
            admin_texts.order_details(order, history, self.timezone, locale, goods)
        )

    async def export(self, update: Update, context: Context) -> None:
        """The orders created in the period as a CSV file."""
        message = update.effective_message
        if message is None:
            return
        period = await self._period_argument(message, context, "export")
        if period is None:
            return
        await message.reply_chat_action(ChatAction.UPLOAD_DOCUMENT)
        chunks = self.storage.reports.orders_created(period.start, period.end, CHUNK_ORDERS)
        csv_file, count = await write_csv(chunks, self.timezone)
        with csv_file:
            if not count:
                await message.reply_html(admin_texts.nothing_to_export(period))
                return
            if csv_file.seek(0, os.SEEK_END) > DOCUMENT_MOST_BYTES:
                await message.reply_html(admin_texts.export_too_large(period, count))
                return
            csv_file.seek(0)
            # python-telegram-bot reads an upload into memory whole whatever it is given; the
            # rows never were, and Telegram caps a bot's documents at 50 MB.
            await message.reply_document(
                csv_file.read(),
                filename=f"orders_{period.slug}.csv",
                caption=admin_texts.export_caption(period, count),
                parse_mode="HTML",
            )

    async def chart(self, update: Update, context: Context) -> None:
        """A PNG of revenue per currency and paid orders over the period, by day, week or month."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        period = await self._period_argument(message, context, "chart")
        if period is None:
            return
        first_paid = await self.storage.reports.first_paid_at()
        now = time.time()
        today = today_in(self.timezone, now)
        start = today_in(self.timezone, first_paid) if first_paid is not None else today
        first, last = period.first or start, period.last or today
        step = step_for(day_count(period, start, today))
        if step is None:
            await message.reply_text(admin_texts.chart_too_long(MONTHLY_MOST_DAYS // 366))
            return
        starts = bar_starts(first, last, step)
        data = await self._chart_data(period, starts, last, locale_for(user.language_code))
        if data is None:
            await message.reply_html(admin_texts.nothing_to_chart(period))
            return
        await message.reply_chat_action(ChatAction.UPLOAD_PHOTO)
        try:
            async with self._drawing:
                png = await draw(data)
        except ChartError as exc:
            log.error("could not draw a chart: %s", exc)
            await message.reply_text(admin_texts.chart_failed())
            return
        await message.reply_photo(png, caption=admin_texts.chart_caption(period, step))

    async def _chart_data(
        self, period: Period, starts: list[date], last: date, locale: Locale
    ) -> ChartData | None:
        """Each bar's figures from the store; None when nothing was paid in the period."""
        # Each bar ends where the next begins, at local midnight: a day is 23 or 25 hours long
        # when the clocks change.
        ends = [*starts, last + timedelta(days=1)]
        boundaries = [midnight(day, self.timezone) for day in ends]
        sales = await self.storage.reports.sales_by_span(boundaries)
        if not sales:
            return None
        orders = [0] * len(starts)
        amounts: dict[str, list[float]] = {}
        for line in sales:
            orders[line.span] += line.orders
            series = amounts.setdefault(line.currency, [0.0] * len(starts))
            series[line.span] = float(Money(line.revenue, line.currency).decimal)
        return ChartData(
            title=f"{period.title} · {starts[0].isoformat()} to {last.isoformat()}",
            starts=[day.isoformat() for day in starts],
            lengths=[(end - start).days for start, end in zip(starts, ends[1:], strict=True)],
            revenue=[
                CurrencySeries(
                    currency.upper(),
                    get_currency_symbol(currency.upper(), locale=locale),
                    amounts[currency],
                )
                for currency in sorted(amounts)
            ],
            orders=orders,
        )

    async def alerts(self, update: Update, context: Context) -> None:
        """/alerts on|off: a message on every paid order, refund and failed payment, or none."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        args = [arg.lower() for arg in context.args or []]
        if len(args) != 1 or args[0] not in ("on", "off"):
            enabled = await self.storage.alerts_enabled(user.id)
            await message.reply_text(admin_texts.alerts_usage(enabled))
            return
        enabled = args[0] == "on"
        await self.storage.set_alerts(user.id, enabled)
        await self.storage.set_admin_language(user.id, user.language_code)
        await message.reply_text(admin_texts.alerts_set(enabled))

    async def reconcile(self, update: Update, context: Context) -> None:
        """Ask Stripe about every order still waiting now, and say what was found and fixed."""
        message = update.effective_message
        if message is None:
            return
        await message.reply_text(admin_texts.reconciling())
        report = await self.reconciler.run()
        await message.reply_text(admin_texts.reconciled(describe(report)))
