"""Renaming a plan: only its name changes, held to plan_create's rules (a
name within the column, not another plan's ignoring case) on the page and
through PATCH /api/v1/plans/{id}; the billing period and currency are shown,
fixed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR, VIEWER
from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.models import Plan
from tests.api.conftest import Api, errors
from tests.factories import PlanFactory
from tests.fixtures import HTMX, element, field_errors, login, page, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

TAKEN = "A pricing plan named “starter” already exists."


@pytest.fixture
def plan() -> Plan:
    PlanFactory.create(name="Starter")
    return PlanFactory.create(name="Chatbot usage plan", billing_period="monthly", currency="EUR")


@pytest.fixture
def api() -> Api:
    return Api(api_key_create(name="edit tests", scope=ApiKey.Scope.FULL)[1])


def edit_url(plan: Plan) -> str:
    return reverse("pricing:edit", args=[plan.pk])


def edit_form(name: str, **terms: object) -> dict[str, object]:
    """What the edit page posts: the name and the plan's invoicing settings."""
    defaults = {
        "billing_anchor": "anniversary",
        "grace_period_hours": 24,
        "net_terms_days": 30,
        "late_usage_policy": "bill_next",
    }
    return {"name": name, **defaults, **terms}


def patch(api: Api, plan: Plan, body: object) -> Response:
    return api.client.patch(
        f"/api/v1/plans/{plan.pk}", json.dumps(body), content_type="application/json"
    )


def test_the_edit_page_shows_the_name_and_the_fixed_period_and_currency(
    client: Client, plan: Plan
) -> None:
    html = page(login(client).get(edit_url(plan)))

    assert 'value="Chatbot usage plan"' in element(html, "field-name")
    assert text(element(html, "fixed-fields")) == "Billing period Monthly Currency EUR"
    assert 'name="currency"' not in html
    assert "every price of the plan's rates is in its currency" in text(html)


def test_a_new_name_is_saved_stripped(client: Client, plan: Plan) -> None:
    response = login(client).post(edit_url(plan), edit_form("  Chatbot plan  "), follow=True)

    plan.refresh_from_db()
    assert (plan.name, plan.currency) == ("Chatbot plan", "EUR")
    assert response.redirect_chain[-1][0] == plan.get_absolute_url()
    assert "Pricing plan “Chatbot plan” saved." in text(page(response))


def test_a_plan_may_change_the_case_of_its_own_name(client: Client, plan: Plan) -> None:
    login(client).post(edit_url(plan), edit_form("Chatbot Usage Plan"))

    plan.refresh_from_db()
    assert plan.name == "Chatbot Usage Plan"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("starter", TAKEN),
        ("  ", "This field cannot be blank."),
        ("x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_a_name_breaking_a_create_rule_is_refused_next_to_the_field(
    client: Client, plan: Plan, name: str, reason: str
) -> None:
    response = login(client).post(edit_url(plan), edit_form(name))

    assert response.status_code == 200
    assert field_errors(page(response), "name") == [reason]
    plan.refresh_from_db()
    assert plan.name == "Chatbot usage plan"


def test_an_htmx_edit_with_an_error_answers_the_form_alone(client: Client, plan: Plan) -> None:
    response = login(client).post(edit_url(plan), edit_form("STARTER"), headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert field_errors(html, "name") == ["A pricing plan named “STARTER” already exists."]


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_only_an_admin_may_rename_a_plan(client: Client, plan: Plan, role: str) -> None:
    login(client, role=role)

    assert client.get(edit_url(plan)).status_code == 403
    assert client.post(edit_url(plan), edit_form("Renamed")).status_code == 403
    assert edit_url(plan) not in page(client.get(plan.get_absolute_url()))
    plan.refresh_from_db()
    assert plan.name == "Chatbot usage plan"


def test_an_admin_sees_the_edit_link_on_the_plan_page(client: Client, plan: Plan) -> None:
    assert f'href="{edit_url(plan)}"' in page(login(client).get(plan.get_absolute_url()))


# PATCH /api/v1/plans/{id}


def test_the_api_renames_the_plan(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"name": " Chatbot plan "})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["currency"]) == ("Chatbot plan", "EUR")
    plan.refresh_from_db()
    assert plan.name == "Chatbot plan"


def test_the_api_refuses_a_name_taken_ignoring_case_on_name(api: Api, plan: Plan) -> None:
    response = patch(api, plan, {"name": "starter"})

    assert response.status_code == 400
    assert errors(response) == [("name", TAKEN)]


@pytest.mark.parametrize("field", ["currency", "billing_period"])
def test_the_api_refuses_to_change_the_period_or_currency_naming_it(
    api: Api, plan: Plan, field: str
) -> None:
    response = patch(api, plan, {field: "USD"})

    assert response.status_code == 422
    assert [f for f, _ in errors(response)] == [field]
    plan.refresh_from_db()
    assert plan.currency == "EUR"
