"""The /export CSV: one row per order, written as the rows come from the store.

Rows are written to a spooled temporary file chunk by chunk (in memory while small, on disk
once large), so the export of a busy year is never held as one list of orders.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime
from tempfile import SpooledTemporaryFile
from typing import IO
from zoneinfo import ZoneInfo

from bot.money import Money
from bot.references import reference_for
from storage import Order

# Kept in memory up to this size, then moved to disk.
SPOOL_BYTES = 1 << 20
CHUNK_ORDERS = 500
# One row per order line: the order's own columns (order_total, order_refunded…) are repeated
# on each of its lines, and `line` / `lines` say which line of how many a row is.
COLUMNS = (
    "reference",
    "line",
    "lines",
    "status",
    "created_at",
    "paid_at",
    "buyer_id",
    "buyer_name",
    "buyer_username",
    "language",
    "product_id",
    "product_title",
    "quantity",
    "unit_price",
    "line_total",
    "order_total",
    "order_refunded",
    "currency",
    "checkout_session_id",
    "payment_intent_id",
    "flag",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection
# list: tab and carriage return too), and one set to split on `;`, `|` or tabs (Excel in fr-FR and
# de-DE splits on `;`) makes a cell of every piece between them: each piece that would start a
# formula, after a separator, a line break or spaces, gets the quote that marks it as text.
_FORMULA_PIECE = re.compile(r"(^|[,;|\t\r\n])( *)(?=[=+\-@\t\r])")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SEPARATOR = re.compile(r"[,;|\t\r\n]")


def neutralise(cell: str) -> str:
    """Text that a spreadsheet shows as it is, never runs, however it splits the line."""
    # Most cells have no separator: the regex, forty times slower, is for the few that do.
    if not cell.lstrip(" ").startswith(_FORMULA_STARTS) and not _SEPARATOR.search(cell):
        return cell
    return _FORMULA_PIECE.sub(r"\1\2'", cell)


def iso_time(at: int | None, timezone: ZoneInfo) -> str:
    """ISO 8601 with the offset of the shop's time zone at that moment; empty when unknown."""
    return datetime.fromtimestamp(at, timezone).isoformat() if at is not None else ""


def rows_of(order: Order, timezone: ZoneInfo) -> list[list[str]]:
    """The order's rows: one per line, the order's columns repeated on each."""

    def amount(minor: int) -> str:
        return str(Money(minor, order.currency).decimal)

    rows = []
    for number, line in enumerate(order.lines, start=1):
        cells = [
            reference_for(order.id),
            str(number),
            str(len(order.lines)),
            order.status.value,
            iso_time(order.created_at, timezone),
            iso_time(order.paid_at, timezone),
            str(order.telegram_user_id),
            order.buyer_name,
            order.buyer_username or "",
            order.language or "",
            line.product_id,
            line.title,
            str(line.quantity),
            amount(line.unit_amount),
            amount(line.amount),
            amount(order.amount_total),
            amount(order.amount_refunded),
            order.currency.upper(),
            order.checkout_session_id or "",
            order.payment_intent_id or "",
            order.flag or "",
        ]
        rows.append([neutralise(cell) for cell in cells])
    return rows


async def write_csv(
    chunks: AsyncIterator[list[Order]], timezone: ZoneInfo
) -> tuple[IO[bytes], int]:
    """The CSV of every order `chunks` yields (a row per line), rewound, and how many orders
    it holds.

    UTF-8 with a byte order mark: Excel reads the file as UTF-8 only when the mark is there.
    """
    out: IO[bytes] = SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 - the caller closes it
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    # Every field quoted: a separator inside one never splits it, whichever the reader uses.
    writer = csv.writer(text, quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    count = 0
    async for chunk in chunks:
        for order in chunk:
            writer.writerows(rows_of(order, timezone))
        count += len(chunk)
    text.flush()
    text.detach()  # leave `out` open for the caller
    out.seek(0)
    return out, count
