"""Products and Prices kept in the emulated account, in Stripe's shape.

Tests put them there (``StripeEmulator.add_product`` / ``add_price``) the way an
owner would in the Dashboard; the API only reads them. Prices are one-time
prices (``type: one_time``, ``per_unit``), the only kind Checkout's ``payment``
mode takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import currencies
from .objects import fixture, new_id

__all__ = ["build_price", "build_product", "check_price"]

PRODUCT_ID_MAX_LENGTH = 255


def build_product(
    *,
    id: str | None,
    name: str,
    description: str | None,
    images: Sequence[str],
    active: bool,
    metadata: dict[str, str],
    created: int,
) -> dict[str, Any]:
    if not name:
        raise ValueError("a product needs a name")
    if id is not None and not 0 < len(id) <= PRODUCT_ID_MAX_LENGTH:
        raise ValueError(f"a product id has 1 to {PRODUCT_ID_MAX_LENGTH} characters")
    product = fixture("product")
    product.update(
        {
            "id": id or new_id("prod_", 14),
            "object": "product",
            "active": active,
            "created": created,
            "default_price": None,
            "description": description,
            "images": list(images),
            "livemode": False,
            "marketing_features": [],
            "metadata": dict(metadata),
            "name": name,
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": None,
            "updated": created,
            "url": None,
        }
    )
    return product


def check_price(unit_amount: int, currency: str) -> None:
    """The rules Stripe applies to a one-time price's amount and currency."""
    if currency not in currencies.SUPPORTED:
        raise ValueError(f"Stripe does not support the currency {currency!r} (lowercase ISO)")
    if not 0 <= unit_amount <= currencies.MAX_AMOUNT:
        raise ValueError(f"unit_amount must be 0 to {currencies.MAX_AMOUNT}")
    if currency in currencies.THREE_DECIMAL and unit_amount % 10:
        raise ValueError(f"{currency} amounts must end in 0")


def build_price(
    *,
    product: str,
    unit_amount: int,
    currency: str,
    active: bool,
    metadata: dict[str, str],
    created: int,
) -> dict[str, Any]:
    check_price(unit_amount, currency)
    price = fixture("price")
    price.update(
        {
            "id": new_id("price_"),
            "object": "price",
            "active": active,
            "billing_scheme": "per_unit",
            "created": created,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": dict(metadata),
            "nickname": None,
            "product": product,
            "recurring": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
    )
    return price
