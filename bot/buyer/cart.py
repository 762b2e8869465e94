"""The buyer's cart: what it holds as the catalog sees it now, and what adding to it or changing
a line does, without Telegram (the taps are in bot/buyer/cart_handlers.py; the checkout is a
purchase, bot/buyer/purchase.py).

A cart lives in the store, one per buyer, in one currency. Each line keeps the price it had when
it was added; the checkout charges the catalog's price of the moment, and the cart says when the
two differ. A product taken off sale stays in the cart, shown as such, and out of the checkout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.buyer.purchase import Pick
from bot.catalog.model import LiveCatalog, Product
from bot.money import Money
from storage import CartLine, Storage

# Lines a cart holds. Stripe Checkout takes up to 100 line items in one session, but the cart is
# shown in one message: four buttons a line within Telegram's 100 buttons a keyboard, and the
# lines' text within its 4,096 characters.
MOST_LINES = 20


@dataclass(frozen=True, slots=True)
class CartRow:
    """One line of the cart as the catalog sees it now."""

    line: CartLine
    # None when the catalog no longer has the product.
    product: Product | None
    # The most units the buyer may have of it: `max_per_order` and the stock left.
    upper: int

    @property
    def on_sale(self) -> bool:
        """In the catalog, active, and still in the cart's currency."""
        product = self.product
        return (
            product is not None and product.active and product.price.currency == self.line.currency
        )

    @property
    def added_price(self) -> Money:
        return Money(self.line.unit_amount, self.line.currency)

    @property
    def price(self) -> Money:
        """What a unit costs at checkout: the catalog's price now (the added one if off sale)."""
        return self.product.price if self.on_sale and self.product is not None else self.added_price

    @property
    def price_changed(self) -> bool:
        return self.on_sale and self.price != self.added_price


@dataclass(frozen=True, slots=True)
class CartContents:
    """The buyer's cart, line by line, in the order the lines were added."""

    rows: tuple[CartRow, ...]

    @property
    def currency(self) -> str | None:
        return self.rows[0].line.currency if self.rows else None

    @property
    def for_sale(self) -> tuple[CartRow, ...]:
        """The lines a checkout takes."""
        return tuple(row for row in self.rows if row.on_sale)

    @property
    def units(self) -> int:
        return sum(row.line.quantity for row in self.rows)

    @property
    def total(self) -> Money | None:
        """What the lines for sale cost at the catalog's prices now; None when there is none."""
        rows = self.for_sale
        if not rows:
            return None
        return Money(
            sum((row.price * row.line.quantity).minor for row in rows), rows[0].price.currency
        )

    def picks(self) -> list[Pick]:
        return [Pick(row.product, row.line.quantity) for row in self.for_sale if row.product]

    def row(self, product_id: str) -> CartRow | None:
        return next((row for row in self.rows if row.line.product_id == product_id), None)


@dataclass(frozen=True, slots=True)
class Added:
    """The product is in the cart at `quantity` (fewer than asked when a bound stopped it)."""

    quantity: int
    capped: bool
    contents: CartContents


@dataclass(frozen=True, slots=True)
class AtBound:
    """Not one more unit fits: the cart holds `upper` already (0: none left to have)."""

    upper: int
    left: int | None


@dataclass(frozen=True, slots=True)
class OtherCurrency:
    """The cart is in another currency: the buyer must choose what to do."""

    cart_currency: str


@dataclass(frozen=True, slots=True)
class CartFull:
    """The cart has MOST_LINES lines already, and this product is not one of them."""


AddResult = Added | AtBound | OtherCurrency | CartFull


class Carts:
    """Reads and changes buyers' carts against the live catalog and its stock."""

    def __init__(self, storage: Storage, catalog: LiveCatalog) -> None:
        self._storage = storage
        self._live = catalog

    async def contents(self, buyer_id: int) -> CartContents:
        """The buyer's cart, each line with the catalog's view of it now."""
        catalog = self._live.current
        lines = await self._storage.cart(buyer_id)
        products = {line.product_id: catalog.get(line.product_id) for line in lines}
        left = await self._left(buyer_id, [p for p in products.values() if p])
        rows = tuple(
            CartRow(line, products[line.product_id], _upper(products[line.product_id], left))
            for line in lines
        )
        return CartContents(rows)

    async def add(
        self, buyer_id: int, product: Product, quantity: int, *, new_cart: bool = False
    ) -> AddResult:
        """Add units of an active product (after emptying the cart when `new_cart`)."""
        contents = CartContents(()) if new_cart else await self.contents(buyer_id)
        if contents.currency not in (None, product.price.currency):
            return OtherCurrency(contents.currency or "")
        row = contents.row(product.id)
        if row is None and len(contents.rows) >= MOST_LINES:
            return CartFull()
        held = row.line.quantity if row is not None else 0
        left = (await self._left(buyer_id, [product])).get(product.id)
        upper = _upper(product, {product.id: left} if left is not None else {})
        wanted = min(held + quantity, upper)
        if wanted <= held:
            return AtBound(upper, left)
        line = CartLine(product.id, wanted, product.price.minor, product.price.currency)
        if not await self._storage.put_in_cart(buyer_id, line, new_cart=new_cart):
            return OtherCurrency((await self.contents(buyer_id)).currency or "")
        return Added(wanted, wanted < held + quantity, await self.contents(buyer_id))

    async def change(self, buyer_id: int, product_id: str, quantity: int) -> None:
        """Set a line's quantity (0 takes it out); the caller keeps it within the row's upper."""
        await self._storage.set_cart_quantity(buyer_id, product_id, quantity)

    async def empty(self, buyer_id: int) -> None:
        await self._storage.empty_cart(buyer_id)

    async def _left(self, buyer_id: int, products: list[Product]) -> dict[str, int]:
        """Units left of each product with a stock, counting the buyer's open cart link as
        theirs: checking out again replaces it."""
        stocks = {p.id: p.stock for p in products if p.stock is not None}
        if not stocks:
            return {}
        own = await self._storage.open_cart_link_for(buyer_id, int(time.time()))
        replacing = own.id if own is not None else None
        left = await self._storage.stock_left(stocks, replacing=replacing)
        # A number not recorded yet (a product added by a reload moments ago) is all there.
        return {product_id: left.get(product_id, stock) for product_id, stock in stocks.items()}


def _upper(product: Product | None, left: dict[str, int]) -> int:
    if product is None:
        return 0
    return min(product.max_per_order, left.get(product.id, product.max_per_order))
