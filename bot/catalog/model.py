"""The catalog: the shop and its products, read from the owner's TOML file and checked whole."""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bot.money import STARS, Money, MoneyError
from storage import Storage

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
# A string, or a table of language code -> string.
LocalizedText = (
    NonEmpty
    | dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-zA-Z]{2,4})?$")], NonEmpty]
)

# A card shows its description in a photo caption, which Telegram limits to 1,024 characters,
# beside the title, the price and the quantity line.
DESCRIPTION_MOST = 700
# A description: a string, or a table of language code -> string, each short enough for a card.
CardText = Annotated[
    str, StringConstraints(min_length=1, max_length=DESCRIPTION_MOST, strip_whitespace=True)
]
Description = (
    CardText
    | dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-zA-Z]{2,4})?$")], CardText]
)

DEFAULT_MAX_PER_ORDER = 10
# A code longer than this is not a licence key but a mistake (a whole file on one line).
KEY_MOST = 256
# Telegram's file ids are long strings of these; a path has a slash or a dot.
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,}")


class CatalogError(ValueError):
    """A catalog file that cannot be used, with a message naming the file, product and field."""


def localized(text: str | Mapping[str, str], language: str | None) -> str:
    """Pick the text for `language` ("fr", "pt-br"), else English, else the first one written."""
    if isinstance(text, str):
        return text
    if language:
        for candidate in (language.lower(), language.lower().split("-")[0]):
            if candidate in text:
                return text[candidate]
    return text.get("en") or next(iter(text.values()))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ShopFields(_Strict):
    name: NonEmpty
    support: NonEmpty | None = None


class _CategoryFields(_Strict):
    id: Identifier
    title: LocalizedText


class _DeliverFields(_Strict):
    """What a digital product delivers once paid: one of these."""

    file: NonEmpty | None = None
    keys: NonEmpty | None = None
    invite: Annotated[int, Field(lt=0)] | None = None
    text: LocalizedText | None = None


class _ProductFields(_Strict):
    id: Identifier
    title: LocalizedText
    description: Description | None = None
    price: NonEmpty
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
    category: Identifier | None = None
    photo: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    stock: Annotated[int, Field(ge=0)] | None = None
    max_per_order: Annotated[int, Field(ge=1, le=99)] = DEFAULT_MAX_PER_ORDER
    active: bool = True
    sort: int | None = None
    deliver: _DeliverFields | None = None
    rail: Literal["stripe", "stars"] | None = None


class _CatalogFields(_Strict):
    shop: _ShopFields
    categories: list[_CategoryFields] = []
    products: list[_ProductFields] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    title: str | Mapping[str, str]


