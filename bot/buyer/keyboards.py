"""Inline keyboards, and the callback data they carry (at most 64 bytes, checked by Telegram).

Callback data names what to show, never a price: everything else is read from the catalog
when the tap arrives. Product and category ids are at most 32 characters, so every form fits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.buyer import cart_texts, texts
from bot.buyer.cart import CartContents
from bot.i18n import Language
from bot.money import Money
from storage import Order
from storage.order_rules import UNPAID

HOME_PREFIX = "h:"  # h:<page>
CATEGORY_PREFIX = "c:"  # c:<category id>:<page>
CARD_PREFIX = "p:"  # p:<product id>:<quantity>
BUY_PREFIX = "buy:"  # buy:<product id>:<quantity>; "buy:<id>" from older messages means 1
LIMIT_PREFIX = "q:"  # q:<product id>: the + of a card at its upper bound
AGAIN_PREFIX = "again:"  # again:<order id>: a new link for an unpaid order
LANGUAGE_PREFIX = "lang:"  # lang:<code>
SEND_AGAIN_PREFIX = "resend:"  # resend:<order id>: a paid order's digital goods again
IDLE = "x"  # a button that only shows something (the quantity between − and +)
ADD_PREFIX = "add:"  # add:<product id>:<quantity>: put units in the cart
NEW_CART_PREFIX = "newcart:"  # newcart:<product id>:<quantity>: empty the cart, then add
CART = "cart"  # show the buyer's cart
CART_LINE_PREFIX = "cl:"  # cl:<product id>:<quantity>: set a cart line's quantity (0: remove)
CHECKOUT = "checkout"  # the cart's lines to Stripe
EMPTY_CART = "emptycart"


@dataclass(frozen=True, slots=True)
class Entry:
    """One button of a list: its label and the data it sends."""

    label: str
    data: str


def home_data(page: int) -> str:
    return f"{HOME_PREFIX}{page}"


def category_data(category_id: str, page: int) -> str:
    return f"{CATEGORY_PREFIX}{category_id}:{page}"


def card_data(product_id: str, quantity: int) -> str:
    return f"{CARD_PREFIX}{product_id}:{quantity}"


def buy_data(product_id: str, quantity: int = 1) -> str:
    return f"{BUY_PREFIX}{product_id}:{quantity}"


def add_data(product_id: str, quantity: int) -> str:
    return f"{ADD_PREFIX}{product_id}:{quantity}"


def new_cart_data(product_id: str, quantity: int) -> str:
    return f"{NEW_CART_PREFIX}{product_id}:{quantity}"


def cart_line_data(product_id: str, quantity: int) -> str:
    return f"{CART_LINE_PREFIX}{product_id}:{quantity}"


def limit_data(product_id: str) -> str:
    return f"{LIMIT_PREFIX}{product_id}"


def again_data(order_id: int) -> str:
    return f"{AGAIN_PREFIX}{order_id}"


def language_data(code: str) -> str:
    return f"{LANGUAGE_PREFIX}{code}"


def split_id_and_number(data: str, prefix: str, default: int | None = None) -> tuple[str, int]:
    """("forest-hiker", 2) from "p:forest-hiker:2"; ValueError for data this bot never sends."""
    rest = data.removeprefix(prefix)
    item_id, colon, number = rest.rpartition(":")
    if not colon and rest and default is not None:
        return rest, default
    if not item_id or not number.isdecimal():
        raise ValueError(f"malformed callback data {data!r}")
    return item_id, int(number)


def product_and_quantity(data: str) -> tuple[str, int] | None:
    """The product and quantity a "buy:" button names; None for data this bot never sends."""
    if not data.startswith(BUY_PREFIX):
        return None
    try:
        return split_id_and_number(data, BUY_PREFIX, default=1)
    except ValueError:
        return None


def list_keyboard(
    entries: Sequence[Entry],
    *,
    previous: str | None,
    following: str | None,
    back: str | None,
    lang: Language,
    cart_units: int = 0,
) -> InlineKeyboardMarkup:
    """The cart with its count when it holds something, one button per entry, then ‹ › for the
    pages around this one, then « Back."""
    rows = [[InlineKeyboardButton(entry.label, callback_data=entry.data)] for entry in entries]
    if cart_units:
        rows.insert(
            0, [InlineKeyboardButton(cart_texts.cart_button(cart_units, lang), callback_data=CART)]
        )
    paging = []
    if previous is not None:
        paging.append(InlineKeyboardButton(texts.previous_button(lang), callback_data=previous))
    if following is not None:
        paging.append(InlineKeyboardButton(texts.next_button(lang), callback_data=following))
    if paging:
        rows.append(paging)
    if back is not None:
        rows.append([InlineKeyboardButton(texts.back_button(lang), callback_data=back)])
    return InlineKeyboardMarkup(rows)


def card_keyboard(
    product_id: str,
    price: Money,
    quantity: int,
    upper: int,
    back: str,
    lang: Language,
) -> InlineKeyboardMarkup:
    """− quantity +, Buy with the total, « Back; only Back when nothing can be bought."""
    back_row = [InlineKeyboardButton(texts.back_button(lang), callback_data=back)]
    if upper < 1:
        return InlineKeyboardMarkup([back_row])
    fewer = card_data(product_id, quantity - 1) if quantity > 1 else IDLE
    more = card_data(product_id, quantity + 1) if quantity < upper else limit_data(product_id)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("−", callback_data=fewer),
                InlineKeyboardButton(str(quantity), callback_data=IDLE),
                InlineKeyboardButton("+", callback_data=more),
            ],
            [
                InlineKeyboardButton(
                    texts.buy_button(price * quantity, lang),
                    callback_data=buy_data(product_id, quantity),
                )
            ],
            [
                InlineKeyboardButton(
                    cart_texts.add_to_cart_button(lang),
                    callback_data=add_data(product_id, quantity),
                )
            ],
            back_row,
        ]
    )


def cart_keyboard(contents: CartContents, lang: Language) -> InlineKeyboardMarkup:
    """Per line − quantity + ✕ (only ✕ for a line off sale), then Checkout with the total and
    Empty cart, then the shop."""
    rows = []
    for row in contents.rows:
        product_id, quantity = row.line.product_id, row.line.quantity
        remove = InlineKeyboardButton("✕", callback_data=cart_line_data(product_id, 0))
        title = row.product.title_in(lang.code) if row.product is not None else product_id
        if not row.on_sale:
            rows.append([InlineKeyboardButton(f"🚫 {_short(title)}", callback_data=IDLE), remove])
            continue
        fewer = cart_line_data(product_id, quantity - 1) if quantity > 1 else IDLE
        rows.append(
            [
                InlineKeyboardButton("−", callback_data=fewer),
                InlineKeyboardButton(f"{_short(title)} × {quantity}", callback_data=IDLE),
                InlineKeyboardButton("+", callback_data=cart_line_data(product_id, quantity + 1)),
                remove,
            ]
        )
    total = contents.total
    if total is not None:
        rows.append(
            [InlineKeyboardButton(cart_texts.checkout_button(total, lang), callback_data=CHECKOUT)]
        )
    if contents.rows:
        rows.append(
            [InlineKeyboardButton(cart_texts.empty_cart_button(lang), callback_data=EMPTY_CART)]
        )
    rows.append([InlineKeyboardButton(texts.back_button(lang), callback_data=home_data(0))])
    return InlineKeyboardMarkup(rows)


def _short(title: str, most: int = 24) -> str:
    """A title that fits a button beside three others."""
    return title if len(title) <= most else title[: most - 1] + "…"


def view_cart_keyboard(lang: Language) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(cart_texts.view_cart_button(lang), callback_data=CART)]]
    )


def other_currency_keyboard(product_id: str, quantity: int, lang: Language) -> InlineKeyboardMarkup:
    """Start a new cart with the product, or check the cart out first, or look at it."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    cart_texts.new_cart_button(lang),
                    callback_data=new_cart_data(product_id, quantity),
                )
            ],
            [InlineKeyboardButton(cart_texts.checkout_first_button(lang), callback_data=CHECKOUT)],
            [InlineKeyboardButton(cart_texts.view_cart_button(lang), callback_data=CART)],
        ]
    )


