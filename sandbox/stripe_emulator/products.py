"""Products and Prices kept in the emulated account, in Stripe's shape.

Tests put them there (``StripeEmulator.add_product`` / ``add_price``) the way an
owner would in the Dashboard; the API only reads them. Prices are one-time
prices (``type: one_time``, ``per_unit``), the only kind Checkout's ``payment``
mode takes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from . import currencies
from .errors import resource_missing
from .listing import LIST_PARAMS, check_expand, created_filter, list_expand, paginate
from .objects import fixture, list_object, new_id
from .params import child, read_array, read_bool, read_expand, read_string, reject_unknown

__all__ = ["Catalog", "build_price", "build_product", "check_price"]

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


class Catalog:
    """The read endpoints: ``GET /v1/products[/id]`` and ``GET /v1/prices[/id]``."""

    def __init__(
        self, products: dict[str, dict[str, Any]], prices: dict[str, dict[str, Any]]
    ) -> None:
        self.products = products
        self.prices = prices

    def retrieve_product(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        reject_unknown(params, {"expand"})
        if id not in self.products:
            raise resource_missing("product", id, "id")
        return self._render_product(id, read_expand(params))

    def _render_product(self, product_id: str, expand: list[str]) -> dict[str, Any]:
        check_expand(expand, ("default_price",))
        product = copy.deepcopy(self.products[product_id])
        if "default_price" in expand and product["default_price"] is not None:
            product["default_price"] = copy.deepcopy(self.prices[product["default_price"]])
        return product

    def list_products(self, params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(params, LIST_PARAMS | {"active", "ids", "shippable", "url"})
        found = list(reversed(self.products.values()))
        if "active" in params:
            active = read_bool(params["active"], "active")
            found = [product for product in found if product["active"] is active]
        if "ids" in params:
            ids = read_array(params["ids"], "ids")
            wanted = {read_string(item, child("ids", i)) for i, item in enumerate(ids)}
            found = [product for product in found if product["id"] in wanted]
        for name in ("shippable", "url"):
            if name in params:
                # No product here is shippable or has a URL.
                read_string(params[name], name)
                found = []
        found = created_filter(found, params)
        page, has_more = paginate(found, params, "product")
        expand = list_expand(read_expand(params))
        data = [self._render_product(product["id"], expand) for product in page]
        return list_object(data, "/v1/products", has_more=has_more)

    def retrieve_price(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        reject_unknown(params, {"expand"})
        if id not in self.prices:
            raise resource_missing("price", id, "price")
        return self._render_price(id, read_expand(params))

    def _render_price(self, price_id: str, expand: list[str]) -> dict[str, Any]:
        check_expand(expand, ("product",))
        price = copy.deepcopy(self.prices[price_id])
        if "product" in expand:
            price["product"] = copy.deepcopy(self.products[price["product"]])
        return price

    def list_prices(self, params: dict[str, Any]) -> dict[str, Any]:
        reject_unknown(
            params, LIST_PARAMS | {"active", "currency", "lookup_keys", "product", "type"}
        )
        found = list(reversed(self.prices.values()))
        if "active" in params:
            active = read_bool(params["active"], "active")
            found = [price for price in found if price["active"] is active]
        for name in ("currency", "product", "type"):
            if name in params:
                wanted = read_string(params[name], name)
                found = [price for price in found if price[name] == wanted]
        if "lookup_keys" in params:
            # No price here has a lookup key.
            read_array(params["lookup_keys"], "lookup_keys")
            found = []
        found = created_filter(found, params)
        page, has_more = paginate(found, params, "price")
        expand = list_expand(read_expand(params))
        data = [self._render_price(price["id"], expand) for price in page]
        return list_object(data, "/v1/prices", has_more=has_more)
