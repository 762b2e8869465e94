"""The console's figures against sums computed here, in plain Python, over generated orders."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.admin.periods import Period, Step, bar_starts, parse_period
from storage import SQLiteStorage
from tests.helpers import ONE_LINE_EACH

PARIS = ZoneInfo("Europe/Paris")
CURRENCIES = ("usd", "eur", "jpy", "kwd")
PRODUCTS = ("forest-hiker", "sea-explorer", "snow-adventurer", "trail-map", "city-walk")
STATUSES = ("pending", "processing", "paid", "failed", "expired", "partially_refunded", "refunded")
PAID = {"paid", "partially_refunded", "refunded"}


@dataclass
class Row:
    id: int
    buyer: int
    product: str
    currency: str
    quantity: int
    total: int
    refunded: int
    status: str
    created_at: int
    paid_at: int | None
    session: str | None
    # What the buyer paid: less than `total` after a promotion code; None until paid.
    received: int | None = None


def paid_amount(row: Row) -> int:
    """What the figures count of an order: what its buyer paid."""
    assert row.received is not None
    return row.received


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def local_day(at: int) -> date:
    return datetime.fromtimestamp(at, PARIS).date()


def generate(count: int, seed: int) -> list[Row]:
    """Orders from January to November 2025, some of them exactly on Paris midnights and on the
    nights the clocks change."""
    rng = random.Random(seed)
    start, end = utc(2025, 1, 1), utc(2025, 11, 30)
    # Instants that sit on the edge of a Paris day, or inside the hours the clocks skip or repeat.
    edges = []
    for day in (date(2025, 3, 29), date(2025, 3, 30), date(2025, 3, 31), date(2025, 10, 26)):
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=PARIS).timestamp())
        edges += [midnight - 1, midnight, midnight + 1]
    edges += [utc(2025, 3, 30, 1, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30)]
    rows = []
    for number in range(1, count + 1):
        created = rng.choice(edges) if number % 25 == 0 else rng.randrange(start, end)
        status = rng.choice(STATUSES)
        currency = rng.choice(CURRENCIES)
        unit = {"usd": 1250, "eur": 49700, "jpy": 4800, "kwd": 12340}[currency]
        unit += rng.randrange(0, 5) * (10 if currency == "kwd" else 1)
        quantity = rng.randint(1, 4)
        total = unit * quantity
        paid_at = None
        if status in PAID:
            # Paid at once or later; orders paid on a day edge test the half-open periods.
            paid_at = rng.choice(edges) if number % 20 == 0 else created + rng.randrange(0, 7200)
        received = None
        if status in PAID:
            discount = rng.randrange(1, total // 5 + 2) if rng.random() < 0.2 else 0
            received = total - discount
        refunded = {
            "refunded": received,
            "partially_refunded": rng.randrange(1, received) if received and received > 1 else 0,
        }.get(status, 0)
        session = f"cs_test_{number}" if status != "failed" or rng.random() < 0.5 else None
        rows.append(
            Row(
                number,
                rng.randrange(1, 400),
                rng.choice(PRODUCTS),
                currency,
                quantity,
                total,
                refunded,
                status,
                created,
                paid_at,
                session,
                received,
            )
        )
    return rows


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStorage, list[Row]]]:
    path = tmp_path / "shop.db"
    async with SQLiteStorage(path):
        pass  # the schema, by the migrations
    rows = generate(3000, seed=20250330)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO orders (id, telegram_user_id, chat_id, buyer_name, product_id,"
            " product_title, quantity, unit_amount, amount_total, currency, status,"
            " checkout_session_id, created_at, updated_at, paid_at, amount_refunded,"
            " amount_received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.id,
                    r.buyer,
                    r.buyer,
                    f"Buyer {r.buyer}",
                    r.product,
                    r.product.replace("-", " ").title(),
                    r.quantity,
                    r.total // r.quantity,
                    r.total,
                    r.currency,
                    r.status,
                    r.session,
                    r.created_at,
                    r.created_at,
                    r.paid_at,
                    r.refunded,
                    r.received,
                )
                for r in rows
            ],
        )
        db.execute(ONE_LINE_EACH)
    async with SQLiteStorage(path) as storage:
        yield storage, rows


def in_period(at: int | None, period: Period) -> bool:
    """Whether the instant falls on one of the period's days, as a Paris wall clock reads it."""
    if at is None:
        return False
    day = local_day(at)
    return (period.first is None or period.first <= day) and (
        period.last is None or day <= period.last
    )


