"""Rating: from usage quantities and a rate's price definition to priced lines.

Pure functions over plain data — no ORM, no I/O — so every rule can be read and
tested on its own. The invoice builder (invoices/builder.py) assembles the
inputs from the database and renders the outputs; it never does maths.

Invariants:
- Every unit of usage handed to `rate_usage` comes back either on a priced line
  or as UnpricedUsage with a reason. Nothing is dropped.
- Amounts are exact until `round_money` rounds each line once (money.py): the
  arithmetic runs in money.EXACT (`@exactly`), so a digit that would be lost
  raises rather than moving a line by a cent. A prorated charge is a Fraction
  (a fee times the covered share, 1/3 of $20 has no finite decimal) until it
  is rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from meters.kinds import MeterType
from meters.partial_usage import PartialUsage as PartialUsage  # rating's input, re-exported
from pricing.money import exact_sum, exactly, format_unit_price, fraction_decimal, round_money
from pricing.price_models import ONE, CellPrice, exact_amount, explain

ZERO = Decimal(0)


# How a meter turns events into a quantity: its meter type, read as rating does.
Aggregation = MeterType


@dataclass(frozen=True)
class UsageGroup:
    """Usage of one meter for one combination of a rate's pricing dimensions."""

    values: tuple[str | None, ...]
    quantity: Decimal


def _latest_instant(part: PartialUsage) -> datetime:
    """When a LATEST group last changed, as an instant: aware times compare in UTC
    (not by wall clock), a naive time is read as UTC, no time sorts first."""
    if part.latest_at is None:
        return datetime.min.replace(tzinfo=UTC)
    if part.latest_at.tzinfo is None:
        return part.latest_at.replace(tzinfo=UTC)
    return part.latest_at.astimezone(UTC)


def _combine(aggregation: Aggregation, parts: Sequence[PartialUsage]) -> Decimal:
    if aggregation in (Aggregation.SUM, Aggregation.EVENT_COUNT):
        return exact_sum(p.quantity for p in parts)
    if aggregation is Aggregation.MAX:
        return max(p.quantity for p in parts)
    if aggregation is Aggregation.LATEST:
        return max(parts, key=_latest_instant).quantity
    distinct: set[str] = set()
    for part in parts:
        distinct |= part.distinct_values
    return Decimal(len(distinct))


@exactly
def project_usage(
    aggregation: Aggregation, parts: Iterable[PartialUsage], dimensions: Sequence[str]
) -> list[UsageGroup]:
    """Regroup per-combination usage onto the dimensions a rate prices by.

    A rate priced by (model, type) sees usage stored under
    {model, type, region} merged across regions. A dimension the event did not
    carry projects to None (and so matches no matrix cell).
    """
    buckets: dict[tuple[str | None, ...], list[PartialUsage]] = {}
    for part in parts:
        key = tuple(part.dimensions.get(name) for name in dimensions)
        buckets.setdefault(key, []).append(part)
    groups = [UsageGroup(key, _combine(aggregation, ps)) for key, ps in buckets.items()]
    return sorted(groups, key=lambda g: tuple(v or "" for v in g.values))


@dataclass(frozen=True)
class RateSpec:
    """A plan's rate for one meter, as plain data.

    `dimensions` are the meter dimensions the rate prices by (empty for a
    per-unit rate); `cells` maps a tuple of their values, in that order, to a
    price. A per-unit rate has a single cell under the empty tuple.
    """

    rate_id: int
    meter_label: str
    dimensions: tuple[str, ...]
    cells: Mapping[tuple[str, ...], CellPrice]
    # Prices combinations the matrix does not list; None leaves them unpriced.
    default_cell: CellPrice | None = None
    # Per billing period, both prorated by the share of the period covered.
    minimum_charge: Decimal | None = None
    flat_fee: Decimal | None = None
    # Whether each tiered cell (and the default price) charges its first
    # tier's flat fee at zero usage (price_models.exact_amount): one choice
    # for the whole rate. The stored rate always says which
    # (pricing.selectors.rate_spec); False is the bare rule, no usage no charge.
    first_tier_fee_at_zero: bool = False


class LineKind(StrEnum):
    USAGE = "usage"
    BASE_FEE = "base_fee"
    MINIMUM = "minimum"
    LATE_USAGE = "late_usage"  # an earlier period's usage that arrived after its invoice


@dataclass(frozen=True)
class PricedLine:
    rate_id: int
    description: str
    dimensions: tuple[tuple[str, str], ...]
    quantity: Decimal
    unit_price: Decimal | None  # None when tiers or packages price the line
    # Unrounded. Exact, except a prorated line whose share has no finite
    # decimal form (1/3 of $20): that one shows money.SHOWN_PLACES places, and
    # `amount` was rounded from the exact Fraction, not from these digits.
    exact_amount: Decimal
    amount: Decimal
    kind: LineKind = LineKind.USAGE
    explanation: str = ""


@dataclass(frozen=True)
class UnpricedUsage:
    meter_label: str
    dimensions: tuple[tuple[str, str | None], ...]
    quantity: Decimal
    reason: str


