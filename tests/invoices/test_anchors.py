"""Calendar-anchored plans bill calendar periods, the first one prorated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import Invoice
from pricing.models import Plan, Rate
from tests.factories import Guide, guide_setup

MARCH_20 = datetime(2025, 3, 20, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture
def calendar_guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    """The guide's plan on calendar periods, with a $31 monthly base fee, and
    the customer on it from 20 March."""
    now = datetime(2025, 3, 25, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    guide = guide_setup(now, start_at=MARCH_20)
    Plan.objects.filter(pk=guide.plan.pk).update(billing_anchor="calendar")
    Rate.objects.filter(pk=guide.api_rate.pk).update(base_fee=Decimal(31))
    return guide


def test_the_first_calendar_period_is_partial_and_its_fee_prorated(calendar_guide: Guide) -> None:
    close_periods(now=APRIL + timedelta(days=2))

    first = Invoice.objects.get(period_start=MARCH_20)
    assert first.period_end == APRIL
    fee = first.lines.get(kind="base_fee")
    assert fee.amount == Decimal("12.00")  # 12 days of March's 31, of $31
    assert first.total == Decimal("12.14")  # plus the guide's $0.14 of usage


def test_later_periods_are_whole_calendar_months(calendar_guide: Guide) -> None:
    close_periods(now=MAY + timedelta(days=2))

    april = Invoice.objects.get(period_start=APRIL)
    assert april.period_end == MAY
    assert april.lines.get(kind="base_fee").amount == Decimal("31.00")
