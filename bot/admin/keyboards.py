"""The admins' inline buttons and their callback data ("adm:…", at most 64 bytes)."""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.admin import texts as admin_texts
from storage.order_rules import parse_stored_int

PREFIX = "adm:"
# Registered before the buyers' catch-all button handler, so that it never sees these.
PATTERN = r"^adm:"


@dataclass(frozen=True, slots=True)
class SalesCursor:
    """Where the next /sales page starts: after the order paid at `paid_at` with id `order_id`."""

    count: int
    paid_at: int
    order_id: int


@dataclass(frozen=True, slots=True)
class RefundChoice:
    """A tap on a refund question: confirm (or cancel) `amount` on `order_id`."""

    confirm: bool
    order_id: int
    amount: int


def older_sales(cursor: SalesCursor) -> InlineKeyboardMarkup:
    data = f"{PREFIX}sales:{cursor.count}:{cursor.paid_at}:{cursor.order_id}"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(admin_texts.older_button(), callback_data=data)]]
    )


def refund_question(
    order_id: int, amount: int, currency: str, locale: Locale
) -> InlineKeyboardMarkup:
    suffix = f"{order_id}:{amount}"
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    admin_texts.refund_confirm_button(amount, currency, locale),
                    callback_data=f"{PREFIX}refund:{suffix}",
                ),
                InlineKeyboardButton(
                    admin_texts.refund_cancel_button(), callback_data=f"{PREFIX}cancel:{suffix}"
                ),
            ]
        ]
    )


def refund_ask_again(order_id: int, amount: int) -> InlineKeyboardMarkup:
    """Under a refund Stripe did not answer: the Confirm button's data, so a tap asks again."""
    data = f"{PREFIX}refund:{order_id}:{amount}"
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(admin_texts.refund_ask_again_button(), callback_data=data)]]
    )


def _numbers(data: str, kind: str, count: int) -> list[int] | None:
    head = f"{PREFIX}{kind}:"
    if not data.startswith(head):
        return None
    parts = data.removeprefix(head).split(":")
    # Ids, times and amounts all fit SQLite's integers: a longer number is forged data.
    numbers = [number for part in parts if (number := parse_stored_int(part)) is not None]
    return numbers if len(numbers) == len(parts) == count else None


def sales_cursor_from(data: str) -> SalesCursor | None:
    """The cursor an "Older" button carries; None for data this bot never sends."""
    numbers = _numbers(data, "sales", 3)
    return SalesCursor(*numbers) if numbers else None


def refund_choice_from(data: str) -> RefundChoice | None:
    """The choice a refund question's button carries; None for data this bot never sends."""
    for kind, confirm in (("refund", True), ("cancel", False)):
        numbers = _numbers(data, kind, 2)
        if numbers:
            return RefundChoice(confirm, *numbers)
    return None
