"""What the buyer reads when paying in Telegram Stars: the invoice, the pre-checkout's
refusals, Stars given back, /paysupport (the words of bot/buyer/stars.py)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.buyer.texts import N_, STATUS_LABELS, order_line, shortened
from bot.i18n import Language, language
from bot.references import reference_for
from storage import Order

# What Telegram shows of an invoice (sendInvoice's limits).
INVOICE_TITLE_MOST = 32
INVOICE_DESCRIPTION_MOST = 255


def invoice_title(order: Order) -> str:
    """The product's title; "Order #K7Q2" for an order of several products."""
    if len(order.lines) == 1:
        return shortened(order.lines[0].title, INVOICE_TITLE_MOST)
    return (
        language(order.language)
        ._("Order {reference}")
        .format(reference=f"#{reference_for(order.id)}")
    )


def invoice_description(order: Order, description: str | None) -> str:
    """What the invoice sells, line by line, and the product's description for one line."""
    lang = language(order.language)
    sold = ", ".join(f"{line.title} × {line.quantity}" for line in order.lines)
    text = lang._("Order {reference}: {lines}").format(
        reference=f"#{reference_for(order.id)}", lines=sold
    )
    if description and len(order.lines) == 1:
        text += " — " + description
    return shortened(text, INVOICE_DESCRIPTION_MOST)


def invoice_below(lang: Language) -> str:
    return lang._("Your invoice for this product is already in the chat, just above.")


PRE_CHECKOUT_REFUSALS = {
    "unknown": N_("This invoice is not one of your open orders. Tap Buy for a new one."),
    "closed": N_("This order is closed. Tap Buy again for a new invoice."),
    "changed": N_("The price has changed. Tap Buy again for a new invoice."),
    "sold_out": N_("Sorry, this product just sold out. Nothing was charged."),
}


GIVEN_BACK = {
    "closed": N_(
        "Order #{reference} was paid or closed before this payment arrived, so these Stars"
        " went back to your balance. Your orders are in /orders."
    ),
    "sold_out": N_(
        "Sorry, what you ordered (order #{reference}) sold out before this payment arrived, so"
        " these Stars went back to your balance. Your orders are in /orders."
    ),
}


def payment_given_back(reference: str, reason: str, lang: Language) -> str:
    """A Star payment its order could not take (`reason`: paid by another or closed before
    it came, or its units sold out meanwhile): refunded at once."""
    return lang._(GIVEN_BACK[reason]).format(reference=reference)


def pre_checkout_refused(reason: str, lang: Language) -> str:
    return lang._(PRE_CHECKOUT_REFUSALS[reason])


def pay_support(support: str | None, payments: Sequence[Order], lang: Language) -> str:
    """/paysupport: whom to ask about a payment, and the buyer's recent payments."""
    lines = [lang._("<b>Help with a payment</b>")]
    if support:
        lines.append(
            lang._("Write to {contact}, with your order's reference.").format(
                contact=escape(support)
            )
        )
    else:
        lines.append(lang._("Reply here with your order's reference and we will help."))
    lines.append("")
    if not payments:
        lines.append(lang._("You have made no payments here yet."))
    else:
        lines.append(lang._("Your recent payments:"))
        lines += [
            f"{order_line(order, lang)} — {lang._(STATUS_LABELS[order.status])}"
            for order in payments
        ]
    return "\n".join(lines)