PERIODS = [
    "2025-03-30..2025-03-30",  # 23 hours long in Paris
    "2025-10-26..2025-10-26",  # 25 hours long
    "2025-03-29..2025-03-31",
    "2025-01-01..2025-01-31",
    "2025-02-01..2025-06-30",
    "2025-10-01..2025-10-31",
    "all",
]


@pytest.mark.parametrize("name", PERIODS)
async def test_period_figures_match_sums_over_the_rows(
    store: tuple[SQLiteStorage, list[Row]], name: str
) -> None:
    storage, rows = store
    period = parse_period(name, PARIS, now=utc(2025, 12, 1))
    figures = await storage.reports.period_figures(period.start, period.end, top=3)

    paid = [r for r in rows if r.status in PAID and in_period(r.paid_at, period)]
    assert paid, "the period must hold some sales for the comparison to mean anything"
    expected = {}
    for currency in sorted({r.currency for r in paid}):
        mine = [r for r in paid if r.currency == currency]
        gross = sum(paid_amount(r) for r in mine)
        expected[currency] = (
            len(mine),
            gross,
            sum(r.refunded for r in mine),
            sum(1 for r in mine if r.refunded),
            gross - sum(r.refunded for r in mine),
            int((Decimal(gross) / len(mine)).quantize(Decimal(1), ROUND_HALF_UP)),
        )
    assert {
        line.currency: (
            line.orders,
            line.gross,
            line.refunded,
            line.refunded_orders,
            line.net,
            line.average,
        )
        for line in figures.currencies
    } == expected

    revenue: dict[tuple[str, str], int] = defaultdict(int)
    for r in paid:
        revenue[r.currency, r.product] += paid_amount(r)
    best = []
    for currency in sorted({r.currency for r in paid}):
        ranked = sorted(
            ((amount, product) for (cur, product), amount in revenue.items() if cur == currency),
            key=lambda item: (-item[0], item[1]),
        )
        best += [(currency, product, amount) for amount, product in ranked[:3]]
    assert [(p.currency, p.product_id, p.revenue) for p in figures.top_products] == best
    for product in figures.top_products:
        key = (product.currency, product.product_id)
        mine = [r for r in paid if (r.currency, r.product) == key]
        assert (product.orders, product.quantity) == (len(mine), sum(r.quantity for r in mine))

    created = [r for r in rows if in_period(r.created_at, period) and r.session is not None]
    assert figures.links_created == len(created)
    assert figures.links_paid == sum(1 for r in created if r.paid_at is not None)

    buyers = {r.buyer for r in paid}
    start = period.start
    returning = {
        r.buyer
        for r in rows
        if r.buyer in buyers and r.paid_at is not None and start is not None and r.paid_at < start
    }
    assert (figures.new_buyers, figures.returning_buyers) == (
        len(buyers - returning),
        len(returning),
    )


async def test_a_day_of_the_clock_change_holds_exactly_its_wall_clock_hours(
    store: tuple[SQLiteStorage, list[Row]],
) -> None:
    """The orders paid at Paris midnight go to the day that starts then, never to both days."""
    storage, rows = store
    now = utc(2025, 12, 1)
    days = ["2025-03-29", "2025-03-30", "2025-03-31"]
    counts = []
    for day in days:
        period = parse_period(f"{day}..{day}", PARIS, now)
        figures = await storage.reports.period_figures(period.start, period.end, top=3)
        counts.append(sum(line.orders for line in figures.currencies))
    whole = parse_period(f"{days[0]}..{days[-1]}", PARIS, now)
    together = await storage.reports.period_figures(whole.start, whole.end, top=3)
    assert sum(counts) == sum(line.orders for line in together.currencies)
    expected = Counter(
        local_day(r.paid_at).isoformat() for r in rows if r.status in PAID and r.paid_at
    )
    assert counts == [expected[day] for day in days]


