"""Which price version bills a period (pricing.versions): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pricing.versions import VersionRule, VersionStart, cost_windows, takes, version_for_period

ALWAYS, CURRENT, NEXT = VersionStart.ALWAYS, VersionStart.CURRENT_PERIOD, VersionStart.NEXT_PERIOD
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
MID_MARCH = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
FIRST = VersionRule(1, ALWAYS, datetime(2026, 1, 1, tzinfo=UTC))


def number(rules: list[VersionRule], start: datetime, end: datetime) -> int:
    return version_for_period(rules, start, end).number


def test_the_first_version_bills_every_period() -> None:
    assert number([FIRST], datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)) == 1
    assert number([FIRST], MARCH, APRIL) == 1


def test_a_change_from_the_current_period_bills_the_period_it_was_made_in_and_after() -> None:
    rules = [FIRST, VersionRule(2, CURRENT, MID_MARCH)]

    assert number(rules, datetime(2026, 2, 1, tzinfo=UTC), MARCH) == 1  # ended before
    assert number(rules, MARCH, APRIL) == 2  # the open period is re-rated
    assert number(rules, APRIL, MAY) == 2


def test_a_change_from_the_next_period_leaves_the_open_period_alone() -> None:
    rules = [FIRST, VersionRule(2, NEXT, MID_MARCH)]

    assert number(rules, MARCH, APRIL) == 1
    assert number(rules, APRIL, MAY) == 2


@pytest.mark.parametrize(
    ("starts", "start", "end", "billed"),
    [
        # Boundaries are half-open: a period ending exactly at the change had ended.
        (CURRENT, datetime(2026, 2, 15, 9, 30, tzinfo=UTC), MID_MARCH, False),
        (CURRENT, MID_MARCH, APRIL, True),
        # A period starting exactly at the change is "the next period".
        (NEXT, MID_MARCH, APRIL, True),
        (NEXT, datetime(2026, 3, 15, 9, 29, 59, 999999, tzinfo=UTC), APRIL, False),
    ],
)
def test_the_instant_of_the_change_is_a_half_open_boundary(
    starts: VersionStart, start: datetime, end: datetime, billed: bool
) -> None:
    assert takes(VersionRule(2, starts, MID_MARCH), start, end) is billed


def test_the_newest_version_that_takes_a_period_wins() -> None:
    """Version 3 (current period) holds version 2's change too: a version is
    a whole price list, so the open period gets both."""
    rules = [
        FIRST,
        VersionRule(2, NEXT, datetime(2026, 3, 10, tzinfo=UTC)),
        VersionRule(3, CURRENT, datetime(2026, 3, 20, tzinfo=UTC)),
        VersionRule(4, NEXT, datetime(2026, 3, 25, tzinfo=UTC)),
    ]

    assert number(rules, datetime(2026, 2, 1, tzinfo=UTC), MARCH) == 1
    assert number(rules, MARCH, APRIL) == 3
    assert number(rules, APRIL, MAY) == 4


def test_anniversary_periods_of_two_customers_each_follow_the_rule() -> None:
    """`next period` means each assignment's own next period."""
    rules = [FIRST, VersionRule(2, NEXT, MID_MARCH)]

    # One customer's period runs 10 March to 10 April, another's 20 March to 20 April.
    assert number(rules, datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)) == 1
    assert number(rules, datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC)) == 2


def test_rules_without_the_first_version_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="first version"):
        version_for_period([VersionRule(2, NEXT, MID_MARCH)], MARCH, APRIL)


def test_every_start_has_a_label() -> None:
    assert [s.label for s in VersionStart] == [
        "From the plan's first period",
        "From the current period (re-rates open drafts)",
        "From the next period",
        "From a date",
    ]


# Cost plans: versions from an instant, and the stretches of a period they cost.

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MID_JAN = datetime(2025, 1, 15, tzinfo=UTC)
V1 = VersionRule(1, VersionStart.ALWAYS, datetime(2024, 6, 1, tzinfo=UTC))


def test_one_cost_version_costs_the_whole_period() -> None:
    assert cost_windows([V1], JAN, FEB) == [(V1, JAN, FEB)]


def test_a_provider_price_change_mid_month_splits_the_period_at_its_instant() -> None:
    v2 = VersionRule(2, VersionStart.FROM_INSTANT, MID_JAN)
    assert cost_windows([V1, v2], JAN, FEB) == [(V1, JAN, MID_JAN), (v2, MID_JAN, FEB)]


def test_a_change_from_exactly_the_period_start_takes_all_of_it() -> None:
    v2 = VersionRule(2, VersionStart.FROM_INSTANT, JAN)
    assert cost_windows([V1, v2], JAN, FEB) == [(v2, JAN, FEB)]
    # …and one from the period's end none of it (half-open).
    v3 = VersionRule(3, VersionStart.FROM_INSTANT, FEB)
    assert cost_windows([V1, v3], JAN, FEB) == [(V1, JAN, FEB)]


def test_a_newer_change_dated_earlier_wins_from_its_instant() -> None:
    later = VersionRule(2, VersionStart.FROM_INSTANT, datetime(2025, 1, 20, tzinfo=UTC))
    earlier = VersionRule(3, VersionStart.FROM_INSTANT, datetime(2025, 1, 10, tzinfo=UTC))
    assert cost_windows([V1, later, earlier], JAN, FEB) == [
        (V1, JAN, earlier.effective_at),
        (earlier, earlier.effective_at, FEB),
    ]
