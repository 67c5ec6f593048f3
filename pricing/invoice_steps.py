"""Invoice steps: from an invoice's priced lines to the amount due.

The order of operations, written down once (docs/PRICING.md, "From charges to
amount due"):

    usage and fee lines → discounts → invoice minimum and prepaid commitment
    → tax → credits → amount due

Pure functions over plain data, no ORM and no I/O, like `rating.py`: the
callers assemble the inputs (lines, coupons, tax rates, credit grants) and
store the outputs. Each step is its own section of the result, so the invoice
and its PDF can show it.

All arithmetic is in whole minor units (cents, yen, fils). Where a step
multiplies (a percentage discount, a tax), the exact value is a Fraction,
rounded once per line by `money.round_money` (half up), the one rounding rule;
where a step shares an amount out (a fixed discount, the commitment), the
shares are whole minor units found by the largest-remainder method, so they
add up exactly to what is shared.

Invariants (tests/pricing/test_invoice_steps_properties.py):
- every amount is a Decimal at the currency's minor unit, and none is negative;
- charges − discounts + minimum true-up − commitment + tax added − credits
  = amount due, exactly;
- a grant's balance after = before − drawn, never below zero;
- the same input gives the same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from pricing.money import exactly, minor_unit_exponent, round_money
from pricing.rating import LineKind, PricedLine

MINIMUM_TRUE_UP_KEY = "invoice-minimum-true-up"
# Stripe's default for a credit grant's priority (0 is drawn first, 100 last).
DEFAULT_PRIORITY = 50


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED = "fixed"

    @property
    def label(self) -> str:
        return "Percentage" if self is DiscountKind.PERCENTAGE else "Fixed amount"


class DiscountDuration(StrEnum):
    """How many invoices a coupon given to a customer discounts."""

    ONCE = "once"  # the first invoice it applies to
    REPEATING = "repeating"  # the first N
    FOREVER = "forever"  # every one, while it stays applied

    @property
    def label(self) -> str:
        return {"once": "Once", "repeating": "For N invoices", "forever": "Forever"}[self.value]


@dataclass(frozen=True)
class CouponTerms:
    """A coupon's terms, as `discount_applies` and the pages read them."""

    kind: DiscountKind
    value: Decimal
    currency: str | None
    duration: DiscountDuration
    periods: int | None = None  # for REPEATING

    def applies(self, used: int) -> bool:
        """Whether the coupon discounts one more invoice, after `used`."""
        return discount_applies(self.duration, self.periods, used)


def discount_applies(duration: DiscountDuration, periods: int | None, used: int) -> bool:
    """Whether a coupon with this duration discounts another invoice once it
    has discounted `used` issued invoices (void ones do not count)."""
    if duration is DiscountDuration.FOREVER:
        return True
    limit = 1 if duration is DiscountDuration.ONCE else periods or 0
    return used < limit


class TaxStatus(StrEnum):
    """The one definition: Customer.tax_status is built from it."""

    TAXABLE = "taxable"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"  # no tax charged: the customer accounts for it

    @property
    def label(self) -> str:
        return TAX_STATUS_LABELS[self]


TAX_STATUS_LABELS = {
    TaxStatus.TAXABLE: "Taxable",
    TaxStatus.EXEMPT: "Exempt",
    TaxStatus.REVERSE_CHARGE: "Reverse charge",
}


TAX_NOTES: dict[TaxStatus, str] = {
    TaxStatus.TAXABLE: "",
    TaxStatus.EXEMPT: "Tax exempt: no tax charged.",
    TaxStatus.REVERSE_CHARGE: "Reverse charge: no tax charged; the customer accounts for the tax.",
}


class LineSource(StrEnum):
    CHARGE = "charge"  # a priced line of the period: usage, base fee, per-rate minimum
    ONE_TIME_FEE = "one_time_fee"  # a setup fee, given by the caller
    MINIMUM_TRUE_UP = "minimum_true_up"  # added here, up to the invoice minimum


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """A line as the steps see it: a rounded amount (≥ 0) under a stable key."""

    key: str
    description: str
    amount: Decimal
    kind: LineKind = LineKind.USAGE
    rate_id: int | None = None
    meter_id: int | None = None

    @classmethod
    def from_priced_line(cls, key: str, line: PricedLine, meter_id: int | None = None) -> Charge:
        return cls(key, line.description, line.amount, line.kind, line.rate_id, meter_id)


