"""The catalog read from the Stripe account: its active Products, each sold at its default Price.

What the file says in its own fields, a Stripe product says in its metadata (see README,
"Products from Stripe"). A product that cannot be sold as it stands is left out with a warning
naming it, so one odd product in an account shared with other integrations does not stop the
shop; a Stripe that cannot be read at all raises CatalogError, like a broken file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import stripe

from bot.catalog.model import DEFAULT_MAX_PER_ORDER, Catalog, CatalogError, Category, Product
from bot.money import Money, MoneyError

log = logging.getLogger(__name__)

# Product ids travel in callback data ("buy:<id>:<quantity>", at most 64 bytes); Stripe's own
# ids (prod_ and 14 characters) fit, as do custom ids of this shape.
PRODUCT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
CATEGORY_ID = re.compile(r"^[a-z0-9-]{1,32}$")
PHOTO = re.compile(r"^https?://\S+$")
# title_fr, description_pt-br, category_title_fr: a text in another language.
TRANSLATION = re.compile(r"^(title|description|category_title)_([a-z]{2,3}(?:-[a-z]{2,4})?)$")
PAGE_SIZE = 100
MAX_PER_ORDER_LIMIT = 99

Text = str | Mapping[str, str]


class _Skipped(Exception):
    """A product that cannot go in the shop; the message says why."""


def stripe_loader(
    client: stripe.StripeClient, *, shop_name: str, api_base_url: str
) -> Callable[[], Awaitable[Catalog]]:
    """Read the catalog from Stripe, at start-up and on every reload."""

    async def load() -> Catalog:
        return await read_stripe_catalog(client, shop_name=shop_name, api_base_url=api_base_url)

    return load


async def read_stripe_catalog(
    client: stripe.StripeClient, *, shop_name: str, api_base_url: str
) -> Catalog:
    """The active products with a usable default price; raises CatalogError when Stripe fails."""
    try:
        listing = await client.v1.products.list_async(
            {"active": True, "expand": ["data.default_price"], "limit": PAGE_SIZE}
        )
        found = [product.to_dict() async for product in listing.auto_paging_iter()]
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise CatalogError(
            f"Stripe refused STRIPE_SECRET_KEY when reading the products: {_said(exc)}"
        ) from None
    except stripe.APIConnectionError:
        raise CatalogError(f"cannot reach Stripe at {api_base_url} to read the products") from None
    except stripe.StripeError as exc:
        raise CatalogError(f"Stripe could not list the products: {_said(exc)}") from None

    products: list[Product] = []
    category_titles: dict[str, Text] = {}
    for raw in found:
        try:
            product = _product(raw)
        except _Skipped as exc:
            log.warning(
                "Stripe product %s (%r) is not in the shop: %s", raw["id"], raw["name"], exc
            )
            continue
        products.append(product)
        if product.category is not None and product.category not in category_titles:
            title = _text(raw["metadata"].get("category_title"), raw["metadata"], "category_title")
            if title is not None:
                category_titles[product.category] = title
    if not products:
        raise CatalogError(
            "the Stripe account has no active product with an active one-time default price"
        )
    return _with_categories(shop_name, products, category_titles)


def _said(exc: stripe.StripeError) -> str:
    return exc.user_message or type(exc).__name__


def _product(raw: dict[str, Any]) -> Product:
    product_id: str = raw["id"]
    if not PRODUCT_ID.match(product_id):
        raise _Skipped("its id must be 1 to 32 characters of A-Z a-z 0-9 _ -")
    metadata: dict[str, str] = raw.get("metadata") or {}
    price_id, price = _price(raw.get("default_price"))
    category = metadata.get("category")
    if category is not None and not CATEGORY_ID.match(category):
        raise _Skipped("metadata 'category' must be 1 to 32 characters of a-z 0-9 -")
    images: list[str] = raw.get("images") or []
    return Product(
        id=product_id,
        title=_text(raw["name"], metadata, "title") or raw["name"],
        description=_text(raw.get("description"), metadata, "description"),
        price=price,
        price_id=price_id,
        category=category,
        photo=images[0] if images and PHOTO.match(images[0]) else None,
        stock=_number(metadata, "stock", 0, None),
        max_per_order=_number(metadata, "max_per_order", 1, MAX_PER_ORDER_LIMIT)
        or DEFAULT_MAX_PER_ORDER,
        sort=_number(metadata, "sort", None, None),
    )


def _price(raw: object) -> tuple[str, Money]:
    """The default price, if Checkout can charge it as a fixed one-time amount."""
    if not isinstance(raw, dict):
        raise _Skipped("it has no default price")
    if not raw.get("active"):
        raise _Skipped(f"its default price {raw.get('id')} is archived")
    if raw.get("type") != "one_time":
        raise _Skipped(f"its default price {raw['id']} is recurring, not one-time")
    amount = raw.get("unit_amount")
    if raw.get("billing_scheme") != "per_unit" or not isinstance(amount, int):
        raise _Skipped(f"its default price {raw['id']} is not a fixed amount per unit")
    if amount <= 0:
        raise _Skipped(f"its default price {raw['id']} is not more than zero")
    try:
        return raw["id"], Money(amount, str(raw.get("currency")))
    except MoneyError as exc:
        raise _Skipped(f"its default price {raw['id']}: {exc}") from None


def _text(default: str | None, metadata: Mapping[str, str], field: str) -> Text | None:
    """The text as Stripe holds it, or a table of languages when metadata translates it."""
    translations = {}
    for key, value in metadata.items():
        match = TRANSLATION.match(key)
        if match and match.group(1) == field and value.strip():
            translations[match.group(2)] = value.strip()
    if not translations:
        return default if default and default.strip() else None
    # The Stripe text stays the English one unless title_en (…) says otherwise.
    return ({"en": default} if default and default.strip() else {}) | translations


def _number(metadata: Mapping[str, str], key: str, low: int | None, high: int | None) -> int | None:
    if key not in metadata:
        return None
    text = metadata[key].strip()
    if not re.fullmatch(r"-?[0-9]+", text):
        raise _Skipped(f"metadata {key!r} must be a whole number, not {metadata[key]!r}")
    number = int(text)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"{low} or more" if high is None else f"from {low} to {high}"
        raise _Skipped(f"metadata {key!r} must be {bounds}, not {number}")
    return number


def _with_categories(
    shop_name: str, products: list[Product], titles: Mapping[str, Text]
) -> Catalog:
    """The catalog, its categories in the order of their first product on sale."""
    unsorted = Catalog(shop_name=shop_name, support=None, products=tuple(products))
    order: list[str] = []
    for product in unsorted.on_sale():
        if product.category is not None and product.category not in order:
            order.append(product.category)
    categories = tuple(
        Category(category_id, titles.get(category_id) or _readable(category_id))
        for category_id in order
    )
    return Catalog(
        shop_name=shop_name, support=None, products=tuple(products), categories=categories
    )


def _readable(category_id: str) -> str:
    """ "day-trips" → "Day trips": a title for a category no product names."""
    return category_id.replace("-", " ").capitalize()