DeliveryKind = Literal["file", "keys", "invite", "text"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a digital product gives the buyer once paid: a document (a local file, or a file id
    Telegram gave), one code a unit from a key pool, a one-person invite link to a private
    group or channel, or a message."""

    kind: DeliveryKind
    # The file's absolute path or Telegram file id; the pool file; the text.
    file: str | None = None
    file_is_path: bool = False
    keys_file: str | None = None
    codes: tuple[str, ...] = ()
    invite_chat_id: int | None = None
    text: str | Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    title: str | Mapping[str, str]
    price: Money
    description: str | Mapping[str, str] | None = None
    category: str | None = None
    photo: str | None = None
    stock: int | None = None
    max_per_order: int = DEFAULT_MAX_PER_ORDER
    active: bool = True
    sort: int | None = None
    # The Stripe Price to charge, for a product read from the Stripe account.
    price_id: str | None = None
    # What it delivers once paid; None for goods and services the owner provides.
    deliver: Delivery | None = None

    @property
    def stars(self) -> bool:
        """Sold with Telegram's own invoice, in Stars (else through Stripe Checkout)."""
        return self.price.currency == STARS

    def title_in(self, language: str | None) -> str:
        return localized(self.title, language)

    def description_in(self, language: str | None) -> str | None:
        return localized(self.description, language) if self.description is not None else None


@dataclass(frozen=True, slots=True)
class Catalog:
    shop_name: str
    support: str | None
    products: tuple[Product, ...]
    categories: tuple[Category, ...] = ()
    _by_id: Mapping[str, Product] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {product.id: product for product in self.products})

    def get(self, product_id: str) -> Product | None:
        """The product with this id, active or not; None when there is none."""
        return self._by_id.get(product_id)

    def on_sale(self) -> list[Product]:
        """The active products in the order the owner asked for: `sort`, then title."""
        active = [product for product in self.products if product.active]
        return sorted(active, key=lambda p: (p.sort is None, p.sort or 0, p.title_in(None)))

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def in_category(self, category_id: str | None) -> list[Product]:
        """The products on sale in a category (None: those in none), in the owner's order."""
        return [product for product in self.on_sale() if product.category == category_id]

    def categories_on_sale(self) -> list[Category]:
        """The categories, in the file's order, that hold at least one product on sale."""
        used = {product.category for product in self.on_sale()}
        return [category for category in self.categories if category.id in used]

    def stock_levels(self) -> dict[str, int]:
        """The `stock` the owner wrote for each product that has one (a key pool's product
        gets its stock from the pool's codes not taken yet, which the store counts)."""
        pools = self.key_pools()
        return {p.id: p.stock for p in self.products if p.stock is not None and p.id not in pools}

    def digital_kinds(self) -> dict[str, str]:
        """What each digital product delivers."""
        return {p.id: p.deliver.kind for p in self.products if p.deliver is not None}

    def key_pools(self) -> dict[str, tuple[str, ...]]:
        """The codes of each product that delivers from a key pool, as its file holds them."""
        return {
            p.id: p.deliver.codes
            for p in self.products
            if p.deliver is not None and p.deliver.kind == "keys"
        }


def load_catalog(path: Path) -> Catalog:
    """Read and check the catalog file; every problem raises CatalogError naming where it is."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found (set CATALOG_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None
    return parse_catalog(data, source=str(path), base=path.parent)


def parse_catalog(data: dict[str, Any], *, source: str, base: Path | None = None) -> Catalog:
    """Check the catalog's data; files it names (`deliver`) are read from `base`."""
    try:
        fields = _CatalogFields.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_describe(exc, data, source)) from None

    category_ids = [category.id for category in fields.categories]
    _refuse_duplicates(category_ids, source, "categories")
    _refuse_duplicates([product.id for product in fields.products], source, "products")

    products = []
    for item in fields.products:
        where = f"{source}: product {item.id!r}"
        if item.category is not None and item.category not in category_ids:
            raise CatalogError(f"{where}, field 'category': no category {item.category!r}")
        try:
            price = Money.parse(item.price, item.currency)
        except MoneyError as exc:
            raise CatalogError(f"{where}, field 'price': {exc}") from None
        if price.minor <= 0:
            raise CatalogError(f"{where}, field 'price': must be more than zero")
        _check_rail(item, price, where)
        deliver = _delivery(item.deliver, where, base or Path()) if item.deliver else None
        if deliver is not None and deliver.kind == "keys" and item.stock is not None:
            raise CatalogError(
                f"{where}, field 'stock': a key pool's product has as many units as codes"
                " left in its file; remove stock"
            )
        products.append(
            Product(
                id=item.id,
                title=item.title,
                price=price,
                description=item.description,
                category=item.category,
                photo=item.photo,
                # A key pool's codes are its units: limited, and counted in the store.
                stock=len(deliver.codes) if deliver and deliver.kind == "keys" else item.stock,
                max_per_order=item.max_per_order,
                active=item.active,
                sort=item.sort,
                deliver=deliver,
            )
        )
    return Catalog(
        shop_name=fields.shop.name,
        support=fields.shop.support,
        products=tuple(products),
        categories=tuple(Category(c.id, c.title) for c in fields.categories),
    )


