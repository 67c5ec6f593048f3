"""The rules of a plan document (pricing.schema), which the rate editor and
`import_plan` share: each mistake is named where it is, in words an operator
can act on, all at once. No database."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.schema import (
    SCHEMA,
    PlanDraft,
    Problem,
    Problems,
    RateDraft,
    plan_to_dict,
    read_plan,
    read_rate,
)

D = Decimal
METERS = {"api-calls": [], "llm-tokens": ["model", "type"], "storage": []}


def problems(rate: object) -> list[tuple[str, str]]:
    draft, found = read_rate(rate, "rate", METERS)
    assert draft is None, "a rate with problems must not give a draft"
    return [(p.path, p.message) for p in found]


def tiers(*items: dict[str, object], model: str = "graduated") -> dict[str, object]:
    return {"meter": "api-calls", "model": model, "price": {"tiers": list(items)}}


def per_unit(price: object, **extra: object) -> dict[str, object]:
    return {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": price, **extra}}


def matrix(*cells: object, dimensions: object = ("model", "type")) -> dict[str, object]:
    dims = list(dimensions) if isinstance(dimensions, tuple) else dimensions
    return {"meter": "llm-tokens", "model": "dimensions", "dimensions": dims, "cells": list(cells)}


def cell(*values: str, price: str = "0.00001") -> dict[str, object]:
    return {"values": list(values), "price": {"unit_price": price}}


def open_tier(price: str = "1") -> dict[str, object]:
    return {"up_to": None, "unit_price": price}


# --- one mistake, one problem, at the right place ------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        pytest.param(
            tiers(
                {"up_to": "10", "unit_price": "5"}, {"up_to": "5", "unit_price": "4"}, open_tier()
            ),
            [
                (
                    "rate.price.tiers[1].up_to",
                    "must be above the tier before (10): tiers must rise without overlapping",
                )
            ],
            id="tiers-out-of-order",
        ),
        pytest.param(
            tiers(
                {"up_to": "5", "unit_price": "5"}, {"up_to": "5", "unit_price": "4"}, open_tier()
            ),
            [
                (
                    "rate.price.tiers[1].up_to",
                    "must be above the tier before (5): tiers must rise without overlapping",
                )
            ],
            id="tiers-overlapping-on-a-bound",
        ),
        pytest.param(
            tiers({"up_to": "0", "unit_price": "5"}, open_tier()),
            [
                (
                    "rate.price.tiers[0].up_to",
                    "must be above the tier before (0): tiers must rise without overlapping",
                )
            ],
            id="first-tier-ending-at-zero",
        ),
        pytest.param(
            tiers({"up_to": "5", "unit_price": "5"}, {"from": "6", **open_tier()}),
            [("rate.price.tiers[1].from", "leaves a gap: the tier before ends at 5")],
            id="gap-via-from",
        ),
        pytest.param(
            tiers({"up_to": "5", "unit_price": "5"}, {"from": "4", **open_tier()}),
            [("rate.price.tiers[1].from", "overlaps the tier before, which ends at 5")],
            id="overlap-via-from",
        ),
        pytest.param(
            tiers({"up_to": "5", "unit_price": "5"}, {"up_to": "10", "unit_price": "4"}),
            [
                (
                    "rate.price.tiers[1].up_to",
                    "the last tier must be unbounded (leave up_to empty)",
                )
            ],
            id="no-unbounded-last-tier",
        ),
        pytest.param(
            tiers(open_tier("5"), {"up_to": "10", "unit_price": "4"}, open_tier(), model="volume"),
            [("rate.price.tiers[0].up_to", "only the last tier may be unbounded")],
            id="unbounded-tier-before-the-last",
        ),
        pytest.param(
            tiers(open_tier("5"), open_tier("4")),
            [("rate.price.tiers[0].up_to", "only the last tier may be unbounded")],
            id="two-unbounded-tiers",
        ),
        pytest.param(
            tiers(),
            [("rate.price.tiers", "needs at least one tier")],
            id="no-tiers",
        ),
        pytest.param(
            tiers({"up_to": "5"}, open_tier()),
            [("rate.price.tiers[0].unit_price", "is required")],
            id="tier-without-a-price",
        ),
        pytest.param(
            tiers({"up_to": "5", "unit_price": "5", "flat_fee": "-10"}, open_tier()),
            [("rate.price.tiers[0].flat_fee", "must not be negative")],
            id="negative-flat-fee",
        ),
        pytest.param(
            per_unit("-0.01"),
            [("rate.price.unit_price", "must not be negative")],
            id="negative-price",
        ),
        pytest.param(
            per_unit("$0.01"),
            [("rate.price.unit_price", "“$0.01” is not a number")],
            id="currency-symbol",
        ),
        pytest.param(
            per_unit("1,000"),
            [("rate.price.unit_price", "“1,000” is not a number")],
            id="thousands-separator",
        ),
        pytest.param(
            per_unit("NaN"),
            [("rate.price.unit_price", "“NaN” is not a number")],
            id="not-a-number",
        ),
        pytest.param(
            per_unit("Infinity"),
            [("rate.price.unit_price", "“Infinity” is not a number")],
            id="infinity",
        ),
        pytest.param(
            per_unit(0.1),
            [("rate.price.unit_price", 'must be a number written as text, like "0.01" (got 0.1)')],
            id="json-float",
        ),
        pytest.param(
            per_unit(True),
            [
                (
                    "rate.price.unit_price",
                    'must be a number written as text, like "0.01" (got True)',
                )
            ],
            id="boolean",
        ),
        pytest.param(
            per_unit(None),
            [("rate.price.unit_price", "is required")],
            id="missing-price",
        ),
        pytest.param(
            per_unit("0.0000000000000001"),
            [("rate.price.unit_price", "has more than 15 decimal places")],
            id="sixteen-decimal-places",
        ),
        pytest.param(
            per_unit("1000000000000000"),
            [("rate.price.unit_price", "is too large: use at most 15 digits before the point")],
            id="price-too-large-for-the-database",
        ),
        pytest.param(
            per_unit("1E+400"),
            [("rate.price.unit_price", "is too large: use at most 15 digits before the point")],
            id="price-with-a-huge-exponent",
        ),
        pytest.param(
            per_unit("1", free_units="0.0000000001"),
            [("rate.price.free_units", "has more than 9 decimal places")],
            id="free-units-finer-than-usage",
        ),
        pytest.param(
            per_unit("1", free_units="-5"),
            [("rate.price.free_units", "must not be negative")],
            id="negative-free-units",
        ),
        pytest.param(
            tiers({"up_to": "5.0000000001", "unit_price": "5"}, open_tier()),
            [("rate.price.tiers[0].up_to", "has more than 9 decimal places")],
            id="tier-bound-finer-than-usage",
        ),
        pytest.param(
            {
                "meter": "storage",
                "model": "package",
                "price": {"package_size": "0", "package_price": "9"},
            },
            [("rate.price.package_size", "a package must hold more than 0 units")],
            id="package-size-zero",
        ),
        pytest.param(
            {
                "meter": "storage",
                "model": "package",
                "price": {"package_size": "100", "package_price": "9", "package_rounding": "near"},
            },
            [("rate.price.package_rounding", 'must be "up" or "down"')],
            id="package-rounding-bad",
        ),
        pytest.param(
            {"meter": "storage", "model": "package", "price": {"package_price": "9"}},
            [("rate.price.package_size", "is required")],
            id="package-without-a-size",
        ),
        pytest.param(
            {"meter": "gpu-hours", "model": "per_unit", "price": {"unit_price": "1"}},
            [("rate.meter", "unknown meter 'gpu-hours'")],
            id="unknown-meter",
        ),
        pytest.param(
            {"meter": "api-calls", "model": "tiered", "price": {"unit_price": "1"}},
            [
                (
                    "rate.model",
                    "unknown rate model 'tiered'; use one of per_unit, graduated, volume, "
                    "package, dimensions",
                )
            ],
            id="unknown-rate-model",
        ),
        pytest.param(
            matrix(cell("model a", "input"), dimensions=("model", "region")),
            [("rate.dimensions", "meter llm-tokens has no dimension region")],
            id="unknown-dimension",
        ),
        pytest.param(
            matrix(cell("model a", "model b"), dimensions=("model", "model")),
            [("rate.dimensions", "a dimension is listed twice")],
            id="dimension-twice",
        ),
        pytest.param(
            matrix(cell(), dimensions=()),
            [("rate.dimensions", "a pricing matrix needs at least one dimension")],
            id="matrix-without-dimensions",
        ),
        pytest.param(
            matrix(cell("model a", "input"), cell("model a", "input", price="0.00002")),
            [("rate.cells[1].values", "model a · input is already priced in row 1")],
            id="duplicate-combination",
        ),
        pytest.param(
            matrix(cell("model a")),
            [("rate.cells[0].values", "needs one value per dimension (model, type)")],
            id="too-few-values",
        ),
        pytest.param(
            matrix(cell()),
            [("rate.cells[0].values", "needs one value per dimension (model, type)")],
            id="row-without-values",
        ),
        pytest.param(
            matrix(),
            [("rate.cells", "a pricing matrix needs at least one row")],
            id="matrix-without-rows",
        ),
        pytest.param(
            {**matrix(cell("model a", "input")), "default_price": {"model": "cheapest"}},
            [
                (
                    "rate.default_price.model",
                    "unknown price model 'cheapest'; use one of per_unit, graduated, volume, "
                    "package",
                )
            ],
            id="default-price-unknown-model",
        ),
        pytest.param(
            {**per_unit("1"), "minimum_charge": "-20", "base_fee": "ten"},
            [
                ("rate.minimum_charge", "must not be negative"),
                ("rate.base_fee", "“ten” is not a number"),
            ],
            id="bad-minimum-and-base-fee",
        ),
    ],
)
def test_each_mistake_is_named_where_it_is(rate: object, expected: list[tuple[str, str]]) -> None:
    assert problems(rate) == expected


def test_rows_with_bad_values_still_have_their_prices_checked() -> None:
    found = problems(
        matrix(
            {"values": "model a", "price": {"unit_price": "-1"}},
            {"values": ["model b", ""], "price": {"unit_price": "x"}},
        )
    )

    assert found == [
        ("rate.cells[0].values", "must be a list of non-empty texts"),
        ("rate.cells[0].price.unit_price", "must not be negative"),
        ("rate.cells[1].values", "must be a list of non-empty texts"),
        ("rate.cells[1].price.unit_price", "“x” is not a number"),
    ]


def test_a_problem_reads_as_its_path_and_message() -> None:
    assert str(Problem("rates[1].price.unit_price", "must not be negative")) == (
        "rates[1].price.unit_price: must not be negative"
    )
    assert str(Problem("", "a plan file must be a JSON object")) == (
        "a plan file must be a JSON object"
    )


# --- what the rules accept -----------------------------------------------------------------


@pytest.mark.parametrize(
    "rate",
    [
        pytest.param(per_unit("0.000000000000001"), id="fifteen-decimal-places"),
        pytest.param(per_unit("999999999999999.999999999999999"), id="largest-price"),
        pytest.param(per_unit(1), id="integer"),
        pytest.param(per_unit(" 0.01 "), id="spaces-around"),
        pytest.param(per_unit("1", free_units="0.000000001"), id="nine-places-of-free-units"),
        pytest.param(
            tiers({"from": "0", "up_to": "5", "unit_price": "5"}, {"from": "5", **open_tier()}),
            id="tiers-meeting-via-from",
        ),
        pytest.param(tiers(open_tier("0.5")), id="single-unbounded-tier"),
        pytest.param(
            tiers({"up_to": "5", "unit_price": "0", "flat_fee": "50"}, open_tier("0.04")),
            id="tier-priced-by-its-flat-fee",
        ),
    ],
)
def test_valid_rates_are_accepted(rate: object) -> None:
    draft, found = read_rate(rate, "rate", METERS)

    assert found == []
    assert draft is not None


def test_a_rate_reads_into_the_price_the_maths_uses() -> None:
    draft, _ = read_rate(
        tiers(
            {"up_to": "5", "unit_price": "5", "flat_fee": "10"},
            {"up_to": 10, "unit_price": "4"},
            open_tier(),
            model="volume",
        )
        | {"minimum_charge": "20", "base_fee": None},
        "rate",
        METERS,
    )

    assert draft == RateDraft(
        "api-calls",
        "volume",
        cells=(
            (
                (),
                CellPrice(
                    model=PriceModel.VOLUME,
                    tiers=(
                        Tier(D("5"), D("5"), D("10")),
                        Tier(D("10"), D("4")),
                        Tier(None, D("1")),
                    ),
                ),
            ),
        ),
        minimum_charge=D("20"),
    )


# --- a whole plan --------------------------------------------------------------------------


def every_model_plan() -> dict[str, object]:
    """A document with each model, as plan_to_dict writes it."""
    stripe = [
        {"up_to": "5", "unit_price": "5", "flat_fee": "0"},
        {"up_to": "10", "unit_price": "4", "flat_fee": "20"},
        {"up_to": None, "unit_price": "1", "flat_fee": "0"},
    ]
    return {
        "schema": SCHEMA,
        "name": "Every model",
        "billing_period": "monthly",
        "currency": "KWD",
        "billing_anchor": "calendar",
        "grace_period_hours": 48,
        "net_terms_days": 14,
        "late_usage_policy": "report",
        "invoice_minimum": "12.500",
        "one_time_fees": [{"description": "Setup fee", "amount": "0.125"}],
        "tax_rates": [],
        "rates": [
            {
                "meter": "api-calls",
                "model": "graduated",
                "price": {"tiers": stripe, "free_units": "5"},
                "minimum_charge": "20",
                "base_fee": "10.5",
                "first_tier_fee_at_zero": False,
            },
            {
                "meter": "llm-tokens",
                "model": "dimensions",
                "dimensions": ["model", "type"],
                "cells": [
                    {
                        "values": ["model a", "input"],
                        "price": {"model": "volume", "tiers": stripe, "free_units": "0"},
                    },
                    {
                        "values": ["model a", "output"],
                        "price": {
                            "model": "per_unit",
                            "unit_price": "0.000000000001",
                            "free_units": "1000",
                        },
                    },
                ],
                "default_price": {
                    "model": "package",
                    "package_size": "1000",
                    "package_price": "0.0125",
                    "package_rounding": "down",
                    "free_units": "0",
                },
                "minimum_charge": None,
                "base_fee": None,
                "first_tier_fee_at_zero": True,
            },
            {
                "meter": "storage",
                "model": "package",
                "price": {
                    "package_size": "0.5",
                    "package_price": "1",
                    "package_rounding": "up",
                    "free_units": "0.25",
                },
                "minimum_charge": None,
                "base_fee": None,
                "first_tier_fee_at_zero": True,
            },
        ],
    }


def test_a_valid_document_round_trips_unchanged() -> None:
    text = json.dumps(every_model_plan())

    draft = read_plan(json.loads(text, parse_float=Decimal), METERS)

    assert json.dumps(plan_to_dict(draft)) == text
    assert read_plan(plan_to_dict(draft), METERS) == draft


def test_a_plan_reads_into_exact_prices() -> None:
    draft = read_plan(every_model_plan(), METERS)

    assert isinstance(draft, PlanDraft)
    assert (draft.name, draft.billing_period, draft.currency) == ("Every model", "monthly", "KWD")
    api, tokens, storage = draft.rates
    assert api.base_fee == D("10.5")
    assert tokens.cells[1][1].unit_price == D("0.000000000001")
    assert tokens.default_price == CellPrice(
        model=PriceModel.PACKAGE,
        package_size=D("1000"),
        package_price=D("0.0125"),
        package_rounding=PackageRounding.DOWN,
    )
    assert storage.cells[0][1].free_units == D("0.25")


def test_exported_numbers_are_written_plainly() -> None:
    price = CellPrice(D("0.010000000000000"), free_units=D("1E+3"))
    draft = PlanDraft(
        "Plain", "monthly", "USD", (RateDraft("api-calls", "per_unit", cells=(((), price),)),)
    )

    [rate] = plan_to_dict(draft)["rates"]  # type: ignore[misc]

    assert rate["price"] == {"unit_price": "0.01", "free_units": "1000"}


def plan_problems(document: object) -> list[str]:
    with pytest.raises(Problems) as refused:
        read_plan(document, METERS)
    return [str(p) for p in refused.value.problems]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"schema": "tally.plan/2"}, "schema: must be 'tally.plan/1'", id="schema"),
        pytest.param({"name": "  "}, "name: is required", id="name"),
        pytest.param(
            {"currency": "XYZ"},
            "currency: must be one of USD, EUR, GBP, CAD, AUD, CHF, JPY, INR, SEK, BRL, KWD",
            id="currency",
        ),
        pytest.param(
            {"currency": "usd"},
            "currency: must be one of USD, EUR, GBP, CAD, AUD, CHF, JPY, INR, SEK, BRL, KWD",
            id="currency-lower-case",
        ),
        pytest.param(
            {"billing_period": "daily"},
            "billing_period: must be one of weekly, monthly, quarterly, yearly",
            id="period",
        ),
        pytest.param({"rates": {"api-calls": "1"}}, "rates: must be a list", id="rates"),
    ],
)
def test_each_plan_field_is_checked(change: dict[str, object], expected: str) -> None:
    assert plan_problems(every_model_plan() | change) == [expected]


def test_a_plan_file_must_be_an_object() -> None:
    assert plan_problems([]) == ["a plan file must be a JSON object"]


def test_a_meter_can_have_only_one_rate_in_a_plan() -> None:
    plan = every_model_plan()
    plan["rates"] = [*plan["rates"], per_unit("0.01")]  # type: ignore[misc]

    assert plan_problems(plan) == ["rates[3].meter: api-calls already has a rate in this plan"]


def test_every_problem_in_a_plan_is_reported_at_once() -> None:
    plan = every_model_plan() | {"currency": "DOGE", "billing_period": "hourly"}
    plan["rates"] = [
        {"meter": "gpu-hours", "model": "per_unit", "price": {"unit_price": "1"}},
        tiers({"up_to": "10", "unit_price": "5"}, {"up_to": "5", "unit_price": "-4"}, open_tier()),
        {"meter": "storage", "model": "package", "price": {"package_size": "0"}},
        matrix(cell("model a", "input"), cell("model a", "input"), dimensions=("model", "type")),
        per_unit("0.01"),
    ]

    assert plan_problems(plan) == [
        "billing_period: must be one of weekly, monthly, quarterly, yearly",
        "currency: must be one of USD, EUR, GBP, CAD, AUD, CHF, JPY, INR, SEK, BRL, KWD",
        "rates[0].meter: unknown meter 'gpu-hours'",
        "rates[1].price.tiers[1].up_to: must be above the tier before (10): tiers must rise "
        "without overlapping",
        "rates[1].price.tiers[1].unit_price: must not be negative",
        "rates[2].price.package_price: is required",
        "rates[2].price.package_size: a package must hold more than 0 units",
        "rates[3].cells[1].values: model a · input is already priced in row 1",
        "rates[4].meter: api-calls already has a rate in this plan",
    ]
