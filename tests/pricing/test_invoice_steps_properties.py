"""Properties of the invoice steps over random invoices: never negative, always
adding up to the minor unit, credits that balance, the same answer twice.

Random lines, coupons, minimums, commitments, tax rates, tax statuses and
credit grants in currencies of 0, 2 and 3 decimals. No database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.invoice_steps import (
    Charge,
    CreditGrant,
    Discount,
    DiscountKind,
    InvoiceSteps,
    LineSource,
    TaxRate,
    TaxStatus,
    invoice_steps,
)
from pricing.money import minor_unit_exponent

PROPERTY = settings(max_examples=200, deadline=None)
CURRENCIES = ("USD", "JPY", "KWD", "EUR")
ISSUED = datetime(2025, 5, 1, tzinfo=UTC)
IDS = (1, 2, 3)


def money(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-minor_unit_exponent(currency))


def units(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(minor_unit_exponent(currency)))


def _amounts(currency: str) -> st.SearchStrategy[Decimal]:
    # Mostly small, so discounts, minimums and credits often meet the charges.
    return st.one_of(st.integers(0, 5_000), st.integers(0, 10**9)).map(lambda u: money(u, currency))


AMOUNTS = {currency: _amounts(currency) for currency in CURRENCIES}
SUBSETS = st.frozensets(st.sampled_from(IDS), max_size=2)
PERCENTAGES = st.integers(1, 10_000).map(lambda n: Decimal(n).scaleb(-2))  # 0.01% .. 100%
TAX_PERCENTAGES = st.integers(0, 30_000).map(lambda n: Decimal(n).scaleb(-3))
DAYS = st.integers(-60, 5).map(lambda d: ISSUED + timedelta(days=d))
EXPIRIES = st.none() | st.integers(-5, 60).map(lambda d: ISSUED + timedelta(days=d))


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(CURRENCIES))
    amounts = AMOUNTS[currency]
    charges = [
        Charge(
            f"c{i}",
            f"Charge {i}",
            draw(amounts),
            rate_id=draw(st.sampled_from(IDS)),
            meter_id=draw(st.sampled_from(IDS)),
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    fees = [Charge(f"f{i}", f"Fee {i}", draw(amounts)) for i in range(draw(st.integers(0, 2)))]
    discounts = []
    for i in range(draw(st.integers(0, 3))):
        rate_ids, meter_ids = draw(SUBSETS), draw(SUBSETS)
        if draw(st.booleans()):
            kind, value, in_currency = DiscountKind.PERCENTAGE, draw(PERCENTAGES), None
        else:
            kind, value, in_currency = DiscountKind.FIXED, draw(amounts), currency
        discounts.append(Discount(f"d{i}", "", kind, value, in_currency, rate_ids, meter_ids))
    inclusive = draw(st.booleans())
    rates = [
        TaxRate(f"t{i}", draw(TAX_PERCENTAGES), "XX", inclusive)
        for i in range(draw(st.integers(0, 2)))
    ]
    grants = [
        CreditGrant(
            f"g{i}",
            draw(amounts),
            currency,
            draw(DAYS),
            draw(EXPIRIES),
            draw(st.integers(0, 100)),
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    return {
        "currency": currency,
        "charges": charges,
        "one_time_fees": fees,
        "discounts": discounts,
        "minimum": draw(st.none() | amounts),
        "commitment_balance": draw(st.none() | amounts),
        "tax_rates": rates,
        "tax_status": draw(st.sampled_from(TaxStatus)),
        "grants": grants,
        "issued_at": ISSUED,
    }


def decimals(value: object) -> Iterator[Decimal]:
    """Every amount the steps computed (not the inputs they carry along)."""
    if isinstance(value, Decimal):
        yield value
    elif isinstance(value, Charge | Discount | TaxRate):
        return
    elif isinstance(value, tuple):
        for item in value:
            yield from decimals(item)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from decimals(getattr(value, f.name))


@PROPERTY
@given(invoices())
def test_every_amount_is_whole_minor_units_and_none_is_negative(invoice: dict[str, Any]) -> None:
    result = invoice_steps(**invoice)

    exponent = -minor_unit_exponent(invoice["currency"])
    for amount in decimals(result):
        assert amount >= 0
        assert amount.as_tuple().exponent == exponent
    assert result.amount_due >= 0


@PROPERTY
@given(invoices())
def test_lines_plus_adjustments_plus_tax_minus_credits_is_the_amount_due(
    invoice: dict[str, Any],
) -> None:
    r = invoice_steps(**invoice)

    assert (
        r.charges_total
        - r.discount_total
        + r.minimum_true_up
        - r.commitment_drawn
        + r.tax_added
        - r.credits_total
        == r.amount_due
    )
    # Each section adds up to its total.
    assert (
        sum(ln.charge.amount for ln in r.lines if ln.source is not LineSource.MINIMUM_TRUE_UP)
        == r.charges_total
    )
    assert (
        sum(ln.discount for ln in r.lines)
        == r.discount_total
        == sum(d.applied for d in r.discounts)
    )
    assert sum(ln.commitment for ln in r.lines) == r.commitment_drawn
    assert sum(ln.taxable for ln in r.lines) == r.subtotal
    assert sum(ln.tax for ln in r.lines) == r.tax_total == sum(row.tax for row in r.tax_summary)
    assert r.tax_included + r.tax_added == r.tax_total
    assert sum(c.drawn for c in r.credits) == r.credits_total <= r.total
    for line in r.lines:
        assert line.charge.amount - line.discount - line.commitment == line.taxable
        assert sum(part.amount for part in line.discounts) == line.discount
        assert line.net + line.tax == line.total
        assert sum(t.tax for t in line.taxes) == line.tax
    if invoice["tax_status"] is not TaxStatus.TAXABLE:
        assert r.tax_total == 0


@PROPERTY
@given(invoices())
def test_credits_never_exceed_a_grant_and_every_grant_balances(invoice: dict[str, Any]) -> None:
    r = invoice_steps(**invoice)

    grants = {g.id: g for g in invoice["grants"]}
    assert len({c.grant_id for c in r.credits}) == len(r.credits)
    for drawn in r.credits:
        grant = grants[drawn.grant_id]
        assert grant.usable_at(ISSUED)
        assert drawn.balance_before == grant.balance
        assert 0 < drawn.drawn <= drawn.balance_before
        assert drawn.balance_after + drawn.drawn == drawn.balance_before
        assert drawn.balance_after >= 0
    # Credits stop only when the invoice is paid or the usable grants are spent.
    usable = sum(g.balance for g in invoice["grants"] if g.usable_at(ISSUED))
    assert r.credits_total == min(r.total, usable)


@PROPERTY
@given(invoices())
def test_the_commitment_and_minimum_never_go_below_zero_or_above_their_amounts(
    invoice: dict[str, Any],
) -> None:
    r = invoice_steps(**invoice)

    if r.commitment is not None:
        c = r.commitment
        assert c.balance_before == invoice["commitment_balance"]
        assert c.drawn == min(c.balance_before, c.charges)
        assert c.balance_after + c.drawn == c.balance_before
        assert c.overage + c.drawn == c.charges
    if r.minimum is not None:
        assert r.minimum.true_up == max(0, r.minimum.minimum - r.minimum.spend)


@PROPERTY
@given(invoices())
def test_running_the_steps_twice_gives_the_same_result(invoice: dict[str, Any]) -> None:
    first: InvoiceSteps = invoice_steps(**invoice)

    assert invoice_steps(**invoice) == first


@PROPERTY
@given(
    st.sampled_from(CURRENCIES).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(st.integers(0, 10**6), min_size=1, max_size=8),
            st.integers(0, 10**7),
        )
    )
)
def test_a_fixed_discount_splits_into_parts_within_one_unit_of_their_exact_share(
    case: tuple[str, list[int], int],
) -> None:
    currency, line_units, value = case
    charges = [Charge(f"c{i}", "", money(u, currency)) for i, u in enumerate(line_units)]
    discount = Discount("d", "", DiscountKind.FIXED, money(value, currency), currency)

    r = invoice_steps(currency=currency, charges=charges, discounts=[discount], issued_at=ISSUED)

    applied = min(value, sum(line_units))
    parts = [units(line.discount, currency) for line in r.lines]
    assert sum(parts) == applied
    for part, amount in zip(parts, line_units, strict=True):
        assert 0 <= part <= amount
        if applied:
            assert abs(part - Fraction(applied * amount, sum(line_units))) < 1