async def test_sales_by_span_match_the_rows_day_by_day(
    store: tuple[SQLiteStorage, list[Row]],
) -> None:
    storage, rows = store
    first = date(2025, 3, 20)
    days = [first + timedelta(days=offset) for offset in range(20)]  # spans the spring change
    bounds = [int(datetime(d.year, d.month, d.day, tzinfo=PARIS).timestamp()) for d in days]
    last = days[-1] + timedelta(days=1)
    bounds.append(int(datetime(last.year, last.month, last.day, tzinfo=PARIS).timestamp()))

    sales = await storage.reports.sales_by_span(bounds)

    expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.status in PAID and r.paid_at is not None and local_day(r.paid_at) in days:
            cell = expected[days.index(local_day(r.paid_at)), r.currency]
            cell[0] += 1
            cell[1] += paid_amount(r)
    assert {(s.span, s.currency): [s.orders, s.revenue] for s in sales} == dict(expected)


@pytest.mark.parametrize("step", [Step.WEEK, Step.MONTH])
async def test_sales_by_week_and_month_match_the_rows(
    store: tuple[SQLiteStorage, list[Row]], step: Step
) -> None:
    """The chart's longer bars: Paris weeks from Monday and calendar months, across both clock
    changes, each bar counting what was paid from its first day to the next bar's."""
    storage, rows = store
    first, last = date(2025, 1, 15), date(2025, 11, 20)
    starts = bar_starts(first, last, step)
    ends = [*starts, last + timedelta(days=1)]
    bounds = [int(datetime(d.year, d.month, d.day, tzinfo=PARIS).timestamp()) for d in ends]

    sales = await storage.reports.sales_by_span(bounds)

    def bar_of(day: date) -> tuple[int, ...]:
        if step is Step.WEEK:
            return tuple(day.isocalendar()[:2])  # (ISO year, ISO week): weeks begin on Monday
        return (day.year, day.month)

    expected: dict[tuple[tuple[int, ...], str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if r.status in PAID and r.paid_at is not None and first <= local_day(r.paid_at) <= last:
            cell = expected[bar_of(local_day(r.paid_at)), r.currency]
            cell[0] += 1
            cell[1] += paid_amount(r)
    assert len(starts) == len({bar_of(day) for day in starts}), "one bar per week or month"
    got = {(bar_of(starts[s.span]), s.currency): [s.orders, s.revenue] for s in sales}
    assert got == dict(expected)
    assert len({bar for bar, _ in got}) > (30 if step is Step.WEEK else 9)


async def test_paid_orders_page_newest_first_without_gaps_or_repeats(
    store: tuple[SQLiteStorage, list[Row]],
) -> None:
    storage, rows = store
    seen = []
    before = None
    while page := await storage.reports.paid_orders(37, before):
        seen += [order.id for order in page]
        before = (page[-1].paid_at or 0, page[-1].id)
    paid = sorted(
        (r for r in rows if r.status in PAID), key=lambda r: (r.paid_at or 0, r.id), reverse=True
    )
    assert seen == [r.id for r in paid]


async def test_orders_created_come_in_chunks_in_order_and_within_the_period(
    store: tuple[SQLiteStorage, list[Row]],
) -> None:
    storage, rows = store
    period = parse_period("2025-02-01..2025-06-30", PARIS, now=utc(2025, 12, 1))
    chunks = [
        [order.id for order in chunk]
        async for chunk in storage.reports.orders_created(period.start, period.end, 100)
    ]
    assert chunks and all(len(chunk) <= 100 for chunk in chunks)
    expected = sorted(
        (r for r in rows if in_period(r.created_at, period)), key=lambda r: (r.created_at, r.id)
    )
    assert [order_id for chunk in chunks for order_id in chunk] == [r.id for r in expected]