def _check_rail(item: _ProductFields, price: Money, where: str) -> None:
    """Telegram requires digital goods sold in a bot to be paid in Stars; a shop it does not
    apply to says so with rail = "stripe"."""
    stars = price.currency == STARS
    if item.rail == "stripe" and stars:
        raise CatalogError(f"{where}, field 'rail': Stripe does not take XTR (Telegram Stars)")
    if item.rail == "stars" and not stars:
        raise CatalogError(
            f"{where}, field 'rail': Stars are paid in XTR; write currency = \"xtr\" and the"
            " price in whole Stars"
        )
    if item.deliver is not None and not stars and item.rail != "stripe":
        raise CatalogError(
            f"{where}, field 'rail': a digital product (it has deliver) is priced in"
            f" {price.currency.upper()}, which this bot takes through Stripe; Telegram requires"
            " digital goods sold in a bot to be paid in Telegram Stars and suspends bots that"
            ' take cards for them. Price it in Stars (currency = "xtr", price in whole Stars),'
            ' or write rail = "stripe" if Telegram\'s rules do not apply to it (a service'
            " used outside Telegram)"
        )


def _delivery(fields: _DeliverFields, where: str, base: Path) -> Delivery:
    given = {name: value for name, value in fields.model_dump().items() if value is not None}
    if len(given) != 1:
        raise CatalogError(
            f"{where}, field 'deliver': give exactly one of file, keys, invite or text"
        )
    if fields.text is not None:
        return Delivery("text", text=fields.text)
    if fields.invite is not None:
        return Delivery("invite", invite_chat_id=fields.invite)
    if fields.keys is not None:
        path = base / fields.keys
        return Delivery("keys", keys_file=str(path), codes=_read_codes(path, where))
    assert fields.file is not None
    path = base / fields.file
    if path.is_file():
        return Delivery("file", file=str(path.resolve()), file_is_path=True)
    if _FILE_ID.fullmatch(fields.file):
        return Delivery("file", file=fields.file)
    raise CatalogError(
        f"{where}, field 'deliver.file': {path}: no such file (or a Telegram file id)"
    )


