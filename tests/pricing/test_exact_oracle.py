"""The pricing core is exact at every size the schema and ingestion allow.

An independent oracle prices the same usage with `fractions.Fraction` (exact
rationals, no context, no precision) and rounds half up by integer maths; the
core must agree with it to the last digit: every exact amount equal, every
rounded amount equal. The ranges are the real limits: prices below 10**15 with
up to 15 places (pricing/schema.py), event values below 10**20 with 9 places
(meters/validation.py), tier bounds, free units and package sizes below 10**21
with 9 places, and period quantities that are sums of many such events.
No database.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meters.validation import MAX_VALUE
from pricing.money import CURRENCIES, PRECISION, minor_unit_exponent, round_money
from pricing.price_models import (
    CellPrice,
    PackageRounding,
    PriceModel,
    Tier,
    billable,
    exact_amount,
    package_blocks,
)
from pricing.rating import (
    Aggregation,
    LineKind,
    PartialUsage,
    RateSpec,
    project_usage,
    rate_usage,
)
from pricing.schema import MAX_DIGITS, MAX_PLACES, QUANTITY_PLACES

D = Decimal
PRICE_WHOLE_DIGITS = MAX_DIGITS - MAX_PLACES  # 15: a price is below 10**15
QUANTITY_WHOLE_DIGITS = MAX_DIGITS - QUANTITY_PLACES  # 21: tier bounds, free units, sizes
# A period's quantity: up to ten million events of the largest value ingestion takes.
MANY_EVENTS = 10**7


# --- the oracle -----------------------------------------------------------------------------


def oracle_round(amount: Fraction, currency: str) -> Fraction:
    """Half away from zero to the currency's minor unit, by integer maths."""
    unit = Fraction(1, 10 ** minor_unit_exponent(currency))
    steps = abs(amount) / unit
    whole = math.floor(steps + Fraction(1, 2))
    return (whole if amount >= 0 else -whole) * unit


def oracle_amount(price: CellPrice, quantity: Fraction) -> Fraction:
    """What `price` charges for `quantity`, from docs/PRICING.md's rules, in Fractions."""
    units = max(Fraction(0), quantity - Fraction(price.free_units))
    if units == 0:
        return Fraction(0)
    if price.model is PriceModel.PER_UNIT:
        return units * Fraction(price.unit_price)
    if price.model is PriceModel.PACKAGE:
        blocks = units / Fraction(price.package_size)
        up = price.package_rounding is PackageRounding.UP
        return (math.ceil(blocks) if up else math.floor(blocks)) * Fraction(price.package_price)
    floor, total = Fraction(0), Fraction(0)
    for tier in price.tiers:
        top = None if tier.up_to is None else Fraction(tier.up_to)
        if price.model is PriceModel.VOLUME:
            if top is None or units <= top:
                return units * Fraction(tier.unit_price) + Fraction(tier.flat_fee)
            continue
        if units <= floor:
            break
        span = (units if top is None else min(units, top)) - floor
        total += span * Fraction(tier.unit_price) + Fraction(tier.flat_fee)
        if top is None:
            break
        floor = top
    return total


# --- the full allowed ranges ----------------------------------------------------------------


def scaled(whole: int, places: int) -> Decimal:
    """whole * 10**-places, built from text so no context rounds it."""
    return D(f"{whole}E-{places}")


@st.composite
def prices(draw: st.DrawFn) -> Decimal:
    """Any price the schema accepts: below 10**15, 0 to 15 decimal places."""
    places = draw(st.integers(0, MAX_PLACES))
    return scaled(draw(st.integers(0, 10 ** (PRICE_WHOLE_DIGITS + places) - 1)), places)


@st.composite
def schema_quantities(draw: st.DrawFn, minimum: int = 0) -> Decimal:
    """A tier bound, free units or package size: below 10**21, 9 places."""
    places = draw(st.integers(0, QUANTITY_PLACES))
    top = 10 ** (QUANTITY_WHOLE_DIGITS + places) - 1
    return scaled(draw(st.integers(minimum, top)), places)


