"""What the buyer reads about their cart: its buttons, its view, and its refusals (the words
of bot/buyer/cart.py and cart_handlers.py; the rest of the buyer's words are texts.py's)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.buyer.cart import MOST_LINES, CartRow
from bot.buyer.texts import LINE_TITLE_MOST, only_left, shortened, sold_out
from bot.i18n import Language
from bot.money import Money


def add_to_cart_button(lang: Language) -> str:
    return lang._("🛒 Add to cart")


def cart_button(units: int, lang: Language) -> str:
    return lang._("🛒 Cart ({count})").format(count=units)


def view_cart_button(lang: Language) -> str:
    return lang._("🛒 View cart")


def added_to_cart(
    title: str, quantity: int, units: int, total: Money | None, lang: Language
) -> str:
    held = lang.ngettext(
        "Your cart now holds {count} item", "Your cart now holds {count} items", units
    ).format(count=units)
    if total is not None:
        held += " · " + total.format(lang.locale)
    return (
        lang._("In your cart: <b>{title}</b> × {quantity}.").format(
            title=escape(title), quantity=quantity
        )
        + "\n"
        + held
    )


def cart_capped(lang: Language) -> str:
    return lang._("That is as many as you can have of it in one order.")


def cart_empty(lang: Language) -> str:
    return lang._("Your cart is empty. Send /shop to add products.")


def cart_view(rows: Sequence[CartRow], total: Money | None, lang: Language) -> str:
    """The cart's lines with their amounts at today's prices, what changed, and the total."""
    lines = [lang._("<b>Your cart</b>"), ""]
    for number, row in enumerate(rows, start=1):
        title = row.product.title_in(lang.code) if row.product is not None else row.line.product_id
        shown = f"{number}. {escape(shortened(title, LINE_TITLE_MOST))} × {row.line.quantity}"
        if not row.on_sale:
            off_sale = lang._("no longer on sale: left out of checkout")
            lines.append(f"{shown} — <i>{off_sale}</i>")
            continue
        lines.append(f"{shown} — {(row.price * row.line.quantity).format(lang.locale)}")
        if row.price_changed:
            lines.append(
                "   ⚠️ "
                + lang._("Price changed since you added it: was {was}, now {now}.").format(
                    was=row.added_price.format(lang.locale), now=row.price.format(lang.locale)
                )
            )
        if row.line.quantity > row.upper:
            lines.append("   ⚠️ " + (only_left(row.upper, lang) if row.upper else sold_out(lang)))
    lines.append("")
    if total is not None:
        lines.append(lang._("Total: <b>{total}</b>").format(total=total.format(lang.locale)))
    else:
        lines.append(nothing_to_check_out(lang))
    return "\n".join(lines)


def check_out_cart_again(lang: Language) -> str:
    return lang._("This order came from your cart: open /cart and tap Checkout for a new link.")


def nothing_to_check_out(lang: Language) -> str:
    return lang._("Nothing in your cart can be bought right now.")


def line_over_most(title: str, count: int, lang: Language) -> str:
    return lang.ngettext(
        "At most {count} of {title} per order: please lower its quantity.",
        "At most {count} of {title} per order: please lower its quantity.",
        count,
    ).format(count=count, title=title)


def checkout_button(total: Money, lang: Language) -> str:
    return lang._("Checkout — {total}").format(total=total.format(lang.locale))


def empty_cart_button(lang: Language) -> str:
    return lang._("Empty cart")


def other_currency(title: str, cart_currency: str, currency: str, lang: Language) -> str:
    return lang._(
        "Your cart is in {cart_currency}, and <b>{title}</b> is priced in {currency}: one "
        "payment holds one currency. Start a new cart with it, or check out your cart first?"
    ).format(title=escape(title), cart_currency=cart_currency.upper(), currency=currency.upper())


def new_cart_button(lang: Language) -> str:
    return lang._("Start a new cart")


def checkout_first_button(lang: Language) -> str:
    return lang._("Check out my cart first")


def cart_full(lang: Language) -> str:
    return lang.ngettext(
        "Your cart holds {count} product, as many as it takes: check it out or remove one first.",
        "Your cart holds {count} products, as many as it takes: check it out or remove one first.",
        MOST_LINES,
    ).format(count=MOST_LINES)


def cart_link_below(lang: Language) -> str:
    return lang._("Your payment link for this cart is already in the chat, just above.")
