"""The rate editor's live preview: the pure helpers (pricing.preview), then the
preview answered by the add-rate view for what the editor would store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from meters.models import Meter
from meters.services import meter_create
from pricing.models import Plan, Rate
from pricing.preview import (
    OTHER,
    draft_spec,
    parse_quantity,
    price_usage,
    rate_definition,
    tier_rows,
)
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.rating import LineKind, UsageGroup
from pricing.schema import RateDraft
from pricing.services import plan_create
from tests.factories import guide_setup
from tests.fixtures import HTMX, element, table_rows, text

D = Decimal
STRIPE_TIERS = (
    Tier(D(5), D(5)),
    Tier(D(10), D(4)),
    Tier(D(15), D(3)),
    Tier(D(20), D(2)),
    Tier(None, D(1)),
)
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


def _single(
    price: CellPrice, minimum_charge: Decimal | None = None, base_fee: Decimal | None = None
) -> RateDraft:
    cells = (((), price),)
    return RateDraft("api-calls", price.model.value, (), cells, None, minimum_charge, base_fee)


def _rated(draft: RateDraft, quantity: str) -> list[tuple[str, str, Decimal]]:
    preview = price_usage(draft_spec(draft, "API calls"), [UsageGroup((), D(quantity))], "USD")
    return [(p.line.description, p.explanation, p.line.amount) for p in preview.lines]


# Pure helpers, no database.


def test_draft_spec_carries_every_part_of_the_draft() -> None:
    default = CellPrice(D("0.5"))
    draft = RateDraft(
        "llm-tokens",
        "dimensions",
        ("model",),
        ((("a",), CellPrice(D(1))),),
        default_price=default,
        minimum_charge=D(10),
        base_fee=D(5),
    )
    spec = draft_spec(draft, "LLM tokens")
    assert (spec.meter_label, spec.dimensions) == ("LLM tokens", ("model",))
    assert spec.cells == {("a",): CellPrice(D(1))}
    assert (spec.default_cell, spec.minimum_charge, spec.flat_fee) == (default, D(10), D(5))


def test_per_unit_preview_explains_the_multiplication() -> None:
    assert _rated(_single(CellPrice(D("0.01"))), "1500") == [
        ("API calls", "1,500 × $0.01", D("15.00"))
    ]


def test_graduated_preview_of_six_units_is_29_dollars() -> None:
    draft = _single(CellPrice(model=PriceModel.GRADUATED, tiers=STRIPE_TIERS))
    assert _rated(draft, "6") == [("API calls", "5 × $5.00 + 1 × $4.00", D("29.00"))]


def test_volume_preview_of_six_units_is_24_dollars() -> None:
    draft = _single(CellPrice(model=PriceModel.VOLUME, tiers=STRIPE_TIERS))
    assert _rated(draft, "6") == [("API calls", "6 × $4.00 (tier up to 10)", D("24.00"))]


@pytest.mark.parametrize(
    ("rounding", "amount", "explanation"),
    [
        (PackageRounding.UP, D("27.00"), "3 packages of 100 × $9.00"),
        (PackageRounding.DOWN, D("18.00"), "2 packages of 100 × $9.00"),
    ],
)
def test_package_preview_rounds_a_partial_package_as_chosen(
    rounding: PackageRounding, amount: Decimal, explanation: str
) -> None:
    price = CellPrice(
        model=PriceModel.PACKAGE,
        package_size=D(100),
        package_price=D(9),
        package_rounding=rounding,
    )
    assert _rated(_single(price), "250") == [("API calls", explanation, amount)]


def test_free_units_are_deducted_before_the_price() -> None:
    draft = _single(CellPrice(D("0.01"), free_units=D(1000)))
    assert _rated(draft, "1500") == [("API calls", "1,000 free; 500 × $0.01", D("5.00"))]


def test_minimum_charge_adds_a_true_up_line_and_the_base_fee_its_own() -> None:
    draft = _single(CellPrice(D("0.01")), minimum_charge=D(10), base_fee=D(5))
    preview = price_usage(draft_spec(draft, "API calls"), [UsageGroup((), D(200))], "USD")
    lines = [(p.line.description, p.line.kind, p.line.amount) for p in preview.lines]
    assert lines == [
        ("API calls", LineKind.USAGE, D("2.00")),
        ("API calls · base fee", LineKind.BASE_FEE, D("5.00")),
        ("API calls · minimum charge true-up", LineKind.MINIMUM, D("8.00")),
    ]
    assert preview.total == D("15.00")


def test_dimensional_preview_prices_a_tiered_cell_and_the_default() -> None:
    tiered = CellPrice(model=PriceModel.GRADUATED, tiers=(Tier(D(1000), D(2)), Tier(None, D(1))))
    draft = RateDraft(
        "llm-tokens",
        "dimensions",
        ("model", "type"),
        ((("a", "input"), tiered),),
        default_price=CellPrice(D(3)),
    )
    usage = [UsageGroup(("a", "input"), D(1500)), UsageGroup((OTHER, OTHER), D(10))]
    preview = price_usage(draft_spec(draft, "LLM tokens"), usage, "USD")
    assert [(p.line.description, p.explanation, p.line.amount) for p in preview.lines] == [
        ("LLM tokens · a · input", "1,000 × $2.00 + 500 × $1.00", D("2500.00")),
        ("LLM tokens · any other combination (default price)", "10 × $3.00", D("30.00")),
    ]
    assert preview.total == D("2530.00")


def test_dimensional_preview_lists_an_unpriced_combination() -> None:
    draft = RateDraft("llm-tokens", "dimensions", ("model",), ((("a",), CellPrice(D(1))),))
    usage = [UsageGroup(("b",), D(7))]
    preview = price_usage(draft_spec(draft, "LLM tokens"), usage, "USD")
    assert preview.lines == () and preview.total == 0
    assert [(u.quantity, u.reason) for u in preview.unpriced] == [
        (D(7), "no price for b in the pricing matrix")
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), (" 6 ", D(6)), ("1,500", D(1500)), ("2.5", D("2.5")), (".5", D("0.5"))],
)
def test_parse_quantity_reads_plain_numbers(raw: str, expected: Decimal | None) -> None:
    assert parse_quantity(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "1e3", "NaN", "$5"])
def test_parse_quantity_refuses_anything_else(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a quantity"):
        parse_quantity(raw)


def test_tier_rows_start_where_the_tier_before_ends() -> None:
    rows = tier_rows(STRIPE_TIERS[:2] + STRIPE_TIERS[4:])
    assert [(r.start, r.up_to, r.unit_price) for r in rows] == [
        (D(0), D(5), D(5)),
        (D(5), D(10), D(4)),
        (D(10), None, D(1)),
    ]


def test_rate_definition_of_a_rate_without_dimensions_has_a_single_price() -> None:
    price = CellPrice(model=PriceModel.VOLUME, tiers=STRIPE_TIERS)
    definition = rate_definition(_single(price, base_fee=D(5)))
    assert definition.single is not None
    assert definition.single.model == "volume"
    assert definition.base_fee == D(5) and definition.default is None


# The preview through the add-rate view.


@pytest.fixture
def plan(db: None) -> Plan:
    return plan_create(name="Draft plan", billing_period="monthly", currency="USD")


@pytest.fixture
def api_calls(db: None) -> Meter:
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


@pytest.fixture
def llm_tokens(db: None) -> Meter:
    return meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )


def _preview(client: Client, plan: Plan, data: dict[str, object]) -> str:
    url = reverse("pricing:add_rate", args=[plan.pk])
    response = client.post(url, {"preview": "1", "kind": "usage", **data}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="preview-result"' in html
    return html


def _lines(html: str) -> list[list[str]]:
    return table_rows(element(html, "preview-result"))[1:]


def _tiers(**extra: object) -> dict[str, object]:
    return {
        "tier-up_to": ["5", "10", "15", "20", ""],
        "tier-unit_price": ["5", "4", "3", "2", "1"],
        "tier-flat_fee": ["", "", "", "", ""],
        **extra,
    }


@pytest.mark.django_db
def test_preview_of_a_per_unit_rate(admin_client: Client, plan: Plan, api_calls: Meter) -> None:
    data = {"meter": api_calls.pk, "rate_model": "per_unit", "unit_price": "0.01"}
    html = _preview(admin_client, plan, {**data, "preview-quantity": "1500"})
    assert _lines(html) == [
        ["API calls", "1,500 × $0.01", "$15.00"],
        ["Total", "$15.00"],
    ]
    assert Rate.objects.count() == 0


@pytest.mark.parametrize(("model", "total"), [("graduated", "$29.00"), ("volume", "$24.00")])
@pytest.mark.django_db
def test_preview_of_tiers_for_six_units(
    admin_client: Client, plan: Plan, api_calls: Meter, model: str, total: str
) -> None:
    data = _tiers(meter=api_calls.pk, rate_model=model)
    html = _preview(admin_client, plan, {**data, "preview-quantity": "6"})
    assert _lines(html)[-1] == ["Total", total]


@pytest.mark.django_db
def test_preview_of_a_package_rate_with_free_units(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = {
        "meter": api_calls.pk,
        "rate_model": "package",
        "package_size": "100",
        "package_price": "9",
        "package_rounding": "up",
        "free_units": "50",
    }
    html = _preview(admin_client, plan, {**data, "preview-quantity": "251"})
    assert _lines(html) == [
        ["API calls", "50 free; 3 packages of 100 × $9.00", "$27.00"],
        ["Total", "$27.00"],
    ]


@pytest.mark.django_db
def test_preview_shows_the_minimum_true_up_and_base_fee(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = {
        "meter": api_calls.pk,
        "rate_model": "per_unit",
        "unit_price": "0.01",
        "minimum_charge": "10",
        "base_fee": "5",
    }
    html = _preview(admin_client, plan, {**data, "preview-quantity": "200"})
    assert _lines(html) == [
        ["API calls", "200 × $0.01", "$2.00"],
        ["API calls · base fee", "", "$5.00"],
        ["API calls · minimum charge true-up", "", "$8.00"],
        ["Total", "$15.00"],
    ]


def _matrix_preview(meter: Meter) -> dict[str, object]:
    """Two rows: model a · input per unit, model a · output in graduated tiers."""
    return {
        "meter": meter.pk,
        "rate_model": "dimensions",
        "dimensions": ["model", "type"],
        "dimensions_meter": meter.pk,
        "row": ["r1", "r2"],
        "mr1-dim-model": "model a",
        "mr1-dim-type": "input",
        "mr1-model": "per_unit",
        "mr1-unit_price": "0.00001",
        "mr2-dim-model": "model a",
        "mr2-dim-type": "output",
        "mr2-model": "graduated",
        "mr2-tier-up_to": ["1000", ""],
        "mr2-tier-unit_price": ["0.00002", "0.00001"],
        "mr2-tier-flat_fee": ["", ""],
    }


@pytest.mark.django_db
def test_preview_of_a_matrix_with_a_tiered_cell_takes_a_quantity_per_row(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = {**_matrix_preview(llm_tokens), "preview-qty-r1": "1000", "preview-qty-r2": "2500"}
    html = _preview(admin_client, plan, data)
    assert _lines(html) == [
        ["LLM tokens · model a · input", "1,000 × $0.00001", "$0.01"],
        ["LLM tokens · model a · output", "1,000 × $0.00002 + 1,500 × $0.00001", "$0.04"],
        ["Total", "$0.05"],
    ]


@pytest.mark.django_db
def test_preview_of_the_default_price_for_other_combinations(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = {
        **_matrix_preview(llm_tokens),
        "has_default_price": "on",
        "default-model": "per_unit",
        "default-unit_price": "0.001",
        "preview-qty-other": "100",
    }
    html = _preview(admin_client, plan, data)
    assert _lines(html) == [
        ["LLM tokens · any other combination (default price)", "100 × $0.001", "$0.10"],
        ["Total", "$0.10"],
    ]


@pytest.mark.django_db
def test_preview_inputs_are_drawn_again_when_the_rows_change(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    html = _preview(admin_client, plan, _matrix_preview(llm_tokens))
    inputs = element(html, "preview-inputs")
    assert 'hx-swap-oob="true"' in inputs
    assert 'name="preview-qty-r1"' in inputs and 'name="preview-qty-r2"' in inputs
    assert "model a · output" in text(inputs)
    signature = re.search(r'name="preview-rows" value="([^"]*)"', inputs)
    assert signature is not None
    data = {**_matrix_preview(llm_tokens), "preview-rows": signature.group(1)}
    again = _preview(admin_client, plan, data)
    assert 'id="preview-inputs"' not in again  # typing a quantity keeps its input


@pytest.mark.django_db
def test_invalid_draft_asks_to_fix_the_errors_instead_of_failing(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = _tiers(meter=api_calls.pk, rate_model="graduated", **{"tier-up_to": ["5", "3", ""]})
    data["tier-unit_price"] = ["5", "4", "1"]
    data["tier-flat_fee"] = ["", "", ""]
    html = _preview(admin_client, plan, {**data, "preview-quantity": "6"})
    result = text(element(html, "preview-result"))
    assert "Fix the errors above to see a preview." in result
    assert "Tier 2 · Up to: Must be more than 5, where the tier before ends" in result
    assert "$" not in result


@pytest.mark.django_db
def test_an_empty_price_asks_for_prices_first(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = {"meter": api_calls.pk, "rate_model": "per_unit", "unit_price": ""}
    html = _preview(admin_client, plan, {**data, "preview-quantity": "6"})
    assert text(element(html, "preview-result")) == "Enter the prices above to see a preview."


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("", "Type a quantity to see what it would cost."), ("lots", "“lots” is not a quantity")],
)
@pytest.mark.django_db
def test_preview_asks_for_a_usable_quantity(
    admin_client: Client, plan: Plan, api_calls: Meter, quantity: str, message: str
) -> None:
    data = {"meter": api_calls.pk, "rate_model": "per_unit", "unit_price": "0.01"}
    html = _preview(admin_client, plan, {**data, "preview-quantity": quantity})
    assert message in text(element(html, "preview-result"))


@pytest.mark.django_db
def test_preview_with_a_customers_usage_this_period(
    admin_client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    guide = guide_setup(NOW)  # 1000 tokens each of (a, input), (a, output), (b, input)
    draft_plan = plan_create(name="Tiered tokens", billing_period="monthly", currency="USD")
    data = {
        "meter": guide.llm_tokens.pk,
        "rate_model": "dimensions",
        "dimensions": ["model"],
        "dimensions_meter": guide.llm_tokens.pk,
        "row": ["a"],
        "ma-dim-model": "model a",
        "ma-model": "graduated",
        "ma-tier-up_to": ["1500", ""],
        "ma-tier-unit_price": ["0.001", "0.0001"],
        "ma-tier-flat_fee": ["", ""],
        "preview-customer": guide.customer.pk,
    }
    html = _preview(admin_client, draft_plan, data)
    assert _lines(html) == [
        ["LLM tokens · model a", "1,500 × $0.001 + 500 × $0.0001", "$1.55"],
        ["Total", "$1.55"],
    ]
    result = text(element(html, "preview-result"))
    assert "1,000 units: no price for model b in the pricing matrix" in result
    assert "Test Customer’s usage of LLM tokens so far this period (1 Mar 2025 to 1 Apr 2025" in (
        result
    )


@pytest.mark.django_db
def test_preview_for_a_customer_without_a_plan_says_so(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    from customers.services import customer_create

    customer = customer_create(name="Acme", customer_id="acme")
    data = {"meter": api_calls.pk, "rate_model": "per_unit", "unit_price": "0.01"}
    html = _preview(admin_client, plan, {**data, "preview-customer": customer.pk})
    assert "Acme is on no plan today" in text(element(html, "preview-result"))


@pytest.mark.django_db
def test_the_editor_page_shows_the_preview_panel_wired_to_the_form(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    html = admin_client.get(reverse("pricing:add_rate", args=[plan.pk])).content.decode()
    result = element(html, "preview-result")
    assert f'hx-post="{reverse("pricing:add_rate", args=[plan.pk])}"' in result
    assert 'hx-vals=\'{"preview": "1"}\'' in result
    # Events app.js sends (a filtered htmx trigger would need unsafe-eval under the CSP).
    assert "preview-typed delay:300ms from:closest form" in result
    assert 'name="preview-quantity"' in element(html, "preview-inputs")
    assert "Enter the prices above to see a preview." in text(result)
