"""Rating: usage in, priced lines and unpriced usage out. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.money import minor_unit_exponent
from pricing.rating import (
    Aggregation,
    CellPrice,
    PartialUsage,
    PricedLine,
    RateSpec,
    UsageGroup,
    exact_amount,
    invoice_total,
    project_usage,
    rate_usage,
)

D = Decimal
LLM_DIMENSIONS = ("model", "type")


def per_unit_rate(price: str, label: str = "API calls", rate_id: int = 1) -> RateSpec:
    return RateSpec(rate_id, label, (), {(): CellPrice(D(price))})


def llm_tokens_rate(rate_id: int = 2) -> RateSpec:
    """The guide's LLM tokens matrix."""
    return RateSpec(
        rate_id,
        "LLM tokens",
        LLM_DIMENSIONS,
        {
            ("a", "input"): CellPrice(D("0.00001")),
            ("a", "output"): CellPrice(D("0.00002")),
            ("b", "input"): CellPrice(D("0.000005")),
            ("b", "output"): CellPrice(D("0.00001")),
        },
    )


def tokens(model: str, kind: str, quantity: str, **extra: str) -> PartialUsage:
    return PartialUsage({"model": model, "type": kind, **extra}, D(quantity))


def rate(spec: RateSpec, parts: list[PartialUsage], currency: str = "USD"):
    usage = project_usage(Aggregation.SUM, parts, spec.dimensions)
    return rate_usage(spec, usage, currency)


def guide_llm_usage() -> list[PartialUsage]:
    return [
        tokens("a", "input", "1000"),
        tokens("a", "output", "1000"),
        tokens("b", "input", "1000"),
    ]


# --- the guide's scenario ------------------------------------------------------------------


def test_ten_api_calls_at_one_cent_cost_ten_cents() -> None:
    rated = rate(per_unit_rate("0.01"), [PartialUsage({}, D("10"))])

    assert rated.unpriced == []
    [line] = rated.lines
    assert line.description == "API calls"
    assert line.quantity == D("10")
    assert line.unit_price == D("0.01")
    assert line.exact_amount == D("0.10")
    assert line.amount == D("0.10")
    assert str(line.amount) == "0.10"


def test_llm_tokens_are_priced_per_model_and_type() -> None:
    rated = rate(llm_tokens_rate(), guide_llm_usage())

    assert rated.unpriced == []
    assert [(ln.description, ln.quantity, ln.unit_price, ln.amount) for ln in rated.lines] == [
        ("LLM tokens · a · input", D("1000"), D("0.00001"), D("0.01")),
        ("LLM tokens · a · output", D("1000"), D("0.00002"), D("0.02")),
        ("LLM tokens · b · input", D("1000"), D("0.000005"), D("0.01")),
    ]
    assert [ln.dimensions for ln in rated.lines] == [
        (("model", "a"), ("type", "input")),
        (("model", "a"), ("type", "output")),
        (("model", "b"), ("type", "input")),
    ]


def test_half_a_cent_line_is_charged_a_cent_and_keeps_its_exact_amount() -> None:
    rated = rate(llm_tokens_rate(), [tokens("b", "input", "1000")])

    [line] = rated.lines
    assert line.exact_amount == D("0.005")
    assert line.amount == D("0.01")


def test_invoice_total_across_api_calls_and_llm_tokens_is_fourteen_cents() -> None:
    api = rate(per_unit_rate("0.01"), [PartialUsage({}, D("10"))])
    llm = rate(llm_tokens_rate(), guide_llm_usage())

    assert invoice_total([*api.lines, *llm.lines]) == D("0.14")


def test_invoice_total_adds_rounded_lines_not_exact_amounts() -> None:
    # Three half-cent lines are charged a cent each: 0.03, not round(0.015) = 0.02.
    spec = RateSpec(3, "Images", ("size",), {(s,): CellPrice(D("0.005")) for s in "SML"})
    rated = rate(spec, [PartialUsage({"size": s}, D("1")) for s in "SML"])

    assert [ln.amount for ln in rated.lines] == [D("0.01")] * 3
    assert invoice_total(rated.lines) == D("0.03")


def test_invoice_without_lines_totals_zero() -> None:
    assert invoice_total([]) == D("0")


# --- per-unit rates ------------------------------------------------------------------------


def test_per_unit_rate_charges_usage_from_every_dimension_combination() -> None:
    parts = [PartialUsage({"region": "us"}, D("4")), PartialUsage({"region": "eu"}, D("6"))]
    rated = rate(per_unit_rate("0.01"), parts)

    [line] = rated.lines
    assert line.quantity == D("10")
    assert line.amount == D("0.10")


def test_per_unit_rate_without_usage_still_shows_a_zero_line() -> None:
    rated = rate(per_unit_rate("0.01"), [])

    [line] = rated.lines
    assert line.quantity == D("0")
    assert line.amount == D("0.00")