def pay_keyboard(url: str, amount: Money, lang: Language) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.pay_button(amount, lang), url=url)]])


def orders_keyboard(
    orders: Sequence[Order], lang: Language, delivered: Collection[int] = ()
) -> InlineKeyboardMarkup | None:
    """A "new link" button for each unpaid order of the list, the cart for an unpaid one made
    from it (its Checkout makes the new link), and a "Send again" for each order in
    `delivered` (paid digital goods); None when there is none."""
    rows = []
    for order in orders:
        if order.status in UNPAID and not order.from_cart:
            label, data = texts.new_link_button(order, lang), again_data(order.id)
        elif order.id in delivered:
            label, data = texts.send_again_button(order, lang), f"{SEND_AGAIN_PREFIX}{order.id}"
        else:
            continue
        rows.append([InlineKeyboardButton(label, callback_data=data)])
    if any(order.from_cart and order.status in UNPAID for order in orders):
        rows.append([InlineKeyboardButton(cart_texts.view_cart_button(lang), callback_data=CART)])
    return InlineKeyboardMarkup(rows) if rows else None


def languages_keyboard(languages: Sequence[Language]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(language.name, callback_data=language_data(language.code))]
            for language in languages
        ]
    )


def again_keyboard(order_id: int, label: str) -> InlineKeyboardMarkup:
    """One button that asks for a new link for an order's product and quantity."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=again_data(order_id))]])