@dataclass(frozen=True)
class Discount:
    """A coupon's effect on one invoice. `value` is a percentage (10 = 10%) or
    an amount in `currency`. With no rate ids and no meter ids it covers the
    whole invoice; otherwise the lines of those rates or meters."""

    id: str
    description: str
    kind: DiscountKind
    value: Decimal
    currency: str | None = None  # required for a fixed amount
    rate_ids: frozenset[int] = frozenset()
    meter_ids: frozenset[int] = frozenset()

    def covers(self, charge: Charge) -> bool:
        if not self.rate_ids and not self.meter_ids:
            return True
        return charge.rate_id in self.rate_ids or charge.meter_id in self.meter_ids


@dataclass(frozen=True)
class TaxRate:
    name: str
    percentage: Decimal  # 20 = 20%
    jurisdiction: str
    inclusive: bool = False  # True: line amounts already include this tax


@dataclass(frozen=True)
class CreditGrant:
    """A prepaid or promotional grant with what remains of it. Usable from
    `effective_at` until `expires_at`, half-open: expired AT its expiry."""

    id: str
    balance: Decimal
    currency: str
    effective_at: datetime
    expires_at: datetime | None = None
    priority: int = DEFAULT_PRIORITY  # lower is drawn first (Stripe's convention)

    def usable_at(self, instant: datetime) -> bool:
        return self.effective_at <= instant and (
            self.expires_at is None or instant < self.expires_at
        )


# --- outputs, one section per step -------------------------------------------------------------


@dataclass(frozen=True)
class DiscountPart:
    discount_id: str
    amount: Decimal


@dataclass(frozen=True)
class LineTax:
    rate: TaxRate
    base: Decimal  # the line's amount before tax
    tax: Decimal


@dataclass(frozen=True)
class StepLine:
    source: LineSource
    charge: Charge
    discounts: tuple[DiscountPart, ...]
    discount: Decimal
    commitment: Decimal  # drawn from the prepaid commitment
    taxable: Decimal  # amount − discount − commitment; includes the tax when inclusive
    taxes: tuple[LineTax, ...]
    tax: Decimal
    net: Decimal  # taxable, without tax
    total: Decimal  # net + tax


@dataclass(frozen=True)
class DiscountApplied:
    discount: Discount
    applied: Decimal
    unused: Decimal  # of a fixed amount larger than what it covers; not carried forward


@dataclass(frozen=True)
class MinimumTrueUp:
    minimum: Decimal
    spend: Decimal  # the period's charges after discounts (not one-time fees)
    true_up: Decimal


@dataclass(frozen=True)
class CommitmentDrawdown:
    balance_before: Decimal
    charges: Decimal  # what the commitment may pay: charges and true-up, after discounts
    drawn: Decimal
    balance_after: Decimal
    overage: Decimal  # charges − drawn, billed as priced


@dataclass(frozen=True)
class TaxSummaryRow:
    rate: TaxRate
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class CreditDrawn:
    grant_id: str
    balance_before: Decimal
    drawn: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class InvoiceSteps:
    currency: str
    lines: tuple[StepLine, ...]
    discounts: tuple[DiscountApplied, ...]
    minimum: MinimumTrueUp | None
    commitment: CommitmentDrawdown | None
    tax_status: TaxStatus
    tax_note: str
    tax_summary: tuple[TaxSummaryRow, ...]
    credits: tuple[CreditDrawn, ...]
    charges_total: Decimal  # the lines as priced, one-time fees included
    discount_total: Decimal
    minimum_true_up: Decimal
    commitment_drawn: Decimal
    subtotal: Decimal  # charges − discounts + true-up − commitment
    tax_included: Decimal  # inside tax-inclusive amounts, already in the subtotal
    tax_added: Decimal  # on top of tax-exclusive amounts
    tax_total: Decimal  # included + added: the tax summary's total
    total: Decimal  # subtotal + tax added
    credits_total: Decimal
    amount_due: Decimal  # total − credits, never below zero


