"""Price models at their edges: per unit, graduated and volume tiers (with flat
fees), packages, free units, and the rate-level charges (minimum true-up, base
fee, proration, default price) that rating adds on top. No database.

Every worked example in docs/PRICING.md is asserted here (or, through the
database and the PDF, in tests/invoices/test_rate_models_invoice.py).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.money import format_unit_price, minor_unit_exponent, round_money
from pricing.price_models import (
    CellPrice,
    PackageRounding,
    PriceModel,
    Tier,
    exact_amount,
    explain,
    tier_spans,
    volume_tier,
)
from pricing.rating import LineKind, PricedLine, RateSpec, UsageGroup, invoice_total, rate_usage

D = Decimal
GRADUATED, VOLUME, PACKAGE = PriceModel.GRADUATED, PriceModel.VOLUME, PriceModel.PACKAGE
UP, DOWN = PackageRounding.UP, PackageRounding.DOWN

# Stripe's published example: units 1-5 at $5, 6-10 at $4, 11-15 at $3, 16-20 at $2, then $1.
STRIPE_TIERS = (
    Tier(D("5"), D("5")),
    Tier(D("10"), D("4")),
    Tier(D("15"), D("3")),
    Tier(D("20"), D("2")),
    Tier(None, D("1")),
)
# The same bounds as docs/PRICING.md's flat-fee example: $10, $20, $30 for reaching a tier.
FLAT_FEE_TIERS = (
    Tier(D("5"), D("5"), D("10")),
    Tier(D("10"), D("4"), D("20")),
    Tier(None, D("1"), D("30")),
)


def tiered(model: PriceModel, tiers: tuple[Tier, ...] = STRIPE_TIERS, free: str = "0") -> CellPrice:
    return CellPrice(model=model, tiers=tiers, free_units=D(free))


def package(size: str, price: str, rounding: PackageRounding = UP, free: str = "0") -> CellPrice:
    return CellPrice(
        model=PACKAGE,
        package_size=D(size),
        package_price=D(price),
        package_rounding=rounding,
        free_units=D(free),
    )


def usd(price: Decimal) -> str:
    return format_unit_price(price, "USD")


# --- per unit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "quantity", "expected"),
    [
        ("0.01", "0", "0"),
        ("0.01", "1", "0.01"),
        ("0.01", "1000", "10.00"),
        ("2", "2.5", "5.0"),
        ("0.000005", "1000", "0.005"),
        ("0", "1000", "0"),
    ],
)
def test_per_unit_charges_quantity_times_price(
    unit_price: str, quantity: str, expected: str
) -> None:
    assert exact_amount(CellPrice(D(unit_price)), D(quantity)) == D(expected)


# --- graduated and volume tiers: Stripe's example ------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        pytest.param("0", "0", "0", id="no-usage"),
        pytest.param("1", "5", "5", id="first-unit"),
        pytest.param("5", "25", "25", id="on-the-first-bound"),
        pytest.param("6", "29", "24", id="stripe-six-units"),
        pytest.param("10", "45", "40", id="on-the-second-bound"),
        pytest.param("11", "48", "33", id="one-above-the-second-bound"),
        pytest.param("15", "60", "45", id="on-the-third-bound"),
        pytest.param("20", "70", "40", id="on-the-last-bound"),
        pytest.param("21", "71", "21", id="into-the-unbounded-tier"),
        pytest.param("100", "150", "100", id="deep-in-the-unbounded-tier"),
    ],
)
def test_stripes_tiers_price_graduated_and_volume_as_published(
    quantity: str, graduated: str, volume: str
) -> None:
    assert exact_amount(tiered(GRADUATED), D(quantity)) == D(graduated)
    assert exact_amount(tiered(VOLUME), D(quantity)) == D(volume)


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        # 5.5 crosses the bound at 5: half a unit in the second tier.
        pytest.param("5.5", "27.0", "22.0", id="half-a-unit-above-a-bound"),
        pytest.param("4.5", "22.5", "22.5", id="fractional-inside-the-first-tier"),
        pytest.param("5.000000001", "25.000000004", "20.000000004", id="a-hair-above-a-bound"),
        pytest.param("0.25", "1.25", "1.25", id="less-than-one-unit"),
        pytest.param("20.5", "70.5", "20.5", id="half-a-unit-into-the-unbounded-tier"),
    ],
)
def test_fractional_quantities_are_priced_as_they_are(
    quantity: str, graduated: str, volume: str
) -> None:
    assert exact_amount(tiered(GRADUATED), D(quantity)) == D(graduated)
    assert exact_amount(tiered(VOLUME), D(quantity)) == D(volume)


@pytest.mark.parametrize(
    ("quantity", "spans"),
    [
        ("0", []),
        ("5", [("5", "5")]),
        ("5.5", [("5", "5"), ("10", "0.5")]),
        ("21", [("5", "5"), ("10", "5"), ("15", "5"), ("20", "5"), (None, "1")]),
    ],
)
def test_tier_bounds_are_inclusive_upper_bounds(
    quantity: str, spans: list[tuple[str | None, str]]
) -> None:
    found = tier_spans(STRIPE_TIERS, D(quantity))

    assert [(tier.up_to, n) for tier, n in found] == [
        (None if up_to is None else D(up_to), D(n)) for up_to, n in spans
    ]


@pytest.mark.parametrize(
    ("quantity", "up_to"),
    [("0", "5"), ("5", "5"), ("5.5", "10"), ("10", "10"), ("20", "20"), ("20.1", None)],
)
def test_the_volume_tier_is_the_one_whose_inclusive_bound_holds_the_quantity(
    quantity: str, up_to: str | None
) -> None:
    assert volume_tier(STRIPE_TIERS, D(quantity)).up_to == (None if up_to is None else D(up_to))


def test_volume_tiers_without_an_unbounded_tier_are_refused() -> None:
    with pytest.raises(ValueError, match="unbounded"):
        volume_tier((Tier(D("5"), D("1")),), D("6"))


# --- flat fees -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        # Zero usage reaches no tier, so no flat fee: not even the first tier's.
        pytest.param("0", "0", "0", id="no-usage-no-flat-fee"),
        pytest.param("1", "15", "15", id="first-unit-brings-the-first-fee"),
        pytest.param("5", "35", "35", id="on-the-first-bound"),
        # Graduated: 5 x $5 + $10 + 1 x $4 + $20; volume: 6 x $4 + $20.
        pytest.param("6", "59", "44", id="one-above-adds-the-second-fee"),
        pytest.param("10", "75", "60", id="on-the-second-bound"),
        pytest.param("11", "106", "41", id="every-tier-reached"),
        pytest.param("5.5", "57.0", "42.0", id="half-a-unit-reaches-the-second-tier"),
    ],
)
def test_graduated_adds_every_reached_tiers_fee_and_volume_only_its_own(
    quantity: str, graduated: str, volume: str
) -> None:
    assert exact_amount(tiered(GRADUATED, FLAT_FEE_TIERS), D(quantity)) == D(graduated)
    assert exact_amount(tiered(VOLUME, FLAT_FEE_TIERS), D(quantity)) == D(volume)


def test_a_tier_priced_only_by_its_flat_fee_charges_the_fee_once() -> None:
    # "Up to 1,000 calls for $50, then $0.04 a call."
    tiers = (Tier(D("1000"), D("0"), D("50")), Tier(None, D("0.04")))

    assert exact_amount(tiered(GRADUATED, tiers), D("1")) == D("50")
    assert exact_amount(tiered(GRADUATED, tiers), D("1000")) == D("50")
    assert exact_amount(tiered(GRADUATED, tiers), D("1001")) == D("50.04")
    assert exact_amount(tiered(VOLUME, tiers), D("1001")) == D("40.04")


# --- packages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "up", "down"),
    [
        pytest.param("0", "0", "0", id="no-usage"),
        pytest.param("1", "9", "0", id="one-unit"),
        pytest.param("99", "9", "0", id="just-under-a-block"),
        pytest.param("100", "9", "9", id="exactly-one-block"),
        pytest.param("101", "18", "9", id="one-above-a-block"),
        pytest.param("200", "18", "18", id="exactly-two-blocks"),
        pytest.param("250", "27", "18", id="two-and-a-half-blocks"),
        pytest.param("0.5", "9", "0", id="half-a-unit"),
        pytest.param("100.5", "18", "9", id="a-block-and-half-a-unit"),
    ],
)
def test_packages_round_a_partial_block_up_or_down(quantity: str, up: str, down: str) -> None:
    assert exact_amount(package("100", "9", UP), D(quantity)) == D(up)
    assert exact_amount(package("100", "9", DOWN), D(quantity)) == D(down)


@pytest.mark.parametrize(
    ("quantity", "up", "down"),
    [("1", "2.00", "2.00"), ("1.2", "3.00", "2.00"), ("1.5", "3.00", "3.00")],
)
def test_a_package_may_hold_a_fraction_of_a_unit(quantity: str, up: str, down: str) -> None:
    # Storage sold in blocks of half a gigabyte at $1.
    assert exact_amount(package("0.5", "1.00", UP), D(quantity)) == D(up)
    assert exact_amount(package("0.5", "1.00", DOWN), D(quantity)) == D(down)


# --- free units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        pytest.param(CellPrice(D("0.01"), free_units=D("1000")), "800", "0", id="per-unit-within"),
        pytest.param(CellPrice(D("0.01"), free_units=D("1000")), "1000", "0", id="per-unit-on"),
        pytest.param(
            CellPrice(D("0.01"), free_units=D("1000")), "1500", "5.00", id="per-unit-above"
        ),
        pytest.param(
            CellPrice(D("0.01"), free_units=D("0.5")), "1", "0.005", id="per-unit-fractional"
        ),
        # 5 free, then Stripe's tiers price the remaining 6 units: still $29 and $24.
        pytest.param(tiered(GRADUATED, free="5"), "11", "29", id="graduated"),
        pytest.param(tiered(VOLUME, free="5"), "11", "24", id="volume"),
        pytest.param(tiered(GRADUATED, FLAT_FEE_TIERS, free="5"), "5", "0", id="no-fee-when-free"),
        pytest.param(tiered(VOLUME, FLAT_FEE_TIERS, free="5"), "4", "0", id="volume-no-fee"),
        pytest.param(tiered(GRADUATED, FLAT_FEE_TIERS, free="5"), "6", "15", id="fee-above"),
        pytest.param(package("100", "9", free="100"), "100", "0", id="package-within"),
        pytest.param(package("100", "9", free="100"), "101", "9", id="package-one-above"),
        pytest.param(package("100", "9", free="100"), "350", "27", id="package-above"),
        pytest.param(package("100", "9", DOWN, free="50"), "350", "27", id="package-down"),
    ],
)
def test_free_units_are_deducted_before_the_model_prices(
    price: CellPrice, quantity: str, expected: str
) -> None:
    assert exact_amount(price, D(quantity)) == D(expected)


@pytest.mark.parametrize(
    "price",
    [
        CellPrice(D("0.01"), free_units=D("10")),
        tiered(GRADUATED, FLAT_FEE_TIERS, free="10"),
        tiered(VOLUME, FLAT_FEE_TIERS, free="10"),
        package("100", "9", free="10"),
    ],
    ids=["per-unit", "graduated", "volume", "package"],
)
def test_more_free_units_than_usage_cost_nothing(price: CellPrice) -> None:
    assert exact_amount(price, D("4")) == 0
    assert exact_amount(price, D("0")) == 0


# --- explanations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        pytest.param(CellPrice(D("0.01")), "1000", "1,000 × $0.01", id="per-unit"),
        pytest.param(
            CellPrice(D("0.01"), free_units=D("1000")),
            "1500",
            "1,000 free; 500 × $0.01",
            id="per-unit-with-free-units",
        ),
        pytest.param(CellPrice(D("0.01"), free_units=D("1000")), "800", "800 free", id="all-free"),
        pytest.param(tiered(GRADUATED), "6", "5 × $5.00 + 1 × $4.00", id="graduated"),
        pytest.param(tiered(GRADUATED), "5", "5 × $5.00", id="graduated-on-a-bound"),
        pytest.param(tiered(GRADUATED), "5.5", "5 × $5.00 + 0.5 × $4.00", id="graduated-5.5"),
        pytest.param(
            tiered(GRADUATED, FLAT_FEE_TIERS),
            "6",
            "5 × $5.00 + $10.00 + 1 × $4.00 + $20.00",
            id="graduated-flat-fees",
        ),
        pytest.param(tiered(VOLUME), "6", "6 × $4.00 (tier up to 10)", id="volume"),
        pytest.param(tiered(VOLUME), "21", "21 × $1.00 (tier above)", id="volume-unbounded"),
        pytest.param(
            tiered(VOLUME, FLAT_FEE_TIERS),
            "6",
            "6 × $4.00 + $20.00 (tier up to 10)",
            id="volume-flat-fee",
        ),
        pytest.param(
            tiered(GRADUATED, free="5"),
            "11",
            "5 free; 5 × $5.00 + 1 × $4.00",
            id="graduated-free-units",
        ),
        pytest.param(package("100", "9"), "250", "3 packages of 100 × $9.00", id="package"),
        pytest.param(package("100", "9"), "1", "1 package of 100 × $9.00", id="one-package"),
        pytest.param(
            package("100", "9", DOWN), "250", "2 packages of 100 × $9.00", id="package-down"
        ),
        pytest.param(tiered(GRADUATED, FLAT_FEE_TIERS), "0", "", id="no-usage-nothing-to-say"),
    ],
)
def test_explanations_show_how_the_amount_arose(
    price: CellPrice, quantity: str, expected: str
) -> None:
    assert explain(price, D(quantity), usd) == expected


def test_explanations_print_bare_numbers_without_a_formatter() -> None:
    assert explain(tiered(GRADUATED), D("6")) == "5 × 5 + 1 × 4"


def test_explanations_keep_every_digit_of_a_tiny_unit_price() -> None:
    tiers = (Tier(D("1000000"), D("0.000002")), Tier(None, D("0.000001")))

    assert explain(tiered(GRADUATED, tiers), D("1500000"), usd) == (
        "1,000,000 × $0.000002 + 500,000 × $0.000001"
    )


# --- rate-level charges: minimum true-up, base fee, proration, default price --------------


def single(price: CellPrice, **charges: Decimal) -> RateSpec:
    return RateSpec(1, "Requests", (), {(): price}, **charges)


def priced(lines: list[PricedLine]) -> list[tuple[LineKind, str, Decimal]]:
    return [(ln.kind, ln.description, ln.amount) for ln in lines]


def test_a_minimum_charge_trues_up_usage_that_falls_short() -> None:
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"))

    rated = rate_usage(spec, [UsageGroup((), D("1250"))], "USD")

    assert priced(rated.lines) == [
        (LineKind.USAGE, "Requests", D("12.50")),
        (LineKind.MINIMUM, "Requests · minimum charge true-up", D("7.50")),
    ]
    assert invoice_total(rated.lines) == D("20.00")


@pytest.mark.parametrize("quantity", ["2000", "2500"])
def test_usage_that_meets_the_minimum_needs_no_true_up(quantity: str) -> None:
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"))

    rated = rate_usage(spec, [UsageGroup((), D(quantity))], "USD")

    assert [ln.kind for ln in rated.lines] == [LineKind.USAGE]


def test_no_usage_is_trued_up_to_the_whole_minimum() -> None:
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"))

    rated = rate_usage(spec, [], "USD")

    assert [ln.amount for ln in rated.lines] == [D("0.00"), D("20.00")]


def test_the_base_fee_does_not_count_towards_the_minimum() -> None:
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"), flat_fee=D("10"))

    rated = rate_usage(spec, [UsageGroup((), D("1250"))], "USD")

    assert priced(rated.lines) == [
        (LineKind.USAGE, "Requests", D("12.50")),
        (LineKind.BASE_FEE, "Requests · base fee", D("10.00")),
        (LineKind.MINIMUM, "Requests · minimum charge true-up", D("7.50")),
    ]
    assert invoice_total(rated.lines) == D("30.00")


def test_the_minimum_counts_usage_after_free_units_and_tiers() -> None:
    # 11 units with 5 free cost $29 (Stripe's graduated tiers); the minimum is $30.
    spec = single(tiered(GRADUATED, free="5"), minimum_charge=D("30"))

    rated = rate_usage(spec, [UsageGroup((), D("11"))], "USD")

    assert [ln.amount for ln in rated.lines] == [D("29.00"), D("1.00")]


def test_base_fee_and_minimum_are_prorated_by_the_covered_share() -> None:
    # Ten days of a thirty-day period: a third of $30 and of $20.
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"), flat_fee=D("30"))

    rated = rate_usage(spec, [UsageGroup((), D("200"))], "USD", coverage=D(10) / D(30))

    share = "(prorated: 33.33% of the period)"
    assert priced(rated.lines) == [
        (LineKind.USAGE, "Requests", D("2.00")),
        (LineKind.BASE_FEE, f"Requests · base fee {share}", D("10.00")),
        (LineKind.MINIMUM, f"Requests · minimum charge true-up {share}", D("4.67")),
    ]
    # The usage and the true-up come to the prorated minimum, $6.67, rounded once.
    assert invoice_total(rated.lines) == D("16.67")


def test_a_true_up_is_rounded_once_from_its_exact_amount() -> None:
    spec = single(CellPrice(D("0.01")), minimum_charge=D("20"))

    third = D(1) / D(3)

    rated = rate_usage(spec, [], "USD", coverage=third)

    true_up = rated.lines[-1]
    assert true_up.exact_amount == D("20") * third  # 6.666…
    assert true_up.amount == D("6.67")


def test_a_whole_period_is_not_called_prorated() -> None:
    spec = single(CellPrice(D("0.01")), flat_fee=D("30"))

    rated = rate_usage(spec, [], "USD", coverage=D(1))

    assert rated.lines[-1].description == "Requests · base fee"


def guide_style_matrix(default: CellPrice | None) -> RateSpec:
    """docs/PRICING.md's matrix: model a input in graduated tiers, output per unit."""
    input_tiers = (Tier(D("1000000"), D("0.000002")), Tier(None, D("0.000001")))
    return RateSpec(
        2,
        "LLM tokens",
        ("model", "type"),
        {
            ("model a", "input"): tiered(GRADUATED, input_tiers),
            ("model a", "output"): CellPrice(D("0.000008")),
        },
        default_cell=default,
    )


