"""Periods of the admins' figures: days of SHOP_TIMEZONE, half-open, across clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.admin.periods import (
    DAILY_MOST_DAYS,
    MONTHLY_MOST_DAYS,
    WEEKLY_MOST_DAYS,
    PeriodError,
    Step,
    bar_starts,
    parse_period,
    step_for,
)

PARIS = ZoneInfo("Europe/Paris")
# 2025-03-30 00:30 UTC: already 01:30 on Sunday 30 March in Paris, the day the clocks go forward.
NOW = datetime(2025, 3, 30, 0, 30, tzinfo=UTC).timestamp()


def paris(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("today", date(2025, 3, 30), date(2025, 3, 30)),
        ("7d", date(2025, 3, 24), date(2025, 3, 30)),
        ("30d", date(2025, 3, 1), date(2025, 3, 30)),
        ("month", date(2025, 3, 1), date(2025, 3, 31)),
        ("2024-02-28..2024-03-01", date(2024, 2, 28), date(2024, 3, 1)),
    ],
)
def test_periods_are_whole_days_of_the_shop_time_zone(name: str, first: date, last: date) -> None:
    period = parse_period(name, PARIS, NOW)
    assert (period.first, period.last) == (first, last)
    assert period.start == paris(first).timestamp()
    assert period.end == paris(last + timedelta(days=1)).timestamp()


def test_the_days_the_clocks_change_last_23_and_25_hours() -> None:
    spring = parse_period("2025-03-30..2025-03-30", PARIS, NOW)
    autumn = parse_period("2025-10-26..2025-10-26", PARIS, NOW)
    utc_day = parse_period("2025-03-30..2025-03-30", ZoneInfo("UTC"), NOW)
    assert spring.end is not None and spring.start is not None
    assert autumn.end is not None and autumn.start is not None
    assert utc_day.end is not None and utc_day.start is not None
    hour = 3600
    assert spring.end - spring.start == (utc_day.end - utc_day.start) - hour
    assert autumn.end - autumn.start == (utc_day.end - utc_day.start) + hour


def test_today_is_the_owners_today() -> None:
    """At 00:30 UTC it is still Saturday in New York and already Sunday in Paris."""
    assert parse_period("today", PARIS, NOW).first == date(2025, 3, 30)
    assert parse_period("today", ZoneInfo("America/New_York"), NOW).first == date(2025, 3, 29)


def test_all_time_has_no_bounds() -> None:
    period = parse_period("ALL", PARIS, NOW)
    assert (period.start, period.end, period.slug) == (None, None, "all")


@pytest.mark.parametrize(
    "wrong", ["yesterday", "2025-03-31..2025-03-01", "2025-02-30..2025-03-01", "2025-03-01", ""]
)
def test_anything_else_is_refused(wrong: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(wrong, PARIS, NOW)


def test_longer_charts_draw_weeks_then_months_and_the_longest_none() -> None:
    assert [step_for(n) for n in (1, DAILY_MOST_DAYS, DAILY_MOST_DAYS + 1)] == [
        Step.DAY,
        Step.DAY,
        Step.WEEK,
    ]
    assert [step_for(n) for n in (WEEKLY_MOST_DAYS, WEEKLY_MOST_DAYS + 1)] == [
        Step.WEEK,
        Step.MONTH,
    ]
    assert step_for(MONTHLY_MOST_DAYS) is Step.MONTH and step_for(MONTHLY_MOST_DAYS + 1) is None


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2025, 3, 30), date(2025, 3, 30)),  # a Sunday alone
        (date(2024, 1, 31), date(2024, 3, 1)),  # a leap February
        (date(2023, 12, 25), date(2025, 1, 6)),  # Mondays at both ends, across two new years
        (date(2025, 5, 17), date(2025, 8, 31)),
    ],
)
def test_bars_cover_the_period_once_from_its_first_day(step: Step, first: date, last: date) -> None:
    starts = bar_starts(first, last, step)

    assert starts[0] == first and starts[-1] <= last
    assert starts == sorted(set(starts))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    # Each day belongs to the bar that started last on or before it; a new bar starts exactly
    # when the day is a new day, week (Monday) or month.
    for day in days[1:]:
        new_bar = {
            Step.DAY: True,
            Step.WEEK: day.weekday() == 0,
            Step.MONTH: day.day == 1,
        }[step]
        assert (day in starts) == new_bar, day


@pytest.mark.parametrize("step", list(Step))
def test_bars_stop_at_the_last_day_there_is(step: Step) -> None:
    first, last = date(9999, 11, 30), date(9999, 12, 30)
    assert bar_starts(first, last, step)[-1] <= last
