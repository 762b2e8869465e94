"""Selling in Telegram Stars: Telegram's own invoice for a product priced in XTR, the answer to
the pre-checkout query, the payment message, /paysupport, and a delivered order's goods sent
again from /orders.

Payments are applied on the payment side (webhooks/stars.py, handed in as a `StarLedger`);
this module does the Telegram I/O and speaks to the buyer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from telegram import Bot, CallbackQuery, LabeledPrice, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.answers import answer_tap
from bot.buyer import stars_texts, texts
from bot.buyer.keyboards import SEND_AGAIN_PREFIX
from bot.buyer.language import BuyerLanguages
from bot.buyer.purchase import RESEND_AFTER_SECONDS, Buyer, Pick, new_order, stock_of
from bot.buyer.tap_guard import TapGuard
from bot.catalog.model import LiveCatalog, Product
from bot.handler_groups import ROOMS
from bot.i18n import Language, language
from bot.references import order_id_for, reference_for
from storage import MessageKind, NewOrder, Order, Storage, delivery_detail
from storage.order_rules import (
    MONEY_KEPT,
    MONEY_TAKEN,
    OrderStatus,
    parse_order_id,
    units_by_product,
)

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

# sendInvoice's payload: "order-" and the order's reference, at most 128 bytes.
PAYLOAD_PREFIX = "order-"
# /paysupport lists this many of the buyer's latest payments.
PAYMENTS_SHOWN = 10
# The buyer's open invoices are among their latest orders.
LATEST_ORDERS = 10


class StarLedger(Protocol):
    """The payment side's record of payments in Stars (webhooks/stars.py)."""

    async def refusal(
        self, order_id: int | None, user_id: int, currency: str, total: int
    ) -> str | None: ...

    async def take_payment(
        self, order_id: int | None, charge_id: str, user_id: int, currency: str, total: int
    ) -> str | None: ...

    async def given_back(self, charge_id: str) -> None: ...

    async def apply_refund(self, order: Order, *, charge_id: str | None = None) -> object: ...


def invoice_payload(order_id: int) -> str:
    return f"{PAYLOAD_PREFIX}{reference_for(order_id)}"


def order_of_payload(payload: str) -> int | None:
    """The order an invoice's payload names; None for a payload this bot never made."""
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    return order_id_for(payload.removeprefix(PAYLOAD_PREFIX))


