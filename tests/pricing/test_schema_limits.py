"""Size limits of a plan document (pricing.schema, docs/PLAN_SCHEMA.md
"Limits"), through every door: the schema itself, the native API, import_plan
(command and upload page) and the rate editor. An oversized list is refused at
its path, once, without a problem per item."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter
from meters.services import meter_create
from pricing.forms import RateForm
from pricing.models import Plan, PriceCell, Rate
from pricing.price_models import CellPrice, PriceModel, Tier
from pricing.schema import (
    MAX_CELLS,
    MAX_NUMBER_TEXT,
    MAX_PLAN_PRICES,
    MAX_PLAN_TIERS,
    MAX_RATE_DIMENSIONS,
    MAX_RATE_TIERS,
    MAX_RATES,
    MAX_TIERS,
    SCHEMA,
    Problems,
    RateDraft,
    Size,
    rate_room_problems,
    read_plan,
    read_rate,
)
from pricing.selectors import plan_rates
from pricing.services import plan_create, rate_save
from tests.api.conftest import Api, errors
from tests.fixtures import element, login, page, table_rows

D = Decimal
DIMENSIONS = ["model", "type", "region", "tier", "context", "cache"]
METERS: dict[str, list[str]] = {"api-calls": [], "llm-tokens": DIMENSIONS}


def tiers(count: int) -> list[dict[str, object]]:
    bounded: list[dict[str, object]] = [
        {"up_to": str(i + 1), "unit_price": "1"} for i in range(count - 1)
    ]
    return [*bounded, {"up_to": None, "unit_price": "1"}]


def tiered(count: int) -> dict[str, object]:
    return {"meter": "api-calls", "model": "graduated", "price": {"tiers": tiers(count)}}


def cells(count: int, price: dict[str, object] | None = None) -> list[dict[str, object]]:
    price = price or {"unit_price": "0.00001"}
    return [{"values": [f"model {i}"], "price": price} for i in range(count)]


def matrix(rows: list[dict[str, object]], dimensions: list[str] | None = None) -> dict[str, object]:
    return {
        "meter": "llm-tokens",
        "model": "dimensions",
        "dimensions": dimensions or ["model"],
        "cells": rows,
    }


def problems(rate: object) -> list[tuple[str, str]]:
    draft, found = read_rate(rate, "rate", METERS)
    assert draft is None
    return [(p.path, p.message) for p in found]


def plan_problems(document: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(Problems) as refused:
        read_plan({"schema": SCHEMA, "name": "Big", **document}, METERS)
    return [(p.path, p.message) for p in refused.value.problems]


# --- the rules themselves ----------------------------------------------------------------


def test_limits_are_far_above_an_openai_like_price_list() -> None:
    # ~50 models x 4 token types, each in a few tiers, on a dozen meters.
    assert MAX_CELLS >= 5 * 200
    assert MAX_RATE_TIERS >= 200 * 3
    assert MAX_PLAN_PRICES >= MAX_CELLS
    assert (MAX_TIERS, MAX_RATES, MAX_RATE_DIMENSIONS) >= (100, 100, 5)


def test_a_price_at_the_tier_limit_is_accepted() -> None:
    draft, found = read_rate(tiered(MAX_TIERS), "rate", METERS)

    assert found == []
    assert draft is not None and len(draft.cells[0][1].tiers) == MAX_TIERS


def test_a_price_over_the_tier_limit_is_refused_once_at_its_tiers() -> None:
    assert problems(tiered(MAX_TIERS + 1)) == [
        ("rate.price.tiers", "has 101 tiers; at most 100 are allowed")
    ]


def test_twenty_thousand_bad_tiers_give_one_problem_not_twenty_thousand() -> None:
    rate = {"meter": "api-calls", "model": "volume", "price": {"tiers": [{}] * 20_000}}

    assert problems(rate) == [("rate.price.tiers", "has 20,000 tiers; at most 100 are allowed")]


def test_tiers_of_a_per_unit_price_are_ignored_not_counted() -> None:
    rate = {"meter": "api-calls", "price": {"unit_price": "1", "tiers": [{}] * 20_000}}

    draft, found = read_rate(rate, "rate", METERS)

    assert found == [] and draft is not None


def test_a_matrix_at_the_row_limit_is_accepted() -> None:
    draft, found = read_rate(matrix(cells(MAX_CELLS)), "rate", METERS)

    assert found == []
    assert draft is not None and len(draft.cells) == MAX_CELLS


def test_a_matrix_of_twenty_thousand_rows_is_refused_once_at_its_cells() -> None:
    assert problems(matrix(cells(20_000))) == [
        ("rate.cells", "has 20,000 rows; at most 1,000 are allowed")
    ]


def test_a_matrix_row_price_over_the_tier_limit_is_named_by_its_row() -> None:
    rows = cells(3)
    rows[1] = {"values": ["model 1"], "price": {"model": "volume", "tiers": tiers(MAX_TIERS + 1)}}
    default = {"model": "graduated", "tiers": tiers(MAX_TIERS + 5)}

    assert problems({**matrix(rows), "default_price": default}) == [
        ("rate.cells[1].price.tiers", "has 101 tiers; at most 100 are allowed"),
        ("rate.default_price.tiers", "has 105 tiers; at most 100 are allowed"),
    ]


def test_a_matrix_whose_prices_hold_too_many_tiers_together_is_refused() -> None:
    per_row = MAX_TIERS
    rows = cells(MAX_RATE_TIERS // per_row + 1, {"model": "graduated", "tiers": tiers(per_row)})

    assert problems(matrix(rows)) == [
        ("rate.cells", "its prices have 2,100 tiers in all; at most 2,000 are allowed in one rate")
    ]


def test_a_matrix_by_too_many_dimensions_is_refused_at_its_dimensions() -> None:
    row: dict[str, object] = {"values": [f"v{i}" for i in range(6)], "price": {"unit_price": "1"}}

    assert problems(matrix([row], DIMENSIONS)) == [
        ("rate.dimensions", "has 6 dimensions; at most 5 are allowed")
    ]


def test_a_row_with_thousands_of_values_is_refused_before_they_are_read() -> None:
    row: dict[str, object] = {"values": [""] * 20_000, "price": {"unit_price": "1"}}

    assert problems(matrix([row], ["model", "type"])) == [
        ("rate.cells[0].values", "needs one value per dimension (model, type)")
    ]


def test_a_number_written_with_too_many_characters_is_refused() -> None:
    rate = {"meter": "api-calls", "price": {"unit_price": "0." + "0" * MAX_NUMBER_TEXT}}

    assert problems(rate) == [
        ("rate.price.unit_price", "is too long for a number: at most 100 characters")
    ]


def test_a_long_refused_value_is_cut_short_in_its_message() -> None:
    [(path, message)] = problems({"meter": "x" * 100_000, "price": {"unit_price": "1"}})

    assert path == "rate.meter"
    assert message == "unknown meter '" + "x" * 38 + "…"


def test_a_plan_with_too_many_rates_is_refused_at_its_rates() -> None:
    rates = [tiered(1)] * (MAX_RATES + 1)

    assert plan_problems({"rates": rates}) == [("rates", "has 101 rates; at most 100 are allowed")]


def test_a_plan_whose_rates_hold_too_many_prices_together_is_refused() -> None:
    # Each rate within its own limits; together over the plan's.
    per_rate = MAX_CELLS
    rates = [matrix(cells(per_rate))] * (MAX_PLAN_PRICES // per_rate + 1)

    assert plan_problems({"rates": rates}) == [
        ("rates", "hold 6,000 prices in all; at most 5,000 are allowed in one plan")
    ]


def test_a_plan_whose_rates_hold_too_many_tiers_together_is_refused() -> None:
    rows = cells(MAX_RATE_TIERS // MAX_TIERS, {"model": "volume", "tiers": tiers(MAX_TIERS)})
    rates = [matrix(rows)] * (MAX_PLAN_TIERS // MAX_RATE_TIERS + 1)

    assert plan_problems({"rates": rates}) == [
        ("rates", "hold 12,000 tiers in all; at most 10,000 are allowed in one plan")
    ]


def test_a_plan_over_its_limits_also_names_each_rate_over_its_own() -> None:
    rates = [matrix(cells(MAX_CELLS))] * 6 + [matrix(cells(MAX_CELLS + 1))]

    assert plan_problems({"rates": rates}) == [
        ("rates[6].cells", "has 1,001 rows; at most 1,000 are allowed"),
        ("rates", "hold 6,000 prices in all; at most 5,000 are allowed in one plan"),
    ]


def test_a_rate_over_its_own_limit_is_not_counted_again_in_the_plans() -> None:
    assert plan_problems({"rates": [tiered(20_000)]}) == [
        ("rates[0].price.tiers", "has 20,000 tiers; at most 100 are allowed")
    ]


def test_a_rate_added_to_a_full_plan_is_refused() -> None:
    draft = RateDraft("api-calls", "per_unit", (), (((), CellPrice(D("1"))),))

    assert [p.message for p in rate_room_problems(Size(MAX_RATES, 100, 0), draft)] == [
        "the plan already has 100 rates, the most one plan may have"
    ]
    assert rate_room_problems(Size(MAX_RATES - 1, MAX_PLAN_PRICES - 1, 0), draft) == []


def test_a_rate_whose_prices_do_not_fit_the_plan_is_refused() -> None:
    tiered_price = CellPrice(model=PriceModel.GRADUATED, tiers=(Tier(None, D("1")),) * 3)
    draft = RateDraft("api-calls", "graduated", (), (((), tiered_price),))

    assert [p.message for p in rate_room_problems(Size(2, 10, MAX_PLAN_TIERS - 2), draft)] == [
        "the plan's rates hold 9,998 tiers and this rate 3; at most 10,000 are allowed in one plan"
    ]


# --- through each door --------------------------------------------------------------------


@pytest.fixture
def meters(db: None) -> tuple[Meter, Meter]:
    api_calls = meter_create(
        label="API calls", api_name="api-calls", meter_type="count", dimensions=[]
    )
    tokens = meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model"]
    )
    return api_calls, tokens


@pytest.fixture
def api(db: None) -> Api:
    _, raw = api_key_create(name="limit tests", scope=ApiKey.Scope.FULL)
    return Api(raw)


@pytest.fixture
def plan(db: None) -> Plan:
    return plan_create(name="Pro", billing_period="monthly", currency="USD")


def test_the_api_refuses_a_twenty_thousand_tier_rate_naming_the_field(
    api: Api, meters: tuple[Meter, Meter], plan: Plan
) -> None:
    response = api.post(f"/plans/{plan.pk}/rates", tiered(20_000))

    assert response.status_code == 400
    assert errors(response) == [("price.tiers", "has 20,000 tiers; at most 100 are allowed")]
    assert not Rate.objects.exists()


def test_the_api_refuses_a_twenty_thousand_row_matrix_naming_the_field(
    api: Api, meters: tuple[Meter, Meter], plan: Plan
) -> None:
    response = api.post(f"/plans/{plan.pk}/rates", matrix(cells(20_000)))

    assert response.status_code == 400
    assert errors(response) == [("cells", "has 20,000 rows; at most 1,000 are allowed")]


def test_the_api_refuses_a_plan_document_over_a_limit_naming_the_rate(
    api: Api, meters: tuple[Meter, Meter]
) -> None:
    document = {"name": "Big", "rates": [tiered(2), matrix(cells(MAX_CELLS + 1))]}

    response = api.post("/plans", document)

    assert response.status_code == 400
    assert errors(response) == [("rates[1].cells", "has 1,001 rows; at most 1,000 are allowed")]
    assert not Plan.objects.exists()


def test_the_api_refuses_a_rate_the_plan_has_no_room_for(
    api: Api, meters: tuple[Meter, Meter], plan: Plan
) -> None:
    # A plan one price short of full, made through the service.
    _, tokens = meters
    big = tuple(((f"m{i}",), CellPrice(D("1"))) for i in range(MAX_PLAN_PRICES))
    rate_save(plan=plan, meter=tokens, draft=RateDraft("llm-tokens", "dimensions", ("model",), big))

    response = api.post(f"/plans/{plan.pk}/rates", tiered(2))

    assert response.status_code == 400
    assert errors(response) == [
        (
            "",
            "the plan's rates hold 5,000 prices and this rate 1; "
            "at most 5,000 are allowed in one plan",
        )
    ]
    assert plan_rates(plan).count() == 1


def test_import_plan_refuses_an_oversized_document_and_stores_nothing(
    meters: tuple[Meter, Meter], tmp_path: Path
) -> None:
    document = {"schema": SCHEMA, "name": "Big", "rates": [tiered(20_000)]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError, match="1 problem; nothing was imported"):
        call_command("import_plan", str(path), stderr=err)

    assert err.getvalue().splitlines() == [
        "rates[0].price.tiers: has 20,000 tiers; at most 100 are allowed"
    ]
    assert not Plan.objects.exists()


def test_the_import_page_lists_an_oversized_matrix_as_one_problem(
    client: Client, meters: tuple[Meter, Meter]
) -> None:
    document = {"schema": SCHEMA, "name": "Big", "rates": [matrix(cells(20_000))]}

    response = login(client).post(reverse("pricing:import"), {"document": json.dumps(document)})

    assert table_rows(element(page(response), "plan-import"))[1:] == [
        ["Rate 1 › cells rates[0].cells", "has 20,000 rows; at most 1,000 are allowed"]
    ]
    assert not Plan.objects.exists()


def _query(pairs: list[tuple[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)
    return data


def test_the_rate_editor_puts_the_tier_limit_on_the_price(
    admin_client: Client, meters: tuple[Meter, Meter], plan: Plan
) -> None:
    api_calls, _ = meters
    pairs = [("kind", "usage"), ("meter", str(api_calls.pk)), ("rate_model", "graduated")]
    for tier in tiers(MAX_TIERS + 1):
        pairs += [("tier-up_to", str(tier["up_to"] or "")), ("tier-unit_price", "1")]
        pairs += [("tier-flat_fee", "")]

    form = RateForm(_query(pairs), plan=plan)
    response = admin_client.post(
        reverse("pricing:add_rate", args=[plan.pk]),
        urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
    )

    assert not form.is_valid()
    assert form.price.errors == {"tiers": "Use at most 100 tiers: there are 101."}
    assert "Use at most 100 tiers: there are 101." in response.content.decode()
    assert not Rate.objects.exists()


def test_the_rate_editor_names_the_row_limit_on_the_matrix(
    meters: tuple[Meter, Meter], plan: Plan
) -> None:
    _, tokens = meters
    pairs = [("kind", "usage"), ("meter", str(tokens.pk)), ("rate_model", "dimensions")]
    pairs += [("dimensions", "model")]
    for i in range(MAX_CELLS + 1):
        pairs += [("row", f"r{i}"), (f"mr{i}-dim-model", f"model {i}"), (f"mr{i}-unit_price", "1")]

    form = RateForm(_query(pairs), plan=plan)

    assert not form.is_valid()
    assert form.non_field_errors() == ["Use at most 1,000 rows: there are 1,001."]


def test_the_rate_editor_says_when_the_plan_is_full(
    admin_client: Client, meters: tuple[Meter, Meter], plan: Plan
) -> None:
    api_calls, tokens = meters
    big = tuple(((f"m{i}",), CellPrice(D("1"))) for i in range(MAX_PLAN_PRICES))
    rate_save(plan=plan, meter=tokens, draft=RateDraft("llm-tokens", "dimensions", ("model",), big))
    form = {"kind": "usage", "meter": api_calls.pk, "rate_model": "per_unit", "unit_price": "1"}

    response = admin_client.post(reverse("pricing:add_rate", args=[plan.pk]), form)

    assert response.status_code == 200
    assert (
        "The plan&#x27;s rates hold 5,000 prices and this rate 1; at most 5,000 are allowed "
        "in one plan." in response.content.decode()
    )
    assert PriceCell.objects.count() == MAX_PLAN_PRICES