# --- the steps ---------------------------------------------------------------------------------


@dataclass
class _Line:
    """A line while the steps run, in minor units."""

    source: LineSource
    charge: Charge
    amount: int
    parts: list[DiscountPart]
    discount: int = 0
    commitment: int = 0

    @property
    def remaining(self) -> int:
        return self.amount - self.discount - self.commitment


@exactly
def invoice_steps(
    *,
    currency: str,
    charges: Sequence[Charge],
    issued_at: datetime,
    one_time_fees: Sequence[Charge] = (),
    discounts: Sequence[Discount] = (),
    minimum: Decimal | None = None,
    commitment_balance: Decimal | None = None,
    tax_rates: Sequence[TaxRate] = (),
    line_tax_rates: Mapping[str, Sequence[TaxRate]] | None = None,
    tax_status: TaxStatus = TaxStatus.TAXABLE,
    grants: Sequence[CreditGrant] = (),
) -> InvoiceSteps:
    """Run every step on one invoice. `tax_rates` apply to each line unless
    `line_tax_rates` names other rates (or none) for its key; `issued_at`
    decides which credit grants are usable. Raises ValueError on an amount
    that is negative or finer than the currency's minor unit, a discount or
    grant in another currency, or a duplicate line key."""
    exponent = minor_unit_exponent(currency)
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be an aware datetime")
    lines = [_start(LineSource.CHARGE, c, currency) for c in charges]
    lines += [_start(LineSource.ONE_TIME_FEE, c, currency) for c in one_time_fees]
    keys = [line.charge.key for line in lines]
    if len(set(keys)) != len(keys) or MINIMUM_TRUE_UP_KEY in keys:
        raise ValueError("line keys must be unique (and not the minimum true-up's)")

    applied = _apply_discounts(lines, discounts, currency)
    minimum_step = _true_up(lines, minimum, currency)
    commitment_step = _draw_commitment(lines, commitment_balance, currency)
    rates = line_tax_rates or {}
    step_lines = tuple(
        _taxed(line, tuple(rates.get(line.charge.key, tax_rates)), tax_status, currency)
        for line in lines
    )
    summary = _tax_summary(step_lines)

    def units(values: Sequence[Decimal]) -> int:
        return sum(_units(v, exponent) for v in values)

    tax_included = units([ln.tax for ln in step_lines if _is_inclusive(ln)])
    tax_added = units([ln.tax for ln in step_lines if not _is_inclusive(ln)])
    subtotal = sum(line.remaining for line in lines)
    total = subtotal + tax_added
    credits = _draw_credits(grants, total, (issued_at,), currency)
    credits_total = units([c.drawn for c in credits])

    def money(amount: int) -> Decimal:
        return _money(amount, exponent)

    return InvoiceSteps(
        currency=currency,
        lines=step_lines,
        discounts=applied,
        minimum=minimum_step,
        commitment=commitment_step,
        tax_status=tax_status,
        tax_note=TAX_NOTES[tax_status],
        tax_summary=summary,
        credits=credits,
        charges_total=money(
            sum(ln.amount for ln in lines if ln.source != LineSource.MINIMUM_TRUE_UP)
        ),
        discount_total=money(sum(line.discount for line in lines)),
        minimum_true_up=minimum_step.true_up if minimum_step else money(0),
        commitment_drawn=commitment_step.drawn if commitment_step else money(0),
        subtotal=money(subtotal),
        tax_included=money(tax_included),
        tax_added=money(tax_added),
        tax_total=money(tax_included + tax_added),
        total=money(total),
        credits_total=money(credits_total),
        amount_due=money(total - credits_total),
    )


def _start(source: LineSource, charge: Charge, currency: str) -> _Line:
    amount = _checked_units(charge.amount, currency, f"line {charge.key!r}")
    return _Line(source, charge, amount, [])


