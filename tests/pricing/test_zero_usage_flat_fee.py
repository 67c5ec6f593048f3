"""Tiered flat fees at zero usage: a rate charges its first tier's flat fee even
without usage (Stripe's and OpenMeter's rule, the default for a new rate) or
not at all ("no usage, no charge", the rule of every rate stored before the
choice). The maths without a database, then the plan file, the editor, the
plan page and a new price version. docs/PRICING.md, "Flat fees in tiers"."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from time_machine import TimeMachineFixture

from meters.models import Meter
from meters.services import meter_create
from pricing.models import Plan, Rate
from pricing.money import format_unit_price
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier, exact_amount, explain
from pricing.rating import LineKind, RateSpec, UsageGroup, rate_usage
from pricing.schema import (
    DEFAULT_FIRST_TIER_FEE_AT_ZERO,
    RateDraft,
    plan_to_dict,
    rate_to_dict,
    read_plan,
    read_rate,
)
from pricing.selectors import plan_draft, rate_draft, version_rates
from pricing.services import plan_create, plan_import, rate_replace, rate_save
from tests.factories import guide_setup
from tests.fixtures import HTMX, element, login, page, table_rows, text
from tests.pricing.test_price_models import cell_prices, quantities, tier_lists

D = Decimal
GRADUATED, VOLUME = PriceModel.GRADUATED, PriceModel.VOLUME
# docs/PRICING.md's flat-fee tiers: up to 5 at $5 + $10, up to 10 at $4 + $20, then $1 + $30.
FLAT_FEE_TIERS = (
    Tier(D("5"), D("5"), D("10")),
    Tier(D("10"), D("4"), D("20")),
    Tier(None, D("1"), D("30")),
)
# Stripe's example tiers: no flat fee anywhere.
NO_FEE_TIERS = (Tier(D("5"), D("5")), Tier(D("10"), D("4")), Tier(None, D("1")))


def usd(amount: Decimal) -> str:
    return format_unit_price(amount, "USD")


def tiered(
    model: PriceModel, tiers: tuple[Tier, ...] = FLAT_FEE_TIERS, free: str = "0"
) -> CellPrice:
    return CellPrice(model=model, tiers=tiers, free_units=D(free))


# --- the maths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "charged", "amount", "explanation"),
    [
        pytest.param(GRADUATED, True, "10", "0 × $5.00 + $10.00", id="graduated-charged"),
        pytest.param(VOLUME, True, "10", "0 × $5.00 + $10.00 (tier up to 5)", id="volume-charged"),
        pytest.param(GRADUATED, False, "0", "", id="graduated-no-usage-no-charge"),
        pytest.param(VOLUME, False, "0", "", id="volume-no-usage-no-charge"),
    ],
)
def test_zero_units_cost_the_first_tiers_flat_fee_only_when_the_rate_charges_it(
    model: PriceModel, charged: bool, amount: str, explanation: str
) -> None:
    price = tiered(model)

    assert exact_amount(price, D(0), first_tier_fee_at_zero=charged) == D(amount)
    assert explain(price, D(0), usd, first_tier_fee_at_zero=charged) == explanation


@pytest.mark.parametrize("charged", [True, False])
@pytest.mark.parametrize("model", [GRADUATED, VOLUME])
def test_a_first_tier_without_a_flat_fee_costs_nothing_at_zero_either_way(
    model: PriceModel, charged: bool
) -> None:
    price = tiered(model, NO_FEE_TIERS)

    assert exact_amount(price, D(0), first_tier_fee_at_zero=charged) == 0
    assert explain(price, D(0), usd, first_tier_fee_at_zero=charged) == ""


@pytest.mark.parametrize(
    "price",
    [
        pytest.param(CellPrice(D("0.01")), id="per-unit"),
        pytest.param(
            CellPrice(
                model=PriceModel.PACKAGE,
                package_size=D("100"),
                package_price=D("9"),
                package_rounding=PackageRounding.UP,
            ),
            id="package",
        ),
    ],
)
def test_models_without_tiers_ignore_the_choice(price: CellPrice) -> None:
    assert exact_amount(price, D(0), first_tier_fee_at_zero=True) == 0
    assert explain(price, D(0), usd, first_tier_fee_at_zero=True) == ""


@pytest.mark.parametrize("model", [GRADUATED, VOLUME])
@pytest.mark.parametrize("quantity", ["0.5", "1", "5", "6", "11", "5.5"])
def test_usage_above_zero_costs_the_same_under_either_choice(
    model: PriceModel, quantity: str
) -> None:
    price = tiered(model)

    charged = exact_amount(price, D(quantity), first_tier_fee_at_zero=True)
    assert charged == exact_amount(price, D(quantity), first_tier_fee_at_zero=False)
    assert explain(price, D(quantity), usd, first_tier_fee_at_zero=True) == explain(
        price, D(quantity), usd, first_tier_fee_at_zero=False
    )


def test_usage_inside_the_free_units_is_zero_billable_units() -> None:
    price = tiered(GRADUATED, free="5")

    assert exact_amount(price, D(3), first_tier_fee_at_zero=True) == D(10)
    assert explain(price, D(3), usd, first_tier_fee_at_zero=True) == "3 free; 0 × $5.00 + $10.00"
    assert exact_amount(price, D(3), first_tier_fee_at_zero=False) == 0
    assert explain(price, D(3), usd, first_tier_fee_at_zero=False) == "3 free"


def test_a_tier_priced_by_its_fee_alone_becomes_a_platform_fee() -> None:
    # "Up to 1,000 calls for $50, then $0.04 a call."
    price = tiered(GRADUATED, (Tier(D("1000"), D("0"), D("50")), Tier(None, D("0.04"))))

    assert exact_amount(price, D(0), first_tier_fee_at_zero=True) == D(50)
    assert exact_amount(price, D(1000), first_tier_fee_at_zero=True) == D(50)
    assert exact_amount(price, D(0), first_tier_fee_at_zero=False) == 0


@given(price=cell_prices(), charged=st.booleans())
def test_zero_usage_costs_the_first_tiers_fee_or_nothing(price: CellPrice, charged: bool) -> None:
    tiered_price = price.model in (GRADUATED, VOLUME)
    fee = price.tiers[0].flat_fee if charged and tiered_price else D(0)

    assert exact_amount(price, D(0), first_tier_fee_at_zero=charged) == fee


@given(tiers=tier_lists(), free=quantities, a=quantities, b=quantities)
def test_graduated_amounts_never_fall_as_usage_rises_with_the_fee_charged_at_zero(
    tiers: tuple[Tier, ...], free: Decimal, a: Decimal, b: Decimal
) -> None:
    price = CellPrice(model=GRADUATED, tiers=tiers, free_units=free)
    low, high = sorted((a, b))

    assert exact_amount(price, low, first_tier_fee_at_zero=True) <= exact_amount(
        price, high, first_tier_fee_at_zero=True
    )


def spec(charged: bool, *, minimum: str | None = None) -> RateSpec:
    return RateSpec(
        1,
        "API calls",
        (),
        {(): tiered(GRADUATED)},
        minimum_charge=None if minimum is None else D(minimum),
        first_tier_fee_at_zero=charged,
    )


def test_a_rate_without_dimensions_charges_the_fee_in_a_period_without_usage() -> None:
    (line,) = rate_usage(spec(True), [], "USD").lines
    (nothing,) = rate_usage(spec(False), [], "USD").lines

    assert (line.description, line.explanation, line.amount) == (
        "API calls",
        "0 × $5.00 + $10.00",
        D("10.00"),
    )
    assert (nothing.explanation, nothing.amount) == ("", D("0.00"))


def test_the_fee_counts_towards_the_minimum_charge() -> None:
    lines = rate_usage(spec(True, minimum="25"), [], "USD").lines

    assert [(line.kind, line.amount) for line in lines] == [
        (LineKind.USAGE, D("10.00")),
        (LineKind.MINIMUM, D("15.00")),
    ]


MATRIX_CELLS = {
    ("a",): tiered(GRADUATED),
    ("b",): CellPrice(D("0.01")),
    ("c",): tiered(VOLUME, NO_FEE_TIERS),
}


@pytest.mark.parametrize("charged", [True, False])
def test_every_tiered_cell_of_a_matrix_follows_the_rates_choice(charged: bool) -> None:
    matrix = RateSpec(
        2,
        "LLM tokens",
        ("model",),
        MATRIX_CELLS,
        default_cell=tiered(VOLUME),
        first_tier_fee_at_zero=charged,
    )
    # Events that add up to 0 for a, b, c and an unlisted d; e had no events.
    usage = [UsageGroup((model,), D(0)) for model in ("a", "b", "c", "d")]

    lines = rate_usage(matrix, usage, "USD").lines

    fee = D("10.00") if charged else D("0.00")
    assert [(line.description, line.amount) for line in lines] == [
        ("LLM tokens · a", fee),
        ("LLM tokens · b", D("0.00")),
        ("LLM tokens · c", D("0.00")),  # a first tier without a fee
        ("LLM tokens · d (default price)", fee),
    ]


# --- the plan file -------------------------------------------------------------------------

METERS = {"api-calls": [], "llm-tokens": ["model"]}
GRADUATED_RATE = {
    "meter": "api-calls",
    "model": "graduated",
    "price": {"tiers": [{"up_to": "5", "unit_price": "5", "flat_fee": "10"}, {"unit_price": "1"}]},
}


def test_a_rate_without_the_key_takes_the_documented_default() -> None:
    draft, problems = read_rate(GRADUATED_RATE, "rate", METERS)

    assert problems == [] and draft is not None
    assert draft.first_tier_fee_at_zero is DEFAULT_FIRST_TIER_FEE_AT_ZERO is True
    assert rate_to_dict(draft)["first_tier_fee_at_zero"] is True


@pytest.mark.parametrize("value", [True, False])
def test_the_choice_is_written_and_read_back(value: bool) -> None:
    draft, _ = read_rate({**GRADUATED_RATE, "first_tier_fee_at_zero": value}, "rate", METERS)
    assert draft is not None

    written = rate_to_dict(draft)
    again, problems = read_rate(json.loads(json.dumps(written)), "rate", METERS)

    assert written["first_tier_fee_at_zero"] is value
    assert problems == [] and again == draft


@pytest.mark.parametrize("value", ["true", 1, None])
def test_the_choice_must_be_json_true_or_false(value: object) -> None:
    _, problems = read_rate({**GRADUATED_RATE, "first_tier_fee_at_zero": value}, "rate", METERS)

    assert [(p.path, p.message) for p in problems] == [
        ("rate.first_tier_fee_at_zero", f"must be true or false (got {value!r})")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("value", [True, False])
def test_export_then_import_keeps_the_choice_of_a_stored_matrix(value: bool) -> None:
    meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model"]
    )
    document = {
        "schema": "tally.plan/1",
        "name": "Tiered tokens",
        "rates": [
            {
                "meter": "llm-tokens",
                "model": "dimensions",
                "dimensions": ["model"],
                "cells": [
                    {"values": ["a"], "price": {**GRADUATED_RATE["price"], "model": "volume"}}
                ],
                "first_tier_fee_at_zero": value,
            }
        ],
    }
    plan = plan_import(draft=read_plan(document, METERS))

    exported = plan_to_dict(plan_draft(plan))
    assert exported["rates"][0]["first_tier_fee_at_zero"] is value  # type: ignore[index]
    copy = plan_import(draft=read_plan({**exported, "name": "Copy"}, METERS))

    (rate,) = version_rates(copy.current_version_id)
    assert rate.first_tier_fee_at_zero is value
    assert plan_to_dict(plan_draft(copy)) == {**exported, "name": "Copy"}


# --- a new price version copies it ---------------------------------------------------------

NOW = datetime(2026, 11, 28, 10, 47, tzinfo=UTC)


@pytest.mark.django_db
def test_a_new_price_version_keeps_each_rates_choice(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    guide = guide_setup(NOW)  # a customer is on the plan: every change makes a version
    images = meter_create(label="Images", api_name="images", meter_type="count", dimensions=[])
    price = tiered(GRADUATED)
    no_charge = RateDraft("images", "graduated", (), (((), price),), first_tier_fee_at_zero=False)
    rate_save(plan=guide.plan, meter=images, draft=no_charge, starts="current_period")

    # Changing another rate copies the images rate (and the matrix) into version 3.
    cheaper = RateDraft("api-calls", "per_unit", (), (((), CellPrice(D("0.005"))),))
    changed = rate_replace(
        plan=guide.plan, meter=guide.api_calls, draft=cheaper, starts="next_period"
    )

    assert changed.version.number == 3
    copies = {rate.meter.api_name: rate for rate in version_rates(changed.version_id)}
    assert copies["images"].first_tier_fee_at_zero is False
    assert copies["llm-tokens"].first_tier_fee_at_zero is True  # made with the default
    assert rate_draft(copies["images"]) == no_charge


# --- the editor and the plan page ----------------------------------------------------------


@pytest.fixture
def plan(db: None) -> Plan:
    return plan_create(name="Tiered plan", billing_period="monthly", currency="USD")


@pytest.fixture
def api_calls(db: None) -> Meter:
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


@pytest.fixture
def admin(client: Client) -> Client:
    return login(client)


def add_url(plan: Plan) -> str:
    return reverse("pricing:add_rate", args=[plan.pk])


def tier_inputs(meter: Meter, model: str = "graduated") -> dict[str, object]:
    return {
        "kind": "usage",
        "meter": meter.pk,
        "rate_model": model,
        "tier-up_to": ["5", "10", ""],
        "tier-unit_price": ["5", "4", "1"],
        "tier-flat_fee": ["10", "20", "30"],
    }


CHECKBOX = re.compile(r'<input type="checkbox" name="first_tier_fee_at_zero"[^>]*>')


def checkbox(html: str) -> str:
    found = CHECKBOX.search(html)
    return found.group(0) if found else ""


@pytest.mark.django_db
def test_the_choice_is_shown_only_while_tiers_are_in_play(
    admin: Client, plan: Plan, api_calls: Meter
) -> None:
    per_unit = page(admin.get(add_url(plan)))
    tiers = page(
        admin.post(add_url(plan), {**tier_inputs(api_calls), "refresh": "1"}, headers=HTMX)
    )

    assert checkbox(per_unit) == ""
    # Hidden, it is still carried, so it survives a change of model.
    assert '<input type="hidden" name="first_tier_fee_at_zero" value="true">' in per_unit
    assert "checked" in checkbox(tiers)  # the default for a new rate
    field = text(element(tiers, "field-first_tier_fee_at_zero"))
    assert "Charge the first tier’s flat fee even at zero usage" in field
    assert "As Stripe and OpenMeter do" in field


@pytest.mark.django_db
def test_a_matrix_offers_the_choice_for_its_tiered_rows(admin: Client, plan: Plan) -> None:
    tokens = meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model"]
    )
    data = {
        "kind": "usage",
        "meter": tokens.pk,
        "rate_model": "dimensions",
        "refresh": "1",
        "first_tier_fee_at_zero": "false",
    }

    html = page(admin.post(add_url(plan), data, headers=HTMX))

    assert checkbox(html) and "checked" not in checkbox(html)
    assert "It applies to every row priced in tiers." in html


@pytest.mark.django_db
@pytest.mark.parametrize(("posted", "stored"), [(["false", "on"], True), (["false"], False)])
def test_the_choice_is_saved_as_ticked(
    admin: Client, plan: Plan, api_calls: Meter, posted: list[str], stored: bool
) -> None:
    data = {**tier_inputs(api_calls, "volume"), "first_tier_fee_at_zero": posted}

    response = admin.post(add_url(plan), data, headers=HTMX)

    assert response["HX-Redirect"] == plan.get_absolute_url()
    (rate,) = version_rates(plan.current_version_id)
    assert rate.first_tier_fee_at_zero is stored


@pytest.mark.django_db
@pytest.mark.parametrize("charged", [True, False])
def test_the_edit_form_is_filled_in_with_the_rates_choice(
    admin: Client, plan: Plan, api_calls: Meter, charged: bool
) -> None:
    draft = RateDraft(
        "api-calls", "graduated", (), (((), tiered(GRADUATED)),), first_tier_fee_at_zero=charged
    )
    rate = rate_save(plan=plan, meter=api_calls, draft=draft)

    html = page(admin.get(reverse("pricing:edit_rate", args=[plan.pk, rate.pk])))

    assert checkbox(html)
    assert ("checked" in checkbox(html)) is charged


@pytest.mark.django_db
@pytest.mark.parametrize(("posted", "total"), [(["false", "on"], "$10.00"), (["false"], "$0.00")])
def test_the_preview_prices_zero_usage_by_the_choice(
    admin: Client, plan: Plan, api_calls: Meter, posted: list[str], total: str
) -> None:
    data = {
        **tier_inputs(api_calls),
        "first_tier_fee_at_zero": posted,
        "preview": "1",
        "preview-quantity": "0",
    }

    html = page(admin.post(add_url(plan), data, headers=HTMX))

    rows = table_rows(element(html, "preview-result"))
    explanation = "0 × $5.00 + $10.00" if total != "$0.00" else "No usage, no charge"
    assert rows[1:] == [["API calls", explanation, total], ["Total", total]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("charged", "words"),
    [
        (True, "The first tier’s flat fee is charged even at zero usage."),
        (False, "No usage, no charge: a tier’s flat fee is charged once usage reaches it."),
    ],
)
def test_the_plan_page_says_what_zero_usage_costs(
    admin: Client, plan: Plan, api_calls: Meter, charged: bool, words: str
) -> None:
    draft = RateDraft(
        "api-calls", "volume", (), (((), tiered(VOLUME)),), first_tier_fee_at_zero=charged
    )
    rate = rate_save(plan=plan, meter=api_calls, draft=draft)

    shown = text(element(page(admin.get(plan.get_absolute_url())), f"rate-{rate.pk}"))

    assert f"Zero usage {words}" in shown


@pytest.mark.django_db
def test_the_plan_page_is_silent_where_the_choice_changes_nothing(
    admin: Client, plan: Plan, api_calls: Meter
) -> None:
    draft = RateDraft("api-calls", "graduated", (), (((), tiered(GRADUATED, NO_FEE_TIERS)),))
    rate: Rate = rate_save(plan=plan, meter=api_calls, draft=draft)

    shown = text(element(page(admin.get(plan.get_absolute_url())), f"rate-{rate.pk}"))

    assert "Zero usage" not in shown
