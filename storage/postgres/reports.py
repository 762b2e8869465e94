"""The owner's figures, read from the orders table with SQL aggregates (/stats, /sales,
/chart, /export); money is summed as BIGINT per currency, never across currencies. The figures
are SQLite's (storage/sqlite/reports.py), in PostgreSQL's words."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from storage.models import CurrencyFigures, Order, PeriodFigures, ProductRevenue, SpanSales
from storage.order_rules import MONEY_TAKEN
from storage.postgres.rows import ORDER_COLUMNS, order_from
from storage.postgres.statements import Reads

# What the buyer paid (after promotion codes, with tax and shipping); the list price for orders
# stored before payments were recorded.
_PAID = "coalesce(amount_received, amount_total)"
# A line's share of what its order's buyer paid (SQLite's _LINE_PAID).
_LINE_PAID = f"(l.unit_amount * l.quantity * {_PAID} / amount_total)"
# Earlier than any stored time: an open start of a period.
_NO_TIME = -(2**62)
_MONEY_TAKEN = [status.value for status in MONEY_TAKEN]


class PostgresReports:
    """Read-only queries over the orders, each on whichever pooled connection is free."""

    def __init__(self, db: Reads) -> None:
        self._db = db

    async def period_figures(self, start: int | None, end: int | None, top: int) -> PeriodFigures:
        """/stats for the half-open period [start, end); None leaves that side open."""
        paid = _paid_between(start, end)
        currencies = await self._db.rows(
            f"SELECT currency, count(*) AS orders, sum({_PAID})::bigint AS gross,"
            " sum(amount_refunded)::bigint AS refunded,"
            " count(*) FILTER (WHERE amount_refunded > 0) AS refunded_orders"
            f" FROM orders WHERE {paid.where} GROUP BY currency ORDER BY currency",
            *paid.parameters,
        )
        # Per product across the lines of paid orders; the title of the latest sale, in
        # whichever language that buyer read it (SQLite's bare column beside max(paid_at)).
        products = await self._db.rows(
            "SELECT currency, product_id, title, orders, quantity, revenue FROM ("
            " SELECT currency, l.product_id,"
            " (array_agg(l.title ORDER BY paid_at DESC, o.id DESC))[1] AS title,"
            f" count(DISTINCT o.id) AS orders, sum(l.quantity)::bigint AS quantity,"
            f" sum({_LINE_PAID})::bigint AS revenue,"
            " row_number() OVER (PARTITION BY currency"
            f" ORDER BY sum({_LINE_PAID}) DESC, l.product_id) AS rank"
            f" FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE {paid.where}"
            " GROUP BY currency, l.product_id"
            f") AS ranked WHERE rank <= ${len(paid.parameters) + 1} ORDER BY currency, rank",
            *paid.parameters,
            top,
        )
        created = _between("created_at", start, end)
        links = await self._db.rows(
            "SELECT count(*) AS created, count(paid_at) AS paid"
            f" FROM orders WHERE {created.where} AND checkout_session_id IS NOT NULL",
            *created.parameters,
        )
        returned_before = f"${len(paid.parameters) + 1}"
        buyers = await self._db.rows(
            "SELECT count(*) AS buyers, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM orders"
            " AS earlier WHERE earlier.telegram_user_id = buyer.telegram_user_id"
            f" AND earlier.paid_at < {returned_before})) AS returned FROM ("
            f" SELECT DISTINCT telegram_user_id FROM orders WHERE {paid.where}) AS buyer",
            *paid.parameters,
            start if start is not None else _NO_TIME,
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
        rows = await self._db.rows(
            "WITH spans AS (SELECT (number - 1)::int AS span, start,"
            " lead(start) OVER (ORDER BY number) AS stop"
            " FROM unnest($1::bigint[]) WITH ORDINALITY AS given (start, number))"
            f" SELECT span, currency, count(*) AS orders, sum({_PAID})::bigint AS revenue"
            " FROM spans JOIN orders"
            " ON orders.paid_at >= spans.start AND orders.paid_at < spans.stop"
            " WHERE orders.status = ANY($2::text[])"
            " GROUP BY span, currency ORDER BY span, currency",
            list(boundaries),
            _MONEY_TAKEN,
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
        after_cursor = "AND (paid_at, id) < ($3, $4)" if before is not None else ""
        rows = await self._db.rows(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE paid_at IS NOT NULL"
            f" AND status = ANY($1::text[]) {after_cursor}"
            " ORDER BY paid_at DESC, id DESC LIMIT $2",
            _MONEY_TAKEN,
            limit,
            *(before or ()),
        )
        return [order_from(row) for row in rows]

    async def orders_created(
        self, start: int | None, end: int | None, chunk_size: int
    ) -> AsyncIterator[list[Order]]:
        """Every order created in [start, end), oldest first, `chunk_size` at a time.

        Each chunk is one short query, so a long export never holds a connection for long.
        """
        created = _between("created_at", start, end)
        first = len(created.parameters) + 1
        cursor: tuple[int, int] = (_NO_TIME, 0)
        while True:
            rows = await self._db.rows(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE {created.where}"
                f" AND (created_at, id) > (${first}, ${first + 1})"
                f" ORDER BY created_at, id LIMIT ${first + 2}",
                *created.parameters,
                *cursor,
                chunk_size,
            )
            if not rows:
                return
            chunk = [order_from(row) for row in rows]
            yield chunk
            cursor = (chunk[-1].created_at, chunk[-1].id)


@dataclass(frozen=True, slots=True)
class _Condition:
    """A WHERE clause whose parameters are $1… in order."""

    where: str
    parameters: tuple[Any, ...]


def _between(column: str, start: int | None, end: int | None) -> _Condition:
    """`column` in the half-open [start, end); None leaves that side open."""
    parts, parameters = [f"{column} IS NOT NULL"], []
    if start is not None:
        parameters.append(start)
        parts.append(f"{column} >= ${len(parameters)}")
    if end is not None:
        parameters.append(end)
        parts.append(f"{column} < ${len(parameters)}")
    return _Condition(" AND ".join(parts), tuple(parameters))


def _paid_between(start: int | None, end: int | None) -> _Condition:
    """Orders paid in [start, end), refunded ones too."""
    period = _between("paid_at", start, end)
    index = len(period.parameters) + 1
    return _Condition(
        f"{period.where} AND status = ANY(${index}::text[])",
        (*period.parameters, _MONEY_TAKEN),
    )