@dataclass(frozen=True)
class RatedUsage:
    lines: list[PricedLine] = field(default_factory=list)
    unpriced: list[UnpricedUsage] = field(default_factory=list)


def describe(meter_label: str, values: Iterable[str | None]) -> str:
    """`LLM tokens · model a · input`"""
    return " · ".join([meter_label, *(v if v is not None else "(none)" for v in values)])


@exactly
def rate_usage(
    rate: RateSpec,
    usage: Sequence[UsageGroup],
    currency: str,
    coverage: Fraction | Decimal = ONE,
) -> RatedUsage:
    """Price usage already projected onto `rate.dimensions`.

    A rate without dimensions always yields one usage line (zero usage gives a
    zero line, so the invoice shows every rate of the plan; or the first tier's
    flat fee, if the rate charges it at zero). A dimensional rate yields one
    line per combination that has usage; a combination the matrix
    does not list takes the default price if the rate has one, else it is
    returned as unpriced usage. Then come the base fee and the minimum charge
    true-up, both prorated by `coverage` (the share of the period the
    assignment covers, 0..1, best given as an exact Fraction).
    """
    result = RatedUsage()
    if not rate.dimensions:
        quantity = exact_sum(g.quantity for g in usage)
        result.lines.append(_line(rate, (), quantity, rate.cells[()], currency))
    for group in usage if rate.dimensions else ():
        pairs = tuple(zip(rate.dimensions, group.values, strict=True))
        if any(v is None for v in group.values):
            missing = ", ".join(name for name, v in pairs if v is None)
            reason = f"events without the dimension {missing}, which this rate prices by"
            result.unpriced.append(UnpricedUsage(rate.meter_label, pairs, group.quantity, reason))
            continue
        values = tuple(v for v in group.values if v is not None)
        cell = rate.cells.get(values)
        if cell is not None:
            result.lines.append(_line(rate, values, group.quantity, cell, currency))
        elif rate.default_cell is not None:
            line = _line(rate, values, group.quantity, rate.default_cell, currency)
            result.lines.append(replace(line, description=f"{line.description} (default price)"))
        else:
            reason = f"no price for {' · '.join(values)} in the pricing matrix"
            result.unpriced.append(UnpricedUsage(rate.meter_label, pairs, group.quantity, reason))
    result.lines.extend(_period_charges(rate, result.lines, currency, Fraction(coverage)))
    return result


def _period_charges(
    rate: RateSpec, usage_lines: list[PricedLine], currency: str, coverage: Fraction
) -> list[PricedLine]:
    """The prorated base fee, then a true-up to the prorated minimum charge
    (which usage charges count towards; the base fee does not)."""
    lines = []
    share = "" if coverage == 1 else f" (prorated: {coverage * 100:.2f}% of the period)"
    if rate.flat_fee:
        exact = Fraction(rate.flat_fee) * coverage
        lines.append(
            _fixed_line(
                rate, f"{rate.meter_label} · base fee{share}", exact, LineKind.BASE_FEE, currency
            )
        )
    if rate.minimum_charge:
        minimum = Fraction(rate.minimum_charge) * coverage
        charged = exact_sum(line.amount for line in usage_lines)
        if charged < round_money(minimum, currency):
            lines.append(
                _fixed_line(
                    rate,
                    f"{rate.meter_label} · minimum charge true-up{share}",
                    minimum - Fraction(charged),
                    LineKind.MINIMUM,
                    currency,
                )
            )
    return lines


def _fixed_line(
    rate: RateSpec, description: str, exact: Fraction, kind: LineKind, currency: str
) -> PricedLine:
    """A base fee or true-up line, rounded from its exact (Fraction) amount."""
    return PricedLine(
        rate_id=rate.rate_id,
        description=description,
        dimensions=(),
        quantity=ONE,
        unit_price=None,
        exact_amount=fraction_decimal(exact),
        amount=round_money(exact, currency),
        kind=kind,
    )


def _line(
    rate: RateSpec, values: tuple[str, ...], quantity: Decimal, cell: CellPrice, currency: str
) -> PricedLine:
    at_zero = rate.first_tier_fee_at_zero
    exact = exact_amount(cell, quantity, first_tier_fee_at_zero=at_zero)
    return PricedLine(
        rate_id=rate.rate_id,
        description=describe(rate.meter_label, values),
        dimensions=tuple(zip(rate.dimensions, values, strict=True)),
        quantity=quantity,
        unit_price=cell.single_unit_price,
        exact_amount=exact,
        amount=round_money(exact, currency),
        # Spelled out where the columns alone do not show how the amount arose.
        explanation=""
        if cell.single_unit_price is not None and not cell.free_units
        else explain(
            cell,
            quantity,
            lambda d: format_unit_price(d, currency),
            first_tier_fee_at_zero=at_zero,
        ),
    )


def invoice_total(lines: Iterable[PricedLine]) -> Decimal:
    """An invoice total is the sum of its rounded lines (never re-rounded)."""
    return exact_sum(line.amount for line in lines)
