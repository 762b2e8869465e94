"""Every sentence the bot says to buyers, in one place, through gettext (bot/locales).

Messages use Telegram's HTML parse mode. Each text takes the buyer's `Language`; placeholders
are named (`{total}`), so a translation may put them in any order.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from babel import Locale

from bot.catalog.model import DESCRIPTION_MOST, Catalog, Product
from bot.i18n import Language, language
from bot.money import STARS, Money
from bot.references import reference_for
from storage import Order
from storage.order_rules import MONEY_TAKEN, OrderStatus


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


STATUS_LABELS = {
    OrderStatus.PENDING: N_("waiting for payment"),
    OrderStatus.PROCESSING: N_("payment processing"),
    OrderStatus.PAID: N_("paid"),
    OrderStatus.FAILED: N_("not paid"),
    OrderStatus.EXPIRED: N_("link expired"),
    OrderStatus.PARTIALLY_REFUNDED: N_("partly refunded"),
    OrderStatus.REFUNDED: N_("refunded"),
}


def order_line(order: Order, lang: Language) -> str:
    """ "#K7Q2 · The Forest Hiker × 1 · $397.00": how an order is named everywhere; an order of
    several lines names its first few ("The Forest Hiker × 2, Trail Map × 1 and 3 more")."""
    total = Money(order.amount_total, order.currency).format(lang.locale)
    shown = order.lines[:LINES_NAMED]
    named = ", ".join(
        f"{escape(shortened(line.title, LINE_TITLE_MOST))} × {line.quantity}" for line in shown
    )
    if len(order.lines) > len(shown):
        named += " " + more_lines(len(order.lines) - len(shown), lang)
    return f"#{reference_for(order.id)} · {named} · {total}"


def order_lines(order: Order, lang: Language) -> str:
    """An order's lines one per row with their amounts, for an order of several lines ("" for
    one: its order_line says it all)."""
    if len(order.lines) < 2:
        return ""
    shown = order.lines[:LINES_LISTED]
    rows = [
        f"• {escape(shortened(line.title, LINE_TITLE_MOST))} × {line.quantity} — "
        + Money(line.amount, order.currency).format(lang.locale)
        for line in shown
    ]
    if len(order.lines) > len(shown):
        rows.append("• " + more_lines(len(order.lines) - len(shown), lang))
    return "\n".join(rows)


def more_lines(count: int, lang: Language) -> str:
    return lang.ngettext("and {count} more", "and {count} more", count).format(count=count)


# How many lines an order's name names, and its list lists (a message holds 4,096 characters,
# a cart 100 lines), with titles cut to this length there.
LINES_NAMED = 3
LINES_LISTED = 30
LINE_TITLE_MOST = 60


# Browsing


def greeting(catalog: Catalog, first_name: str, lang: Language) -> str:
    return (
        lang._("Hello {name}! Welcome to <b>{shop}</b>.").format(
            name=escape(first_name), shop=escape(catalog.shop_name)
        )
        + "\n"
        + lang._("Pick what you would like to see.")
    )


def catalog_intro(catalog: Catalog, lang: Language) -> str:
    return lang._("<b>{shop}</b>: pick what you would like to see.").format(
        shop=escape(catalog.shop_name)
    )


def category_intro(title: str, lang: Language) -> str:
    return lang._("<b>{category}</b>: tap a product to see it.").format(category=escape(title))


def page_of(page: int, pages: int, lang: Language) -> str:
    return lang._("Page {page} of {pages}").format(page=page, pages=pages)


def nothing_on_sale(catalog: Catalog, lang: Language) -> str:
    return lang._("<b>{shop}</b> has nothing on sale right now. Please come back later.").format(
        shop=escape(catalog.shop_name)
    )


def product_button(title: str, price: Money, locale: Locale) -> str:
    return f"{title} — {price.format(locale)}"


def sold_out_button(title: str, lang: Language) -> str:
    return lang._("{title} — sold out").format(title=title)


def previous_button(lang: Language) -> str:
    return lang._("‹ Previous")


def next_button(lang: Language) -> str:
    return lang._("Next ›")


def back_button(lang: Language) -> str:
    return lang._("« Back")


def product_card(product: Product, quantity: int, left: int | None, lang: Language) -> str:
    """The card's caption: title, description, price, what is left, and the total chosen;
    within a photo caption's 1,024 characters, the description giving way first."""
    title = shortened(product.title_in(lang.code), CARD_TITLE_MOST)
    tail = [product.price.format(lang.locale)]
    if left is not None and left <= 0:
        tail.append(lang._("Sold out"))
    elif left is not None and left <= LOW_STOCK:
        tail.append(
            lang.ngettext("Only {count} left", "Only {count} left", left).format(count=left)
        )
    if quantity > 1:
        total = (product.price * quantity).format(lang.locale)
        tail.append(
            lang._("Quantity: {quantity} · Total: {total}").format(quantity=quantity, total=total)
        )
    lines = [f"<b>{escape(title)}</b>"]
    # Telegram counts the text as shown: without the tags, each escaped character as one.
    room = CAPTION_MOST - len(title) - len("\n\n") - len("\n".join(tail)) - len("\n\n")
    description = product.description_in(lang.code)
    if description and room > 0:
        lines += ["", escape(shortened(description, min(DESCRIPTION_MOST, room)))]
    return "\n".join([*lines, "", *tail])


