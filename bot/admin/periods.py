"""Periods of the admins' figures, as days of the shop's time zone, half-open: [start, end).

"Today" is the owner's today: midnight to midnight in SHOP_TIMEZONE, which is 23 or 25 hours
long on the days the clocks change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PERIOD_NAMES = ("today", "7d", "30d", "month", "all")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
# What an error quotes of the text it refuses, which may be thousands of characters long.
QUOTED_MOST = 32


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first` to `last` (both included); None for an open side ("all")."""

    title: str
    first: date | None
    last: date | None
    timezone: ZoneInfo

    @property
    def start(self) -> int | None:
        """The first second of the period, in Unix time; None when it has no start."""
        return midnight(self.first, self.timezone) if self.first is not None else None

    @property
    def end(self) -> int | None:
        """The first second after the period; None when it has no end."""
        if self.last is None:
            return None
        return midnight(self.last + timedelta(days=1), self.timezone)

    @property
    def slug(self) -> str:
        """The period in a file name: 2025-03-01_2025-03-31, or "all"."""
        if self.first is None or self.last is None:
            return "all"
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


class PeriodError(ValueError):
    """A period argument that names no period; the message says what is accepted."""


def midnight(day: date, timezone: ZoneInfo) -> int:
    """The Unix time at which `day` starts in `timezone`."""
    return int(datetime.combine(day, time(0), tzinfo=timezone).timestamp())


def today_in(timezone: ZoneInfo, now: float) -> date:
    return datetime.fromtimestamp(now, timezone).date()


def parse_period(text: str, timezone: ZoneInfo, now: float) -> Period:
    """today, 7d, 30d (both ending today), month (this calendar month), all, or a range
    YYYY-MM-DD..YYYY-MM-DD of whole days, both included."""
    name = text.strip().lower()
    today = today_in(timezone, now)
    if name == "today":
        return Period("Today", today, today, timezone)
    if name in ("7d", "30d"):
        days = int(name[:-1])
        return Period(f"Last {days} days", today - timedelta(days=days - 1), today, timezone)
    if name == "month":
        first = today.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return Period(f"{first:%B %Y}", first, last, timezone)
    if name == "all":
        return Period("All time", None, None, timezone)
    match = _RANGE.match(name)
    if match is None:
        shown = text if len(text) <= QUOTED_MOST else text[: QUOTED_MOST - 1] + "…"
        raise PeriodError(f"unknown period {shown!r}")
    try:
        first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
    except ValueError:
        raise PeriodError(f"{text!r} is not a valid pair of dates") from None
    if last < first:
        raise PeriodError(f"{text!r} ends before it starts")
    if last == date.max:  # a half-open period ends the day after its last, which has none
        raise PeriodError(f"{text!r} ends on the last day there is")
    return Period(f"{first.isoformat()} to {last.isoformat()}", first, last, timezone)


def day_count(period: Period, first_known: date, today: date) -> int:
    """How many days the period spans; an open side stops at `first_known` or at `today`."""
    return ((period.last or today) - (period.first or first_known)).days + 1


class Step(StrEnum):
    """How much time one bar of a chart covers."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


# The longest span each step draws, so that bars stay a few pixels wide: about 90 daily bars,
# 105 weekly, 600 monthly.
DAILY_MOST_DAYS = 92
WEEKLY_MOST_DAYS = 731
MONTHLY_MOST_DAYS = 50 * 366


def step_for(days: int) -> Step | None:
    """The step for a chart of `days` days; None when it is too long to draw."""
    if days <= DAILY_MOST_DAYS:
        return Step.DAY
    if days <= WEEKLY_MOST_DAYS:
        return Step.WEEK
    if days <= MONTHLY_MOST_DAYS:
        return Step.MONTH
    return None


def bar_starts(first: date, last: date, step: Step) -> list[date]:
    """The first day of each bar from `first` to `last`: every day, or `first` and then each
    Monday, or `first` and then each first of the month."""
    starts = [first]
    while True:
        day = starts[-1]
        try:
            if step is Step.DAY:
                day += timedelta(days=1)
            elif step is Step.WEEK:
                day += timedelta(days=7 - day.weekday())
            else:
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        except OverflowError:  # the next bar would start after the year 9999
            return starts
        if day > last:
            return starts
        starts.append(day)
