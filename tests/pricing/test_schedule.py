"""Billing anchors, pure: anniversary periods start on the assignment's start;
calendar periods follow the calendar, the first one partial."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pricing.periods import BillingAnchor, BillingPeriod, Period, Schedule, calendar_start

TZ = ZoneInfo("UTC")
MARCH_20 = datetime(2025, 3, 20, 9, 30, tzinfo=UTC)


def d(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


def test_calendar_monthly_runs_to_the_first_of_the_next_month_then_whole_months() -> None:
    s = Schedule(MARCH_20, Period.MONTHLY, BillingAnchor.CALENDAR, TZ)

    assert s.at(0) == BillingPeriod(MARCH_20, d(2025, 4, 1))
    assert s.full(0) == BillingPeriod(d(2025, 3, 1), d(2025, 4, 1))
    assert s.at(1) == BillingPeriod(d(2025, 4, 1), d(2025, 5, 1))
    assert s.index(d(2025, 3, 31, 23)) == 0
    assert s.index(d(2025, 4, 1)) == 1
    assert s.index(d(2025, 3, 20)) == -1  # before the assignment's start time


def test_anniversary_keeps_the_start_day() -> None:
    s = Schedule(MARCH_20, Period.MONTHLY, BillingAnchor.ANNIVERSARY, TZ)

    assert s.at(0) == s.full(0) == BillingPeriod(MARCH_20, d(2025, 4, 20, 9, 30))
    assert s.index(d(2025, 4, 20, 9, 30)) == 1


@pytest.mark.parametrize(
    ("period", "start", "second"),
    [
        (Period.WEEKLY, d(2025, 3, 17), d(2025, 3, 24)),  # Mondays
        (Period.QUARTERLY, d(2025, 1, 1), d(2025, 4, 1)),
        (Period.YEARLY, d(2025, 1, 1), d(2026, 1, 1)),
    ],
)
def test_calendar_periods_of_each_length(period: Period, start: datetime, second: datetime) -> None:
    s = Schedule(MARCH_20, period, BillingAnchor.CALENDAR, TZ)

    assert calendar_start(MARCH_20, period, TZ) == start
    assert s.full(0).start == start
    assert s.at(1).start == second


def test_calendar_month_in_the_billing_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    s = Schedule(MARCH_20, Period.MONTHLY, BillingAnchor.CALENDAR, paris)

    assert s.at(1).start == datetime(2025, 4, 1, tzinfo=paris)  # midnight in Paris


def test_a_continued_cycle_runs_to_the_old_cycles_next_boundary() -> None:
    # A plan changed on 10 March in a cycle that started 20 January.
    changed = d(2025, 3, 10)
    s = Schedule(changed, Period.MONTHLY, BillingAnchor.ANNIVERSARY, TZ, d(2025, 1, 20))

    assert s.at(0) == BillingPeriod(changed, d(2025, 3, 20))
    assert s.full(0) == BillingPeriod(d(2025, 2, 20), d(2025, 3, 20))
    assert s.at(1) == BillingPeriod(d(2025, 3, 20), d(2025, 4, 20))
