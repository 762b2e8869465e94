"""Payments in Telegram Stars: invoices, a buyer paying one, and refunds of Star payments.

What the Bot API documents (core.telegram.org/bots/api#payments, #sendinvoice,
#answerprecheckoutquery, #refundstarpayment; core.telegram.org/bots/payments-stars):

- ``sendInvoice``: title 1–32 characters, description 1–255, payload 1–128 bytes; in ``XTR`` no
  provider token (an empty one is allowed) and exactly one price, in whole Stars.
- Paying: the client sends the bot a ``pre_checkout_query``; the bot must answer it with
  ``answerPreCheckoutQuery`` within 10 seconds or the payment is cancelled; once the bot said yes,
  the payment is made and the bot receives a message with ``successful_payment``.
- ``refundStarPayment`` refunds a whole Star payment, once; the buyer's chat then gets a
  service message with ``refunded_payment``, which the bot receives too.

The error texts are those Telegram answers where known (``CHARGE_ALREADY_REFUNDED``,
``STARS_INVOICE_INVALID``, the answer to an expired query); others follow Telegram's style.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .common import JSON, bad_request
from .params import Params

if TYPE_CHECKING:
    from ..telegram_api import TelegramEmulator, TgUser

STARS: Final = "XTR"
TITLE_MOST: Final = 32
DESCRIPTION_MOST: Final = 255
PAYLOAD_MOST_BYTES: Final = 128
ERROR_MESSAGE_MOST: Final = 255
# How long Telegram waits for the bot's answer to a pre-checkout query.
PRE_CHECKOUT_SECONDS: Final = 10.0
_EXPIRED_QUERY: Final = "query is too old and response timeout expired or query ID is invalid"


@dataclass(frozen=True)
class Invoice:
    """An invoice message the bot sent."""

    chat_id: int
    message_id: int
    title: str
    payload: str
    currency: str
    total_amount: int


@dataclass
class Charge:
    """A Star payment made by a buyer."""

    telegram_payment_charge_id: str
    user_id: int
    currency: str
    total_amount: int
    invoice_payload: str
    refunded: bool = False


@dataclass(frozen=True)
class Payment:
    """What came of a buyer's attempt to pay an invoice: "paid" (with the charge and the
    successful_payment message), "refused" (the bot's error_message) or "expired" (no answer
    within the time Telegram gives)."""

    outcome: str
    error_message: str | None = None
    charge: Charge | None = None
    message: JSON | None = None


@dataclass(frozen=True)
class PaymentForm:
    """A payment form the buyer opened from an invoice: `confirm()` pays."""

    payments: Payments
    user: TgUser
    invoice: Invoice

    async def confirm(self) -> Payment:
        return await self.payments._confirm(self.user, self.invoice)


class Payments:
    """The payments part of one emulated bot; `pre_checkout_seconds` is Telegram's 10 s,
    shortened by tests that are about the deadline."""

    def __init__(self, host: TelegramEmulator) -> None:
        self._host = host
        self.pre_checkout_seconds = PRE_CHECKOUT_SECONDS
        self.invoices: dict[tuple[int, int], Invoice] = {}
        self.charges: dict[str, Charge] = {}
        self._answers: dict[str, asyncio.Future[tuple[bool, str | None]]] = {}
        self._query_ids = itertools.count(9_100_000_000_000_000_001)
        self._charge_numbers = itertools.count(1)

    async def send_invoice(self, params: Params) -> JSON:
        host = self._host
        chat = host.chat_of(params)
        title, description = (
            _sized(params, "title", TITLE_MOST),
            _sized(params, "description", DESCRIPTION_MOST),
        )
        payload = params.text("payload") or ""
        if not 1 <= len(payload.encode()) <= PAYLOAD_MOST_BYTES:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        currency = params.text("currency") or ""
        total = _total(currency, params)
        host.check_can_send(chat["id"])
        content: JSON = {
            "invoice": {
                "title": title,
                "description": description,
                "start_parameter": params.text("start_parameter") or "",
                "currency": currency,
                "total_amount": total,
            }
        }
        message = host.post(chat, content, params)
        self.invoices[(chat["id"], message["message_id"])] = Invoice(
            chat["id"], message["message_id"], title, payload, currency, total
        )
        return message

    async def pay(self, user: TgUser, message: JSON) -> Payment:
        """The buyer taps Pay on an invoice the bot sent them and confirms at once."""
        return await self.open_form(user, message).confirm()

    def open_form(self, user: TgUser, message: JSON) -> PaymentForm:
        """The buyer taps Pay on an invoice in their chat: the payment form opens, and stays
        open (and payable) even if the bot deletes the message meanwhile."""
        where = (message.get("chat", {}).get("id", 0), message.get("message_id", 0))
        invoice = self.invoices.get(where)
        if invoice is None or invoice.chat_id != user.id or not self._host.has_message(*where):
            raise ValueError("a payment form opens from an invoice in the user's chat only")
        return PaymentForm(self, user, invoice)

    async def _confirm(self, user: TgUser, invoice: Invoice) -> Payment:
        """The bot is asked (pre_checkout_query) and, if it says yes in time, the payment is
        made and reported (successful_payment)."""
        query_id = str(next(self._query_ids))
        answer: asyncio.Future[tuple[bool, str | None]] = asyncio.get_running_loop().create_future()
        self._answers[query_id] = answer
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "currency": invoice.currency,
            "total_amount": invoice.total_amount,
            "invoice_payload": invoice.payload,
        }
        self._host.enqueue_update({"pre_checkout_query": query})
        try:
            ok, error_message = await asyncio.wait_for(answer, self.pre_checkout_seconds)
        except TimeoutError:
            return Payment("expired")
        finally:
            self._answers.pop(query_id, None)
        if not ok:
            return Payment("refused", error_message=error_message)
        number = next(self._charge_numbers)
        charge = Charge(
            telegram_payment_charge_id=f"stxEmU{number:010d}LaToR{user.id}",
            user_id=user.id,
            currency=invoice.currency,
            total_amount=invoice.total_amount,
            invoice_payload=invoice.payload,
        )
        self.charges[charge.telegram_payment_charge_id] = charge
        paid = {
            "currency": charge.currency,
            "total_amount": charge.total_amount,
            "invoice_payload": charge.invoice_payload,
            "telegram_payment_charge_id": charge.telegram_payment_charge_id,
            "provider_payment_charge_id": "",
        }
        update = self._host.user_message(user, {"successful_payment": paid})
        return Payment("paid", charge=charge, message=update["message"])

    async def answer_pre_checkout_query(self, params: Params) -> bool:
        query_id = params.text("pre_checkout_query_id") or ""
        answer = self._answers.get(query_id)
        if answer is None or answer.done():
            raise bad_request(_EXPIRED_QUERY)
        if "ok" not in params:
            raise bad_request('parameter "ok" is required')
        error_message = params.text("error_message")
        if not params.flag("ok"):
            if not error_message:
                raise bad_request("ERROR_MESSAGE_EMPTY")
            if len(error_message) > ERROR_MESSAGE_MOST:
                raise bad_request("ERROR_MESSAGE_INVALID")
        answer.set_result((params.flag("ok"), error_message))
        return True

    async def refund_star_payment(self, params: Params) -> bool:
        user_id = params.integer("user_id")
        if user_id is None:
            raise bad_request("user not found")
        charge = self.charges.get(params.text("telegram_payment_charge_id") or "")
        if charge is None or charge.user_id != user_id:
            raise bad_request("CHARGE_NOT_FOUND")
        if charge.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        refunded = {
            "currency": charge.currency,
            "total_amount": charge.total_amount,
            "invoice_payload": charge.invoice_payload,
            "telegram_payment_charge_id": charge.telegram_payment_charge_id,
        }
        self._host.user_message(self._host.user_of(user_id), {"refunded_payment": refunded})
        return True


def _sized(params: Params, name: str, most: int) -> str:
    text = params.text(name) or ""
    if not 1 <= len(text) <= most:
        raise bad_request(f"{name.upper()}_INVALID" if text else f"{name.upper()}_EMPTY")
    return text


def _total(currency: str, params: Params) -> int:
    """The invoice's total from its prices; only Stars can be paid here (no providers)."""
    prices: Any = params.value("prices")
    if not isinstance(prices, list) or not prices:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    amounts = []
    for price in prices:
        if not (isinstance(price, dict) and isinstance(price.get("label"), str) and price["label"]):
            raise bad_request("can't parse prices JSON object")
        amount = price.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise bad_request("can't parse prices JSON object")
        amounts.append(amount)
    if currency != STARS:
        # A card payment needs a provider token from a payment provider, which has none here.
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    if params.text("provider_token") or len(amounts) != 1 or params.value("max_tip_amount"):
        raise bad_request("STARS_INVOICE_INVALID")
    if amounts[0] <= 0:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return amounts[0]
