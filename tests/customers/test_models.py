"""One customer is on at most one plan at any instant, and the database holds
that line (triggers on SQLite, an exclusion constraint on PostgreSQL), so a
race or a stray ORM write can never bill the same usage twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer, PlanAssignment
from customers.services import plan_assign
from pricing.models import Plan
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)
MID_FEB = datetime(2025, 2, 15, tzinfo=UTC)


def assign(customer: Customer, plan: Plan, start: datetime, end: datetime | None) -> PlanAssignment:
    return PlanAssignment.objects.create(customer=customer, plan=plan, start_at=start, end_at=end)


def test_two_customers_cannot_share_a_customer_id(customer: Customer) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory.create(name="Someone else", customer_id=customer.customer_id)

    assert Customer.objects.get(customer_id="test-customer").name == "Test Customer"


def test_a_customer_needs_a_customer_id() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory.create(customer_id="")


def test_an_overlapping_assignment_cannot_be_inserted(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, MAR)

    with pytest.raises(IntegrityError), transaction.atomic():
        assign(customer, PlanFactory.create(name="Enterprise"), FEB, APR)

    assert customer.assignments.count() == 1


def test_an_assignment_inside_another_cannot_be_inserted(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, APR)

    with pytest.raises(IntegrityError), transaction.atomic():
        assign(customer, plan, FEB, MAR)


def test_an_assignment_cannot_be_moved_onto_another(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, MID_FEB)
    later = assign(customer, plan, MAR, APR)

    later.start_at = FEB
    with pytest.raises(IntegrityError), transaction.atomic():
        later.save(update_fields=["start_at"])

    later.refresh_from_db()
    assert later.start_at == MAR


def test_an_assignment_cannot_be_extended_over_the_next(customer: Customer, plan: Plan) -> None:
    first = assign(customer, plan, JAN, FEB)
    assign(customer, plan, MAR, APR)

    with pytest.raises(IntegrityError), transaction.atomic():
        PlanAssignment.objects.filter(pk=first.pk).update(end_at=None)

    first.refresh_from_db()
    assert first.end_at == FEB


def test_adjacent_assignments_are_allowed(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, FEB)
    assign(customer, PlanFactory.create(name="Enterprise"), FEB, MAR)

    assert [a.start_at for a in customer.assignments.order_by("start_at")] == [JAN, FEB]


def test_an_assignment_can_be_edited_without_clashing_with_itself(
    customer: Customer, plan: Plan
) -> None:
    only = assign(customer, plan, JAN, None)

    only.end_at = FEB
    only.save(update_fields=["end_at"])

    assert PlanAssignment.objects.get().end_at == FEB


def test_an_open_ended_assignment_blocks_every_later_one(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, None)

    with pytest.raises(IntegrityError), transaction.atomic():
        assign(customer, plan, datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC))


def test_an_open_ended_assignment_blocks_an_earlier_open_ended_one(
    customer: Customer, plan: Plan
) -> None:
    assign(customer, plan, MAR, None)

    with pytest.raises(IntegrityError), transaction.atomic():
        assign(customer, plan, JAN, None)


def test_different_customers_may_be_on_plans_at_the_same_time(
    customer: Customer, plan: Plan
) -> None:
    assign(customer, plan, JAN, None)
    assign(CustomerFactory.create(), plan, JAN, None)

    assert PlanAssignment.objects.count() == 2


@pytest.mark.parametrize("end", [JAN, datetime(2024, 12, 31, tzinfo=UTC)], ids=["same", "before"])
def test_an_assignment_must_end_after_it_starts(
    customer: Customer, plan: Plan, end: datetime
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        assign(customer, plan, JAN, end)

    assert not PlanAssignment.objects.exists()


def test_plan_assign_names_the_plan_it_would_overlap(customer: Customer, plan: Plan) -> None:
    assign(customer, plan, JAN, None)

    with pytest.raises(ValidationError) as refused:
        plan_assign(customer=customer, plan=PlanFactory.create(name="Enterprise"), start_at=MAR)

    [message] = refused.value.message_dict["start_at"]
    assert "Chatbot Usage Plan" in message
    assert "2025-01-01" in message
    assert customer.assignments.count() == 1


def test_plan_assign_refuses_an_end_before_the_start(customer: Customer, plan: Plan) -> None:
    with pytest.raises(ValidationError) as refused:
        plan_assign(customer=customer, plan=plan, start_at=MAR, end_at=FEB)

    assert refused.value.message_dict == {"end_at": ["The end date must be after the start date."]}
    assert not PlanAssignment.objects.exists()


def test_plan_assign_accepts_the_period_right_after_an_ended_one(
    customer: Customer, plan: Plan
) -> None:
    assign(customer, plan, JAN, MAR)

    assignment = plan_assign(
        customer=customer, plan=PlanFactory.create(name="Enterprise"), start_at=MAR
    )

    assert (assignment.plan.name, assignment.start_at, assignment.end_at) == (
        "Enterprise",
        MAR,
        None,
    )


def test_plan_assign_still_refuses_an_overlap_its_own_check_missed(
    customer: Customer, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when two requests assign plans at the same moment: the service's
    # look-up sees nothing, and the database constraint has the last word.
    assign(customer, plan, JAN, None)
    monkeypatch.setattr("customers.services.overlapping_assignments", lambda *args: [])

    with pytest.raises(ValidationError) as refused:
        plan_assign(customer=customer, plan=plan, start_at=MAR)

    assert "overlaps" in refused.value.message_dict["start_at"][0]
    assert customer.assignments.count() == 1