def test_a_matrix_cell_may_use_tiers_and_a_default_prices_what_it_does_not_list() -> None:
    spec = guide_style_matrix(default=CellPrice(D("0.00001")))
    usage = [
        UsageGroup(("model a", "input"), D("1500000")),
        UsageGroup(("model a", "output"), D("200000")),
        UsageGroup(("model c", "input"), D("100000")),
    ]

    rated = rate_usage(spec, usage, "USD")

    assert rated.unpriced == []
    assert priced(rated.lines) == [
        (LineKind.USAGE, "LLM tokens · model a · input", D("2.50")),
        (LineKind.USAGE, "LLM tokens · model a · output", D("1.60")),
        (LineKind.USAGE, "LLM tokens · model c · input (default price)", D("1.00")),
    ]
    assert rated.lines[0].explanation == "1,000,000 × $0.000002 + 500,000 × $0.000001"
    assert rated.lines[0].unit_price is None
    assert rated.lines[1].explanation == ""
    assert rated.lines[1].unit_price == D("0.000008")
    assert invoice_total(rated.lines) == D("5.10")


def test_without_a_default_price_an_unlisted_combination_stays_unpriced() -> None:
    spec = guide_style_matrix(default=None)

    rated = rate_usage(spec, [UsageGroup(("model c", "input"), D("100000"))], "USD")

    assert rated.lines == []
    [unpriced] = rated.unpriced
    assert unpriced.quantity == D("100000")
    assert unpriced.reason == "no price for model c · input in the pricing matrix"