def test_line_in_yen_is_rounded_to_whole_yen() -> None:
    rated = rate(per_unit_rate("0.5"), [PartialUsage({}, D("3"))], currency="JPY")

    [line] = rated.lines
    assert line.exact_amount == D("1.5")
    assert str(line.amount) == "2"


def test_line_in_dinar_is_rounded_to_three_places() -> None:
    rated = rate(per_unit_rate("0.0001"), [PartialUsage({}, D("5"))], currency="KWD")

    [line] = rated.lines
    assert line.exact_amount == D("0.0005")
    assert str(line.amount) == "0.001"


# --- unit prices with many decimals --------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "quantity", "exact"),
    [
        ("0.000000000001", "1", "0.000000000001"),
        ("0.000000000001", "3", "0.000000000003"),
        ("0.000000000001", "1000000000000", "1"),
        ("0.000000000000123456", "1000000", "0.000000123456"),
        ("0.00001", "123456789", "1234.56789"),
    ],
)
def test_tiny_unit_prices_multiply_exactly(unit_price: str, quantity: str, exact: str) -> None:
    assert exact_amount(CellPrice(D(unit_price)), D(quantity)) == D(exact)


def test_a_trillion_units_at_a_trillionth_of_a_dollar_cost_one_dollar() -> None:
    rated = rate(per_unit_rate("0.000000000001"), [PartialUsage({}, D("1000000000000"))])

    [line] = rated.lines
    assert line.unit_price == D("0.000000000001")
    assert line.amount == D("1.00")


# --- usage the matrix cannot price ---------------------------------------------------------


def test_combination_missing_from_the_matrix_is_reported_not_dropped() -> None:
    rated = rate(llm_tokens_rate(), [*guide_llm_usage(), tokens("c", "input", "500")])

    assert [ln.description for ln in rated.lines] == [
        "LLM tokens · a · input",
        "LLM tokens · a · output",
        "LLM tokens · b · input",
    ]
    [unpriced] = rated.unpriced
    assert unpriced.meter_label == "LLM tokens"
    assert unpriced.dimensions == (("model", "c"), ("type", "input"))
    assert unpriced.quantity == D("500")
    assert "no price" in unpriced.reason
    assert "c · input" in unpriced.reason


def test_usage_without_a_pricing_dimension_is_reported_not_dropped() -> None:
    rated = rate(llm_tokens_rate(), [PartialUsage({"model": "a"}, D("700"))])

    assert rated.lines == []
    [unpriced] = rated.unpriced
    assert unpriced.dimensions == (("model", "a"), ("type", None))
    assert unpriced.quantity == D("700")
    assert "type" in unpriced.reason
    assert "model" not in unpriced.reason


def test_usage_without_any_pricing_dimension_names_them_all() -> None:
    rated = rate(llm_tokens_rate(), [PartialUsage({"region": "eu"}, D("9"))])

    [unpriced] = rated.unpriced
    assert unpriced.dimensions == (("model", None), ("type", None))
    assert "model" in unpriced.reason
    assert "type" in unpriced.reason


# --- projection onto a rate's pricing dimensions -------------------------------------------

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("aggregation", "parts", "expected"),
    [
        pytest.param(
            Aggregation.SUM,
            [tokens("a", "input", "300", region="us"), tokens("a", "input", "700", region="eu")],
            "1000",
            id="sum-adds",
        ),
        pytest.param(
            Aggregation.EVENT_COUNT,
            [tokens("a", "input", "3", region="us"), tokens("a", "input", "4", region="eu")],
            "7",
            id="event-count-adds",
        ),
        pytest.param(
            Aggregation.MAX,
            [
                tokens("a", "input", "5", region="us"),
                tokens("a", "input", "9", region="eu"),
                tokens("a", "input", "7", region="ap"),
            ],
            "9",
            id="max-takes-the-largest",
        ),
        pytest.param(
            Aggregation.LATEST,
            [
                PartialUsage({"model": "a", "type": "input", "region": "us"}, D("5"), T),
                PartialUsage(
                    {"model": "a", "type": "input", "region": "eu"},
                    D("9"),
                    T - timedelta(hours=1),
                ),
                PartialUsage(
                    {"model": "a", "type": "input", "region": "ap"},
                    D("7"),
                    T + timedelta(hours=1),
                ),
            ],
            "7",
            id="latest-takes-the-most-recent",
        ),
        pytest.param(
            Aggregation.UNIQUE_COUNT,
            [
                PartialUsage(
                    {"model": "a", "type": "input", "region": "us"},
                    D("2"),
                    distinct_values=frozenset({"user-1", "user-2"}),
                ),
                PartialUsage(
                    {"model": "a", "type": "input", "region": "eu"},
                    D("2"),
                    distinct_values=frozenset({"user-2", "user-3"}),
                ),
            ],
            "3",
            id="unique-count-counts-a-value-seen-in-two-regions-once",
        ),
    ],
)
def test_usage_is_merged_across_a_dimension_the_rate_does_not_price_by(
    aggregation: Aggregation, parts: list[PartialUsage], expected: str
) -> None:
    assert project_usage(aggregation, parts, LLM_DIMENSIONS) == [
        UsageGroup(("a", "input"), D(expected))
    ]