event_nanos = st.integers(0, int(MAX_VALUE) * 10**QUANTITY_PLACES - 1)
event_values = event_nanos.map(lambda nanos: scaled(nanos, QUANTITY_PLACES))
# The sum of up to MANY_EVENTS events: below MANY_EVENTS * 10**20, 9 places.
period_quantities = st.one_of(
    event_values,
    st.integers(0, MANY_EVENTS * int(MAX_VALUE) * 10**QUANTITY_PLACES).map(
        lambda nanos: scaled(nanos, QUANTITY_PLACES)
    ),
    st.integers(0, 10**6).map(D),
)


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[Tier, ...]:
    bounds = sorted(set(draw(st.lists(schema_quantities(minimum=1), max_size=4))))
    tops: list[Decimal | None] = [*bounds, None]
    return tuple(
        Tier(top, draw(prices()), draw(st.one_of(st.just(D(0)), prices()))) for top in tops
    )


@st.composite
def cell_prices(draw: st.DrawFn) -> CellPrice:
    free = draw(st.one_of(st.just(D(0)), schema_quantities()))
    model = draw(st.sampled_from(PriceModel))
    if model is PriceModel.PER_UNIT:
        return CellPrice(unit_price=draw(prices()), free_units=free)
    if model is PriceModel.PACKAGE:
        return CellPrice(
            model=model,
            package_size=draw(schema_quantities(minimum=1)),
            package_price=draw(prices()),
            package_rounding=draw(st.sampled_from(PackageRounding)),
            free_units=free,
        )
    return CellPrice(model=model, tiers=draw(tier_lists()), free_units=free)


# A share of a period measured in microseconds: up to a leap year's worth.
YEAR_MICROSECONDS = 366 * 24 * 3600 * 10**6
shares = st.one_of(
    st.just(Fraction(1)),
    st.integers(1, YEAR_MICROSECONDS).flatmap(
        lambda whole: st.integers(0, whole).map(lambda part: Fraction(part, whole))
    ),
)
currencies = st.sampled_from(CURRENCIES)


# --- the core against the oracle ------------------------------------------------------------


@settings(max_examples=400)
@given(price=cell_prices(), quantity=period_quantities)
def test_every_price_model_is_exact_over_the_full_allowed_ranges(
    price: CellPrice, quantity: Decimal
) -> None:
    assert Fraction(exact_amount(price, quantity)) == oracle_amount(price, Fraction(quantity))


@settings(max_examples=300)
@given(
    price=cell_prices(),
    quantity=period_quantities,
    currency=currencies,
    minimum=st.one_of(st.none(), prices()),
    base_fee=st.one_of(st.none(), prices()),
    share=shares,
)
def test_every_line_rounds_as_the_oracle_rounds_the_exact_amount(
    price: CellPrice,
    quantity: Decimal,
    currency: str,
    minimum: Decimal | None,
    base_fee: Decimal | None,
    share: Fraction,
) -> None:
    spec = RateSpec(1, "Usage", (), {(): price}, minimum_charge=minimum, flat_fee=base_fee)
    [group] = project_usage(Aggregation.SUM, [PartialUsage({}, quantity)], ())

    lines = rate_usage(spec, [group], currency, share).lines

    usage_exact = oracle_amount(price, Fraction(quantity))
    usage_amount = oracle_round(usage_exact, currency)
    expected: list[tuple[LineKind, Fraction, Fraction]] = [
        (LineKind.USAGE, usage_exact, usage_amount)
    ]
    if base_fee:
        fee = Fraction(base_fee) * share
        expected.append((LineKind.BASE_FEE, fee, oracle_round(fee, currency)))
    if minimum:
        prorated = Fraction(minimum) * share
        if usage_amount < oracle_round(prorated, currency):
            true_up = prorated - usage_amount
            expected.append((LineKind.MINIMUM, true_up, oracle_round(true_up, currency)))
    assert [(ln.kind, Fraction(ln.amount)) for ln in lines] == [(k, a) for k, _, a in expected]
    shown = Fraction(1, 10**30)  # money.SHOWN_PLACES, for a share with no finite decimal
    for line, (_, exact, _) in zip(lines, expected, strict=True):
        if line.kind is LineKind.USAGE or _terminates(exact):
            assert Fraction(line.exact_amount) == exact
        else:
            assert abs(Fraction(line.exact_amount) - exact) <= shown / 2


def _terminates(value: Fraction) -> bool:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


