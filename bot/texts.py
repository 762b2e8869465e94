"""Every sentence the bot says, in one place. Messages use Telegram's HTML parse mode."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from babel import Locale

from bot.catalog import Catalog
from bot.money import Money, locale_for
from bot.references import reference_for
from storage import Order, OrderStatus

STATUS_LABELS = {
    OrderStatus.PENDING: "waiting for payment",
    OrderStatus.PROCESSING: "payment processing",
    OrderStatus.PAID: "paid",
    OrderStatus.FAILED: "not paid",
    OrderStatus.EXPIRED: "link expired",
    OrderStatus.PARTIALLY_REFUNDED: "partly refunded",
    OrderStatus.REFUNDED: "refunded",
}


def order_line(order: Order, locale: Locale) -> str:
    """ "#K7Q2 · The Forest Hiker × 1 · $397.00": how an order is named everywhere."""
    total = Money(order.amount_total, order.currency).format(locale)
    return (
        f"#{reference_for(order.id)} · {escape(order.product_title)} × {order.quantity} · {total}"
    )


def greeting(catalog: Catalog, first_name: str) -> str:
    return (
        f"Hello {escape(first_name)}! Welcome to <b>{escape(catalog.shop_name)}</b>.\n"
        "Tap a product to get a secure payment link."
    )


def catalog_intro(catalog: Catalog) -> str:
    return f"<b>{escape(catalog.shop_name)}</b>: tap a product to get a secure payment link."


def nothing_on_sale(catalog: Catalog) -> str:
    return (
        f"<b>{escape(catalog.shop_name)}</b> has nothing on sale right now. Please come back later."
    )


def product_button(title: str, price: Money, locale: Locale) -> str:
    return f"{title} — {price.format(locale)}"


def pay_button(amount: Money, locale: Locale) -> str:
    return f"Pay {amount.format(locale)}"


def payment_link(order: Order, expires_in_minutes: int, locale: Locale) -> str:
    return (
        f"Order {order_line(order, locale)}\n\n"
        "Tap the button to pay on Stripe's secure page. "
        f"The link works for {_duration(expires_in_minutes)}; "
        "you will get a confirmation here as soon as the payment is through."
    )


def product_unavailable() -> str:
    return "Sorry, this product is no longer on sale."


def link_failed() -> str:
    return "Sorry, we could not create a payment link. Please try again in a moment."


def payment_received(order: Order) -> str:
    locale = locale_for(order.language)
    return (
        f"✅ Payment received — order {order_line(order, locale)}\n\nThank you for your purchase!"
    )


def returned_after_payment(order: Order) -> str:
    locale = locale_for(order.language)
    if order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED):
        return f"Order {order_line(order, locale)} is paid. Thank you!"
    return (
        f"Thanks! We are waiting for Stripe to confirm order {order_line(order, locale)}. "
        "You will get a message here as soon as it does."
    )


def returned_after_cancel(order: Order) -> str:
    locale = locale_for(order.language)
    return (
        f"Payment for order {order_line(order, locale)} was not completed. "
        "You can use the same link again while it is valid, or pick a product below."
    )


def help_text(catalog: Catalog) -> str:
    lines = [
        f"<b>{escape(catalog.shop_name)}</b> sells through this chat.",
        "",
        "1. Send /shop and tap a product.",
        "2. Tap the Pay button: Stripe's secure page opens in your browser.",
        "3. Once you have paid, your confirmation arrives here.",
        "",
        "/orders shows your orders and their status.",
    ]
    if catalog.support:
        lines += ["", f"Questions? Write to {escape(catalog.support)}."]
    return "\n".join(lines)


def buyer_orders(orders: Sequence[Order], locale: Locale) -> str:
    if not orders:
        return "You have no orders yet. Send /shop to see what is on sale."
    lines = ["<b>Your orders</b>, newest first:"]
    lines += [f"{order_line(order, locale)} — {STATUS_LABELS[order.status]}" for order in orders]
    return "\n".join(lines)


def internal_error() -> str:
    return "Sorry, something went wrong on our side. Please try again in a moment."


def unknown_input() -> str:
    return "I did not understand that. Send /shop to see the products, or /help."


def _duration(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


# The order's lifecycle after payment starts, and pacing of taps


def payment_processing(order: Order) -> str:
    locale = locale_for(order.language)
    return (
        f"⏳ Payment for order {order_line(order, locale)} is being processed. "
        "Some payment methods take a few days; you will get a message here when it is through."
    )


def payment_failed(order: Order) -> str:
    locale = locale_for(order.language)
    return (
        f"❌ The payment for order {order_line(order, locale)} did not go through, "
        "and nothing was charged. You can try again with the button below."
    )


def link_expired(order: Order) -> str:
    locale = locale_for(order.language)
    return (
        f"Order {order_line(order, locale)}\n\n"
        "This link has expired — tap the product to get a new one."
    )


def refunded(order: Order, amount: Money) -> str:
    locale = locale_for(order.language)
    if order.status is OrderStatus.REFUNDED:
        return (
            f"↩️ Order {order_line(order, locale)} was refunded: {amount.format(locale)} "
            "is on its way back to you. Banks usually take 5 to 10 days to show it."
        )
    return (
        f"↩️ {amount.format(locale)} of order {order_line(order, locale)} was refunded. "
        "Banks usually take 5 to 10 days to show it."
    )


def link_below() -> str:
    return "Your payment link for this product is already in the chat, just above."


def slow_down(seconds: int) -> str:
    return f"That is a lot of taps! Please wait {seconds} s and try again."


def try_again_button() -> str:
    return "Try again"
