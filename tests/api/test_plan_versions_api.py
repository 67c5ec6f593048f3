"""Plan versions over the native API: rate writes with `starts` (POST, PUT,
DELETE), the `Plan-Version` header naming the version that holds the change,
a plan's version in its JSON, and its versions listed and read one by one.

While a plan bills no one its prices change in place; once it has an
assignment each change makes a new version (pricing.versions)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter
from pricing.models import Plan, PlanVersion, Rate
from pricing.services import rate_create
from tests.api.conftest import BASE, Api, errors, fields
from tests.factories import Guide, MeterFactory, PlanFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

NOW_JSON = "2025-03-15T12:00:00Z"  # tests/api/conftest.NOW as the API writes it
CHEAPER_CALLS = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "0.005"}}
DEARER_CALLS = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "0.02"}}
STORAGE = {"meter": "storage", "model": "per_unit", "price": {"unit_price": "0.10"}}


def put(api: Api, path: str, body: object) -> Response:
    return api.client.put(BASE + path, json.dumps(body), content_type="application/json")


def delete(api: Api, path: str, **query: str) -> Response:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return api.client.delete(BASE + path + suffix)


def version_header(response: Response) -> int:
    return int(response["Plan-Version"])


def versions(api: Api, plan: Plan) -> list[tuple[int, str, bool, int]]:
    """The plan's versions as the API lists them: (number, starts, current, rate count)."""
    listed = api.get(f"/plans/{plan.pk}/versions").json()
    return [(v["number"], v["starts"], v["current"], v["rate_count"]) for v in listed]


def meters_priced(api: Api, plan: Plan) -> dict[str, str | None]:
    rates = api.get(f"/plans/{plan.pk}").json()["rates"]
    return {r["meter"]: (r.get("price") or {}).get("unit_price") for r in rates}


def api_calls_price_on_the_current_invoice(api: Api, guide: Guide) -> str:
    invoice = api.get(f"/customers/{guide.customer.pk}/invoices/current").json()
    [section] = [s for s in invoice["sections"] if s["meter"] == "API calls"]
    [line] = section["lines"]
    return str(line["unit_price"])


@pytest.fixture
def storage(db: None) -> Meter:
    return MeterFactory.create(label="Storage", api_name="storage")


@pytest.fixture
def reader(db: None) -> Api:
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)
    return Api(raw)


# A plan no one is on: prices change in place


def test_rate_writes_to_a_plan_no_one_is_on_change_version_1_in_place(
    api: Api, now: datetime, storage: Meter
) -> None:
    MeterFactory.create(label="API calls", api_name="api-calls")
    plan = PlanFactory.create(name="Pro")

    added = api.post(f"/plans/{plan.pk}/rates", CHEAPER_CALLS | {"starts": "current_period"})
    api.post(f"/plans/{plan.pk}/rates", STORAGE)
    replaced = put(api, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS)
    removed = delete(api, f"/plans/{plan.pk}/rates/storage", starts="next_period")

    assert (added.status_code, replaced.status_code, removed.status_code) == (201, 200, 204)
    assert [version_header(r) for r in (added, replaced, removed)] == [1, 1, 1]
    assert versions(api, plan) == [(1, "always", True, 1)]
    assert meters_priced(api, plan) == {"api-calls": "0.02"}
    assert api.get(f"/plans/{plan.pk}").json()["version"] == 1


# A plan in use: each change is a new version


def test_add_replace_and_delete_on_a_plan_in_use_make_versions_as_starts_says(
    api: Api, guide: Guide, storage: Meter
) -> None:
    plan = guide.plan

    added = api.post(f"/plans/{plan.pk}/rates", STORAGE | {"starts": "current_period"})
    replaced = put(api, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS)
    removed = delete(api, f"/plans/{plan.pk}/rates/llm-tokens", starts="current_period")

    assert (added.status_code, replaced.status_code, removed.status_code) == (201, 200, 204)
    assert [version_header(r) for r in (added, replaced, removed)] == [2, 3, 4]
    assert versions(api, plan) == [
        (4, "current_period", True, 2),
        (3, "next_period", False, 3),  # no `starts`: the next period
        (2, "current_period", False, 3),
        (1, "always", False, 2),
    ]
    listed = api.get(f"/plans/{plan.pk}/versions").json()
    assert [(v["change"], v["effective_at"]) for v in listed] == [
        ("LLM tokens: rate removed", NOW_JSON),
        ("API calls: rate changed", NOW_JSON),
        ("Storage: rate added", NOW_JSON),
        ("", NOW_JSON),  # the plan was made at the same frozen instant
    ]
    plan_json = api.get(f"/plans/{plan.pk}").json()
    assert plan_json["version"] == 4
    assert meters_priced(api, plan) == {"api-calls": "0.02", "storage": "0.1"}


