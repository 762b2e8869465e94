"""Buying: what a tap on Buy or on a cart's Checkout gets (the buyer's open link again, a new
one, or a refusal), and the new link itself, a Stripe Checkout Session for the order with a line
item per product.

The handlers take these decisions one at a time per buyer and product (per buyer for the cart),
and hold their turn until the link is sent, so that a second tap sees the first one's order,
link and message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from bot.catalog.model import Product, localized
from bot.i18n import language
from bot.references import reference_for
from storage import NewOrder, Order, OrderLine, Storage
from storage.order_rules import OrderStatus

log = logging.getLogger(__name__)

# A link about to expire is not worth giving again: make a new one.
LINK_MARGIN_SECONDS = 120
# A tap within this long of its link being sent is a double tap: the link is right there.
RESEND_AFTER_SECONDS = 30


class CheckAtStripe(Protocol):
    """Reads an order's session back from Stripe and applies it (reconciliation's check)."""

    async def __call__(self, order: Order, *, source: str) -> object: ...


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who tapped Buy, as their orders record them."""

    telegram_user_id: int
    chat_id: int
    name: str
    username: str | None
    # Their /language choice, else Telegram's language_code.
    language: str | None


@dataclass(frozen=True, slots=True)
class PointToLink:
    """The buyer's link was sent moments ago (a double tap): it is right there in the chat."""


@dataclass(frozen=True, slots=True)
class GiveAgain:
    """The buyer's open link for this quantity, with time left on it: send it again."""

    order: Order


@dataclass(frozen=True, slots=True)
class MakeLink:
    """A new pending order holding its units (any earlier link of the buyer's for the product
    closed at Stripe): it needs its Checkout link."""

    order: Order


@dataclass(frozen=True, slots=True)
class NotEnoughLeft:
    """Fewer units left than asked for (0: sold out); any open link of the buyer's stays."""

    left: int


@dataclass(frozen=True, slots=True)
class CannotReplace:
    """Stripe could not close the buyer's earlier link, so no second one is made."""


@dataclass(frozen=True, slots=True)
class LineShort:
    """A cart's line asks for more units than are left (0: sold out); nothing is held."""

    product: Product
    left: int


@dataclass(frozen=True, slots=True)
class Pick:
    """A product and how many of it, at the catalog's price of the moment."""

    product: Product
    quantity: int


Decision = PointToLink | GiveAgain | MakeLink | NotEnoughLeft | CannotReplace
CartDecision = PointToLink | GiveAgain | MakeLink | LineShort | NotEnoughLeft | CannotReplace