# Step 2: discounts. Percentages first, then fixed amounts, each group in the
# order given; each discount sees what the ones before it left.
def _apply_discounts(
    lines: list[_Line], discounts: Sequence[Discount], currency: str
) -> tuple[DiscountApplied, ...]:
    exponent = minor_unit_exponent(currency)
    if len({d.id for d in discounts}) != len(discounts):
        raise ValueError("discount ids must be unique")
    order = sorted(
        range(len(discounts)), key=lambda i: (discounts[i].kind is DiscountKind.FIXED, i)
    )
    results: dict[int, DiscountApplied] = {}
    for position in order:
        discount = discounts[position]
        covered = [line for line in lines if discount.covers(line.charge)]
        if discount.kind is DiscountKind.PERCENTAGE:
            _check_discount_currency(discount, currency, required=False)
            if not Decimal(0) < discount.value <= Decimal(100):
                raise ValueError(f"discount {discount.id!r}: a percentage is above 0, at most 100")
            share = Fraction(discount.value) / 100
            # Per line, from the exact value, by the one rounding rule.
            parts = [
                _units(
                    round_money(Fraction(line.remaining, 10**exponent) * share, currency), exponent
                )
                for line in covered
            ]
            value = None
        else:
            _check_discount_currency(discount, currency, required=True)
            value = _checked_units(discount.value, currency, f"discount {discount.id!r}")
            available = sum(line.remaining for line in covered)
            parts = _allocate(min(value, available), [line.remaining for line in covered])
        for line, part in zip(covered, parts, strict=True):
            if part:
                line.discount += part
                line.parts.append(DiscountPart(discount.id, _money(part, exponent)))
        applied = sum(parts)
        unused = 0 if value is None else value - applied
        results[position] = DiscountApplied(
            discount, _money(applied, exponent), _money(unused, exponent)
        )
    return tuple(results[i] for i in range(len(discounts)))


def _check_discount_currency(discount: Discount, currency: str, *, required: bool) -> None:
    if discount.currency is None and not required:
        return
    if discount.currency is None or discount.currency.upper() != currency.upper():
        raise ValueError(
            f"discount {discount.id!r} is in {discount.currency or 'no currency'}, "
            f"the invoice in {currency}"
        )


# Step 3a: the invoice minimum (fees and usage together, after discounts; not
# one-time fees). A shortfall becomes a true-up line.
def _true_up(lines: list[_Line], minimum: Decimal | None, currency: str) -> MinimumTrueUp | None:
    if minimum is None:
        return None
    exponent = minor_unit_exponent(currency)
    floor = _checked_units(minimum, currency, "the invoice minimum")
    spend = sum(line.remaining for line in lines if line.source is LineSource.CHARGE)
    true_up = max(0, floor - spend)
    if true_up:
        charge = Charge(
            MINIMUM_TRUE_UP_KEY,
            "Invoice minimum true-up",
            _money(true_up, exponent),
            LineKind.MINIMUM,
        )
        lines.append(_Line(LineSource.MINIMUM_TRUE_UP, charge, true_up, []))
    return MinimumTrueUp(
        _money(floor, exponent), _money(spend, exponent), _money(true_up, exponent)
    )


# Step 3b: the prepaid commitment pays the period's charges (and any true-up)
# after discounts, before tax; what it cannot pay is overage, billed as priced.
def _draw_commitment(
    lines: list[_Line], balance: Decimal | None, currency: str
) -> CommitmentDrawdown | None:
    if balance is None:
        return None
    exponent = minor_unit_exponent(currency)
    before = _checked_units(balance, currency, "the commitment balance")
    eligible = [line for line in lines if line.source is not LineSource.ONE_TIME_FEE]
    charges = sum(line.remaining for line in eligible)
    drawn = min(before, charges)
    for line, part in zip(
        eligible, _allocate(drawn, [ln.remaining for ln in eligible]), strict=True
    ):
        line.commitment += part
    return CommitmentDrawdown(
        *(_money(v, exponent) for v in (before, charges, drawn, before - drawn, charges - drawn))
    )