def shortened(text: str, most: int) -> str:
    """At most `most` characters, cut at a word with "…" (descriptions read from Stripe have
    no limit of their own)."""
    if len(text) <= most:
        return text
    return text[: most - 1].rsplit(" ", 1)[0].rstrip() + "…"


# Below this, a card says how many are left.
LOW_STOCK = 5
# Telegram's limit for a photo's caption; a card's title is cut well within it.
CAPTION_MOST = 1024
CARD_TITLE_MOST = 200


def buy_button(total: Money, lang: Language) -> str:
    return lang._("Buy — {total}").format(total=total.format(lang.locale))


def at_most_per_order(count: int, lang: Language) -> str:
    return lang.ngettext("At most {count} per order.", "At most {count} per order.", count).format(
        count=count
    )


def only_left(count: int, lang: Language) -> str:
    return lang.ngettext("Only {count} left.", "Only {count} left.", count).format(count=count)


def sold_out(lang: Language) -> str:
    return lang._("Sorry, this product is sold out.")


def not_enough_left(count: int, lang: Language) -> str:
    return lang.ngettext(
        "Sorry, only {count} is left: please pick fewer.",
        "Sorry, only {count} are left: please pick fewer.",
        count,
    ).format(count=count)


# Paying


def pay_button(amount: Money, lang: Language) -> str:
    return lang._("Pay {total}").format(total=amount.format(lang.locale))


def payment_link(order: Order, expires_in_minutes: int, lang: Language) -> str:
    return (
        lang._("Order {order}").format(order=order_line(order, lang))
        + _listed(order, lang)
        + "\n\n"
        + lang._(
            "Tap the button to pay on Stripe's secure page. The link works for {duration}; "
            "you will get a confirmation here as soon as the payment is through."
        ).format(duration=_duration(expires_in_minutes, lang))
    )


def product_unavailable(lang: Language) -> str:
    return lang._("Sorry, this product is no longer on sale.")


def link_failed(lang: Language) -> str:
    return lang._("Sorry, we could not create a payment link. Please try again in a moment.")


def payment_received(order: Order) -> str:
    lang = language(order.language)
    return (
        "✅ "
        + lang._("Payment received — order {order}").format(order=order_line(order, lang))
        + _listed(order, lang)
        + "\n\n"
        + lang._("Thank you for your purchase!")
    )


def _listed(order: Order, lang: Language) -> str:
    """The order's lines below its name, when it has several."""
    listed = order_lines(order, lang)
    return "\n\n" + listed if listed else ""


def returned_after_payment(order: Order) -> str:
    lang = language(order.language)
    if order.status in MONEY_TAKEN:
        return lang._("Order {order} is paid. Thank you!").format(order=order_line(order, lang))
    return lang._(
        "Thanks! We are waiting for Stripe to confirm order {order}. "
        "You will get a message here as soon as it does."
    ).format(order=order_line(order, lang))