class Purchases:
    """Decides what a tap on Buy gets, against the store and Stripe, and makes new links."""

    def __init__(
        self, storage: Storage, links: CheckoutLinks, check_at_stripe: CheckAtStripe
    ) -> None:
        self._storage = storage
        self._links = links
        self._check_at_stripe = check_at_stripe

    async def decide(self, buyer: Buyer, product: Product, quantity: int, *, now: int) -> Decision:
        """The buyer's open link for the product again, or a new one in its place, or a refusal."""
        order = await self._storage.open_link_for(buyer.telegram_user_id, product.id, now)
        if order is None:
            return await self._reserve_one(buyer, product, quantity, replacing=None)
        lasting = (order.checkout_expires_at or 0) > now + LINK_MARGIN_SECONDS
        if order.units == quantity and lasting:
            if order.pay_message_id is not None and order.updated_at > now - RESEND_AFTER_SECONDS:
                return PointToLink()
            return GiveAgain(order)
        # Another quantity, or a link about to expire: replaced, once closed at Stripe so that
        # the buyer cannot pay both. A refusal must leave the buyer the link they have: count
        # before closing it.
        left = await self._left(product, replacing=order.id)
        if left is not None and left < quantity:
            return NotEnoughLeft(left)
        replacing = await self._replace(order)
        if isinstance(replacing, CannotReplace):
            return replacing
        return await self._reserve_one(buyer, product, quantity, replacing=replacing)

    async def decide_cart(self, buyer: Buyer, picks: Sequence[Pick], *, now: int) -> CartDecision:
        """The buyer's open cart link again when it sells just these picks at these prices, or
        a new one in its place holding every line's units, or a refusal naming a short line."""
        order = await self._storage.open_cart_link_for(buyer.telegram_user_id, now)
        lines = _lines(picks, buyer.language)
        if order is not None:
            lasting = (order.checkout_expires_at or 0) > now + LINK_MARGIN_SECONDS
            if order.lines == lines and lasting:
                if (
                    order.pay_message_id is not None
                    and order.updated_at > now - RESEND_AFTER_SECONDS
                ):
                    return PointToLink()
                return GiveAgain(order)
            # Refuse before closing it, as for a product: the buyer keeps the link they have.
            if short := await self._short_line(picks, replacing=order.id):
                return short
            replacing = await self._replace(order)
            if isinstance(replacing, CannotReplace):
                return replacing
        else:
            replacing = None
        made = await self._storage.create_order_within_stock(
            new_order(buyer, picks, from_cart=True),
            stock_of(picks),
            replacing=replacing,
        )
        if made is None:
            return await self._short_line(picks, replacing=None) or NotEnoughLeft(0)
        return MakeLink(made)

    async def make_link(self, order: Order, products: Mapping[str, Product]) -> Order | None:
        """The order with its Checkout link (`products`: the catalog's, by id, for each line);
        None when Stripe refused it (the order failed)."""
        try:
            link = await self._links.create(order, products)
        except stripe.StripeError as exc:
            reason = f"Stripe refused the Checkout Session: {_describe(exc)}"
            log.error("order %s: %s", order.id, reason)
            await self._storage.fail_order(order, reason)
            return None
        await self._storage.attach_checkout(order.id, link.session_id, link.url, link.expires_at)
        linked = await self._storage.get_order(order.id)
        assert linked is not None  # orders are never deleted
        return linked

    async def _replace(self, order: Order) -> int | CannotReplace | None:
        """Close the buyer's earlier link at Stripe; the id of the order whose units the new
        one may take (None: it holds none any more), or CannotReplace when Stripe could not
        close it."""
        if not await self._close(order):
            return CannotReplace()
        fresh = await self._storage.get_order(order.id)
        # Still pending: its expiry has not been applied yet, and its units are the buyer's.
        still_pending = fresh is not None and fresh.status is OrderStatus.PENDING
        return order.id if still_pending else None

    async def _reserve_one(
        self, buyer: Buyer, product: Product, quantity: int, *, replacing: int | None
    ) -> MakeLink | NotEnoughLeft:
        """A pending order holding its units (not counting those of the order it replaces)."""
        picks = [Pick(product, quantity)]
        order = await self._storage.create_order_within_stock(
            new_order(buyer, picks, from_cart=False), stock_of(picks), replacing=replacing
        )
        if order is None:
            return NotEnoughLeft(await self._left(product, replacing=None) or 0)
        return MakeLink(order)

    async def _short_line(
        self, picks: Sequence[Pick], *, replacing: int | None
    ) -> LineShort | None:
        """The first pick asking for more units than are left, not counting `replacing`."""
        counted = [pick.product.id for pick in picks if pick.product.stock is not None]
        left = await self._storage.stock_left(counted, replacing=replacing) if counted else {}
        for pick in picks:
            if pick.product.id in left and left[pick.product.id] < pick.quantity:
                return LineShort(pick.product, left[pick.product.id])
        return None

    async def _left(self, product: Product, *, replacing: int | None) -> int | None:
        """Units of the product left, not counting the order `replacing`; None: unlimited."""
        if product.stock is None:
            return None
        left = await self._storage.stock_left([product.id], replacing=replacing)
        return left.get(product.id)

    async def _close(self, replaced: Order) -> bool:
        """Close the earlier link at Stripe, and apply what became of it; False if Stripe failed,
        or if the link was no longer open and Stripe could not say what became of it."""
        assert replaced.checkout_session_id is not None
        try:
            await self._links.expire(replaced.checkout_session_id)
            closed_now = True
        except stripe.InvalidRequestError:
            # Not open any more: paid or expired meanwhile, which the check below applies.
            closed_now = False
        except stripe.StripeError as exc:
            log.error("order %s: its link could not be closed: %s", replaced.id, _describe(exc))
            return False
        try:
            await self._check_at_stripe(replaced, source="replaced by a new link")
        except stripe.StripeError as exc:
            if not closed_now:
                # Paid, perhaps, its webhook not here yet: a new order that did not count its
                # units could sell them twice.
                log.error("order %s: its link was not open, and not checked: %s", replaced.id, exc)
                return False
            log.warning("order %s: could not check it at Stripe: %s", replaced.id, exc)
        return True


def new_order(buyer: Buyer, picks: Sequence[Pick], *, from_cart: bool) -> NewOrder:
    """The pending order a Buy or a cart's Checkout asks for, priced from the catalog."""
    return NewOrder(
        telegram_user_id=buyer.telegram_user_id,
        chat_id=buyer.chat_id,
        buyer_name=buyer.name,
        buyer_username=buyer.username,
        language=buyer.language,
        currency=picks[0].product.price.currency,
        lines=_lines(picks, buyer.language),
        from_cart=from_cart,
    )


def _lines(picks: Sequence[Pick], language_code: str | None) -> tuple[OrderLine, ...]:
    """The order lines of the picks, as sold now: title in the buyer's language, catalog price."""
    code = language(language_code).code
    return tuple(
        OrderLine(
            pick.product.id, pick.product.title_in(code), pick.product.price.minor, pick.quantity
        )
        for pick in picks
    )


def stock_of(picks: Sequence[Pick]) -> dict[str, int]:
    """The catalog's stock number of each picked product that has one."""
    return {p.product.id: p.product.stock for p in picks if p.product.stock is not None}


def _describe(exc: stripe.StripeError) -> str:
    """A log-safe summary of a Stripe error: its class, HTTP status and message."""
    return f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message or exc}"