def test_a_change_from_the_next_period_leaves_the_current_invoice_alone(
    api: Api, guide: Guide
) -> None:
    response = put(api, f"/plans/{guide.plan.pk}/rates/api-calls", DEARER_CALLS)

    assert response.status_code == 200
    assert response.json() == {
        **DEARER_CALLS,
        "price": {"unit_price": "0.02", "free_units": "0"},
        "minimum_charge": None,
        "base_fee": None,
        "first_tier_fee_at_zero": True,
    }
    assert api_calls_price_on_the_current_invoice(api, guide) == "0.01"
    assert meters_priced(api, guide.plan)["api-calls"] == "0.02"


def test_a_change_from_the_current_period_re_rates_the_current_invoice(
    api: Api, guide: Guide
) -> None:
    body = DEARER_CALLS | {"starts": "current_period"}

    response = put(api, f"/plans/{guide.plan.pk}/rates/api-calls", body)

    assert response.status_code == 200
    assert version_header(response) == 2
    assert api_calls_price_on_the_current_invoice(api, guide) == "0.02"


def test_the_body_of_a_replace_may_leave_out_the_meter(api: Api, guide: Guide) -> None:
    response = put(api, f"/plans/{guide.plan.pk}/rates/api-calls", {"price": {"unit_price": "1"}})

    assert response.status_code == 200
    assert response.json()["meter"] == "api-calls"
    assert meters_priced(api, guide.plan)["api-calls"] == "1"


# Refusals, each naming its field


@pytest.mark.parametrize("in_use", [False, True], ids=["new plan", "plan in use"])
def test_a_bad_starts_is_400_on_starts_and_changes_nothing(
    api: Api, guide: Guide, storage: Meter, in_use: bool
) -> None:
    plan = guide.plan if in_use else PlanFactory.create(name="Pro")
    if not in_use:
        rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.01"))

    refused = [
        api.post(f"/plans/{plan.pk}/rates", STORAGE | {"starts": "tomorrow"}),
        put(api, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS | {"starts": "always"}),
        delete(api, f"/plans/{plan.pk}/rates/api-calls", starts="later"),
    ]

    assert [r.status_code for r in refused] == [400, 400, 400]
    assert [fields(r) for r in refused] == [["starts"]] * 3
    assert errors(refused[0])[0][1] == (
        "Choose when the change takes effect: “next_period”, “current_period”."
    )
    assert versions(api, plan) == [(1, "always", True, 1 if not in_use else 2)]
    assert meters_priced(api, plan)["api-calls"] == "0.01"
    assert "storage" not in meters_priced(api, plan)


def test_a_starts_that_is_not_text_is_422_on_starts(api: Api, guide: Guide) -> None:
    response = api.post(f"/plans/{guide.plan.pk}/rates", {"meter": "api-calls", "starts": 1})

    assert response.status_code == 422
    assert fields(response) == ["starts"]
    assert PlanVersion.objects.filter(plan=guide.plan).count() == 1


def test_replacing_a_rate_the_plan_does_not_have_is_404(
    api: Api, guide: Guide, storage: Meter
) -> None:
    unpriced = put(api, f"/plans/{guide.plan.pk}/rates/storage", STORAGE)
    unknown = put(api, f"/plans/{guide.plan.pk}/rates/no-such-meter", STORAGE)
    no_plan = put(api, "/plans/999/rates/api-calls", DEARER_CALLS)

    assert [r.status_code for r in (unpriced, unknown, no_plan)] == [404, 404, 404]
    assert errors(unpriced) == [("", "Chatbot Usage Plan has no rate for the meter 'storage'.")]
    assert errors(no_plan) == [("", "No plan with id 999.")]
    assert versions(api, guide.plan) == [(1, "always", True, 2)]


def test_a_replace_whose_body_names_another_meter_is_400_on_meter(api: Api, guide: Guide) -> None:
    body = {"meter": "llm-tokens", "model": "per_unit", "price": {"unit_price": "1"}}

    response = put(api, f"/plans/{guide.plan.pk}/rates/api-calls", body)

    assert response.status_code == 400
    assert fields(response) == ["meter"]
    assert "must be the meter of the path, 'api-calls'" in errors(response)[0][1]
    assert versions(api, guide.plan) == [(1, "always", True, 2)]
    assert meters_priced(api, guide.plan)["api-calls"] == "0.01"


def test_a_replace_with_a_broken_rate_gets_every_problem_with_its_path(
    api: Api, guide: Guide
) -> None:
    body = {"meter": "api-calls", "model": "graduated", "price": {"tiers": [{"unit_price": "x"}]}}

    response = put(api, f"/plans/{guide.plan.pk}/rates/api-calls", body)

    assert response.status_code == 400
    assert "price.tiers[0].unit_price" in fields(response)
    assert versions(api, guide.plan) == [(1, "always", True, 2)]


def test_a_read_key_reads_versions_but_cannot_write_rates(
    reader: Api, guide: Guide, storage: Meter
) -> None:
    plan = guide.plan

    refused = [
        reader.post(f"/plans/{plan.pk}/rates", STORAGE),
        put(reader, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS),
        delete(reader, f"/plans/{plan.pk}/rates/api-calls", starts="current_period"),
    ]

    assert [r.status_code for r in refused] == [403, 403, 403]
    assert [fields(r) for r in refused] == [["X-API-KEY"]] * 3
    assert "PUT /api/v1/plans" in errors(refused[1])[0][1]
    assert reader.get(f"/plans/{plan.pk}/versions").status_code == 200
    assert reader.get(f"/plans/{plan.pk}/versions/1").status_code == 200
    assert Rate.objects.filter(version=plan.current_version_id).count() == 2


