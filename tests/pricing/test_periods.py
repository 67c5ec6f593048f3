"""Billing periods: where each period starts and ends, and which one holds a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pricing.periods import (
    BillingPeriod,
    Period,
    add_months,
    boundary,
    period_at,
    periods_between,
)

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
UTC_ZONE = ZoneInfo("UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def boundaries(anchor: datetime, period: Period, count: int, tz: ZoneInfo) -> list[datetime]:
    return [boundary(anchor, period, n, tz) for n in range(count)]


# --- where periods start -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "period", "expected"),
    [
        pytest.param(
            utc(2024, 1, 31),
            Period.MONTHLY,
            [utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30)],
            id="monthly-31-jan-leap-year",
        ),
        pytest.param(
            utc(2023, 1, 31),
            Period.MONTHLY,
            [utc(2023, 1, 31), utc(2023, 2, 28), utc(2023, 3, 31), utc(2023, 4, 30)],
            id="monthly-31-jan-common-year",
        ),
        pytest.param(
            utc(2024, 11, 15, 9, 30),
            Period.MONTHLY,
            [utc(2024, 11, 15, 9, 30), utc(2024, 12, 15, 9, 30), utc(2025, 1, 15, 9, 30)],
            id="monthly-across-new-year-keeps-time-of-day",
        ),
        pytest.param(
            utc(2024, 1, 1, 9),
            Period.WEEKLY,
            [utc(2024, 1, 1, 9), utc(2024, 1, 8, 9), utc(2024, 1, 15, 9)],
            id="weekly",
        ),
        pytest.param(
            utc(2023, 11, 30),
            Period.QUARTERLY,
            [utc(2023, 11, 30), utc(2024, 2, 29), utc(2024, 5, 30), utc(2024, 8, 30)],
            id="quarterly-clamps-to-february-then-recovers",
        ),
        pytest.param(
            utc(2024, 2, 29),
            Period.YEARLY,
            [
                utc(2024, 2, 29),
                utc(2025, 2, 28),
                utc(2026, 2, 28),
                utc(2027, 2, 28),
                utc(2028, 2, 29),
            ],
            id="yearly-from-leap-day",
        ),
    ],
)
def test_period_boundaries(anchor: datetime, period: Period, expected: list[datetime]) -> None:
    assert boundaries(anchor, period, len(expected), UTC_ZONE) == expected


def test_month_end_anchor_is_not_dragged_to_the_28th_after_february() -> None:
    # Each boundary is computed from the anchor, not from the previous boundary.
    assert boundary(utc(2024, 1, 31), Period.MONTHLY, 2, UTC_ZONE) == utc(2024, 3, 31)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2024, 1, 31, 8), 1, datetime(2024, 2, 29, 8)),
        (datetime(2023, 1, 31, 8), 1, datetime(2023, 2, 28, 8)),
        (datetime(2024, 3, 31), -1, datetime(2024, 2, 29)),
        (datetime(2024, 12, 15), 1, datetime(2025, 1, 15)),
        (datetime(2024, 1, 15), -1, datetime(2023, 12, 15)),
        (datetime(2024, 8, 31), 6, datetime(2025, 2, 28)),
        (datetime(2024, 1, 31), 12, datetime(2025, 1, 31)),
        (datetime(2024, 5, 31), 0, datetime(2024, 5, 31)),
    ],
)
def test_adding_months_clamps_to_the_last_day_of_the_month(
    moment: datetime, months: int, expected: datetime
) -> None:
    assert add_months(moment, months) == expected


# --- which period holds a moment -----------------------------------------------------------

ANCHOR = utc(2024, 1, 31)


def test_the_anchor_opens_the_first_period() -> None:
    assert period_at(ANCHOR, Period.MONTHLY, ANCHOR, UTC_ZONE) == BillingPeriod(
        utc(2024, 1, 31), utc(2024, 2, 29)
    )


def test_a_period_ends_just_before_the_next_one_starts() -> None:
    end = utc(2024, 2, 29)
    last_moment = end - timedelta(microseconds=1)

    first = period_at(ANCHOR, Period.MONTHLY, last_moment, UTC_ZONE)
    second = period_at(ANCHOR, Period.MONTHLY, end, UTC_ZONE)

    assert first == BillingPeriod(utc(2024, 1, 31), end)
    assert second == BillingPeriod(end, utc(2024, 3, 31))
    assert first.contains(last_moment)
    assert not first.contains(end)
    assert second.contains(end)


def test_a_moment_far_after_the_anchor_finds_its_period() -> None:
    moment = utc(2031, 6, 15, 12)

    assert period_at(ANCHOR, Period.MONTHLY, moment, UTC_ZONE) == BillingPeriod(
        utc(2031, 5, 31), utc(2031, 6, 30)
    )
    assert period_at(ANCHOR, Period.WEEKLY, moment, UTC_ZONE).contains(moment)


def test_a_moment_before_the_anchor_has_no_period() -> None:
    with pytest.raises(ValueError, match="precedes"):
        period_at(ANCHOR, Period.MONTHLY, ANCHOR - timedelta(seconds=1), UTC_ZONE)


def test_nothing_is_billed_before_the_anchor() -> None:
    assert list(periods_between(ANCHOR, Period.MONTHLY, utc(2024, 1, 1), UTC_ZONE)) == []


def test_periods_between_lists_each_period_up_to_the_one_holding_until() -> None:
    got = list(periods_between(ANCHOR, Period.MONTHLY, utc(2024, 4, 15), UTC_ZONE))

    assert got == [
        BillingPeriod(utc(2024, 1, 31), utc(2024, 2, 29)),
        BillingPeriod(utc(2024, 2, 29), utc(2024, 3, 31)),
        BillingPeriod(utc(2024, 3, 31), utc(2024, 4, 30)),
    ]


def test_until_on_a_boundary_includes_the_period_starting_there() -> None:
    got = list(periods_between(ANCHOR, Period.MONTHLY, utc(2024, 3, 31), UTC_ZONE))

    assert got[-1] == BillingPeriod(utc(2024, 3, 31), utc(2024, 4, 30))
    assert len(got) == 3


# --- billing time zone ---------------------------------------------------------------------


def test_monthly_periods_keep_local_midnight_across_daylight_saving() -> None:
    anchor = datetime(2024, 3, 1, tzinfo=NEW_YORK)  # 05:00 UTC (EST)

    second = boundary(anchor, Period.MONTHLY, 1, NEW_YORK)

    assert (second.month, second.day, second.hour, second.minute) == (4, 1, 0, 0)
    assert second.astimezone(UTC) == utc(2024, 4, 1, 4)  # EDT: one hour earlier in UTC


def test_a_week_across_the_spring_change_is_one_hour_short() -> None:
    anchor = datetime(2024, 3, 4, 9, tzinfo=NEW_YORK)

    week = period_at(anchor, Period.WEEKLY, anchor, NEW_YORK)

    assert (week.end.day, week.end.hour) == (11, 9)  # same wall time, a week later...
    assert week.end.astimezone(UTC) == utc(2024, 3, 11, 13)  # ...09:00 EDT
    assert week.end.timestamp() - week.start.timestamp() == 167 * 3600  # 167 real hours


def test_an_anchor_given_in_utc_is_billed_on_the_local_calendar() -> None:
    # 23:30 UTC on 31 January is 08:30 on 1 February in Tokyo.
    anchor = utc(2024, 1, 31, 23, 30)

    starts = boundaries(anchor, Period.MONTHLY, 3, TOKYO)

    assert [(b.month, b.day, b.hour, b.minute) for b in starts] == [
        (2, 1, 8, 30),
        (3, 1, 8, 30),
        (4, 1, 8, 30),
    ]


def test_a_utc_moment_is_placed_by_the_local_boundary() -> None:
    anchor = datetime(2024, 3, 1, tzinfo=NEW_YORK)
    # 04:30 UTC on 1 April is 00:30 EDT: already the second period locally.
    moment = utc(2024, 4, 1, 4, 30)

    assert period_at(anchor, Period.MONTHLY, moment, NEW_YORK).start == datetime(
        2024, 4, 1, tzinfo=NEW_YORK
    )


@pytest.mark.parametrize("period", list(Period))
def test_an_anchor_in_the_repeated_autumn_hour_starts_the_first_period_at_the_anchor(
    period: Period,
) -> None:
    # 06:30 UTC on 3 Nov 2024 is the *second* 01:30 in New York (EST, after fall-back).
    anchor = utc(2024, 11, 3, 6, 30)

    first = period_at(anchor, period, anchor, NEW_YORK)

    assert first.start.timestamp() == anchor.timestamp()
    assert list(periods_between(anchor, period, anchor, NEW_YORK))[0].start.timestamp() == (
        anchor.timestamp()
    )


# --- properties ----------------------------------------------------------------------------

ZONES = st.sampled_from(
    [UTC_ZONE, NEW_YORK, TOKYO, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe")]
)
anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)
# How far past the anchor a moment lies: up to ~2 years, down to the microsecond.
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=730))


@given(anchor=anchors, period=st.sampled_from(list(Period)), tz=ZONES)
@example(anchor=utc(2024, 11, 3, 6, 30), period=Period.WEEKLY, tz=NEW_YORK)
@example(anchor=utc(2024, 1, 31), period=Period.MONTHLY, tz=UTC_ZONE)
def test_period_boundaries_strictly_increase_from_the_anchor(
    anchor: datetime, period: Period, tz: ZoneInfo
) -> None:
    stamps = [b.timestamp() for b in boundaries(anchor, period, 30, tz)]

    assert stamps[0] == anchor.timestamp()
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))


@given(anchor=anchors, period=st.sampled_from(list(Period)), tz=ZONES, offset=offsets)
@example(anchor=utc(2024, 1, 31), period=Period.MONTHLY, tz=UTC_ZONE, offset=timedelta(days=29))
@example(anchor=utc(2024, 11, 3, 6, 30), period=Period.WEEKLY, tz=NEW_YORK, offset=timedelta(0))
@example(anchor=utc(2024, 3, 4, 14), period=Period.WEEKLY, tz=NEW_YORK, offset=timedelta(hours=167))
def test_every_moment_after_the_anchor_is_in_exactly_one_period(
    anchor: datetime, period: Period, tz: ZoneInfo, offset: timedelta
) -> None:
    moment = anchor + offset

    listed = list(periods_between(anchor, period, moment, tz))
    holding = [p for p in listed if p.contains(moment)]

    assert holding == [period_at(anchor, period, moment, tz)]
    assert holding[0] == listed[-1]
    # Contiguous: no gap and no overlap between consecutive periods.
    assert all(a.end == b.start for a, b in zip(listed, listed[1:], strict=False))
    assert listed[0].start.timestamp() == anchor.timestamp()