# Step 4: tax, per line on what the line still costs, rounded once per line.
def _taxed(line: _Line, rates: tuple[TaxRate, ...], status: TaxStatus, currency: str) -> StepLine:
    exponent = minor_unit_exponent(currency)
    if len({rate.inclusive for rate in rates}) > 1:
        raise ValueError(f"line {line.charge.key!r}: its tax rates are all inclusive or all not")
    for rate in rates:
        if rate.percentage < 0:
            raise ValueError(f"tax rate {rate.name!r}: a percentage is at least 0")
    taxable = line.remaining
    shares = [Fraction(rate.percentage) / 100 for rate in rates]
    if status is not TaxStatus.TAXABLE or not rates:
        taxes = [0] * len(rates)
    elif rates[0].inclusive:
        # The amount includes every rate: tax = amount × r / (1 + r), the line's
        # tax rounded once, then shared between its rates in proportion.
        total_share = sum(shares, Fraction(0))
        exact = Fraction(taxable, 10**exponent) * total_share / (1 + total_share)
        line_tax = _units(round_money(exact, currency), exponent)
        taxes = _allocate(line_tax, shares)
    else:
        taxes = [
            _units(round_money(Fraction(taxable, 10**exponent) * share, currency), exponent)
            for share in shares
        ]
    inclusive = bool(rates) and rates[0].inclusive
    net = taxable - sum(taxes) if inclusive else taxable
    tax = sum(taxes)
    return StepLine(
        source=line.source,
        charge=line.charge,
        discounts=tuple(line.parts),
        discount=_money(line.discount, exponent),
        commitment=_money(line.commitment, exponent),
        taxable=_money(taxable, exponent),
        taxes=tuple(
            LineTax(rate, _money(net, exponent), _money(t, exponent))
            for rate, t in zip(rates, taxes, strict=True)
        ),
        tax=_money(tax, exponent),
        net=_money(net, exponent),
        total=_money(net + tax, exponent),
    )


def _is_inclusive(line: StepLine) -> bool:
    return bool(line.taxes) and line.taxes[0].rate.inclusive


def _tax_summary(lines: Sequence[StepLine]) -> tuple[TaxSummaryRow, ...]:
    """Per rate, in order of first use: the bases and taxes of its lines, summed."""
    rows: dict[TaxRate, TaxSummaryRow] = {}
    for line in lines:
        for lt in line.taxes:
            row = rows.get(lt.rate)
            rows[lt.rate] = (
                TaxSummaryRow(lt.rate, lt.base, lt.tax)
                if row is None
                else TaxSummaryRow(lt.rate, row.base + lt.base, row.tax + lt.tax)
            )
    return tuple(rows.values())


# Step 5: credits, after tax, against the total; never below zero.
def draw_credits(
    grants: Sequence[CreditGrant], amount: Decimal, currency: str, *, usable_at: Sequence[datetime]
) -> tuple[CreditDrawn, ...]:
    """The credit step alone: what `grants` pay of `amount` (never more), in
    `credit_order`, counting a grant that is usable at any of the instants
    `usable_at` (finalization draws with the period's last instant and its
    own, so a grant that covered the period pays for it even if it ended
    during the grace period)."""
    total = _checked_units(amount, currency, "the amount to pay")
    return _draw_credits(grants, total, tuple(usable_at), currency)


def _draw_credits(
    grants: Sequence[CreditGrant], total: int, instants: Sequence[datetime], currency: str
) -> tuple[CreditDrawn, ...]:
    exponent = minor_unit_exponent(currency)
    for grant in grants:
        if grant.currency.upper() != currency.upper():
            raise ValueError(
                f"credit grant {grant.id!r} is in {grant.currency}, the invoice in {currency}"
            )
        _checked_units(grant.balance, currency, f"credit grant {grant.id!r}")
        if any(t is not None and t.tzinfo is None for t in (grant.effective_at, grant.expires_at)):
            raise ValueError(f"credit grant {grant.id!r}: its times must be aware datetimes")
    usable = sorted(
        (g for g in grants if any(g.usable_at(instant) for instant in instants)), key=credit_order
    )
    drawn_from: list[CreditDrawn] = []
    left = total
    for grant in usable:
        before = _units(grant.balance, exponent)
        drawn = min(before, left)
        if drawn == 0:
            continue
        left -= drawn
        drawn_from.append(
            CreditDrawn(
                grant.id,
                _money(before, exponent),
                _money(drawn, exponent),
                _money(before - drawn, exponent),
            )
        )
    return tuple(drawn_from)