# The `locale` values Stripe Checkout accepts; anything else falls back to "auto".
STRIPE_LOCALES = frozenset(
    "bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb nl pl"
    " pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW".split()
)
_LOCALES_BY_LOWER = {code.lower(): code for code in STRIPE_LOCALES}

# Stripe checks `expires_at` against the moment it receives the request, which for a retried
# request is later than when the parameters were made: without this slack, a retry of a
# 30-minute link is refused as too short. The 24-hour ceiling needs none (a retry only moves
# the expiry closer).
EXPIRY_SLACK_SECONDS = 120
MAX_LIFETIME_SECONDS = 24 * 60 * 60


def stripe_locale(language_code: str | None) -> str:
    """Stripe's locale for a Telegram `language_code` ("pt-br" → "pt-BR", "no" → "auto")."""
    if not language_code:
        return "auto"
    code = language_code.lower()
    return _LOCALES_BY_LOWER.get(code) or _LOCALES_BY_LOWER.get(code.split("-")[0], "auto")


@dataclass(frozen=True, slots=True)
class CheckoutLink:
    session_id: str
    url: str
    expires_at: int


def success_payload(order_id: int) -> str:
    """The /start payload of the success deep link (at most 64 of A-Z a-z 0-9 _ -)."""
    return f"paid-{reference_for(order_id)}"


def cancel_payload(order_id: int) -> str:
    return f"cancel-{reference_for(order_id)}"


def line_item(line: OrderLine, product: Product, order: Order) -> dict[str, Any]:
    """One line of the order: a product read from Stripe is charged at its own Price there."""
    if product.price_id is not None:
        return {"price": product.price_id, "quantity": line.quantity}
    product_data: dict[str, Any] = {
        "name": line.title,
        "metadata": {"product_id": product.id},
    }
    if product.description is not None:
        product_data["description"] = localized(product.description, order.language)
    if product.photo is not None:
        product_data["images"] = [product.photo]
    return {
        "quantity": line.quantity,
        "price_data": {
            "currency": order.currency,
            "unit_amount": line.unit_amount,
            "product_data": product_data,
        },
    }


class CheckoutLinks:
    """Creates Checkout Sessions at Stripe for orders, one per order whatever the retries."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        bot_username: str,
        instance_id: str,
        expires_minutes: int,
    ) -> None:
        self._client = client
        self._bot_username = bot_username
        self._instance_id = instance_id
        self._expires_minutes = expires_minutes

    def session_params(self, order: Order, products: Mapping[str, Product]) -> dict[str, Any]:
        """The Checkout Session for `order`, priced from the server-side catalog (`products`:
        each line's product, by id)."""
        language = order.language
        metadata = {
            "order_id": str(order.id),
            "telegram_user_id": str(order.telegram_user_id),
            "chat_id": str(order.chat_id),
        }
        if order.from_cart:
            # A cart's products are named by its line items; 100 ids overflow a metadata value.
            metadata["cart_lines"] = str(len(order.lines))
        else:
            metadata["product_id"] = order.lines[0].product_id
        deep_link = f"https://t.me/{self._bot_username}?start="
        return {
            "mode": "payment",
            "line_items": [
                line_item(line, products[line.product_id], order) for line in order.lines
            ],
            "client_reference_id": str(order.telegram_user_id),
            "metadata": metadata,
            # Session metadata does not reach the PaymentIntent or its charges; refunds and
            # disputes are read from those, so they carry the same keys.
            "payment_intent_data": {
                "metadata": metadata,
                "description": f"Order #{reference_for(order.id)}",
            },
            "expires_at": int(time.time()) + self.lifetime_seconds(),
            "locale": stripe_locale(language),
            # Stripe manages the codes; the discount comes back in total_details.
            "allow_promotion_codes": True,
            "success_url": deep_link + success_payload(order.id),
            "cancel_url": deep_link + cancel_payload(order.id),
        }

    def lifetime_seconds(self) -> int:
        return min(self._expires_minutes * 60 + EXPIRY_SLACK_SECONDS, MAX_LIFETIME_SECONDS)

    def idempotency_key(self, order: Order) -> str:
        """One key per order: a retried request returns the session made the first time."""
        return f"checkout-bot-{self._instance_id}-order-{order.id}"

    async def create(self, order: Order, products: Mapping[str, Product]) -> CheckoutLink:
        """Create the session at Stripe; raises stripe.StripeError when Stripe cannot be used."""
        session = await self._client.v1.checkout.sessions.create_async(
            self.session_params(order, products),  # type: ignore[arg-type]
            {"idempotency_key": self.idempotency_key(order)},
        )
        if session.url is None:
            raise stripe.APIError("Stripe returned a Checkout Session without a url")
        return CheckoutLink(session.id, session.url, session.expires_at)

    async def expire(self, session_id: str) -> None:
        """Close a session at Stripe so that it can no longer be paid.

        Raises stripe.InvalidRequestError when it is not open any more (paid or expired).
        """
        await self._client.v1.checkout.sessions.expire_async(session_id)
