"""Changing plan mid-period: usage split at the instant, fees prorated on
both sides, nothing already issued rewritten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import OPERATOR
from customers.models import PlanAssignment
from invoices.closing import close_periods
from invoices.models import Invoice
from invoices.plan_change import preview_plan_change
from invoices.services import plan_change
from pricing.models import Plan, Rate
from pricing.services import plan_create, rate_create
from tests.factories import Guide, guide_setup
from tests.fixtures import element, field_errors, login, page

# April has 30 days: the customer starts on 1 April, so a third of the
# period is 10 days.
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
THIRD = APRIL + timedelta(days=10)  # a third of April's 30 days


@pytest.fixture
def plans(db: None, time_machine: TimeMachineFixture) -> tuple[Guide, Plan]:
    """The guide's plan with a $30 monthly fee, the customer on it from 1
    April, and a $90 plan to move to."""
    now = APRIL + timedelta(days=12)
    time_machine.move_to(now, tick=False)
    guide = guide_setup(now, start_at=APRIL, events=False)
    Rate.objects.filter(pk=guide.api_rate.pk).update(base_fee=Decimal(30))
    bigger = plan_create(name="Pro", billing_period="monthly", currency="USD")
    rate = rate_create(plan=bigger, meter=guide.api_calls, unit_price=Decimal("0.02"))
    Rate.objects.filter(pk=rate.pk).update(base_fee=Decimal(90))
    return guide, bigger


def _fees(content: object) -> list[Decimal]:
    return [line.amount for line in content.lines if line.kind == "base_fee"]  # type: ignore[attr-defined]


def test_the_preview_prorates_both_sides(plans: tuple[Guide, Plan]) -> None:
    guide, pro = plans

    preview = preview_plan_change(guide.assignment, pro, THIRD, THIRD + timedelta(days=2))

    assert _fees(preview.ending) == [Decimal("10.00")]
    assert _fees(preview.starting) == [Decimal("60.00")]


def test_the_change_bills_ten_then_sixty_and_splits_usage_at_the_instant(
    plans: tuple[Guide, Plan],
) -> None:
    guide, pro = plans
    close_periods(now=APRIL + timedelta(days=1))  # April's draft exists

    new = plan_change(assignment=guide.assignment, plan=pro, at=THIRD)
    close_periods(now=MAY + timedelta(days=2))

    old_april = Invoice.objects.get(assignment=guide.assignment, period_start=APRIL)
    new_first = Invoice.objects.get(assignment=new, period_start=THIRD)
    assert new_first.period_end == MAY  # the old cycle continues
    assert [line.amount for line in old_april.lines.filter(kind="base_fee")] == [Decimal("10.00")]
    assert [line.amount for line in new_first.lines.filter(kind="base_fee")] == [Decimal("60.00")]
    assert PlanAssignment.objects.get(pk=guide.assignment.pk).end_at == THIRD


def test_a_change_inside_an_issued_period_is_refused(plans: tuple[Guide, Plan]) -> None:
    guide, pro = plans
    close_periods(now=MAY + timedelta(days=2))  # April issued

    with pytest.raises(ValidationError, match="already bills this assignment until"):
        plan_change(assignment=guide.assignment, plan=pro, at=THIRD)

    assert plan_change(assignment=guide.assignment, plan=pro, at=MAY).start_at == MAY


def test_the_change_page_shows_both_sides_then_confirms(
    plans: tuple[Guide, Plan], client: Client
) -> None:
    guide, pro = plans
    login(client, OPERATOR)
    url = reverse("invoices:plan_change", args=[guide.customer.pk, guide.assignment.pk])
    chosen = {"plan": str(pro.pk), "at": "2025-04-11T00:00"}

    html = page(client.get(url, chosen))
    preview = element(html, "plan-change-preview")
    confirmed = client.post(url, {**chosen, "confirm": "1"})

    assert "$10.00" in preview and "$60.00" in preview
    assert confirmed.status_code == 302
    assert PlanAssignment.objects.get(customer=guide.customer, end_at=None).plan == pro


def test_the_change_page_refuses_an_instant_before_the_plan_started(
    plans: tuple[Guide, Plan], client: Client
) -> None:
    guide, pro = plans
    login(client, OPERATOR)
    url = reverse("invoices:plan_change", args=[guide.customer.pk, guide.assignment.pk])

    response = client.post(url, {"plan": str(pro.pk), "at": "2025-03-01T00:00", "confirm": "1"})

    assert response.status_code == 400
    assert field_errors(page(response), "at") == [
        "Choose an instant inside the current assignment, after its start."
    ]
    assert PlanAssignment.objects.count() == 1
