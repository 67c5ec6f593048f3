"""Rating: from usage quantities and a rate's price definition to priced lines.

Pure functions over plain data — no ORM, no I/O — so every rule can be read and
tested on its own. The invoice builder (invoices/builder.py) assembles the
inputs from the database and renders the outputs; it never does maths.

Invariants:
- Every unit of usage handed to `rate_usage` comes back either on a priced line
  or as UnpricedUsage with a reason. Nothing is dropped.
- Amounts are exact until `round_money` rounds each line once (money.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from pricing.money import round_money

ZERO = Decimal(0)


class Aggregation(StrEnum):
    """How a meter turns events into a quantity. Values match Meter.MeterType."""

    SUM = "count"  # the guide's "count": every event's meterValue adds up
    EVENT_COUNT = "event_count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"


@dataclass(frozen=True)
class PartialUsage:
    """Usage for one canonical dimension combination, as one grouped query row.

    `quantity` is the group's aggregate (sum, count or max); LATEST groups also
    carry the time of their latest event, UNIQUE_COUNT groups their distinct values.
    """

    dimensions: Mapping[str, str]
    quantity: Decimal
    latest_at: datetime | None = None
    distinct_values: frozenset[str] = frozenset()


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
        return sum((p.quantity for p in parts), ZERO)
    if aggregation is Aggregation.MAX:
        return max(p.quantity for p in parts)
    if aggregation is Aggregation.LATEST:
        return max(parts, key=_latest_instant).quantity
    distinct: set[str] = set()
    for part in parts:
        distinct |= part.distinct_values
    return Decimal(len(distinct))


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
class CellPrice:
    """The price of one matrix cell (or of a per-unit rate's single cell).

    Today a price per unit; the next rate models (tiers, packages, free units)
    extend this type, and `exact_amount` gains their maths.
    """

    unit_price: Decimal


def exact_amount(price: CellPrice, quantity: Decimal) -> Decimal:
    """The unrounded charge for `quantity` units at `price`."""
    return quantity * price.unit_price


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


@dataclass(frozen=True)
class PricedLine:
    rate_id: int
    description: str
    dimensions: tuple[tuple[str, str], ...]
    quantity: Decimal
    unit_price: Decimal
    exact_amount: Decimal
    amount: Decimal


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


def rate_usage(rate: RateSpec, usage: Sequence[UsageGroup], currency: str) -> RatedUsage:
    """Price usage already projected onto `rate.dimensions`.

    A per-unit rate always yields one line (zero usage gives a zero line, so the
    invoice shows every rate of the plan). A dimensional rate yields one line per
    combination that has usage; combinations the matrix does not list are
    returned as unpriced usage.
    """
    result = RatedUsage()
    if not rate.dimensions:
        quantity = sum((g.quantity for g in usage), ZERO)
        result.lines.append(_line(rate, (), quantity, rate.cells[()], currency))
        return result
    for group in usage:
        pairs = tuple(zip(rate.dimensions, group.values, strict=True))
        if any(v is None for v in group.values):
            missing = ", ".join(name for name, v in pairs if v is None)
            reason = f"events without the dimension {missing}, which this rate prices by"
            result.unpriced.append(UnpricedUsage(rate.meter_label, pairs, group.quantity, reason))
            continue
        values = tuple(v for v in group.values if v is not None)
        cell = rate.cells.get(values)
        if cell is None:
            combo = " · ".join(values)
            reason = f"no price for {combo} in the pricing matrix"
            result.unpriced.append(UnpricedUsage(rate.meter_label, pairs, group.quantity, reason))
            continue
        result.lines.append(_line(rate, values, group.quantity, cell, currency))
    return result


def _line(
    rate: RateSpec, values: tuple[str, ...], quantity: Decimal, cell: CellPrice, currency: str
) -> PricedLine:
    exact = exact_amount(cell, quantity)
    return PricedLine(
        rate_id=rate.rate_id,
        description=describe(rate.meter_label, values),
        dimensions=tuple(zip(rate.dimensions, values, strict=True)),
        quantity=quantity,
        unit_price=cell.unit_price,
        exact_amount=exact,
        amount=round_money(exact, currency),
    )


def invoice_total(lines: Iterable[PricedLine]) -> Decimal:
    """An invoice total is the sum of its rounded lines (never re-rounded)."""
    return sum((line.amount for line in lines), ZERO)
