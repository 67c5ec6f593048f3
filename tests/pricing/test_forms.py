from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import QueryDict

from meters.models import Meter
from meters.services import meter_create
from pricing.forms import PlanForm, RateForm
from pricing.models import Plan, PriceCell
from pricing.price_models import CellPrice, PackageRounding, PriceModel
from pricing.rate_forms import (
    MAX_KEY_LENGTH,
    MatrixRow,
    PriceEditor,
    friendly,
    read_rows,
    storage_problems,
)
from pricing.schema import Problem, RateDraft
from pricing.services import plan_create, rate_create

D = Decimal


def _query(pairs: list[tuple[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)
    return data


def _tiers(prefix: str, *tiers: tuple[str, str, str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for up_to, unit, fee in tiers:
        pairs += [(f"{prefix}tier-up_to", up_to), (f"{prefix}tier-unit_price", unit)]
        pairs += [(f"{prefix}tier-flat_fee", fee)]
    return pairs


def _row(key: str, model: str, kind: str, price: str) -> list[tuple[str, str]]:
    return [
        ("row", key),
        (f"m{key}-dim-model", model),
        (f"m{key}-dim-type", kind),
        (f"m{key}-unit_price", price),
    ]


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


# The nested inputs (pricing.rate_forms): pure, no database.


def test_key_limit_matches_the_database_column() -> None:
    assert PriceCell._meta.get_field("dimension_key").max_length == MAX_KEY_LENGTH


def test_price_editor_reads_tiers_in_order_and_derives_where_each_starts() -> None:
    data = _query(
        [("model", "volume")] + _tiers("", ("1000", "2", ""), (" 5000", "1", "10"), ("", "0.5", ""))
    )
    editor = PriceEditor.read(data, "")
    assert editor.model == "volume" and editor.is_tiered
    assert [(t.start, t.up_to, t.unit_price, t.flat_fee) for t in editor.tiers] == [
        ("0", "1000", "2", ""),
        ("1,000", "5000", "1", "10"),
        ("5,000", "", "0.5", ""),
    ]


def test_price_editor_shows_an_ellipsis_where_the_tier_before_has_no_bound_yet() -> None:
    editor = PriceEditor.read(_query(_tiers("", ("ten", "2", ""), ("", "1", ""))), "", "graduated")
    assert [t.start for t in editor.tiers] == ["0", "…"]


def test_a_new_tiered_editor_starts_with_two_tiers() -> None:
    editor = PriceEditor.read(None, "default-", "graduated")
    assert len(editor.tiers) == 2
    assert editor.names["tier_up_to"] == "default-tier-up_to"
    assert editor.tiers_id == "default-tiers"


def test_an_unknown_price_model_reads_as_per_unit() -> None:
    assert PriceEditor.read(_query([("m1-model", "bogus")]), "m1-").model == "per_unit"


@pytest.mark.parametrize(
    ("model", "document"),
    [
        ("per_unit", {"model": "per_unit", "free_units": "5", "unit_price": "0.01"}),
        (
            "graduated",
            {
                "model": "graduated",
                "free_units": "5",
                "tiers": [
                    {"up_to": "10", "unit_price": "2", "flat_fee": "1"},
                    {"up_to": None, "unit_price": "1", "flat_fee": ""},
                ],
            },
        ),
        (
            "package",
            {
                "model": "package",
                "free_units": "5",
                "package_size": "100",
                "package_price": "9",
                "package_rounding": "down",
            },
        ),
    ],
)
def test_price_editor_document_holds_only_what_its_model_uses(
    model: str, document: dict[str, object]
) -> None:
    pairs = [("unit_price", "0.01"), ("free_units", "5"), ("package_size", "100")]
    pairs += [("package_price", "9"), ("package_rounding", "down")]
    pairs += _tiers("", ("10", "2", "1"), ("", "1", ""))
    assert PriceEditor.read(_query(pairs), "", model).document() == document


def test_price_editor_places_a_problem_on_the_tier_input_it_names() -> None:
    editor = PriceEditor.read(None, "", "graduated")
    label, message = editor.place(
        ".tiers[1].up_to", "the last tier must be unbounded (leave up_to empty)"
    )
    assert label == "Tier 2 · Up to"
    assert message.startswith("Leave this empty: the last tier has no upper limit.")
    assert editor.tiers[1].errors == {"up_to": message}
    assert editor.tiers[0].errors == {}


def test_price_editor_can_describe_a_problem_without_marking_it() -> None:
    editor = PriceEditor.read(None, "")
    assert editor.place(".unit_price", "is required", mark=False) == (
        "Price per unit",
        "Enter a price.",
    )
    assert not editor.has_errors


@pytest.mark.parametrize(
    ("field", "schema_message", "shown"),
    [
        ("unit_price", "is required", "Enter a price."),
        ("tier.unit_price", "is required", "Enter a unit price."),
        ("package_size", "is required", "Enter how many units a package holds."),
        ("unit_price", "must not be negative", "A price cannot be negative."),
        ("free_units", "must not be negative", "Free units cannot be negative."),
        ("base_fee", "must not be negative", "A fee cannot be negative."),
        ("unit_price", "has more than 15 decimal places", "Use at most 15 decimal places."),
        (
            "unit_price",
            "“abc” is not a number",
            "“abc” is not a number. Write it like 0.01, without a currency symbol or "
            "thousands separators.",
        ),
        (
            "tier.up_to",
            "must be above the tier before (1000): tiers must rise without overlapping",
            "Must be more than 1,000, where the tier before ends: tiers must rise without "
            "overlapping.",
        ),
        (
            "tier.up_to",
            "only the last tier may be unbounded",
            "Enter where this tier ends. Only the last tier is left open.",
        ),
        ("tiers", "needs at least one tier", "Add at least one tier."),
        (
            "package_size",
            "a package must hold more than 0 units",
            "A package must hold more than 0 units.",
        ),
        (
            "unit_price",
            "is too large: use at most 15 digits before the point",
            "This price is too large: use at most 15 digits before the point.",
        ),
        (
            "free_units",
            "is too large: use at most 21 digits before the point",
            "This number is too large: use at most 21 digits before the point.",
        ),
    ],
)
def test_friendly_rewords_the_schemas_messages_for_an_operator(
    field: str, schema_message: str, shown: str
) -> None:
    assert friendly(field, schema_message) == shown


def test_read_rows_keeps_page_order_and_ignores_bad_or_repeated_keys() -> None:
    data = _query(
        _row("b2", "model b", "input", "1")
        + _row("a1", " model a ", "output", " 2 ")
        + [("row", "a1"), ("row", "../x")]
    )
    rows = read_rows(data, ["model", "type"])
    assert [(r.key, r.values, r.price.unit_price) for r in rows] == [
        ("b2", ["model b", "input"], "1"),
        ("a1", ["model a", "output"], "2"),
    ]
    assert rows[0].cells[0].input_name == "mb2-dim-model"


def test_a_blank_row_gets_a_fresh_key_and_counts_as_blank() -> None:
    one, two = MatrixRow.blank(["model"]), MatrixRow.blank(["model"])
    assert one.key != two.key
    assert one.is_blank and one.combination == "…"


def test_storage_problems_name_a_combination_too_long_to_store() -> None:
    long = ("é" * 100, "ü" * 100)  # each escapes to 6 characters
    draft = RateDraft(
        "llm-tokens",
        "dimensions",
        ("model", "type"),
        ((("a", "b"), CellPrice(D(1))), (long, CellPrice(D(1)))),
    )
    assert storage_problems(draft, "rate") == [Problem("rate.cells[1].values", "is too long")]
    assert (
        storage_problems(
            RateDraft(
                "api-calls",
                "per_unit",
                (),
                ((), CellPrice(D(1))),
            ),
            "r",
        )
        == []
    )


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
    assert form.errors["name"] == ["A pricing plan named “chatbot USAGE plan” already exists."]


@pytest.mark.django_db
def test_rate_form_offers_every_rate_model(plan: Plan, api_calls: Meter) -> None:
    form = RateForm(plan=plan)
    assert [radio.data["value"] for radio, _help in form.rate_model_options] == [
        "per_unit",
        "graduated",
        "volume",
        "package",
        "dimensions",
    ]


@pytest.mark.django_db
def test_rate_form_offers_only_meters_not_yet_priced(
    plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=D("0.01"))
    form = RateForm(plan=plan)
    assert form.available_meters == [llm_tokens]
    assert [value for value, _ in form.fields["meter"].widget.choices] == [llm_tokens.pk]


@pytest.mark.django_db
def test_rate_form_refuses_a_meter_already_priced(plan: Plan, api_calls: Meter) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=D("0.01"))
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
        + [("row", "k1"), ("mk1-dim-model", "model a"), ("mk1-unit_price", "0.1")]
        + [("add_row", "1")]
    )
    form = RateForm(plan=plan, draft=draft)
    assert form.chosen_dimensions == ["model"]
    assert [(r.values, r.price.unit_price) for r in form.rows] == [(["model a"], "0.1"), ([""], "")]


@pytest.mark.django_db
def test_rate_form_draft_adds_a_tier_to_the_price_it_names(plan: Plan, llm_tokens: Meter) -> None:
    draft = _query(
        [("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions_meter", str(llm_tokens.pk)), ("dimensions", "model")]
        + [("row", "k1"), ("mk1-dim-model", "a"), ("mk1-model", "volume")]
        + _tiers("mk1-", ("10", "2", ""), ("", "1", ""))
        + [("add_tier", "mk1-tiers")]
    )
    form = RateForm(plan=plan, draft=draft)
    tiers = form.rows[0].price.tiers
    assert [(t.up_to, t.unit_price, t.autofocus) for t in tiers] == [
        ("10", "2", False),
        ("", "1", False),
        ("", "", True),
    ]
    assert not form.price.tiers  # the rate's own price is not tiered


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
        + [("dimensions", "model"), ("row", "k1"), ("mk1-dim-model", " "), ("mk1-unit_price", "")]
    )
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert form.non_field_errors() == ["Add at least one row to the pricing matrix."]


@pytest.mark.django_db
def test_rate_form_builds_the_draft_the_schema_checked(plan: Plan, llm_tokens: Meter) -> None:
    data = _query(
        [("kind", "usage"), ("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions", "type"), ("dimensions", "model")]
        + _row("k1", "model a", "input", "0.00001")
        + [("row", "k2"), ("mk2-dim-model", ""), ("mk2-dim-type", ""), ("mk2-unit_price", "")]
        + [("row", "k3"), ("mk3-dim-model", "model b"), ("mk3-dim-type", "output")]
        + [("mk3-model", "package"), ("mk3-package_size", "1000"), ("mk3-package_price", "0.01")]
        + [("mk3-package_rounding", "down"), ("mk3-free_units", "500")]
        + [("minimum_charge", "10"), ("base_fee", "")]
    )
    form = RateForm(data, plan=plan)
    assert form.is_valid(), form.errors
    package = CellPrice(
        model=PriceModel.PACKAGE,
        package_size=D(1000),
        package_price=D("0.01"),
        package_rounding=PackageRounding.DOWN,
        free_units=D(500),
    )
    assert form.cleaned_data["draft"] == RateDraft(
        meter="llm-tokens",
        model="dimensions",
        dimensions=("model", "type"),  # the meter's order, not the order ticked
        cells=(
            (("model a", "input"), CellPrice(D("0.00001"))),
            (("model b", "output"), package),
        ),
        minimum_charge=D(10),
    )
    assert len(form.rows) == 2  # the blank row is dropped


@pytest.mark.django_db
def test_rate_form_puts_each_schema_problem_on_its_input(plan: Plan, api_calls: Meter) -> None:
    data = _query(
        [("kind", "usage"), ("meter", str(api_calls.pk)), ("rate_model", "graduated")]
        + _tiers("", ("10", "2", ""), ("10", "-1", ""), ("20", "1", "x"))
        + [("free_units", "-1"), ("minimum_charge", "ten")]
    )
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    tiers = form.price.tiers
    assert tiers[0].errors == {}
    assert tiers[1].errors == {
        "up_to": "Must be more than 10, where the tier before ends: tiers must rise without "
        "overlapping.",
        "unit_price": "A price cannot be negative.",
    }
    assert tiers[2].errors["up_to"].startswith("Leave this empty")
    assert tiers[2].errors["flat_fee"].startswith("“x” is not a number.")
    assert form.price.errors == {"free_units": "Free units cannot be negative."}
    assert form.non_field_errors() == ["The rate was not saved: see the messages below."]
    assert form.errors["minimum_charge"][0].startswith("“ten” is not a number.")
    assert "draft" not in form.cleaned_data


@pytest.mark.django_db
def test_rate_form_names_the_displayed_row_a_combination_repeats(
    plan: Plan, llm_tokens: Meter
) -> None:
    data = _query(
        [("kind", "usage"), ("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")]
        + [("dimensions", "model"), ("dimensions", "type")]
        + _row("k1", "model a", "input", "1")
        + _row("k2", "model b", "input", "1")
        + _row("k3", "model a", "input", "3")
    )
    form = RateForm(data, plan=plan)
    assert not form.is_valid()
    assert [r.error for r in form.rows] == ["", "", "model a · input is already priced in row 1."]
    assert form.non_field_errors() == [
        "1 row of the pricing matrix needs attention; see the messages below."
    ]


@pytest.mark.django_db
def test_preview_draft_checks_quietly(plan: Plan, api_calls: Meter) -> None:
    draft = _query([("meter", str(api_calls.pk)), ("rate_model", "per_unit"), ("unit_price", "-1")])
    form = RateForm(plan=plan, draft=draft)
    assert form.preview_draft() is None
    assert form.problem_list == ["Price per unit: A price cannot be negative."]
    assert not form.price.has_errors and not form.is_incomplete
    valid = RateForm(plan=plan, draft=_query([("meter", str(api_calls.pk)), ("unit_price", "1")]))
    assert valid.preview_draft() == RateDraft("api-calls", "per_unit", (), (((), CellPrice(D(1))),))


@pytest.mark.django_db
def test_preview_draft_of_an_empty_matrix_is_only_incomplete(plan: Plan, llm_tokens: Meter) -> None:
    draft = _query([("meter", str(llm_tokens.pk)), ("rate_model", "dimensions")])
    form = RateForm(plan=plan, draft=draft)
    assert form.preview_draft() is None
    assert form.is_incomplete
    tiers = RateForm(
        plan=plan, draft=_query([("meter", str(llm_tokens.pk)), ("rate_model", "volume")])
    )
    assert tiers.preview_draft() is None and tiers.is_incomplete
    assert tiers.price.tiers[0].errors == {}