def _read_codes(path: Path, where: str) -> tuple[str, ...]:
    """A key pool's codes, one a line (blank lines skipped); each code once."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CatalogError(f"{where}, field 'deliver.keys': {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{where}, field 'deliver.keys': {path}: cannot read: {exc}") from None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        code = line.strip()
        if not code:
            continue
        if len(code) > KEY_MOST:
            raise CatalogError(
                f"{where}, field 'deliver.keys': {path}, line {number}: a code is at most"
                f" {KEY_MOST} characters"
            )
        if code in seen:
            raise CatalogError(
                f"{where}, field 'deliver.keys': {path}, line {number}: the code on line"
                f" {seen[code]} again (each code is sold once)"
            )
        seen[code] = number
    return tuple(seen)


def _refuse_duplicates(ids: list[str], source: str, table: str) -> None:
    seen: set[str] = set()
    for item_id in ids:
        if item_id in seen:
            raise CatalogError(f"{source}: [[{table}]] id {item_id!r} is used twice")
        seen.add(item_id)


def _describe(exc: ValidationError, data: dict[str, Any], source: str) -> str:
    """Name the first problem as an owner would look for it: table, item id, field."""
    error = exc.errors(include_url=False)[0]
    loc = list(error["loc"])
    where = source
    if len(loc) >= 2 and loc[0] in ("products", "categories") and isinstance(loc[1], int):
        table, index = str(loc[0]), loc[1]
        entry = data.get(table, [])[index]
        item_id = entry.get("id") if isinstance(entry, dict) else None
        kind = "product" if table == "products" else "category"
        where += f": {kind} {item_id!r}" if item_id else f": {kind} #{index + 1}"
        loc = loc[2:]
    elif loc:
        where += f": [{loc[0]}]" if len(loc) > 1 else ""
        loc = loc[1:] if len(loc) > 1 else loc
    field_name = str(loc[0]) if loc else ""
    rule = field_name
    if field_name == "deliver" and len(loc) > 1:  # a field of the deliver table
        rule = str(loc[1])
        field_name = f"deliver.{rule}"
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = _FIELD_RULES.get(rule, error["msg"])
    return f"{where}, field {field_name!r}: {message}" if field_name else f"{where}: {message}"


_FIELD_RULES = {
    "id": "must be 1 to 32 characters of a-z, 0-9 and -",
    "category": "must be the id of a [[categories]] entry",
    "title": 'must be a non-empty string, or a table such as { en = "…", fr = "…" }',
    "description": (
        f"must be a non-empty string of at most {DESCRIPTION_MOST} characters (a card shows it"
        ' in a photo caption), or a table of them such as { en = "…", fr = "…" }'
    ),
    "price": 'must be a decimal string in major units, quoted, such as "397.00"',
    "currency": "must be a three-letter ISO 4217 code such as usd",
    "photo": "must be an http(s) URL",
    "stock": "must be a whole number, 0 or more",
    "max_per_order": "must be a whole number from 1 to 99",
    "active": "must be true or false",
    "sort": "must be a whole number",
    "rail": 'must be "stripe" or "stars"',
    "file": "must be a path (from the catalog's folder) or a Telegram file id",
    "keys": "must be the path of a file of codes, one a line",
    "invite": "must be the id of a private group or channel, such as -1001234567890",
    "products": "the catalog needs at least one [[products]] entry",
}


class LiveCatalog:
    """The catalog in use, swapped whole on reload: handlers read `current` once per update, so
    each sees one consistent catalog, and a reload that fails leaves the old one in place.

    Without a catalog to begin with (one read from Stripe), `start` loads the first one."""

    def __init__(
        self,
        current: Catalog | None,
        load: Callable[[], Awaitable[Catalog]],
        storage: Storage,
    ) -> None:
        self._current = current
        self._load = load
        self._storage = storage
        # The database's catalog version this process's catalog was loaded at.
        self._version = 0

    @property
    def current(self) -> Catalog:
        if self._current is None:
            raise RuntimeError("the catalog is read when the service starts")
        return self._current

    async def start(self) -> None:
        """Load the first catalog if there is none yet; record its stock numbers."""
        self._version = await self._storage.catalog_version()
        if self._current is None:
            self._current = await self._load()
        await self._record(self._current)

    async def reload(self) -> Catalog:
        """Load the catalog again and use it, and tell the other processes on the database to
        do the same; raises CatalogError (keeping the old one)."""
        catalog = await self._use(await self._load())
        self._version = await self._storage.bump_catalog_version()
        return catalog

    async def follow(self) -> Catalog | None:
        """Reload if another process reloaded since this one last did; the catalog loaded, or
        None when there was nothing to do. Raises CatalogError (keeping the old one, and not
        trying that version again)."""
        version = await self._storage.catalog_version()
        if version == self._version:
            return None
        self._version = version
        return await self._use(await self._load())

    async def _use(self, catalog: Catalog) -> Catalog:
        await self._record(catalog)
        self._current = catalog
        return catalog

    async def _record(self, catalog: Catalog) -> None:
        """What the store keeps of the catalog: stock numbers, key pools, digital products."""
        await self._storage.record_digital_products(catalog.digital_kinds())
        pools = await self._storage.add_keys(catalog.key_pools())
        await self._storage.record_stock_levels(catalog.stock_levels() | pools)


def file_loader(path: Path) -> Callable[[], Awaitable[Catalog]]:
    """Load the catalog file off the event loop, as a reload does."""

    async def load() -> Catalog:
        return await asyncio.to_thread(load_catalog, path)

    return load
