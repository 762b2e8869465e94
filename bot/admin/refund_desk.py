"""/refund: an admin asks, confirms with a button, and the bot asks Stripe for the refund.

The order itself changes only when Stripe's refund event arrives (fulfilment's job), so a
refund made from Stripe's dashboard and one asked for here end the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import stripe
from babel import Locale
from stripe import RequestOptions
from stripe.params import RefundCreateParams
from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.admin import keyboards as admin_keyboards
from bot.admin import texts as admin_texts
from bot.answers import answer_tap
from bot.money import STARS, Money, MoneyError, locale_for
from bot.references import order_id_for
from storage import Order, RefundAsk, RefundClaim, Storage
from storage.order_rules import MONEY_KEPT, paid_by_buyer
from webhooks.stars import StarPayments

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

# How long a claim on a confirmed refund lasts: longer than a request to Stripe may take with
# its retries (three tries of 15 s). A process killed mid-request holds the refund up no longer.
CLAIM_SECONDS = 120.0
# The metadata key under which a refund names the question (its idempotency key) it answers.
# Stripe forgets an idempotency key after 24 hours and would make a refund asked again later a
# second time; the refund made for a question is found by this instead.
QUESTION_METADATA = "refund_question"


def amount_left(order: Order, requested: int) -> int:
    """What may still be refunded: what the buyer paid, less what Stripe refunded or was asked
    to refund (`requested`, counted before its event arrives)."""
    return paid_by_buyer(order) - max(order.amount_refunded, requested)


class RefundDesk:
    """Refund questions and their answers; every tap is checked again against the store."""

    def __init__(
        self,
        client: stripe.StripeClient,
        storage: Storage,
        star_payments: StarPayments | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds, the same for every process on the database."""
        self._client = client
        self._storage = storage
        # Orders paid in Telegram Stars are refunded through Telegram, whole.
        self._star_payments = star_payments
        self._clock = clock
        # Held with the order's claim: the database lets one process at a time ask Stripe for
        # a refund of an order, and a second confirmation in this process waits for the first
        # here, rather than be turned away by the claim, and then checks what is left.
        self._orders: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def idempotency_key(self, order: Order, amount: int, chat_id: int, question_id: int) -> str:
        """One key per question message (a message id is unique within its chat) and amount.

        Taps on the same Confirm button share the key, so Stripe refunds once however often
        it is tapped; a deliberate second refund of the same amount is asked with a new
        /refund, whose question is a new message and so gets a new key.
        """
        instance = self._storage.instance_id
        return f"checkout-bot-{instance}-refund-{order.id}-{amount}-{chat_id}-{question_id}"

    async def _refundable(self, order: Order) -> bool:
        """Whether the order was paid in a way this desk can refund."""
        if order.currency == STARS:
            return (
                self._star_payments is not None
                and await self._storage.star_payment_of(order.id) is not None
            )
        return order.payment_intent_id is not None

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
        if order.status not in MONEY_KEPT or not await self._refundable(order):
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
        if order.currency == STARS and amount != paid:
            await message.reply_html(admin_texts.refund_stars_whole(order))
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
        ask = RefundAsk(chat_id, question_id, order.id, choice.amount, key, query.from_user.id)
        # Recorded before anything else happens, in one INSERT that only one tap can win; a
        # Confirm's refund stays unsettled until Stripe's answer is recorded.
        if not await self._storage.answer_refund_question(
            chat_id,
            question_id,
            confirmed=choice.confirm,
            admin_id=query.from_user.id,
            ask=ask if choice.confirm else None,
        ):
            await self._answer_again(query, ask if choice.confirm else None)
            return
        # Recorded as answered: a tap Telegram no longer lets us answer (it came late, across a
        # restart) must still do what it asked, or the question would be closed undone.
        if not choice.confirm:
            await answer_tap(query)
            await _edit(query, admin_texts.refund_cancelled(question))
            return
        async with self._claimed(ask) as claim:
            if claim is RefundClaim.ORDER_BUSY:
                # Another question's refund of this order is on its way to Stripe (from another
                # process): this one was never asked, and is closed with a word on why.
                async with self._storage.transaction() as tx:
                    await tx.settle_refund_ask(ask, made=False)
                await answer_tap(query)
                await _edit(query, admin_texts.refund_order_busy(question, order))
                return
            if claim is not RefundClaim.MINE:  # another process's tap took this question first
                await answer_tap(query, _not_claimed(claim))
                return
            await answer_tap(query)
            # Checked inside the order's claim: no other refund of it is being asked meanwhile.
            fresh = await self._storage.get_order(order.id)
            if fresh is None or fresh.status not in MONEY_KEPT:
                text = admin_texts.refund_not_refundable(fresh or order)
            elif choice.amount > (left := await self._left(fresh)):
                text = admin_texts.refund_too_much(
                    fresh, choice.amount, paid_by_buyer(fresh), left, locale
                )
            else:
                await _show(query, await self._request(query.get_bot(), fresh, ask, question))
                return
            async with self._storage.transaction() as tx:
                await tx.settle_refund_ask(ask, made=False)
        await _edit(query, text)

    async def _answer_again(self, query: CallbackQuery, tapped: RefundAsk | None) -> None:
        """A later tap: a refund still on its way is said so; a Confirm of one whose answer from
        Stripe was never recorded (Stripe unreachable, the process killed) asks again, with
        the same key. `tapped` is what a Confirm asks, None for a Cancel."""
        ask = (
            await self._storage.unsettled_refund_ask(tapped.chat_id, tapped.message_id)
            if tapped is not None
            else None
        )
        if ask is None:
            await answer_tap(query, admin_texts.refund_question_closed())
            return
        async with self._claimed(ask) as claim:
            if claim is not RefundClaim.MINE:  # it, or another of its order, is being asked
                await answer_tap(query, _not_claimed(claim))
                return
            await answer_tap(query)
            locale = locale_for(query.from_user.language_code)
            await _show(query, await self._finish(query.get_bot(), ask, locale))

    async def resume(self, bot: Bot) -> None:
        """At start-up: finish each refund confirmed but never answered by Stripe, with the
        key it was first asked with, and put the outcome in place of its question. One that
        another process is asking about now is left to it."""
        for ask in await self._storage.unsettled_refund_asks():
            async with self._claimed(ask) as claim:
                if claim is not RefundClaim.MINE:
                    log.info("refund of order %s: not asked now (%s)", ask.order_id, claim)
                    continue
                outcome = await self._finish(bot, ask, locale_for(None))
            try:
                await bot.edit_message_text(
                    outcome.text,
                    chat_id=ask.chat_id,
                    message_id=ask.message_id,
                    parse_mode="HTML",
                    reply_markup=outcome.buttons,
                )
            except TelegramError as exc:
                log.warning("could not show admin %s a resumed refund: %s", ask.chat_id, exc)

    async def _finish(self, bot: Bot, ask: RefundAsk, locale: Locale) -> Outcome:
        """Ask Stripe again with the same key, unless the refund turns out made already. No
        check of what is left here: the first request may have been made, and its event
        applied; Stripe answers a repeat with what it did then (for 24 hours), and refuses a
        refund over what the payment has left."""
        order = await self._storage.get_order(ask.order_id)
        if order is None or not await self._refundable(order):
            # Unreachable for a question this bot asked: it offers refunds of paid orders only.
            return Outcome(admin_texts.refund_question_closed())
        question = admin_texts.refund_question(order, ask.amount, locale)
        if order.currency != STARS:
            try:
                made = await self._made_for(order, ask)
            except stripe.StripeError as exc:
                # Whether it was made is still unknown: asking again now could make it twice.
                log.warning("order %s: could not look for a refund at Stripe: %s", order.id, exc)
                return Outcome(
                    admin_texts.refund_unanswered(question),
                    admin_keyboards.refund_ask_again(order.id, ask.amount),
                )
            if made is not None:
                log.info("order %s: refund %s was made, its answer lost", order.id, made.id)
                return await self._record_made(order, ask, made, question)
        return await self._request(bot, order, ask, question)

    async def _made_for(self, order: Order, ask: RefundAsk) -> stripe.Refund | None:
        """The refund Stripe made for the question, if it made one: after 24 hours Stripe no
        longer knows the key, so a request with it would make another. Stripe lists refunds
        by PaymentIntent only (newest first, pages of at most 100); the question is matched by
        the metadata the request carried."""
        assert order.payment_intent_id is not None  # _refundable
        listing = await self._client.v1.refunds.list_async(
            {"payment_intent": order.payment_intent_id, "limit": 100}
        )
        async for refund in listing.auto_paging_iter():
            metadata = refund.to_dict().get("metadata") or {}
            if metadata.get(QUESTION_METADATA) == ask.idempotency_key:
                return refund
        return None

    @asynccontextmanager
    async def _claimed(self, ask: RefundAsk) -> AsyncIterator[RefundClaim]:
        """Whether this process holds the claim on the confirmed refund while the block runs:
        the database lets one process at a time ask Stripe for a refund of an order, so a
        second tap anywhere is told it is on its way, a confirmation of another question of
        the order checks what is left only after it, and a killed process's claim runs out."""
        order = self._orders[ask.order_id]
        while True:
            now = self._clock()
            until = now + CLAIM_SECONDS
            claim = await self._storage.claim_refund_ask(ask.chat_id, ask.message_id, now, until)
            if claim is not RefundClaim.ORDER_BUSY or not order.locked():
                break
            # This process is asking for another refund of the order: wait for it to end (as
            # two confirmations in one process always did), then claim again.
            async with order:
                pass
        if claim is not RefundClaim.MINE:
            yield claim
            return
        async with order:
            try:
                yield claim
            finally:
                # Before the lock goes: a confirmation waiting for it then finds no claim.
                await self._storage.release_refund_ask(ask.chat_id, ask.message_id, until)

    async def _request(self, bot: Bot, order: Order, ask: RefundAsk, question: str) -> Outcome:
        """Ask Stripe for the refund and record its answer; the text that replaces the question.
        Stripe out of reach leaves the refund unsettled, to be asked again."""
        if order.currency == STARS:
            return await self._refund_stars(bot, order, ask, question)
        assert order.payment_intent_id is not None
        try:
            refund = await self._create_refund(order, ask)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            # stripe-python has retried already; whether Stripe made it is unknown until a
            # request with the same key is answered.
            log.warning("order %s: Stripe did not answer a refund request: %s", order.id, exc)
            return Outcome(
                admin_texts.refund_unanswered(question),
                admin_keyboards.refund_ask_again(order.id, ask.amount),
            )
        except stripe.StripeError as exc:
            log.warning(
                "order %s: Stripe refused a refund of %s: %s",
                order.id,
                ask.amount,
                exc.user_message,
            )
            async with self._storage.transaction() as tx:
                await tx.settle_refund_ask(ask, made=False)
            return Outcome(admin_texts.refund_refused(question, exc.user_message or str(exc)))
        log.info(
            "order %s: refund %s of %s asked by admin %s",
            order.id,
            refund.id,
            ask.amount,
            ask.admin_id,
        )
        return await self._record_made(order, ask, refund, question)

    async def _create_refund(self, order: Order, ask: RefundAsk) -> stripe.Refund:
        """The refund, asked with the question's key. A question first asked by a version that
        put no question in the metadata is asked again as that version asked it: Stripe refuses
        a known key with other parameters, and answers the same ones with what it did then."""
        assert order.payment_intent_id is not None
        metadata = {"order_id": str(order.id), "requested_by": str(ask.admin_id)}
        params: RefundCreateParams = {
            "payment_intent": order.payment_intent_id,
            "amount": ask.amount,
            "metadata": {**metadata, QUESTION_METADATA: ask.idempotency_key},
        }
        options: RequestOptions = {"idempotency_key": ask.idempotency_key}
        try:
            return await self._client.v1.refunds.create_async(params, options)
        except stripe.IdempotencyError:
            params["metadata"] = metadata
            return await self._client.v1.refunds.create_async(params, options)

    async def _record_made(
        self, order: Order, ask: RefundAsk, refund: stripe.Refund, question: str
    ) -> Outcome:
        """Record the refund Stripe made for the question, which is settled as made."""
        status = refund.status or "pending"
        async with self._storage.transaction() as tx:
            await tx.record_refund(refund.id, order.id, refund.amount, status)
            await tx.settle_refund_ask(ask, made=True)
        return Outcome(admin_texts.refund_requested(question, refund.id, status))

    async def _refund_stars(self, bot: Bot, order: Order, ask: RefundAsk, question: str) -> Outcome:
        """refundStarPayment (whole payments only), then recorded like a Stripe refund: the
        order refunded, the buyer told, any access it gave taken back."""
        payment = await self._storage.star_payment_of(order.id)
        assert payment is not None and self._star_payments is not None  # _refundable
        try:
            await bot.refund_star_payment(order.telegram_user_id, payment.charge_id)
        except BadRequest as exc:
            # Refunded before: this is a repeat of a refund whose record was lost (a crash).
            if "charge_already_refunded" not in str(exc).lower():
                log.warning("order %s: Telegram refused a Stars refund: %s", order.id, exc)
                async with self._storage.transaction() as tx:
                    await tx.settle_refund_ask(ask, made=False)
                return Outcome(admin_texts.refund_refused(question, str(exc), by="Telegram"))
        except TelegramError as exc:
            log.warning("order %s: Telegram did not answer a Stars refund: %s", order.id, exc)
            return Outcome(
                admin_texts.refund_unanswered(question, by="Telegram"),
                admin_keyboards.refund_ask_again(order.id, ask.amount),
            )
        await self._star_payments.apply_refund(order)
        async with self._storage.transaction() as tx:
            await tx.settle_refund_ask(ask, made=True)
        log.info("order %s: Stars refunded, asked by admin %s", order.id, ask.admin_id)
        return Outcome(admin_texts.refund_made_in_stars(question, payment.charge_id))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What replaces a confirmed question: the text, and a button when it may be tapped again."""

    text: str
    buttons: InlineKeyboardMarkup | None = None


def _not_claimed(claim: RefundClaim) -> str:
    """What a tap is told when its refund cannot be asked of Stripe now."""
    if claim is RefundClaim.ORDER_BUSY:
        return admin_texts.refund_order_busy_for_now()
    if claim is RefundClaim.TAKEN:
        return admin_texts.refund_in_progress()
    return admin_texts.refund_question_closed()


async def _show(query: CallbackQuery, outcome: Outcome) -> None:
    await _edit(query, outcome.text, outcome.buttons)


async def _edit(
    query: CallbackQuery, text: str, buttons: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the question (and its buttons) with how it ended."""
    try:
        await query.edit_message_text(text, parse_mode="HTML", reply_markup=buttons)
    except BadRequest as exc:
        # A second tap on the same button ends the same way as the first: nothing to change.
        if "not modified" not in str(exc):
            raise
