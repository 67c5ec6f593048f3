"""Cost and margin per line (pricing/costing.py), pure: the guide's invoice
with provider costs of our choosing (docs/PRICING.md, "Cost and margin"),
cost rates coarser and finer than the prices, tiers, usage with no cost
known, and properties over any usage."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pricing.costing import CostWindow, cost_lines, margin_percent, windowed_cost_lines
from pricing.price_models import CellPrice, PriceModel, Tier
from pricing.rating import Aggregation, LineKind, PartialUsage, RateSpec, project_usage, rate_usage

D = Decimal
DIMS = ("model", "type")
GUIDE_TOKENS = [
    PartialUsage({"model": "model a", "type": "input"}, D(1000)),
    PartialUsage({"model": "model a", "type": "output"}, D(1000)),
    PartialUsage({"model": "model b", "type": "input"}, D(1000)),
]
TOKEN_PRICES = {
    ("model a", "input"): D("0.00001"),
    ("model a", "output"): D("0.00002"),
    ("model b", "input"): D("0.000005"),
    ("model b", "output"): D("0.00001"),
}
# What the model provider charges us per token (our choice, for the docs).
TOKEN_COSTS = {
    ("model a", "input"): D("0.000003"),
    ("model a", "output"): D("0.000015"),
    ("model b", "input"): D("0.000001"),
    ("model b", "output"): D("0.000004"),
}


def matrix(rate_id: int, prices: dict[tuple[str, ...], Decimal], dims=DIMS, **kw) -> RateSpec:  # type: ignore[no-untyped-def]
    return RateSpec(rate_id, "LLM tokens", dims, {k: CellPrice(v) for k, v in prices.items()}, **kw)


def priced(spec: RateSpec, parts: list[PartialUsage]) -> list:  # type: ignore[type-arg]
    return rate_usage(spec, project_usage(Aggregation.SUM, parts, spec.dimensions), "USD").lines


def costs(price: RateSpec, cost: RateSpec | None, parts: list[PartialUsage]):  # type: ignore[no-untyped-def]
    return cost_lines(Aggregation.SUM, parts, price.dimensions, priced(price, parts), cost, "USD")


def test_the_guide_tokens_cost_and_margin_per_line() -> None:
    price = matrix(1, TOKEN_PRICES)
    result = costs(price, matrix(2, TOKEN_COSTS), GUIDE_TOKENS)
    rows = [
        (c.line.description, c.revenue, c.cost, c.margin, c.margin_percent) for c in result.lines
    ]
    # 1,000 tokens each: cost 0.003 → $0.00, 0.015 → $0.02, 0.001 → $0.00.
    assert rows == [
        ("LLM tokens · model a · input", D("0.01"), D("0.00"), D("0.01"), D("100.0")),
        ("LLM tokens · model a · output", D("0.02"), D("0.02"), D("0.00"), D("0.0")),
        ("LLM tokens · model b · input", D("0.01"), D("0.00"), D("0.01"), D("100.0")),
    ]
    assert result.fixed_cost == 0


def test_a_million_tokens_show_the_margin_the_rounding_hides() -> None:
    parts = [PartialUsage(p.dimensions, D(1_000_000)) for p in GUIDE_TOKENS]
    result = costs(matrix(1, TOKEN_PRICES), matrix(2, TOKEN_COSTS), parts)
    assert [(c.revenue, c.cost, c.margin, c.margin_percent) for c in result.lines] == [
        (D("10.00"), D("3.00"), D("7.00"), D("70.0")),
        (D("20.00"), D("15.00"), D("5.00"), D("25.0")),
        (D("5.00"), D("1.00"), D("4.00"), D("80.0")),
    ]


def test_a_cost_rate_finer_than_the_price_adds_up_its_rows() -> None:
    # Priced per model; the provider charges per model and token type.
    price = matrix(1, {("model a",): D("0.00002"), ("model b",): D("0.00001")}, dims=("model",))
    parts = [PartialUsage(p.dimensions, D(1_000_000)) for p in GUIDE_TOKENS]
    result = costs(price, matrix(2, TOKEN_COSTS), parts)
    # model a: 1M input at 0.000003 + 1M output at 0.000015 = $18.00.
    assert [(c.line.description, c.revenue, c.cost) for c in result.lines] == [
        ("LLM tokens · model a", D("40.00"), D("18.00")),
        ("LLM tokens · model b", D("10.00"), D("1.00")),
    ]


def test_a_cost_rate_coarser_than_the_price_is_shared_by_quantity() -> None:
    # The provider charges per model only: $0.000009 a token of model a.
    cost = matrix(2, {("model a",): D("0.000009"), ("model b",): D("0.000001")}, dims=("model",))
    parts = [
        PartialUsage({"model": "model a", "type": "input"}, D(3_000_000)),
        PartialUsage({"model": "model a", "type": "output"}, D(1_000_000)),
    ]
    result = costs(matrix(1, TOKEN_PRICES), cost, parts)
    # $36.00 for 4M tokens of model a: 3/4 and 1/4 of it.
    assert [c.cost for c in result.lines] == [D("27.00"), D("9.00")]


def test_tiered_cost_is_spread_evenly_per_unit_of_its_group() -> None:
    tiers = (Tier(D(1000), D("0.00001")), Tier(None, D("0.000005")))
    cost = RateSpec(2, "LLM tokens", (), {(): CellPrice(model=PriceModel.GRADUATED, tiers=tiers)})
    parts = [
        PartialUsage({"model": "model a", "type": "input"}, D(1000)),
        PartialUsage({"model": "model a", "type": "output"}, D(500)),
    ]
    # 1,000 × 0.00001 + 500 × 0.000005 = $0.0125 for 1,500 tokens: 2/3 and 1/3.
    result = costs(matrix(1, TOKEN_PRICES), cost, parts)
    assert [c.cost for c in result.lines] == [D("0.01"), D("0.00")]


def test_usage_without_a_cost_price_is_no_cost_known_never_zero() -> None:
    cost = matrix(2, {k: v for k, v in TOKEN_COSTS.items() if k != ("model b", "input")})
    result = costs(matrix(1, TOKEN_PRICES), cost, GUIDE_TOKENS)
    unknown = result.lines[2]
    assert (unknown.cost, unknown.known_cost, unknown.unknown_quantity) == (None, 0, D(1000))
    assert (unknown.margin, unknown.margin_percent) == (None, None)
    assert result.lines[0].cost == D("0.00")  # the others are known


def test_a_meter_without_a_cost_rate_has_no_cost_known() -> None:
    result = costs(matrix(1, TOKEN_PRICES), None, GUIDE_TOKENS)
    assert [(c.cost, c.unknown_quantity) for c in result.lines] == [(None, D(1000))] * 3


def test_a_price_fee_costs_nothing_and_a_cost_fee_is_the_meters_fixed_cost() -> None:
    price = RateSpec(1, "API calls", (), {(): CellPrice(D("0.01"))}, flat_fee=D("5"))
    cost = RateSpec(2, "API calls", (), {(): CellPrice(D("0.0005"))}, flat_fee=D("1.50"))
    parts = [PartialUsage({}, D(10))]
    result = costs(price, cost, parts)
    assert [(c.line.kind, c.revenue, c.cost) for c in result.lines] == [
        (LineKind.USAGE, D("0.10"), D("0.01")),  # 10 × $0.0005 = 0.005 → $0.01
        (LineKind.BASE_FEE, D("5.00"), D("0")),
    ]
    assert result.fixed_cost == D("1.50")


def test_margin_percent_is_none_without_revenue_and_rounds_half_up() -> None:
    assert margin_percent(D("0"), D("-1")) is None
    assert margin_percent(D("3"), D("1")) == D("33.3")
    assert margin_percent(D("8"), D("-1")) == D("-12.5")


quantities = st.integers(min_value=0, max_value=10**9).map(D)
unit_costs = st.integers(min_value=0, max_value=10**6).map(lambda n: D(n).scaleb(-9))


@given(
    usage=st.dictionaries(st.sampled_from(sorted(TOKEN_PRICES)), quantities, min_size=1),
    unit_cost=st.dictionaries(st.sampled_from(sorted(TOKEN_PRICES)), unit_costs),
)
def test_each_line_costs_its_rows_exactly_and_margin_is_revenue_less_cost(
    usage: dict[tuple[str, str], Decimal], unit_cost: dict[tuple[str, str], Decimal]
) -> None:
    parts = [PartialUsage(dict(zip(DIMS, key, strict=True)), q) for key, q in usage.items()]
    result = costs(matrix(1, TOKEN_PRICES), matrix(2, unit_cost), parts)
    assert len(result.lines) == len(parts)  # every priced line is costed
    for line in result.lines:
        key = tuple(value for _, value in line.line.dimensions)
        if key in unit_cost:
            expected = (usage[key] * unit_cost[key]).quantize(D("0.01"), rounding="ROUND_HALF_UP")
            assert line.cost == expected
            assert line.margin == line.revenue - line.cost
        else:
            assert (line.cost, line.margin, line.unknown_quantity) == (None, None, usage[key])


def test_a_cost_price_change_inside_the_period_costs_each_stretch_by_its_price() -> None:
    price = matrix(1, TOKEN_PRICES)
    before = [PartialUsage({"model": "model a", "type": "input"}, D(1000))]
    after = [PartialUsage({"model": "model a", "type": "input"}, D(1000))]
    lines = priced(price, [PartialUsage(before[0].dimensions, D(2000))])
    windows = [
        CostWindow(before, matrix(2, {("model a", "input"): D("0.000003")})),
        CostWindow(after, matrix(3, {("model a", "input"): D("0.000006")})),
    ]
    result = windowed_cost_lines(Aggregation.SUM, windows, DIMS, lines, "USD")
    # 0.003 + 0.006 = 0.009, rounded once: $0.01 (each stretch alone: $0.00 + $0.01).
    assert [c.cost for c in result.lines] == [D("0.01")]
    unknown = windowed_cost_lines(
        Aggregation.SUM, [windows[0], CostWindow(after, None)], DIMS, lines, "USD"
    )
    assert (unknown.lines[0].cost, unknown.lines[0].unknown_quantity) == (None, D(1000))