# Reading versions


def test_a_version_reads_with_its_rates_as_they_were(api: Api, guide: Guide) -> None:
    plan = guide.plan
    put(api, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS)
    delete(api, f"/plans/{plan.pk}/rates/llm-tokens")

    first = api.get(f"/plans/{plan.pk}/versions/1").json()
    second = api.get(f"/plans/{plan.pk}/versions/2").json()
    latest = api.get(f"/plans/{plan.pk}/versions/3").json()
    missing = api.get(f"/plans/{plan.pk}/versions/9")

    document = api.get(f"/plans/{plan.pk}").json()
    assert latest["rates"] == document["rates"]  # the current version is the plan's prices
    assert {k: v for k, v in latest.items() if k != "rates"} == {
        "number": 3,
        "starts": "next_period",
        "effective_at": NOW_JSON,
        "change": "LLM tokens: rate removed",
        "current": True,
        "rate_count": 1,
    }
    assert [r["meter"] for r in first["rates"]] == ["api-calls", "llm-tokens"]
    assert first["rates"][0]["price"] == {"unit_price": "0.01", "free_units": "0"}
    assert first["rates"][1]["cells"][0] == {
        "values": ["model a", "input"],
        "price": {"model": "per_unit", "unit_price": "0.00001", "free_units": "0"},
    }
    assert (first["current"], first["starts"], first["rate_count"]) == (False, "always", 2)
    assert [r["price"]["unit_price"] for r in second["rates"] if r["meter"] == "api-calls"] == [
        "0.02"
    ]
    assert missing.status_code == 404
    assert errors(missing) == [("", "Chatbot Usage Plan has no version 9.")]
    assert api.get("/plans/999/versions").status_code == 404


def test_a_plan_answers_its_current_version_number(api: Api, guide: Guide) -> None:
    created = api.post("/plans", {"name": "Pro"})
    path = f"{BASE}/plans/{created.json()['id']}"
    renamed = api.client.patch(path, {"name": "Pro 2"}, content_type="application/json")
    put(api, f"/plans/{guide.plan.pk}/rates/api-calls", DEARER_CALLS)

    assert created.json()["version"] == 1
    assert api.get(f"/plans/{created.json()['id']}").json()["version"] == 1
    assert renamed.json()["version"] == 1
    assert api.get(f"/plans/{guide.plan.pk}").json()["version"] == 2


def test_a_plan_answered_by_the_api_can_be_posted_back_as_a_new_plan(
    api: Api, guide: Guide
) -> None:
    put(api, f"/plans/{guide.plan.pk}/rates/api-calls", DEARER_CALLS)
    document = api.get(f"/plans/{guide.plan.pk}").json() | {"name": "Chatbot copy"}

    copy = api.post("/plans", document)

    assert copy.status_code == 201
    assert copy.json() == document | {"id": copy.json()["id"], "version": 1}


def test_the_openapi_document_shows_put_starts_and_the_version_header() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]

    rate = paths["/api/v1/plans/{id}/rates/{meter}"]
    assert {"put", "delete"} <= set(rate)
    [starts] = [p for p in rate["delete"]["parameters"] if p["name"] == "starts"]
    assert starts["in"] == "query" and "next_period" in starts["description"]
    assert "Plan-Version" in rate["put"]["responses"]["200"]["headers"]
    added = paths["/api/v1/plans/{id}/rates"]["post"]["responses"]["201"]
    assert "Plan-Version" in added["headers"]
    assert "content" in added  # the rate's body is still documented
    assert "get" in paths["/api/v1/plans/{id}/versions"]
    assert "get" in paths["/api/v1/plans/{id}/versions/{number}"]


# Queries


def queries(call: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_reading_versions_costs_the_same_queries_for_many_versions(
    api: Api, guide: Guide, django_assert_max_num_queries: Any
) -> None:
    plan = guide.plan
    put(api, f"/plans/{plan.pk}/rates/api-calls", DEARER_CALLS)  # two versions
    api.get(f"/plans/{plan.pk}/versions")  # the key's last use recorded, as on a running server
    few_list = queries(lambda: api.get(f"/plans/{plan.pk}/versions"))
    few_detail = queries(lambda: api.get(f"/plans/{plan.pk}/versions/2"))
    for n in range(30):
        price = {"unit_price": f"0.{n + 10}"}
        put(api, f"/plans/{plan.pk}/rates/api-calls", {"meter": "api-calls", "price": price})

    with django_assert_max_num_queries(few_list):
        listed = api.get(f"/plans/{plan.pk}/versions")
    with django_assert_max_num_queries(few_detail):
        latest = api.get(f"/plans/{plan.pk}/versions/32")

    assert len(listed.json()) == 32
    assert latest.json()["rates"][0]["price"]["unit_price"] == "0.39"