def credit_order(grant: CreditGrant) -> tuple[bool, datetime, int, datetime, str]:
    """Soonest expiry first (no expiry last), then priority (lower first), then
    the oldest effective, then the id."""
    expires = grant.expires_at or grant.effective_at
    return (grant.expires_at is None, expires, grant.priority, grant.effective_at, grant.id)


# --- minor units -------------------------------------------------------------------------------


def _allocate(total: int, weights: Sequence[int] | Sequence[Fraction]) -> list[int]:
    """Share `total` (0 ≤ total ≤ sum of integer weights, or any total for
    fraction weights) in proportion to `weights`, in whole units that add up
    to exactly `total`: each share rounded down, then the units left over go
    one each to the largest remainders (ties: the earlier line)."""
    weight_sum = sum(weights, Fraction(0))
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    exact = [Fraction(total) * w / weight_sum for w in weights]
    shares = [q.numerator // q.denominator for q in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _checked_units(amount: Decimal, currency: str, what: str) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"{what}: money is a finite Decimal, got {amount!r}")
    if amount < 0:
        raise ValueError(f"{what}: {amount} is negative")
    if round_money(amount, currency) != amount:
        raise ValueError(f"{what}: {amount} is finer than the {currency} minor unit")
    return _units(amount, minor_unit_exponent(currency))


def _units(amount: Decimal, exponent: int) -> int:
    return int(amount.scaleb(exponent))


def _money(units: int, exponent: int) -> Decimal:
    return Decimal(units).scaleb(-exponent)


# --- what an invoice shows of its steps --------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    description: str
    amount: Decimal


@dataclass(frozen=True)
class SummaryTax:
    name: str
    percentage: Decimal
    jurisdiction: str
    inclusive: bool
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class StepsSummary:
    """An invoice's steps as its page and PDF show them, one labelled section
    each: from a draft's InvoiceSteps (`summarize`) or an issued invoice's
    stored adjustments (invoices.adjustments.stored_summary) alike."""

    charges: Decimal  # the priced lines, before any step
    fees: tuple[SummaryRow, ...]
    discounts: tuple[SummaryRow, ...]
    minimum_true_up: Decimal
    commitment_drawn: Decimal  # paid from a prepaid commitment, before tax
    subtotal: Decimal
    taxes: tuple[SummaryTax, ...]
    tax_added: Decimal
    tax_included: Decimal
    total: Decimal

    @property
    def shown(self) -> bool:
        """Whether any step did something the invoice must show."""
        return bool(
            self.fees
            or self.discounts
            or self.minimum_true_up
            or self.commitment_drawn
            or self.taxes
        )


def summarize(steps: InvoiceSteps) -> StepsSummary:
    fees = tuple(
        SummaryRow(line.charge.description, line.charge.amount)
        for line in steps.lines
        if line.source is LineSource.ONE_TIME_FEE
    )
    return StepsSummary(
        charges=steps.charges_total - sum((f.amount for f in fees), Decimal(0)),
        fees=fees,
        discounts=tuple(
            SummaryRow(d.discount.description, d.applied) for d in steps.discounts if d.applied
        ),
        minimum_true_up=steps.minimum_true_up,
        commitment_drawn=steps.commitment_drawn,
        subtotal=steps.subtotal,
        taxes=tuple(
            SummaryTax(
                row.rate.name,
                row.rate.percentage,
                row.rate.jurisdiction,
                row.rate.inclusive,
                row.base,
                row.tax,
            )
            for row in steps.tax_summary
        ),
        tax_added=steps.tax_added,
        tax_included=steps.tax_included,
        total=steps.total,
    )
