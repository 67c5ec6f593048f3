"""Cost plans over the native API: only `full` keys, a price sheet in and
out with every problem listed, and a customer's own cost plan."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.models import Plan
from pricing.selectors import plan_rates
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.api.conftest import Api, errors, fields
from tests.factories import Guide

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

SHEET = {
    "schema": "tally.cost-sheet/1",
    "currency": "USD",
    "rates": [
        {
            "meter": "llm-tokens",
            "model": "dimensions",
            "dimensions": ["model", "type"],
            "cells": [
                {"values": ["model a", "input"], "price": {"unit_price": "0.000003"}},
                {"values": ["model a", "output"], "price": {"unit_price": "0.000015"}},
            ],
        }
    ],
}


def cost_plan(name: str = "Provider costs") -> Plan:
    return plan_create(name=name, billing_period="monthly", currency="USD", kind="cost")


def put(api: Api, path: str, body: object) -> Response:
    return api.client.put(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def test_create_list_and_read_a_cost_plan(api: Api, guide: Guide) -> None:
    created = api.post("/cost-plans", {"name": "Provider costs", "currency": "USD"})

    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["currency"], body["is_default"], body["rates"]) == (
        "Provider costs",
        "USD",
        False,
        [],
    )
    assert [p["name"] for p in api.get("/cost-plans").json()] == ["Provider costs"]
    assert api.get(f"/cost-plans/{body['id']}").json()["versions"][0]["number"] == 1
    # A cost plan is not a price plan: the plans list does not show it.
    assert "Provider costs" not in [p["name"] for p in api.get("/plans").json()]


def test_a_taken_name_or_bad_currency_is_a_400_naming_the_field(api: Api, now: datetime) -> None:
    cost_plan()

    assert "name" in fields(api.post("/cost-plans", {"name": "provider costs"}))
    response = api.post("/cost-plans", {"name": "Other", "currency": "ZZZ"})
    assert response.status_code == 400 and "currency" in fields(response)


def test_a_sheet_in_and_out(api: Api, guide: Guide) -> None:
    plan = cost_plan()
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))

    response = api.post(f"/cost-plans/{plan.pk}/sheet", SHEET)

    assert response.status_code == 200, response.content
    assert {r["meter"] for r in response.json()["rates"]} == {"api-calls", "llm-tokens"}
    exported = api.get(f"/cost-plans/{plan.pk}/sheet").json()
    assert exported["schema"] == "tally.cost-sheet/1"
    tokens = next(r for r in exported["rates"] if r["meter"] == "llm-tokens")
    assert [(c["values"], c["price"]["unit_price"]) for c in tokens["cells"]] == [
        (["model a", "input"], "0.000003"),
        (["model a", "output"], "0.000015"),
    ]


def test_a_sheet_for_a_plan_in_use_takes_effect_from_its_date(api: Api, guide: Guide) -> None:
    plan = cost_plan()
    cost_plan_make_default(plan=plan)

    body = api.post(
        f"/cost-plans/{plan.pk}/sheet", {**SHEET, "effective_from": "2025-03-20T00:00:00Z"}
    ).json()

    current = next(v for v in body["versions"] if v["current"])
    assert current["number"] == 2 and current["effective_at"].startswith("2025-03-20T00:00:00")


def test_a_bad_sheet_is_a_400_listing_every_problem_and_stores_nothing(
    api: Api, guide: Guide
) -> None:
    plan = cost_plan()
    bad = {
        "schema": "tally.cost-sheet/1",
        "currency": "EUR",
        "rates": [
            {"meter": "nope", "price": {"unit_price": "1"}},
            {"meter": "api-calls", "price": {"unit_price": "-1"}},
        ],
    }

    response = api.post(f"/cost-plans/{plan.pk}/sheet", bad)

    assert response.status_code == 400
    assert fields(response) == ["rates[0].meter", "rates[1].price.unit_price"]
    wrong_currency = api.post(f"/cost-plans/{plan.pk}/sheet", {**SHEET, "currency": "EUR"})
    assert errors(wrong_currency) == [("currency", "is EUR; the cost plan is in USD")]
    assert not plan_rates(plan).exists()


def test_make_default(api: Api, now: datetime) -> None:
    plan = cost_plan()

    assert api.post(f"/cost-plans/{plan.pk}/default").json()["is_default"] is True
    plan.refresh_from_db()
    assert plan.is_default_cost


def test_a_customer_gets_their_own_cost_plan_and_back(api: Api, guide: Guide) -> None:
    plan = cost_plan()
    path = f"/customers/{guide.customer.pk}/cost-plan"

    assert put(api, path, {"cost_plan": plan.pk}).json() == {
        "id": guide.customer.pk,
        "cost_plan": plan.pk,
    }
    assert api.get(f"/cost-plans/{plan.pk}").json()["customers"] == [guide.customer.pk]
    assert put(api, path, {"cost_plan": None}).json()["cost_plan"] is None
    refused = put(api, path, {"cost_plan": guide.plan.pk})
    assert refused.status_code == 400
    assert fields(refused) == ["cost_plan"]


def test_unknown_ids_are_404(api: Api, guide: Guide) -> None:
    assert api.get(f"/cost-plans/{guide.plan.pk}").status_code == 404  # a price plan
    assert put(api, "/customers/999999/cost-plan", {"cost_plan": None}).status_code == 404


def test_a_read_key_gets_403_on_every_cost_endpoint(guide: Guide) -> None:
    plan = cost_plan()
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)
    reader = Api(raw)

    assert reader.get("/cost-plans").status_code == 403
    assert reader.get(f"/cost-plans/{plan.pk}").status_code == 403
    assert reader.get(f"/cost-plans/{plan.pk}/sheet").status_code == 403
    assert reader.post(f"/cost-plans/{plan.pk}/sheet", SHEET).status_code == 403
    assert reader.post(f"/cost-plans/{plan.pk}/default").status_code == 403
    assert (
        put(reader, f"/customers/{guide.customer.pk}/cost-plan", {"cost_plan": None}).status_code
        == 403
    )
    # Nor through the price plans' endpoints, which know only price plans.
    for path in (f"/plans/{plan.pk}", f"/plans/{plan.pk}/versions"):
        assert reader.get(path).status_code == 404, path
    assert plan.pk not in [p["id"] for p in reader.get("/plans").json()]
