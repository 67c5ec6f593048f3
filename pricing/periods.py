"""Billing-period arithmetic. Pure: no ORM, no clock.

A plan's periods start at the assignment's start (the anchor) and repeat by the
plan's period. Month-based periods are computed from the anchor each time and
clamped to the month's last day, so an anchor of 31 January gives boundaries
31 Jan, 28/29 Feb, 31 Mar, 30 Apr... (as Stripe does). Boundaries are
half-open: a period holds [start, end). Times are aware datetimes; the
arithmetic happens in the billing time zone and keeps the anchor's wall time.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Period(StrEnum):
    """The one definition: Plan.BillingPeriod is this enum."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def label(self) -> str:
        return PERIOD_LABELS[self]


PERIOD_LABELS = {
    Period.WEEKLY: "Weekly",
    Period.MONTHLY: "Monthly",
    Period.QUARTERLY: "Quarterly",
    Period.YEARLY: "Yearly",
}


class LateUsagePolicy(StrEnum):
    """What a plan does with usage that arrives after its period's invoice was
    finalized. The usage is stored either way and never changes that invoice."""

    BILL_NEXT = "bill_next"
    REPORT = "report"

    @property
    def label(self) -> str:
        return LATE_USAGE_LABELS[self]


LATE_USAGE_LABELS = {
    LateUsagePolicy.BILL_NEXT: "Bill it on the next invoice",
    LateUsagePolicy.REPORT: "Report it without billing",
}


class BillingAnchor(StrEnum):
    """Where a plan's periods start. The one definition: Plan.billing_anchor's
    choices are built from it."""

    ANNIVERSARY = "anniversary"  # on the assignment's start: 20 Mar – 20 Apr – …
    CALENDAR = "calendar"  # on calendar periods: 20 Mar – 1 Apr – 1 May – …

    @property
    def label(self) -> str:
        return ANCHOR_LABELS[self]


ANCHOR_LABELS = {
    BillingAnchor.ANNIVERSARY: "On the assignment's start date (anniversary)",
    BillingAnchor.CALENDAR: "On calendar periods (the first one prorated)",
}

MONTHS = {Period.MONTHLY: 1, Period.QUARTERLY: 3, Period.YEARLY: 12}


@dataclass(frozen=True, order=True)
class BillingPeriod:
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and wall time `months` later, clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def boundary(anchor: datetime, period: Period, n: int, tz: ZoneInfo) -> datetime:
    """The start of the n-th period (n=0 is the anchor itself)."""
    local = anchor.astimezone(tz).replace(tzinfo=None)
    if period is Period.WEEKLY:
        # `+ timedelta` resets fold; keep it so an anchor in a repeated hour stays put.
        moved = (local + timedelta(weeks=n)).replace(fold=local.fold)
    else:
        moved = add_months(local, MONTHS[period] * n)
    return moved.replace(tzinfo=tz)


def period_index(anchor: datetime, period: Period, moment: datetime, tz: ZoneInfo) -> int:
    """Which period (0-based) holds `moment`; negative before the anchor."""
    if moment < anchor:
        return -1
    if period is Period.WEEKLY:
        n = (moment - anchor) // timedelta(weeks=1)
    else:
        local_a, local_m = anchor.astimezone(tz), moment.astimezone(tz)
        months = (local_m.year - local_a.year) * 12 + local_m.month - local_a.month
        n = max(0, months // MONTHS[period])
    # Step to the exact period (wall-clock and clamping make the estimate off by one).
    while n > 0 and boundary(anchor, period, n, tz) > moment:
        n -= 1
    while boundary(anchor, period, n + 1, tz) <= moment:
        n += 1
    return int(n)


def period_at(anchor: datetime, period: Period, moment: datetime, tz: ZoneInfo) -> BillingPeriod:
    """The billing period holding `moment` (which must not precede the anchor)."""
    if moment < anchor:
        raise ValueError("moment precedes the anchor")
    n = period_index(anchor, period, moment, tz)
    return BillingPeriod(boundary(anchor, period, n, tz), boundary(anchor, period, n + 1, tz))


def periods_between(
    anchor: datetime, period: Period, until: datetime, tz: ZoneInfo
) -> Iterator[BillingPeriod]:
    """Every period from the anchor up to and including the one holding `until`."""
    if until < anchor:
        return
    last = period_index(anchor, period, until, tz)
    for n in range(last + 1):
        yield BillingPeriod(boundary(anchor, period, n, tz), boundary(anchor, period, n + 1, tz))


def calendar_start(moment: datetime, period: Period, tz: ZoneInfo) -> datetime:
    """The start of the calendar period holding `moment` in `tz`: Monday 00:00,
    the 1st of the month, of the quarter (Jan, Apr, Jul, Oct), or of the year."""
    local = moment.astimezone(tz).replace(tzinfo=None)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if period is Period.WEEKLY:
        start = day - timedelta(days=day.weekday())
    elif period is Period.MONTHLY:
        start = day.replace(day=1)
    elif period is Period.QUARTERLY:
        start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    else:
        start = day.replace(month=1, day=1)
    return start.replace(tzinfo=tz)


@dataclass(frozen=True)
class Schedule:
    """An assignment's billing periods. Period 0 starts at the assignment's
    start. With an anniversary anchor every period is whole. With a calendar
    anchor the later periods follow the calendar and period 0 runs only to the
    first calendar boundary: it is a part of its calendar period (`full`), and
    fees are prorated by that share (20 March to 1 April is 12/31 of March)."""

    start: datetime
    period: Period
    anchor: BillingAnchor
    tz: ZoneInfo
    # An anniversary cycle begun earlier that this schedule continues (a plan
    # changed mid-period): period 0 then runs from `start` to that cycle's
    # next boundary, like a calendar schedule's first period.
    cycle_anchor: datetime | None = None

    @property
    def origin(self) -> datetime:
        if self.anchor is BillingAnchor.CALENDAR:
            return calendar_start(self.start, self.period, self.tz)
        if self.cycle_anchor is not None and self.cycle_anchor < self.start:
            n = period_index(self.cycle_anchor, self.period, self.start, self.tz)
            return boundary(self.cycle_anchor, self.period, n, self.tz)
        return self.start

    def boundary(self, n: int) -> datetime:
        return self.start if n == 0 else boundary(self.origin, self.period, n, self.tz)

    def index(self, moment: datetime) -> int:
        """Which period (0-based) holds `moment`; -1 before the start."""
        if moment < self.start:
            return -1
        return period_index(self.origin, self.period, moment, self.tz)

    def at(self, n: int) -> BillingPeriod:
        return BillingPeriod(self.boundary(n), self.boundary(n + 1))

    def full(self, n: int) -> BillingPeriod:
        """The whole period the n-th lies in (itself, except a calendar
        schedule's partial first period)."""
        origin = self.origin
        return BillingPeriod(
            boundary(origin, self.period, n, self.tz), boundary(origin, self.period, n + 1, self.tz)
        )