def test_a_default_price_does_not_price_usage_missing_a_dimension() -> None:
    spec = guide_style_matrix(default=CellPrice(D("0.00001")))

    rated = rate_usage(spec, [UsageGroup(("model a", None), D("700"))], "USD")

    assert rated.lines == []
    assert [u.quantity for u in rated.unpriced] == [D("700")]


# --- properties ----------------------------------------------------------------------------


def decimals(max_units: int, max_places: int) -> st.SearchStrategy[Decimal]:
    return st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(min_value=0, max_value=max_units),
        st.integers(min_value=0, max_value=max_places),
    )


quantities = decimals(10**9, 4)
prices = decimals(10**6, 12)
fees = st.one_of(st.just(D(0)), decimals(10**4, 2))
CURRENCY = st.sampled_from(["USD", "JPY", "KWD"])


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[Tier, ...]:
    """1 to 5 tiers with rising bounds, the last unbounded."""
    steps = draw(st.lists(decimals(10**6, 3).filter(lambda d: d > 0), max_size=4))
    bounds: list[Decimal | None] = []
    top = D(0)
    for step in steps:
        top += step
        bounds.append(top)
    bounds.append(None)
    return tuple(Tier(b, draw(prices), draw(fees)) for b in bounds)


@st.composite
def cell_prices(draw: st.DrawFn) -> CellPrice:
    free = draw(st.one_of(st.just(D(0)), quantities))
    model = draw(st.sampled_from(list(PriceModel)))
    if model is PriceModel.PER_UNIT:
        return CellPrice(draw(prices), free_units=free)
    if model is PriceModel.PACKAGE:
        size = draw(decimals(10**4, 2).filter(lambda d: d > 0))
        rounding = draw(st.sampled_from(list(PackageRounding)))
        return package(str(size), str(draw(prices)), rounding, str(free))
    return CellPrice(model=model, tiers=draw(tier_lists()), free_units=free)


