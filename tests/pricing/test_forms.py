from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from meters.models import Meter
from meters.services import meter_create
from pricing.forms import (
    MAX_KEY_LENGTH,
    PRICE_INTEGER_DIGITS,
    PRICE_PLACES,
    MatrixRow,
    PlanForm,
    RateForm,
    parse_price,
    read_matrix,
    validate_matrix,
)
from pricing.models import Plan, PriceCell
from pricing.services import plan_create, rate_create


def _query(pairs: list[tuple[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)
    return data


def _rows(*rows: tuple[str, str, str]) -> list[MatrixRow]:
    pairs: list[tuple[str, str]] = []
    for model, kind, price in rows:
        pairs += [("cell-dim-model", model), ("cell-dim-type", kind), ("cell-price", price)]
    return read_matrix(_query(pairs), ["model", "type"])


@pytest.fixture
def plan() -> Plan:
    return plan_create(name="Chatbot usage plan", billing_period="monthly", currency="USD")


@pytest.fixture
def api_calls() -> Meter:
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


@pytest.fixture
def llm_tokens() -> Meter:
    return meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )


# parse_price: pure, no database.


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.01", Decimal("0.01")),
        (" 0.00001 ", Decimal("0.00001")),
        ("0.000005", Decimal("0.000005")),
        ("2", Decimal("2")),
        (".5", Decimal("0.5")),
        ("0", Decimal("0")),
        ("-0", Decimal("0")),
        ("0.000000000000001", Decimal("0.000000000000001")),
        ("0.100000000000000000", Decimal("0.1")),  # trailing zeros are not places
        ("1e-5", Decimal("0.00001")),
        ("999999999999999", Decimal("999999999999999")),
    ],
)
def test_parse_price_reads_exact_decimals(raw: str, expected: Decimal) -> None:
    price = parse_price(raw)
    assert isinstance(price, Decimal)
    assert price == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("abc", "invalid"),
        ("$0.01", "invalid"),
        ("1,000", "invalid"),
        ("1_000", "invalid"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
        ("0.01.2", "invalid"),
        ("-0.01", "negative"),
        ("0.0000000000000001", "max_decimal_places"),
        ("1e-16", "max_decimal_places"),
        ("1000000000000000", "max_digits"),
    ],
)
def test_parse_price_rejects_bad_input(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_price(raw)
    assert excinfo.value.code == code


def test_limits_match_the_price_cell_columns() -> None:
    unit_price = PriceCell._meta.get_field("unit_price")
    assert unit_price.decimal_places == PRICE_PLACES
    assert unit_price.max_digits == PRICE_PLACES + PRICE_INTEGER_DIGITS
    assert PriceCell._meta.get_field("dimension_key").max_length == MAX_KEY_LENGTH


# The pricing matrix: pure, no database.


def test_read_matrix_keeps_row_order_and_strips_values() -> None:
    rows = _rows(("model a ", "input", "0.00001"), ("model b", " output", " 0.00001"))
    assert [r.values for r in rows] == [["model a", "input"], ["model b", "output"]]
    assert [r.price for r in rows] == ["0.00001", "0.00001"]


def test_read_matrix_fills_short_columns_with_blanks() -> None:
    data = _query([("cell-dim-model", "a"), ("cell-dim-model", "b"), ("cell-price", "1")])
    rows = read_matrix(data, ["model"])
    assert [(r.values, r.price) for r in rows] == [(["a"], "1"), (["b"], "")]


def test_validate_matrix_returns_values_and_prices() -> None:
    rows = _rows(("model a", "input", "0.00001"), ("model a", "output", "0.00002"))
    assert validate_matrix(rows) == [
        (["model a", "input"], Decimal("0.00001")),
        (["model a", "output"], Decimal("0.00002")),
    ]


def test_validate_matrix_names_the_row_a_combination_repeats() -> None:
    rows = _rows(
        ("model a", "input", "0.00001"),
        ("model b", "input", "0.00001"),
        ("model a", "input", "0.00003"),
    )
    assert validate_matrix(rows) == []
    assert rows[2].error == "model a · input is already priced in row 1."
    assert not rows[0].has_errors and not rows[1].has_errors


def test_validate_matrix_puts_each_error_on_its_cell() -> None:
    rows = _rows(("", "input", "0.1"), ("model b", "output", "-1"), ("model c", "x", "ten"))
    assert validate_matrix(rows) == []
    assert rows[0].cells[0].error == "Enter a value for model."
    assert rows[0].cells[1].error == ""
    assert rows[1].price_error == "A price cannot be negative."
    assert rows[2].price_error.startswith("“ten” is not a number")


def test_validate_matrix_rejects_over_long_values() -> None:
    rows = _rows(("m" * 101, "input", "1"))
    assert validate_matrix(rows) == []
    assert rows[0].cells[0].error == "Use at most 100 characters."


# Forms with the database.


@pytest.mark.django_db
def test_plan_form_defaults_to_monthly_usd() -> None:
    form = PlanForm()
    assert form["billing_period"].value() == "monthly"
    assert form["currency"].value() == "USD"


@pytest.mark.django_db
def test_plan_form_refuses_a_duplicate_name_ignoring_case(plan: Plan) -> None:
    form = PlanForm({"name": "chatbot USAGE plan", "billing_period": "monthly", "currency": "USD"})
    assert not form.is_valid()
    assert form.errors["name"] == [
        "A pricing plan named “chatbot USAGE plan” already exists. Choose another name."
    ]


@pytest.mark.django_db
def test_rate_form_offers_only_meters_not_yet_priced(
    plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    form = RateForm(plan=plan)
    assert form.available_meters == [llm_tokens]
    assert [value for value, _ in form.fields["meter"].widget.choices] == [llm_tokens.pk]


@pytest.mark.django_db
def test_rate_form_refuses_a_meter_already_priced(plan: Plan, api_calls: Meter) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    data = _query(
        [("kind", "usage"), ("meter", str(api_calls.pk)), ("rate_model", "per_unit")]
        + [("unit_price", "0.02")]
    )
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert form.errors["meter"] == [
        "API calls is already priced on this plan. Delete its rate first to price it differently."
    ]


@pytest.mark.django_db
def test_rate_form_draft_for_a_new_meter_checks_all_its_dimensions(
    plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    draft = _query(
        [("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions_meter", str(api_calls.pk)), ("refresh", "1")]
    )
    form = RateForm(plan=plan, draft=draft)
    assert not form.is_bound
    assert form.chosen_dimensions == ["model", "type"]
    assert form["dimensions"].value() == ["model", "type"]
    assert len(form.rows) == 1


@pytest.mark.django_db
def test_rate_form_draft_keeps_unchecked_dimensions_and_typed_rows(
    plan: Plan, llm_tokens: Meter
) -> None:
    draft = _query(
        [("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions_meter", str(llm_tokens.pk)), ("dimensions", "model")]
        + [("cell-dim-model", "model a"), ("cell-price", "0.1"), ("add_row", "1")]
    )
    form = RateForm(plan=plan, draft=draft)
    assert form.chosen_dimensions == ["model"]
    assert [(r.values, r.price) for r in form.rows] == [(["model a"], "0.1"), ([""], "")]


@pytest.mark.django_db
def test_rate_form_dimensions_need_a_meter_with_dimensions(plan: Plan, api_calls: Meter) -> None:
    data = _query([("kind", "usage"), ("meter", str(api_calls.pk)), ("rate_model", "dimensions")])
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert "API calls has no dimensions to price by" in form.errors["rate_model"][0]


@pytest.mark.django_db
def test_rate_form_dimensions_need_a_chosen_dimension(plan: Plan, llm_tokens: Meter) -> None:
    data = _query([("kind", "usage"), ("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")])
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert form.errors["dimensions"] == ["Choose at least one dimension to price by."]


@pytest.mark.django_db
def test_rate_form_ignores_blank_rows_but_needs_one(plan: Plan, llm_tokens: Meter) -> None:
    data = _query(
        [("kind", "usage"), ("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions", "model"), ("cell-dim-model", " "), ("cell-price", "")]
    )
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert form.non_field_errors() == ["Add at least one row to the pricing matrix."]


@pytest.mark.django_db
def test_rate_form_gives_rate_create_its_arguments(plan: Plan, llm_tokens: Meter) -> None:
    data = _query(
        [("kind", "usage"), ("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions", "type"), ("dimensions", "model")]
        + [("cell-dim-model", "model a"), ("cell-dim-type", "input"), ("cell-price", "0.00001")]
        + [("cell-dim-model", ""), ("cell-dim-type", ""), ("cell-price", "")]
    )
    form = RateForm(data, plan=plan)
    assert form.is_valid(), form.errors
    assert form.rate_kwargs() == {
        "meter": llm_tokens,
        "dimensions": ["model", "type"],  # the meter's order, not the order ticked
        "matrix": [(["model a", "input"], Decimal("0.00001"))],
    }