class StarsCounter:
    """Sells products priced in Stars, and takes their payments."""

    def __init__(
        self,
        *,
        catalog: LiveCatalog,
        storage: Storage,
        ledger: StarLedger,
        buyers: BuyerLanguages,
        tap_guard: TapGuard,
        support_contact: str | None,
        on_queued: Callable[[], None],
    ) -> None:
        self._catalog = catalog
        self._storage = storage
        self._ledger = ledger
        self._buyers = buyers
        self._tap_guard = tap_guard
        self._support_contact = support_contact
        self._on_queued = on_queued

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handlers(
            [
                PreCheckoutQueryHandler(self.pre_checkout),
                MessageHandler(filters.SUCCESSFUL_PAYMENT, self.paid),
                MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, self.refunded),
                CommandHandler("paysupport", self.pay_support, filters=filters.ChatType.PRIVATE),
                CallbackQueryHandler(self.send_again, pattern=f"^{SEND_AGAIN_PREFIX}"),
            ],
            group=ROOMS,
        )

    async def sell(
        self, query: CallbackQuery, buyer: Buyer, product: Product, quantity: int, lang: Language
    ) -> None:
        """Send the invoice for a Buy tap; an open invoice of the buyer's for the product is
        replaced (closed, and its message deleted) once the new order holds its units."""
        await self._sell(query, buyer, [Pick(product, quantity)], lang, from_cart=False)

    async def sell_cart(
        self, query: CallbackQuery, buyer: Buyer, picks: Sequence[Pick], lang: Language
    ) -> None:
        """Send the invoice for a cart in Stars: one price, its total (Telegram takes one price
        in Stars), replacing the buyer's open cart invoice."""
        await self._sell(query, buyer, picks, lang, from_cart=True)

    async def _sell(
        self,
        query: CallbackQuery,
        buyer: Buyer,
        picks: Sequence[Pick],
        lang: Language,
        *,
        from_cart: bool,
    ) -> None:
        bot = query.get_bot()
        wanted = new_order(buyer, picks, from_cart=from_cart)
        earlier = await self._open_invoice(wanted)
        now = int(time.time())
        if (
            earlier is not None
            and earlier.lines == wanted.lines
            and earlier.pay_message_id is not None
            and earlier.updated_at > now - RESEND_AFTER_SECONDS
        ):
            await answer_tap(query, stars_texts.invoice_below(lang))
            return
        order = await self._storage.create_order_within_stock(
            wanted, stock_of(picks), replacing=earlier.id if earlier is not None else None
        )
        if order is None:
            await answer_tap(query, await self._short(picks, lang), alert=True)
            return
        await answer_tap(query)
        if earlier is not None:
            await self._close(earlier, bot)
        only = picks[0].product.description_in(language(order.language).code)
        try:
            message = await bot.send_invoice(
                order.chat_id,
                title=stars_texts.invoice_title(order),
                description=stars_texts.invoice_description(order, only),
                payload=invoice_payload(order.id),
                currency="XTR",
                prices=[LabeledPrice(stars_texts.invoice_title(order), order.amount_total)],
            )
        except TelegramError as exc:
            log.error("order %s: Telegram refused its invoice: %s", order.id, exc)
            await self._storage.fail_order(order, f"Telegram refused the invoice: {exc}")
            await bot.send_message(order.chat_id, texts.link_failed(lang))
            return
        await self._storage.set_pay_message(order.id, message.message_id)

    async def _short(self, picks: Sequence[Pick], lang: Language) -> str:
        """Why the picks could not be held: the first one short of units."""
        left = await self._storage.stock_left([pick.product.id for pick in picks])
        for pick in picks:
            count = left.get(pick.product.id)
            if count is not None and count < pick.quantity:
                if len(picks) > 1:
                    return texts.line_short(pick.product.title_in(lang.code), count, lang)
                return texts.not_enough_left(count, lang) if count else texts.sold_out(lang)
        return texts.sold_out(lang)

    async def pre_checkout(self, update: Update, context: Context) -> None:
        """Telegram asks whether the buyer may pay: answered here, within its 10 seconds."""
        query = update.pre_checkout_query
        if query is None:
            return
        refusal = await self._ledger.refusal(
            order_of_payload(query.invoice_payload),
            query.from_user.id,
            query.currency,
            query.total_amount,
        )
        if refusal is None:
            await query.answer(ok=True)
            return
        lang = await self._buyers.of(query.from_user)
        log.info("pre-checkout %s refused: %s", query.invoice_payload, refusal)
        await query.answer(ok=False, error_message=stars_texts.pre_checkout_refused(refusal, lang))

    async def paid(self, update: Update, context: Context) -> None:
        """The payment went through: recorded once, and the goods delivered (the outbox)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.successful_payment is None:
            return
        payment = message.successful_payment
        order_id = order_of_payload(payment.invoice_payload)
        charge_id = payment.telegram_payment_charge_id
        why = await self._ledger.take_payment(
            order_id, charge_id, user.id, payment.currency, payment.total_amount
        )
        if why is None or order_id is None:
            return
        # Telegram charged after the bot said yes, and meanwhile the order closed (a new tap
        # replaced its invoice), was paid by another form of the same invoice, or lost its
        # units to another order: nothing is delivered for this payment, so the Stars go back
        # at once.
        try:
            await context.bot.refund_star_payment(user.id, charge_id)
        except TelegramError as exc:  # the admins were alerted with the order's flag
            log.error("Star payment %s of order %s not given back: %s", charge_id, order_id, exc)
            return
        await self._ledger.given_back(charge_id)
        lang = await self._buyers.of(user)
        await message.reply_text(stars_texts.payment_given_back(reference_for(order_id), why, lang))

    async def refunded(self, update: Update, context: Context) -> None:
        """Telegram's note that a Star payment was refunded: recorded, if /refund's record of
        it was lost (the process stopped between Telegram's answer and the record)."""
        message = update.effective_message
        if message is None or message.refunded_payment is None:
            return
        refunded = message.refunded_payment
        order_id = order_of_payload(refunded.invoice_payload)
        order = await self._storage.get_order(order_id) if order_id is not None else None
        if order is not None:
            await self._ledger.apply_refund(order, charge_id=refunded.telegram_payment_charge_id)

    async def pay_support(self, update: Update, context: Context) -> None:
        """Whom to ask about a payment, with the buyer's recent payments."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        orders = await self._storage.orders_of_buyer(user.id, PAYMENTS_SHOWN)
        paid = [order for order in orders if order.status in MONEY_TAKEN]
        support = self._support_contact or self._catalog.current.support
        await message.reply_html(
            stars_texts.pay_support(support, paid, await self._buyers.of(user))
        )

    async def send_again(self, update: Update, context: Context) -> None:
        """ "Send again" under a delivered order: the same goods, through the outbox."""
        query = update.callback_query
        if query is None:
            return
        lang = await self._buyers.of(query.from_user)
        order_id = parse_order_id((query.data or "").removeprefix(SEND_AGAIN_PREFIX))
        order = await self._storage.get_order(order_id) if order_id is not None else None
        mine = order is not None and order.telegram_user_id == query.from_user.id
        products = await self._digital_products(order) if order is not None and mine else []
        if order is None or order.status not in MONEY_KEPT or not products:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        if wait := await self._tap_guard.wait_needed(query.from_user.id):
            await answer_tap(query, texts.slow_down(wait, lang), alert=True)
            return
        async with self._storage.transaction() as tx:
            for product_id in products:
                detail = delivery_detail(product_id, on_payment=False)
                await tx.enqueue(order.chat_id, MessageKind.DELIVERY, order.id, detail=detail)
        self._on_queued()
        await answer_tap(query, texts.delivery_on_its_way(lang))

    async def delivers(self, order: Order) -> bool:
        """Whether the order has digital goods."""
        return bool(await self._digital_products(order))

    async def _digital_products(self, order: Order) -> list[str]:
        """The order's products that deliver something: codes it took (kept with the order,
        whatever the catalog says now), else what the catalog's product delivers."""
        catalog = self._catalog.current
        found = []
        for product_id, _ in units_by_product(order):
            product = catalog.get(product_id)
            if (product is not None and product.deliver is not None) or await self._storage.keys_of(
                order.id, product_id
            ):
                found.append(product_id)
        return found

    async def _open_invoice(self, wanted: NewOrder) -> Order | None:
        """The buyer's open invoice for the same product (or for their cart), if any."""
        products = [line.product_id for line in wanted.lines]
        for order in await self._storage.orders_of_buyer(wanted.telegram_user_id, LATEST_ORDERS):
            same = (
                order.from_cart
                if wanted.from_cart
                else (not order.from_cart and [line.product_id for line in order.lines] == products)
            )
            if (
                same
                and order.status is OrderStatus.PENDING
                and order.checkout_session_id is None
                and order.pay_message_id is not None
            ):
                return order
        return None

    async def _close(self, order: Order, bot: Bot) -> None:
        """An invoice replaced by a new one: its order closed (a payment of it is refused at
        pre-checkout), and its message gone from the chat."""
        async with self._storage.transaction() as tx:
            await tx.advance(order, OrderStatus.EXPIRED, source="replaced by a new invoice")
        assert order.pay_message_id is not None
        try:
            await bot.delete_message(order.chat_id, order.pay_message_id)
        except BadRequest as exc:  # deleted by the buyer, or too old to delete
            log.info("order %s: its invoice message stays: %s", order.id, exc)