def returned_after_cancel(order: Order) -> str:
    lang = language(order.language)
    return lang._(
        "Payment for order {order} was not completed. "
        "You can use the same link again while it is valid, or pick a product below."
    ).format(order=order_line(order, lang))


# Help, orders, language


def help_text(catalog: Catalog, support: str | None, lang: Language) -> str:
    lines = [
        lang._("<b>{shop}</b> sells through this chat.").format(shop=escape(catalog.shop_name)),
        "",
        lang._("1. Send /shop, open a product and pick how many you want."),
        lang._("2. Tap Buy, then Pay: Stripe's secure page opens in your browser."),
        lang._("Several products? Tap Add to cart on each, then pay for them together from /cart."),
        lang._("3. Once you have paid, your confirmation arrives here."),
        "",
        lang._("Promotion codes are entered on Stripe's page."),
        lang._("Digital goods are paid in Telegram Stars and arrive here once paid."),
        lang._("/paysupport helps with a payment."),
        lang._("/orders shows your orders and their status; /language changes my language."),
    ]
    if support:
        lines += ["", lang._("Questions? Write to {contact}.").format(contact=escape(support))]
    return "\n".join(lines)


def buyer_orders(orders: Sequence[Order], lang: Language) -> str:
    if not orders:
        return lang._("You have no orders yet. Send /shop to see what is on sale.")
    lines = [lang._("<b>Your orders</b>, newest first:")]
    for order in orders:
        lines.append(f"{order_line(order, lang)} — {lang._(STATUS_LABELS[order.status])}")
        if len(order.lines) > 1:
            shown = order.lines[:ORDERS_LINES_LISTED]
            lines += [
                f"    · {escape(shortened(line.title, LINE_TITLE_MOST))} × {line.quantity}"
                for line in shown
            ]
            if len(order.lines) > len(shown):
                lines.append("    · " + more_lines(len(order.lines) - len(shown), lang))
    return "\n".join(lines)


# /orders lists the lines of each of its 10 orders, at most this many each.
ORDERS_LINES_LISTED = 5


def new_link_button(order: Order, lang: Language) -> str:
    return lang._("New link for #{reference}").format(reference=reference_for(order.id))


def choose_language(lang: Language) -> str:
    return lang._("Which language should I speak?")


def language_chosen(lang: Language) -> str:
    return lang._("From now on I speak English.")


# The order's lifecycle after payment starts, and pacing of taps


def payment_processing(order: Order) -> str:
    lang = language(order.language)
    return "⏳ " + lang._(
        "Payment for order {order} is being processed. Some payment methods take a few days; "
        "you will get a message here when it is through."
    ).format(order=order_line(order, lang))


def payment_failed(order: Order) -> str:
    lang = language(order.language)
    return "❌ " + lang._(
        "The payment for order {order} did not go through, and nothing was charged. "
        "You can try again with the button below."
    ).format(order=order_line(order, lang))


def link_expired(order: Order) -> str:
    lang = language(order.language)
    again = (
        lang._("This link has expired — your cart is kept: open /cart to check out again.")
        if order.from_cart
        else lang._("This link has expired — tap the product to get a new one.")
    )
    return lang._("Order {order}").format(order=order_line(order, lang)) + "\n\n" + again


def refunded(order: Order, amount: Money) -> str:
    lang = language(order.language)
    if amount.currency == STARS and order.status is OrderStatus.REFUNDED:
        return refunded_in_stars(order, amount)
    refund = amount.format(lang.locale)
    if order.status is OrderStatus.REFUNDED:
        return "↩️ " + lang._(
            "Order {order} was refunded: {amount} is on its way back to you. "
            "Banks usually take 5 to 10 days to show it."
        ).format(order=order_line(order, lang), amount=refund)
    return "↩️ " + lang._(
        "{amount} of order {order} was refunded. Banks usually take 5 to 10 days to show it."
    ).format(order=order_line(order, lang), amount=refund)


def link_below(lang: Language) -> str:
    return lang._("Your payment link for this product is already in the chat, just above.")


