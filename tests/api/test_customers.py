"""Customers and plan assignments over the API: paging, creation, and the
assignment rules (no overlap, end after start) refused with their reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pytest_django import Settings

from customers.models import Customer, PlanAssignment
from customers.services import plan_assign
from pricing.models import Plan
from tests.api.conftest import Api, errors, fields
from tests.factories import CustomerFactory, PlanFactory

pytestmark = pytest.mark.django_db

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(name="Test Customer", customer_id="test-customer")


@pytest.fixture
def plan() -> Plan:
    return PlanFactory.create(name="Chatbot Usage Plan")


# /customers


def test_create_a_customer_and_read_it_back(api: Api) -> None:
    body = {"name": "Acme", "customer_id": "acme-1", "email": "billing@acme.test"}

    created = api.post("/customers", body)
    fetched = api.get(f"/customers/{created.json()['id']}")

    assert created.status_code == 201
    assert fetched.json() == created.json()
    assert {k: created.json()[k] for k in [*body, "enabled", "created_by_ingestion"]} == {
        **body,
        "enabled": True,
        "created_by_ingestion": False,
    }


def test_customers_are_listed_by_name_a_page_at_a_time(api: Api) -> None:
    for name in ["Delta", "Alpha", "Echo", "Charlie", "Bravo"]:
        CustomerFactory.create(name=name)

    first = api.get("/customers", limit=2).json()
    third = api.get("/customers", limit=2, offset=4).json()

    assert (first["count"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [c["name"] for c in first["items"]] == ["Alpha", "Bravo"]
    assert [c["name"] for c in third["items"]] == ["Echo"]


def test_find_a_customer_by_your_own_id(api: Api, customer: Customer) -> None:
    CustomerFactory.create()

    found = api.get("/customers", customer_id="test-customer").json()

    assert found["count"] == 1
    assert found["items"][0]["id"] == customer.pk


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}])
def test_paging_out_of_range_is_422_naming_the_parameter(
    api: Api, params: dict[str, object]
) -> None:
    response = api.get("/customers", **params)

    assert response.status_code == 422
    assert fields(response) == list(params)


def test_a_taken_customer_id_and_a_bad_email_are_refused_by_field(
    api: Api, customer: Customer
) -> None:
    body = {"name": "Again", "customer_id": "test-customer", "email": "not-an-email"}

    response = api.post("/customers", body)

    assert response.status_code == 400
    assert sorted(fields(response)) == ["customer_id", "email"]
    assert Customer.objects.count() == 1


def test_a_customer_without_a_name_is_refused(api: Api) -> None:
    response = api.post("/customers", {"customer_id": "x"})

    assert response.status_code == 422
    assert errors(response) == [("name", "Field required")]


def test_a_missing_customer_is_404(api: Api) -> None:
    response = api.get("/customers/999")

    assert response.status_code == 404
    assert errors(response) == [("", "No customer with id 999.")]


# /customers/<id>/assignments


def test_assign_a_plan_from_a_start_date_and_list_it(
    api: Api, customer: Customer, plan: Plan
) -> None:
    body = {"plan_id": plan.pk, "start_at": "2025-03-01T00:00:00Z"}

    created = api.post(f"/customers/{customer.pk}/assignments", body)
    listed = api.get(f"/customers/{customer.pk}/assignments").json()

    assert created.status_code == 201
    assert created.json() == {
        "id": PlanAssignment.objects.get().pk,
        "plan_id": plan.pk,
        "plan": "Chatbot Usage Plan",
        "start_at": "2025-03-01T00:00:00Z",
        "end_at": None,
    }
    assert listed == [created.json()]


def test_a_time_without_an_offset_is_read_in_the_billing_time_zone(
    api: Api, customer: Customer, plan: Plan, settings: Settings
) -> None:
    settings.TIME_ZONE = "America/New_York"
    body = {"plan_id": plan.pk, "start_at": "2025-03-01"}

    api.post(f"/customers/{customer.pk}/assignments", body)

    assert PlanAssignment.objects.get().start_at == datetime(2025, 3, 1, 5, tzinfo=UTC)


def test_an_overlapping_assignment_is_refused_with_the_reason(
    api: Api, customer: Customer, plan: Plan
) -> None:
    plan_assign(customer=customer, plan=plan, start_at=JAN)
    body = {"plan_id": plan.pk, "start_at": "2025-03-01T00:00:00Z"}

    response = api.post(f"/customers/{customer.pk}/assignments", body)

    assert response.status_code == 400
    assert errors(response) == [
        (
            "start_at",
            "This overlaps the assignment to Chatbot Usage Plan from 2025-01-01 00:00 "
            "with no end date. End that one first.",
        )
    ]
    assert PlanAssignment.objects.count() == 1


def test_an_assignment_ending_before_it_starts_is_refused(
    api: Api, customer: Customer, plan: Plan
) -> None:
    body = {"plan_id": plan.pk, "start_at": "2025-03-01T00:00:00Z", "end_at": "2025-02-01"}

    response = api.post(f"/customers/{customer.pk}/assignments", body)

    assert response.status_code == 400
    assert errors(response) == [("end_at", "The end date must be after the start date.")]


def test_an_unknown_plan_is_refused_naming_plan_id(api: Api, customer: Customer) -> None:
    body = {"plan_id": 999, "start_at": "2025-03-01T00:00:00Z"}

    response = api.post(f"/customers/{customer.pk}/assignments", body)

    assert response.status_code == 400
    assert errors(response) == [("plan_id", "No plan with id 999.")]


def test_a_start_that_is_not_a_date_is_422(api: Api, customer: Customer, plan: Plan) -> None:
    body = {"plan_id": plan.pk, "start_at": "next tuesday"}

    response = api.post(f"/customers/{customer.pk}/assignments", body)

    assert response.status_code == 422
    assert fields(response) == ["start_at"]


def test_end_an_assignment_then_assign_the_next_plan(
    api: Api, customer: Customer, plan: Plan
) -> None:
    first = plan_assign(customer=customer, plan=plan, start_at=JAN)
    pro = PlanFactory.create(name="Pro")
    url = f"/customers/{customer.pk}/assignments"

    ended = api.post(f"{url}/{first.pk}/end", {"end_at": "2025-03-01T00:00:00Z"})
    second = api.post(url, {"plan_id": pro.pk, "start_at": "2025-03-01T00:00:00Z"})

    assert ended.status_code == 200
    assert ended.json()["end_at"] == "2025-03-01T00:00:00Z"
    assert second.status_code == 201
    assert [a["plan"] for a in api.get(url).json()] == ["Pro", "Chatbot Usage Plan"]


def test_ending_before_the_start_is_refused(api: Api, customer: Customer, plan: Plan) -> None:
    assignment = plan_assign(customer=customer, plan=plan, start_at=FEB)
    url = f"/customers/{customer.pk}/assignments/{assignment.pk}/end"

    response = api.post(url, {"end_at": "2025-01-15T00:00:00Z"})

    assert response.status_code == 400
    assert errors(response) == [("end_at", "The end date must be after the start date.")]


def test_ending_another_customers_assignment_is_404(api: Api, customer: Customer) -> None:
    other = plan_assign(customer=CustomerFactory.create(), plan=PlanFactory.create(), start_at=JAN)
    url = f"/customers/{customer.pk}/assignments/{other.pk}/end"

    response = api.post(url, {"end_at": "2025-03-01T00:00:00Z"})

    assert response.status_code == 404
    assert PlanAssignment.objects.get().end_at is None


def test_moving_an_end_into_the_next_assignment_is_refused_with_the_reason(
    api: Api, customer: Customer, plan: Plan
) -> None:
    first = plan_assign(customer=customer, plan=plan, start_at=JAN, end_at=FEB)
    plan_assign(customer=customer, plan=PlanFactory.create(name="Pro"), start_at=FEB)
    url = f"/customers/{customer.pk}/assignments/{first.pk}/end"

    response = api.post(url, {"end_at": "2025-03-01T00:00:00Z"})

    assert response.status_code == 400
    assert errors(response) == [
        (
            "end_at",
            "This overlaps the assignment to Pro from 2025-02-01 00:00 with no end date. "
            "End that one first.",
        )
    ]
    first.refresh_from_db()
    assert first.end_at == FEB