@given(tiers=tier_lists(), free=quantities, a=quantities, b=quantities)
def test_graduated_amounts_never_fall_as_quantity_rises(
    tiers: tuple[Tier, ...], free: Decimal, a: Decimal, b: Decimal
) -> None:
    price = CellPrice(model=GRADUATED, tiers=tiers, free_units=free)
    low, high = sorted((a, b))

    assert exact_amount(price, low) <= exact_amount(price, high)


@given(tiers=tier_lists(), quantity=quantities)
def test_graduated_and_volume_agree_inside_the_first_tier(
    tiers: tuple[Tier, ...], quantity: Decimal
) -> None:
    first = tiers[0].up_to
    if first is not None:
        quantity = min(quantity, first)

    assert exact_amount(tiered(GRADUATED, tiers), quantity) == exact_amount(
        tiered(VOLUME, tiers), quantity
    )


@given(price=cell_prices(), quantity=quantities)
def test_no_model_charges_a_negative_amount(price: CellPrice, quantity: Decimal) -> None:
    assert exact_amount(price, quantity) >= 0


@given(price=cell_prices())
def test_zero_usage_costs_nothing_under_every_model(price: CellPrice) -> None:
    assert exact_amount(price, D(0)) == 0


MATRIX_KEYS = [(m, t) for m in ("a", "b", "c") for t in ("input", "output")]
group_values = st.sampled_from([*MATRIX_KEYS, ("a", None), (None, "input")])


