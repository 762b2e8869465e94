"""Buying: the new link itself, a Stripe Checkout Session for a pending order."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import stripe

from bot.catalog.model import Product, localized
from bot.references import reference_for
from storage import Order

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


def line_item(order: Order, product: Product) -> dict[str, Any]:
    """The order's line: a product read from Stripe is charged at its own Price there."""
    if product.price_id is not None:
        return {"price": product.price_id, "quantity": order.quantity}
    product_data: dict[str, Any] = {
        "name": order.product_title,
        "metadata": {"product_id": product.id},
    }
    if product.description is not None:
        product_data["description"] = localized(product.description, order.language)
    if product.photo is not None:
        product_data["images"] = [product.photo]
    return {
        "quantity": order.quantity,
        "price_data": {
            "currency": order.currency,
            "unit_amount": order.unit_amount,
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

    def session_params(self, order: Order, product: Product) -> dict[str, Any]:
        """The Checkout Session for `order`, priced from the server-side catalog."""
        language = order.language
        metadata = {
            "order_id": str(order.id),
            "telegram_user_id": str(order.telegram_user_id),
            "chat_id": str(order.chat_id),
            "product_id": order.product_id,
        }
        deep_link = f"https://t.me/{self._bot_username}?start="
        return {
            "mode": "payment",
            "line_items": [line_item(order, product)],
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

    async def create(self, order: Order, product: Product) -> CheckoutLink:
        """Create the session at Stripe; raises stripe.StripeError when Stripe cannot be used."""
        session = await self._client.v1.checkout.sessions.create_async(
            self.session_params(order, product),  # type: ignore[arg-type]
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
