"""How a plan invoices, over the native API: POST /plans and PATCH
/plans/{id} read `billing_anchor`, `grace_period_hours`, `net_terms_days` and
`late_usage_policy` by the plan document's rules, GET answers them, and a
broken rule is a JSON error naming the field. The anchor of a plan with
assignments cannot change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from customers.services import plan_assign
from pricing.models import Plan
from pricing.services import plan_create
from tests.api.conftest import Api, errors, fields
from tests.factories import CustomerFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

TERMS = ("billing_anchor", "grace_period_hours", "net_terms_days", "late_usage_policy")


def stored(plan: Plan) -> tuple[object, ...]:
    plan.refresh_from_db()
    return (plan.name, *(getattr(plan, key) for key in TERMS))


def patch(api: Api, plan: Plan, body: object) -> Response:
    return api.client.patch(
        f"/api/v1/plans/{plan.pk}", json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def plan() -> Plan:
    return plan_create(name="Pro", billing_period="monthly", currency="USD", net_terms_days=45)


def test_a_plan_is_created_with_its_settings_and_answers_them(api: Api) -> None:
    body = {"name": "Pro", "grace_period_hours": 0, "net_terms_days": 7}

    created = api.post(
        "/plans", body | {"late_usage_policy": "report", "billing_anchor": "calendar"}
    )

    assert created.status_code == 201
    answer = created.json()
    assert {key: answer[key] for key in TERMS} == {
        "billing_anchor": "calendar",
        "grace_period_hours": 0,
        "net_terms_days": 7,
        "late_usage_policy": "report",
    }
    assert stored(Plan.objects.get()) == ("Pro", "calendar", 0, 7, "report")
    assert api.get(f"/plans/{answer['id']}").json() == answer


def test_left_out_the_settings_are_the_defaults_and_the_list_shows_them(api: Api) -> None:
    api.post("/plans", {"name": "Pro"})

    [listed] = api.get("/plans").json()

    assert {key: listed[key] for key in TERMS} == {
        "billing_anchor": "anniversary",
        "grace_period_hours": 24,
        "net_terms_days": 30,
        "late_usage_policy": "bill_next",
    }


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"grace_period_hours": 8761},
            "grace_period_hours",
            "must be a whole number of hours from 0 to 8760 (got 8761)",
        ),
        (
            {"net_terms_days": -1},
            "net_terms_days",
            "must be a whole number of days from 0 to 365 (got -1)",
        ),
        (
            {"late_usage_policy": "drop"},
            "late_usage_policy",
            "must be one of bill_next, report (got 'drop')",
        ),
        (
            {"billing_anchor": "CALENDAR"},
            "billing_anchor",
            "must be one of anniversary, calendar (got 'CALENDAR')",
        ),
    ],
)
def test_a_setting_out_of_its_range_is_400_naming_it(
    api: Api, body: dict[str, object], field: str, reason: str
) -> None:
    response = api.post("/plans", {"name": "Pro"} | body)

    assert response.status_code == 400
    assert errors(response) == [(field, reason)]
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"grace_period_hours": "24"},
        {"grace_period_hours": 24.5},
        {"net_terms_days": True},
        {"net_terms_days": None},
        {"late_usage_policy": 1},
        {"billing_anchor": 1},
    ],
    ids=["text", "fraction", "boolean", "null", "number-for-policy", "number-for-anchor"],
)
def test_a_setting_of_the_wrong_type_is_422_naming_it(api: Api, body: dict[str, object]) -> None:
    response = api.post("/plans", {"name": "Pro"} | body)

    assert response.status_code == 422
    assert fields(response) == list(body)
    assert not Plan.objects.exists()


def test_patch_changes_only_the_settings_sent(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"grace_period_hours": 72, "late_usage_policy": "report"})

    assert response.status_code == 200
    assert {key: response.json()[key] for key in TERMS} == {
        "billing_anchor": "anniversary",
        "grace_period_hours": 72,
        "net_terms_days": 45,
        "late_usage_policy": "report",
    }
    assert stored(plan) == ("Pro", "anniversary", 72, 45, "report")


def test_patch_with_a_broken_rule_changes_nothing(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"name": "Renamed", "net_terms_days": 400})

    assert response.status_code == 400
    assert errors(response) == [
        ("net_terms_days", "must be a whole number of days from 0 to 365 (got 400)")
    ]
    assert stored(plan) == ("Pro", "anniversary", 24, 45, "bill_next")


@pytest.mark.parametrize("field", TERMS)
def test_patch_refuses_null_for_a_setting_naming_it(api: Api, plan: Plan, field: str) -> None:
    response = patch(api, plan, {field: None})

    assert response.status_code == 400
    assert fields(response) == [field]
    assert stored(plan) == ("Pro", "anniversary", 24, 45, "bill_next")


def assigned(plan: Plan) -> Plan:
    plan_assign(
        customer=CustomerFactory.create(), plan=plan, start_at=datetime(2025, 3, 20, tzinfo=UTC)
    )
    return plan


def test_patch_moves_a_plan_without_assignments_onto_the_calendar(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"billing_anchor": "calendar"})

    assert response.status_code == 200
    assert response.json()["billing_anchor"] == "calendar"
    assert api.get(f"/plans/{plan.pk}").json()["billing_anchor"] == "calendar"
    assert stored(plan) == ("Pro", "calendar", 24, 45, "bill_next")


def test_patch_of_the_anchor_of_a_plan_with_assignments_is_400_and_changes_nothing(
    api: Api, plan: Plan
) -> None:
    assigned(plan)

    response = patch(api, plan, {"billing_anchor": "calendar", "net_terms_days": 14})

    assert response.status_code == 400
    assert errors(response) == [
        (
            "billing_anchor",
            "This plan has assignments: its periods are fixed. "
            "Create a new plan to bill on the calendar.",
        )
    ]
    assert stored(plan) == ("Pro", "anniversary", 24, 45, "bill_next")


def test_patch_of_a_plan_with_assignments_may_send_its_own_anchor(api: Api, plan: Plan) -> None:
    assigned(plan)

    response = patch(api, plan, {"billing_anchor": "anniversary", "net_terms_days": 14})

    assert response.status_code == 200
    assert stored(plan) == ("Pro", "anniversary", 24, 14, "bill_next")


def test_patch_of_a_string_for_a_number_is_422_naming_it(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"net_terms_days": "60"})

    assert response.status_code == 422
    assert fields(response) == ["net_terms_days"]


@pytest.mark.parametrize("name", ["Pro\x00", "Pro\ud800"], ids=["nul", "lone-surrogate"])
def test_a_plan_name_that_cannot_be_stored_is_400_on_the_name(api: Api, name: str) -> None:
    body = json.dumps({"name": name})  # written as \u escapes

    created = api.client.post("/api/v1/plans", body, content_type="application/json")
    other = plan_create(name="Other", billing_period="monthly", currency="USD")
    renamed = api.client.patch(f"/api/v1/plans/{other.pk}", body, content_type="application/json")

    assert (created.status_code, fields(created)) == (400, ["name"])
    assert (renamed.status_code, fields(renamed)) == (400, ["name"])
    assert list(Plan.objects.values_list("name", flat=True)) == ["Other"]


def test_the_openapi_document_describes_the_settings(api: Api) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]

    described = schemas["PlanIn"]["properties"]
    assert described["grace_period_hours"]["default"] == 24
    assert "0 to 8760" in described["grace_period_hours"]["description"]
    assert "`report`: report it without billing" in described["late_usage_policy"]["description"]
    assert described["billing_anchor"]["default"] == "anniversary"
    assert "`calendar`: on calendar periods" in described["billing_anchor"]["description"]
    assert "billing_anchor" in schemas["PlanPatch"]["properties"]
    assert set(TERMS) <= set(schemas["PlanOut"]["required"])
