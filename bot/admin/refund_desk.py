"""/refund: an admin asks, confirms with a button, and the bot asks Stripe for the refund.

The order itself changes only when Stripe's refund event arrives (fulfilment's job), so a
refund made from Stripe's dashboard and one asked for here end the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import stripe
from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.admin import keyboards as admin_keyboards
from bot.admin import texts as admin_texts
from bot.answers import answer_tap
from bot.money import Money, MoneyError, locale_for
from bot.references import order_id_for
from storage import Order, Storage
from storage.order_rules import MONEY_KEPT, paid_by_buyer

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


def amount_left(order: Order, requested: int) -> int:
    """What may still be refunded: what the buyer paid, less what Stripe refunded or was asked
    to refund (`requested`, counted before its event arrives)."""
    return paid_by_buyer(order) - max(order.amount_refunded, requested)


class RefundDesk:
    """Refund questions and their answers; every tap is checked again against the store."""

    def __init__(self, client: stripe.StripeClient, storage: Storage) -> None:
        self._client = client
        self._storage = storage
        # Idempotency keys of requests on their way to Stripe: a second tap on the same button
        # meanwhile is told that, rather than that the question is closed.
        self._in_flight: set[str] = set()
        # One check-and-ask at a time per order, so two confirmations cannot both pass the
        # check of what is left before either refund is recorded.
        self._orders: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def idempotency_key(self, order: Order, amount: int, chat_id: int, question_id: int) -> str:
        """One key per question message (a message id is unique within its chat) and amount.

        Taps on the same Confirm button share the key, so Stripe refunds once however often
        it is tapped; a deliberate second refund of the same amount is asked with a new
        /refund, whose question is a new message and so gets a new key.
        """
        instance = self._storage.instance_id
        return f"checkout-bot-{instance}-refund-{order.id}-{amount}-{chat_id}-{question_id}"

    async def _left(self, order: Order) -> int:
        return amount_left(order, await self._storage.refunds_asked(order.id))

    async def ask(self, update: Update, context: Context) -> None:
        """/refund <reference> [amount]: check the amount, then ask to confirm it."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        args = context.args or []
        if not 1 <= len(args) <= 2:
            await message.reply_html(admin_texts.refund_usage())
            return
        order_id = order_id_for(args[0])
        order = await self._storage.get_order(order_id) if order_id is not None else None
        if order is None:
            await message.reply_html(admin_texts.no_such_order(args[0]))
            return
        locale = locale_for(user.language_code)
        if order.status not in MONEY_KEPT or order.payment_intent_id is None:
            await message.reply_html(admin_texts.refund_not_refundable(order))
            return
        paid, left = paid_by_buyer(order), await self._left(order)
        if left <= 0:
            # Stripe's refund events may be late: the order is still paid here while all of it
            # was asked for already.
            await message.reply_html(admin_texts.refund_nothing_left(order, paid, locale))
            return
        amount = left
        if len(args) == 2:
            try:
                amount = Money.parse(args[1], order.currency).minor
            except MoneyError as exc:
                await message.reply_html(admin_texts.refund_bad_amount(order, str(exc)))
                return
            if amount <= 0:
                await message.reply_html(
                    admin_texts.refund_bad_amount(order, "The amount must be more than zero")
                )
                return
        if amount > left:
            await message.reply_html(admin_texts.refund_too_much(order, amount, paid, left, locale))
            return
        await message.reply_html(
            admin_texts.refund_question(order, amount, locale),
            reply_markup=admin_keyboards.refund_question(order.id, amount, order.currency, locale),
        )

    async def answer(self, update: Update, context: Context) -> None:
        """A tap on Confirm or Cancel under a refund question: the first one answers it, and
        any later one (a second device's stale buttons) is told it is closed."""
        query = update.callback_query
        if query is None or not isinstance(query.message, Message):
            return
        choice = admin_keyboards.refund_choice_from(query.data or "")
        order = await self._storage.get_order(choice.order_id) if choice else None
        if choice is None or order is None:
            await answer_tap(query)
            return
        locale = locale_for(query.from_user.language_code)
        question = admin_texts.refund_question(order, choice.amount, locale)
        chat_id, question_id = query.message.chat.id, query.message.message_id
        key = self.idempotency_key(order, choice.amount, chat_id, question_id)
        # Recorded before anything else happens, in one INSERT that only one tap can win.
        if not await self._storage.answer_refund_question(
            chat_id, question_id, confirmed=choice.confirm, admin_id=query.from_user.id
        ):
            await answer_tap(
                query,
                admin_texts.refund_in_progress()
                if key in self._in_flight
                else admin_texts.refund_question_closed(),
            )
            return
        # Recorded as answered: a tap Telegram no longer lets us answer (it came late, across a
        # restart) must still do what it asked, or the question would be closed undone.
        if not choice.confirm:
            await answer_tap(query)
            await _edit(query, admin_texts.refund_cancelled(question))
            return
        self._in_flight.add(key)
        try:
            await answer_tap(query)
            async with self._orders[order.id]:
                fresh = await self._storage.get_order(order.id)
                if fresh is None or fresh.status not in MONEY_KEPT:
                    text = admin_texts.refund_not_refundable(fresh or order)
                elif choice.amount > (left := await self._left(fresh)):
                    text = admin_texts.refund_too_much(
                        fresh, choice.amount, paid_by_buyer(fresh), left, locale
                    )
                else:
                    text = await self._request(
                        fresh, choice.amount, key, query.from_user.id, question
                    )
        finally:
            self._in_flight.discard(key)
        await _edit(query, text)

    async def _request(
        self, order: Order, amount: int, key: str, admin_id: int, question: str
    ) -> str:
        """Ask Stripe for the refund; the text that replaces the question."""
        assert order.payment_intent_id is not None
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": order.payment_intent_id,
                    "amount": amount,
                    "metadata": {"order_id": str(order.id), "requested_by": str(admin_id)},
                },
                {"idempotency_key": key},
            )
        except stripe.StripeError as exc:
            log.warning(
                "order %s: Stripe refused a refund of %s: %s", order.id, amount, exc.user_message
            )
            return admin_texts.refund_refused(question, exc.user_message or str(exc))
        log.info(
            "order %s: refund %s of %s asked by admin %s", order.id, refund.id, amount, admin_id
        )
        async with self._storage.transaction() as tx:
            await tx.record_refund(refund.id, order.id, refund.amount, refund.status or "pending")
        return admin_texts.refund_requested(question, refund.id, refund.status or "pending")


async def _edit(query: CallbackQuery, text: str) -> None:
    """Replace the question (and its buttons) with how it ended."""
    try:
        await query.edit_message_text(text, parse_mode="HTML")
    except BadRequest as exc:
        # A second tap on the same button ends the same way as the first: nothing to change.
        if "not modified" not in str(exc):
            raise