def test_latest_compares_moments_not_wall_clocks() -> None:
    # 09:00 in New York (UTC-5) is 14:00 UTC: later than 10:00 UTC.
    new_york_winter = timezone(timedelta(hours=-5))
    parts = [
        PartialUsage({"region": "eu"}, D("1"), datetime(2024, 1, 5, 10, 0, tzinfo=UTC)),
        PartialUsage({"region": "us"}, D("2"), datetime(2024, 1, 5, 9, 0, tzinfo=new_york_winter)),
    ]

    assert project_usage(Aggregation.LATEST, parts, ()) == [UsageGroup((), D("2"))]


def test_latest_prefers_usage_with_a_time_over_usage_without() -> None:
    parts = [
        PartialUsage({"region": "us"}, D("8"), T),
        PartialUsage({"region": "eu"}, D("99"), None),
    ]

    assert project_usage(Aggregation.LATEST, parts, ()) == [UsageGroup((), D("8"))]


def test_projection_keeps_each_pricing_combination_apart() -> None:
    parts = [
        tokens("b", "input", "5", region="us"),
        tokens("a", "output", "20", region="us"),
        tokens("a", "input", "100", region="us"),
        tokens("a", "input", "50", region="eu"),
    ]

    # Sorted, so invoice lines come out in the same order every time.
    assert project_usage(Aggregation.SUM, parts, LLM_DIMENSIONS) == [
        UsageGroup(("a", "input"), D("150")),
        UsageGroup(("a", "output"), D("20")),
        UsageGroup(("b", "input"), D("5")),
    ]


def test_a_dimension_the_event_did_not_carry_projects_to_none() -> None:
    parts = [PartialUsage({"model": "a"}, D("3")), PartialUsage({"model": "a"}, D("4"))]

    assert project_usage(Aggregation.SUM, parts, LLM_DIMENSIONS) == [
        UsageGroup(("a", None), D("7"))
    ]


def test_projection_of_no_usage_is_empty() -> None:
    assert project_usage(Aggregation.SUM, [], LLM_DIMENSIONS) == []


# --- properties ----------------------------------------------------------------------------

CURRENCY = st.sampled_from(["USD", "JPY", "KWD"])
quantities = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=4),
)
unit_prices = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=14),
)
# Each dimension may be absent from an event, or carry a value the matrix may not list.
dimension_sets = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["a", "b", "c"]),
        "type": st.sampled_from(["input", "output"]),
        "region": st.sampled_from(["us", "eu"]),
    },
)
partial_usage = st.builds(PartialUsage, dimensions=dimension_sets, quantity=quantities)
cell_keys = st.sampled_from([(m, t) for m in "abc" for t in ("input", "output")])


@st.composite
def rates(draw: st.DrawFn) -> RateSpec:
    if draw(st.booleans()):
        return RateSpec(1, "API calls", (), {(): CellPrice(draw(unit_prices))})
    cells = draw(st.dictionaries(cell_keys, unit_prices.map(CellPrice)))
    return RateSpec(2, "LLM tokens", LLM_DIMENSIONS, cells)


@given(spec=rates(), parts=st.lists(partial_usage, max_size=12), currency=CURRENCY)
def test_every_unit_of_usage_is_priced_or_reported_as_unpriced(
    spec: RateSpec, parts: list[PartialUsage], currency: str
) -> None:
    rated = rate(spec, parts, currency)

    billed = sum((ln.quantity for ln in rated.lines), D(0))
    unpriced = sum((u.quantity for u in rated.unpriced), D(0))
    assert billed + unpriced == sum((p.quantity for p in parts), D(0))
    assert all(u.reason for u in rated.unpriced)


def _all_lines(spec: RateSpec, parts: list[PartialUsage], currency: str) -> list[PricedLine]:
    return rate(spec, parts, currency).lines


@given(spec=rates(), parts=st.lists(partial_usage, max_size=12), currency=CURRENCY)
def test_non_negative_prices_and_usage_never_produce_a_credit(
    spec: RateSpec, parts: list[PartialUsage], currency: str
) -> None:
    lines = _all_lines(spec, parts, currency)

    assert all(ln.exact_amount >= 0 and ln.amount >= 0 for ln in lines)
    assert invoice_total(lines) >= 0


@given(spec=rates(), parts=st.lists(partial_usage, max_size=12), currency=CURRENCY)
def test_a_charged_amount_is_within_half_a_minor_unit_of_the_exact_amount(
    spec: RateSpec, parts: list[PartialUsage], currency: str
) -> None:
    half_unit = Decimal(1).scaleb(-minor_unit_exponent(currency)) / 2
    for line in _all_lines(spec, parts, currency):
        assert line.exact_amount == line.quantity * line.unit_price
        assert abs(line.amount - line.exact_amount) <= half_unit