@st.composite
def matrices(draw: st.DrawFn, *, default: bool | None = None) -> RateSpec:
    cells = draw(st.dictionaries(st.sampled_from(MATRIX_KEYS), cell_prices(), max_size=6))
    with_default = draw(st.booleans()) if default is None else default
    return RateSpec(
        2,
        "LLM tokens",
        ("model", "type"),
        cells,
        default_cell=draw(cell_prices()) if with_default else None,
        minimum_charge=draw(st.none() | fees),
        flat_fee=draw(st.none() | fees),
    )


def usage_groups(values: st.SearchStrategy[tuple[str | None, ...]]) -> st.SearchStrategy:
    # One group per combination, as project_usage hands them to rate_usage.
    return st.dictionaries(values, quantities, max_size=8).map(
        lambda found: [UsageGroup(k, q) for k, q in sorted(found.items(), key=str)]
    )


@given(spec=matrices(), usage=usage_groups(group_values), currency=CURRENCY)
def test_matrix_lines_and_unpriced_usage_add_up_to_the_quantity_billed(
    spec: RateSpec, usage: list[UsageGroup], currency: str
) -> None:
    rated = rate_usage(spec, usage, currency)

    lines = sum((ln.quantity for ln in rated.lines if ln.kind is LineKind.USAGE), D(0))
    unpriced = sum((u.quantity for u in rated.unpriced), D(0))
    assert lines + unpriced == sum((g.quantity for g in usage), D(0))


