"""The owner's figures, read from the orders table with SQL aggregates (/stats, /sales,
/chart, /export); money is summed as integers per currency, never across currencies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import CurrencyFigures, Order, PeriodFigures, ProductRevenue, SpanSales
from storage.order_rules import MONEY_TAKEN
from storage.sqlite.rows import ORDER_COLUMNS, order_from
from storage.sqlite.statements import Reads


class SQLiteReports:
    """Read-only queries over the orders, each one alone under the engine's lock."""

    def __init__(self, db: Reads) -> None:
        self._db = db

    async def period_figures(self, start: int | None, end: int | None, top: int) -> PeriodFigures:
        """/stats for the half-open period [start, end); None leaves that side open."""
        paid = _paid_between(start, end)
        currencies = await self._db.rows(
            f"SELECT currency, count(*) AS orders, sum({_PAID}) AS gross,"
            " sum(amount_refunded) AS refunded, sum(amount_refunded > 0) AS refunded_orders"
            f" FROM orders WHERE {paid.where} GROUP BY currency ORDER BY currency",
            paid.parameters,
        )
        # Per product across the lines of paid orders. SQLite takes the bare column l.title from
        # the row max(paid_at) picked: the title of the latest sale, in whichever language
        # that buyer read it.
        products = await self._db.rows(
            "SELECT currency, product_id, title, orders, quantity, revenue FROM ("
            " SELECT currency, l.product_id, l.title AS title, max(paid_at),"
            f" count(DISTINCT o.id) AS orders, sum(l.quantity) AS quantity,"
            f" sum({_LINE_PAID}) AS revenue, row_number() OVER (PARTITION BY currency"
            f" ORDER BY sum({_LINE_PAID}) DESC, l.product_id) AS rank"
            f" FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE {paid.where}"
            " GROUP BY currency, l.product_id"
            ") WHERE rank <= ? ORDER BY currency, rank",
            (*paid.parameters, top),
        )
        created = _between("created_at", start, end)
        links = await self._db.rows(
            "SELECT count(*) AS created, coalesce(sum(paid_at IS NOT NULL), 0) AS paid"
            f" FROM orders WHERE {created.where} AND checkout_session_id IS NOT NULL",
            created.parameters,
        )
        buyers = await self._db.rows(
            "SELECT count(*) AS buyers, coalesce(sum(EXISTS (SELECT 1 FROM orders AS earlier"
            " WHERE earlier.telegram_user_id = buyer.telegram_user_id"
            " AND earlier.paid_at < ?)), 0) AS returned FROM ("
            f" SELECT DISTINCT telegram_user_id FROM orders WHERE {paid.where}) AS buyer",
            (start if start is not None else _NO_TIME, *paid.parameters),
        )
        return PeriodFigures(
            currencies=tuple(
                CurrencyFigures(
                    row["currency"],
                    row["orders"],
                    row["gross"],
                    row["refunded"],
                    row["refunded_orders"],
                )
                for row in currencies
            ),
            top_products=tuple(
                ProductRevenue(
                    row["currency"],
                    row["product_id"],
                    row["title"],
                    row["orders"],
                    row["quantity"],
                    row["revenue"],
                )
                for row in products
            ),
            links_created=links[0]["created"],
            links_paid=links[0]["paid"],
            new_buyers=buyers[0]["buyers"] - buyers[0]["returned"],
            returning_buyers=buyers[0]["returned"],
        )

    async def sales_by_span(self, boundaries: Sequence[int]) -> list[SpanSales]:
        """Paid orders per currency in each span [boundaries[i], boundaries[i + 1])."""
        # The boundaries travel as one JSON parameter: a year of days would pass SQLite's
        # limit on bound parameters in older versions.
        placeholders = ", ".join("?" for _ in MONEY_TAKEN)
        rows = await self._db.rows(
            "WITH spans AS (SELECT CAST(key AS INTEGER) AS span, value AS start,"
            " lead(value) OVER (ORDER BY key) AS end FROM json_each(?))"
            f" SELECT span, currency, count(*) AS orders, sum({_PAID}) AS revenue"
            " FROM spans JOIN orders"
            " ON orders.paid_at >= spans.start AND orders.paid_at < spans.end"
            f" WHERE +orders.status IN ({placeholders})"
            " GROUP BY span, currency ORDER BY span, currency",
            (json.dumps(list(boundaries)), *(status.value for status in MONEY_TAKEN)),
        )
        return [
            SpanSales(row["span"], row["currency"], row["orders"], row["revenue"]) for row in rows
        ]

    async def first_paid_at(self) -> int | None:
        """When the first order was paid; None before any was."""
        rows = await self._db.rows("SELECT min(paid_at) FROM orders WHERE paid_at IS NOT NULL")
        value = rows[0][0]
        return int(value) if value is not None else None

    async def paid_orders(self, limit: int, before: tuple[int, int] | None) -> list[Order]:
        """Paid orders (refunded ones too), newest first; `before` is the (paid_at, id) to
        continue after, from the last order of the previous page."""
        placeholders = ", ".join("?" for _ in MONEY_TAKEN)
        after_cursor = "AND (paid_at, id) < (?, ?)" if before is not None else ""
        rows = await self._db.rows(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE paid_at IS NOT NULL"
            f" AND +status IN ({placeholders}) {after_cursor}"
            " ORDER BY paid_at DESC, id DESC LIMIT ?",
            (*(status.value for status in MONEY_TAKEN), *(before or ()), limit),
        )
        return [order_from(row) for row in rows]

    async def orders_created(
        self, start: int | None, end: int | None, chunk_size: int
    ) -> AsyncIterator[list[Order]]:
        """Every order created in [start, end), oldest first, `chunk_size` at a time.

        Each chunk is one short query, so a long export never holds the store for long.
        """
        created = _between("created_at", start, end)
        cursor: tuple[int, int] = (_NO_TIME, 0)
        while True:
            rows = await self._db.rows(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE {created.where}"
                " AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?",
                (*created.parameters, *cursor, chunk_size),
            )
            if not rows:
                return
            chunk = [order_from(row) for row in rows]
            yield chunk
            cursor = (chunk[-1].created_at, chunk[-1].id)


