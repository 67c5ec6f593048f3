"""Meters, plans and rates over the API: each endpoint's success, and its
errors as JSON naming the field. Rates are the JSON of pricing/schema.py, so
the API, `export_plan` and `import_plan` read and write one format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meters.models import Meter
from pricing.models import Plan, Rate
from pricing.plan_files import plan_json
from tests.api.conftest import Api, errors, fields
from tests.factories import Guide, MeterFactory, PlanFactory

pytestmark = pytest.mark.django_db

PER_UNIT = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "0.01"}}


@pytest.fixture
def api_calls() -> Meter:
    return MeterFactory.create(label="API calls", api_name="api-calls")


@pytest.fixture
def tokens() -> Meter:
    return MeterFactory.create(
        label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"]
    )


# /meters


def test_create_a_meter_and_read_it_back(api: Api) -> None:
    body = {"label": "LLM tokens", "api_name": "llm-tokens", "dimensions": ["model", "type"]}

    created = api.post("/meters", body)
    fetched = api.get(f"/meters/{created.json()['id']}")

    assert created.status_code == 201
    assert fetched.json() == created.json()
    assert fetched.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "label": "LLM tokens",
        "api_name": "llm-tokens",
        "meter_type": "count",
        "dimensions": ["model", "type"],
        "unique_dimension": "",
        "created_at": "",
    }


def test_meter_list_is_by_label(api: Api, api_calls: Meter, tokens: Meter) -> None:
    MeterFactory.create(label="Bytes stored", api_name="bytes-stored")

    labels = [m["label"] for m in api.get("/meters").json()]

    assert labels == ["API calls", "Bytes stored", "LLM tokens"]


def test_a_meter_breaking_a_model_rule_is_refused_naming_the_field(
    api: Api, api_calls: Meter
) -> None:
    response = api.post("/meters", {"label": "Calls", "api_name": "api-calls"})
    slug = api.post("/meters", {"label": "Calls", "api_name": "Not A Slug"})

    assert response.status_code == 400
    assert fields(response) == ["api_name"]
    assert "already exists" in errors(response)[0][1]
    assert fields(slug) == ["api_name"]
    assert Meter.objects.count() == 1


def test_a_meter_with_wrong_types_gets_422_naming_each_field(api: Api) -> None:
    response = api.post("/meters", {"api_name": "x", "meter_type": "avg", "dimensions": "model"})

    assert response.status_code == 422
    assert sorted(fields(response)) == ["dimensions", "label", "meter_type"]
    assert all(reason for _, reason in errors(response))


def test_a_missing_meter_is_404_json(api: Api) -> None:
    response = api.get("/meters/999")

    assert response.status_code == 404
    assert errors(response) == [("", "No meter with id 999.")]


def test_a_body_that_is_not_json_is_400_naming_the_body(api: Api) -> None:
    response = api.client.post("/api/v1/meters", "{oops", content_type="application/json")

    assert response.status_code == 400
    assert fields(response) == ["body"]


# /plans


def test_create_a_plan_then_add_rates_in_the_schema_json(
    api: Api, api_calls: Meter, tokens: Meter
) -> None:
    plan = api.post("/plans", {"name": "Chatbot Usage Plan"})
    matrix = {
        "meter": "llm-tokens",
        "model": "dimensions",
        "dimensions": ["model", "type"],
        "cells": [{"values": ["model a", "input"], "price": {"unit_price": "0.00001"}}],
        "default_price": None,
        "minimum_charge": None,
        "base_fee": "5",
    }

    added = api.post(f"/plans/{plan.json()['id']}/rates", matrix)
    api.post(f"/plans/{plan.json()['id']}/rates", PER_UNIT)
    fetched = api.get(f"/plans/{plan.json()['id']}").json()

    assert plan.status_code == 201
    assert plan.json() | {"id": 0} == {
        "id": 0,
        "version": 1,
        "schema": "tally.plan/1",
        "name": "Chatbot Usage Plan",
        "billing_period": "monthly",
        "currency": "USD",
        "billing_anchor": "anniversary",
        "grace_period_hours": 24,
        "net_terms_days": 30,
        "late_usage_policy": "bill_next",
        "invoice_minimum": None,
        "one_time_fees": [],
        "tax_rates": [],
        "rates": [],
    }
    assert added.status_code == 201
    # The schema's own JSON form: prices as exact strings, defaults filled in.
    assert added.json() == {
        **matrix,
        "first_tier_fee_at_zero": True,  # left out: the default
        "cells": [
            {
                "values": ["model a", "input"],
                "price": {"model": "per_unit", "unit_price": "0.00001", "free_units": "0"},
            }
        ],
    }
    assert [r["meter"] for r in fetched["rates"]] == ["api-calls", "llm-tokens"]
    assert fetched["rates"][0] == {
        "meter": "api-calls",
        "model": "per_unit",
        "price": {"unit_price": "0.01", "free_units": "0"},
        "minimum_charge": None,
        "base_fee": None,
        "first_tier_fee_at_zero": True,
    }


def test_a_plan_reads_as_its_exported_document(api: Api, guide: Guide) -> None:
    fetched = api.get(f"/plans/{guide.plan.pk}").json()

    assert fetched == {"id": guide.plan.pk, "version": 1, **json.loads(plan_json(guide.plan))}


def test_an_exported_plan_document_can_be_posted_as_a_new_plan(api: Api, guide: Guide) -> None:
    document = {**json.loads(plan_json(guide.plan)), "name": "Chatbot copy"}

    created = api.post("/plans", document)

    assert created.status_code == 201
    assert created.json() == {**document, "id": created.json()["id"], "version": 1}
    assert Rate.objects.filter(plan__name="Chatbot copy").count() == 2


def test_plan_list_is_by_name(api: Api) -> None:
    PlanFactory.create(name="Pro")
    PlanFactory.create(name="Basic", currency="EUR", billing_period="yearly")

    plans = api.get("/plans").json()

    assert [(p["name"], p["currency"], p["billing_period"]) for p in plans] == [
        ("Basic", "EUR", "yearly"),
        ("Pro", "USD", "monthly"),
    ]


def test_a_plan_document_gets_every_problem_with_its_path(api: Api, api_calls: Meter) -> None:
    document: dict[str, Any] = {
        "name": "Broken",
        "currency": "XXX",
        "rates": [
            {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "ten"}},
            {"meter": "no-such-meter", "model": "per_unit", "price": {"unit_price": "1"}},
        ],
    }

    response = api.post("/plans", document)

    assert response.status_code == 400
    assert errors(response) == [
        ("currency", "must be one of USD, EUR, GBP, CAD, AUD, CHF, JPY, INR, SEK, BRL, KWD"),
        ("rates[0].price.unit_price", "“ten” is not a number"),
        ("rates[1].meter", "unknown meter 'no-such-meter'"),
    ]
    assert not Plan.objects.exists()


def test_a_plan_with_a_rate_with_a_wrong_type_is_refused_before_anything_is_stored(
    api: Api,
) -> None:
    response = api.post("/plans", {"name": "P", "rates": ["not a rate"]})

    assert response.status_code == 422
    assert fields(response) == ["rates[0]"]
    assert not Plan.objects.exists()


def test_a_taken_plan_name_is_refused_naming_the_name(api: Api) -> None:
    PlanFactory.create(name="Pro")

    response = api.post("/plans", {"name": "pro"})

    assert response.status_code == 400
    assert errors(response) == [("name", "A pricing plan named “pro” already exists.")]


def test_a_missing_plan_is_404(api: Api) -> None:
    assert api.get("/plans/999").status_code == 404
    assert api.post("/plans/999/rates", PER_UNIT).status_code == 404


# /plans/<id>/rates


def test_a_rate_gets_every_problem_with_its_path(api: Api, tokens: Meter) -> None:
    plan = PlanFactory.create()
    rate = {
        "meter": "llm-tokens",
        "model": "dimensions",
        "dimensions": ["model", "colour"],
        "cells": [{"values": ["model a"], "price": {"unit_price": "-1"}}],
    }

    response = api.post(f"/plans/{plan.pk}/rates", rate)

    assert response.status_code == 400
    assert errors(response) == [
        ("dimensions", "meter llm-tokens has no dimension colour"),
        ("cells[0].values", "needs one value per dimension (model, colour)"),
    ]
    assert not Rate.objects.exists()


def test_a_rate_price_problem_names_the_price_field(api: Api, api_calls: Meter) -> None:
    plan = PlanFactory.create()
    rate = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": True}}

    response = api.post(f"/plans/{plan.pk}/rates", rate)

    assert fields(response) == ["price.unit_price"]
    assert "must be a number written as text" in errors(response)[0][1]


def test_a_price_sent_as_a_json_number_stays_exact(api: Api, api_calls: Meter) -> None:
    plan = PlanFactory.create()
    body = '{"meter": "api-calls", "price": {"unit_price": 0.000001234567891}}'

    response = api.client.post(
        f"/api/v1/plans/{plan.pk}/rates", body, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["price"]["unit_price"] == "0.000001234567891"


def test_a_meter_priced_twice_on_a_plan_is_refused(api: Api, api_calls: Meter) -> None:
    plan = PlanFactory.create(name="Pro")
    api.post(f"/plans/{plan.pk}/rates", PER_UNIT)

    response = api.post(f"/plans/{plan.pk}/rates", PER_UNIT)

    assert response.status_code == 400
    assert errors(response) == [("meter", "API calls is already priced on Pro.")]


def test_a_rate_that_is_not_an_object_is_refused(api: Api) -> None:
    plan = PlanFactory.create()

    response = api.post(f"/plans/{plan.pk}/rates", ["api-calls"])

    assert response.status_code == 422
    assert fields(response) == [""]


def test_delete_a_rate_by_its_meter(api: Api, guide: Guide) -> None:
    response = api.delete(f"/plans/{guide.plan.pk}/rates/api-calls")
    again = api.delete(f"/plans/{guide.plan.pk}/rates/api-calls")

    assert response.status_code == 204
    assert [r["meter"] for r in api.get(f"/plans/{guide.plan.pk}").json()["rates"]] == [
        "llm-tokens"
    ]
    assert again.status_code == 404
    assert errors(again) == [("", "Chatbot Usage Plan has no rate for the meter 'api-calls'.")]