@given(
    spec=matrices(default=True),
    usage=usage_groups(st.sampled_from(MATRIX_KEYS)),
    currency=CURRENCY,
)
def test_with_a_default_price_every_combination_is_priced(
    spec: RateSpec, usage: list[UsageGroup], currency: str
) -> None:
    rated = rate_usage(spec, usage, currency)

    assert rated.unpriced == []
    assert len([ln for ln in rated.lines if ln.kind is LineKind.USAGE]) == len(usage)


coverages = st.builds(
    lambda n, d: D(min(n, d)) / D(d),
    st.integers(min_value=0, max_value=31 * 24),
    st.integers(min_value=1, max_value=31 * 24),
)


@given(spec=matrices(), usage=usage_groups(group_values), currency=CURRENCY, cover=coverages)
def test_every_line_is_within_half_a_minor_unit_of_its_exact_amount(
    spec: RateSpec, usage: list[UsageGroup], currency: str, cover: Decimal
) -> None:
    half_unit = D(1).scaleb(-minor_unit_exponent(currency)) / 2

    for line in rate_usage(spec, usage, currency, cover).lines:
        assert line.amount >= 0
        assert line.amount == round_money(line.exact_amount, currency)
        assert abs(line.amount - line.exact_amount) <= half_unit


@given(spec=matrices(), usage=usage_groups(group_values), currency=CURRENCY, cover=coverages)
def test_usage_and_true_up_together_reach_the_prorated_minimum(
    spec: RateSpec, usage: list[UsageGroup], currency: str, cover: Decimal
) -> None:
    rated = rate_usage(spec, usage, currency, cover)

    charged = invoice_total(ln for ln in rated.lines if ln.kind is not LineKind.BASE_FEE)
    minimum = round_money((spec.minimum_charge or D(0)) * cover, currency)
    assert charged >= minimum
    if any(ln.kind is LineKind.MINIMUM for ln in rated.lines):
        assert charged == minimum