# What the buyer paid (after promotion codes, with tax and shipping); the list price for orders
# stored before payments were recorded.
_PAID = "coalesce(amount_received, amount_total)"
# A line's share of what its order's buyer paid, in proportion to its list price (a promotion
# code's discount shared out over the lines); all of it for a one-line order.
_LINE_PAID = f"(l.unit_amount * l.quantity * {_PAID} / amount_total)"

# Earlier than any stored time: an open start of a period.
_NO_TIME = -(2**62)


@dataclass(frozen=True, slots=True)
class _Condition:
    where: str
    parameters: tuple[Any, ...]


def _between(column: str, start: int | None, end: int | None) -> _Condition:
    """`column` in the half-open [start, end); None leaves that side open."""
    parts, parameters = [f"{column} IS NOT NULL"], []
    if start is not None:
        parts.append(f"{column} >= ?")
        parameters.append(start)
    if end is not None:
        parts.append(f"{column} < ?")
        parameters.append(end)
    return _Condition(" AND ".join(parts), tuple(parameters))


def _paid_between(start: int | None, end: int | None) -> _Condition:
    """Orders paid in [start, end), refunded ones too.

    The unary + keeps SQLite from picking the status index over the paid_at range: "paid" is
    most of the orders, a few days of paid_at are few.
    """
    period = _between("paid_at", start, end)
    placeholders = ", ".join("?" for _ in MONEY_TAKEN)
    return _Condition(
        f"{period.where} AND +status IN ({placeholders})",
        (*period.parameters, *(status.value for status in MONEY_TAKEN)),
    )