@settings(max_examples=200)
@given(
    events=st.lists(event_nanos, min_size=1, max_size=60),
    copies=st.integers(1, MANY_EVENTS),
    price=prices(),
    currency=currencies,
)
def test_sums_of_many_fractional_events_are_exact(
    events: list[int], copies: int, price: Decimal, currency: str
) -> None:
    # Each event value as its own dimension combination, `copies` times over:
    # the period sum of up to 600 million events, merged by project_usage.
    parts = [
        PartialUsage({"n": str(i)}, scaled(nanos * copies, QUANTITY_PLACES))
        for i, nanos in enumerate(events)
    ]

    [group] = project_usage(Aggregation.SUM, parts, ())
    [line] = rate_usage(RateSpec(1, "Usage", (), {(): CellPrice(price)}), [group], currency).lines

    true_sum = Fraction(sum(events) * copies, 10**QUANTITY_PLACES)
    assert Fraction(group.quantity) == true_sum
    assert Fraction(line.exact_amount) == true_sum * Fraction(price)
    assert Fraction(line.amount) == oracle_round(true_sum * Fraction(price), currency)


@given(amount=st.fractions(), currency=currencies)
def test_round_money_of_a_fraction_is_the_oracles_half_up(amount: Fraction, currency: str) -> None:
    assert Fraction(round_money(amount, currency)) == oracle_round(amount, currency)


@given(amount=prices(), currency=currencies)
def test_round_money_of_a_decimal_is_the_oracles_half_up(amount: Decimal, currency: str) -> None:
    assert Fraction(round_money(amount, currency)) == oracle_round(Fraction(amount), currency)


# --- regressions: what Python's default 28-digit context got wrong --------------------------


def test_a_line_is_not_one_cent_high_where_28_digits_rounded_the_product_up() -> None:
    # 16.9 trillion tokens (a period's sum, 9 places) at $0.000001234567891:
    # exactly $20,823,440.544999999999999999999999, so $20,823,440.54. In 28
    # digits the product became …440.5450000…, and the line $20,823,440.55.
    quantity, price = D("16866986981277.322074789"), D("0.000001234567891")
    with decimal.localcontext(decimal.Context(prec=28)):
        assert round_money(quantity * price, "USD") == D("20823440.55")  # the old answer

    [line] = rate_usage(
        RateSpec(1, "LLM tokens", (), {(): CellPrice(price)}),
        project_usage(Aggregation.SUM, [PartialUsage({}, quantity)], ()),
        "USD",
    ).lines

    assert line.exact_amount == D("20823440.544999999999999999999999")
    assert line.amount == D("20823440.54")


def test_summing_two_large_fractional_groups_keeps_every_billionth() -> None:
    # 29 digits: 28-digit addition dropped the .000000002.
    half = D("10000000000000000000.000000001")

    [group] = project_usage(
        Aggregation.SUM, [PartialUsage({"r": "eu"}, half), PartialUsage({"r": "us"}, half)], ()
    )

    assert group.quantity == D("20000000000000000000.000000002")


def test_a_partial_package_is_counted_however_large_the_quantity() -> None:
    # 3 * 10**19 + 1e-9 units in blocks of 3: the quotient, rounded to 28
    # digits, was a whole number and the partial block was lost.
    price = CellPrice(model=PriceModel.PACKAGE, package_size=D(3), package_price=D(1))
    quantity = D("30000000000000000000.000000001")

    assert package_blocks(price, quantity) == D(10**19 + 1)
    assert exact_amount(price, quantity) == D(10**19 + 1)


def test_a_prorated_fee_rounds_from_its_exact_share() -> None:
    # 1/3 of a $0.015 fee is exactly $0.005, so $0.01 half up; a 28-digit
    # share (0.3333…3) made it 0.004999… and $0.00.
    spec = RateSpec(1, "Usage", (), {(): CellPrice(D(0))}, flat_fee=D("0.015"))

    fee = rate_usage(spec, [], "USD", Fraction(1, 3)).lines[-1]

    assert fee.exact_amount == D("0.005")
    assert fee.amount == D("0.01")
    assert rate_usage(spec, [], "USD", D(1) / D(3)).lines[-1].amount == D("0.00")


def test_a_number_beyond_the_exact_context_raises_instead_of_rounding() -> None:
    # Far beyond anything the schema and ingestion allow (docs/PRICING.md):
    # the context has PRECISION digits, and losing one is a trap, not a rounding.
    enormous = D(10**PRECISION + 1)

    with pytest.raises(decimal.Inexact):
        exact_amount(CellPrice(D("0.1")), enormous)
    with pytest.raises(decimal.Inexact):
        billable(CellPrice(D(1), free_units=D("0.5")), enormous)