def link_on_its_way(lang: Language) -> str:
    """A tap while the same buyer's tap for the same product is being answered elsewhere."""
    return lang._(
        "Your payment link for this product is on its way: it will be in the chat in a moment."
    )


def cart_link_on_its_way(lang: Language) -> str:
    """A Checkout tap while the same buyer's cart is being checked out elsewhere."""
    return lang._("Your cart's payment link is on its way: it will be in the chat in a moment.")


def cart_changing(lang: Language) -> str:
    """A tap on the cart while another process was changing that cart, for longer than the tap
    waits: nothing was done."""
    return lang._("Your cart is being changed on another device right now. Try again in a moment.")


def cart_busy(lang: Language) -> str:
    """A change to the cart while another process checks that cart out: refused, not lost."""
    return lang._(
        "Your cart is being checked out right now, so it was not changed."
        " Try again once its payment link is in the chat."
    )


def slow_down(seconds: int, lang: Language) -> str:
    return lang._("That is a lot of taps! Please wait {seconds} s and try again.").format(
        seconds=seconds
    )


def try_again_button(language_code: str | None = None) -> str:
    return language(language_code)._("Try again")


def internal_error(lang: Language) -> str:
    return lang._("Sorry, something went wrong on our side. Please try again in a moment.")


def unknown_input(lang: Language) -> str:
    return lang._("I did not understand that. Send /shop to see the products, or /help.")


def _duration(minutes: int, lang: Language) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return lang.ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return lang.ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


# Digital goods


def delivery_heading(order: Order, lang: Language, *, on_payment: bool) -> str:
    """The first line of a delivery: the payment's confirmation when it comes with it."""
    if on_payment:
        return "✅ " + lang._("Payment received — order {order}").format(
            order=order_line(order, lang)
        )
    return "📦 " + lang._("Your order {order}:").format(order=order_line(order, lang))


def delivery_text(order: Order, text: str, *, on_payment: bool) -> str:
    lang = language(order.language)
    return delivery_heading(order, lang, on_payment=on_payment) + "\n\n" + escape(text)


def delivery_codes(order: Order, codes: Sequence[str], *, on_payment: bool) -> str:
    lang = language(order.language)
    intro = lang.ngettext("Your code:", "Your codes:", len(codes))
    shown = "\n".join(f"<code>{escape(code)}</code>" for code in codes)
    heading = delivery_heading(order, lang, on_payment=on_payment)
    return heading + "\n\n🔑 " + intro + "\n" + shown


def delivery_invite(order: Order, link: str, *, on_payment: bool) -> str:
    lang = language(order.language)
    return (
        delivery_heading(order, lang, on_payment=on_payment)
        + "\n\n🔗 "
        + lang._("Your invite link lets one person in, once: {link}").format(link=escape(link))
    )


def delivery_file(order: Order, *, on_payment: bool) -> str:
    lang = language(order.language)
    heading = delivery_heading(order, lang, on_payment=on_payment)
    return heading + "\n\n📄 " + lang._("Your file is attached.")


def access_revoked(order: Order) -> str:
    lang = language(order.language)
    return "🚫 " + lang._(
        "With the refund of order {order}, the access it gave was removed: its invite link "
        "no longer works."
    ).format(order=order_line(order, lang))


def send_again_button(order: Order, lang: Language) -> str:
    return lang._("Send #{reference} again").format(reference=reference_for(order.id))


def delivery_on_its_way(lang: Language) -> str:
    return lang._("On its way again.")


def refunded_in_stars(order: Order, amount: Money) -> str:
    lang = language(order.language)
    return "↩️ " + lang._(
        "Order {order} was refunded: {amount} went back to your Telegram Stars balance."
    ).format(order=order_line(order, lang), amount=amount.format(lang.locale))


def line_short(title: str, left: int, lang: Language) -> str:
    if not left:
        return lang._("Sorry, {title} is sold out: please remove it from your cart.").format(
            title=title
        )
    return lang.ngettext(
        "Sorry, only {count} of {title} is left: please lower its quantity.",
        "Sorry, only {count} of {title} are left: please lower its quantity.",
        left,
    ).format(count=left, title=title)
