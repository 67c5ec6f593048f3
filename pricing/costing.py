"""Cost and margin: what the usage on each priced line cost us, and what we
kept. Pure functions over plain data, no ORM and no I/O, beside `rating.py`,
whose core prices costs unchanged (docs/PRICING.md, "Cost and margin").

How a line's cost is found:
1. A meter's usage comes at its finest grain (one PartialUsage per
   combination of the meter's dimensions): the same rows that priced the
   invoice's lines.
2. The cost rate (a rate of the cost plan, in any rate model) prices that
   usage grouped by its own dimensions, through `project_usage` and
   `rate_usage`, exactly as revenue is priced.
3. Each cost group's exact cost is shared over the finest rows it grouped,
   in proportion to their quantity, and each priced line takes the cost of
   the rows it priced. For per-unit and matrix cost rates this is each row's
   quantity times its own cost price, exactly; for tiers and packages, the
   group's cost spread evenly per unit.
4. Usage without a cost (no cost rate for the meter, a combination the cost
   matrix does not list and has no default for, or events without a
   dimension the cost rate prices by) is "no cost known": its line has no
   cost, and says how much of its quantity is unknown. It is never counted
   as zero.
5. A line's cost is rounded once, by the one rule; margin = revenue − cost;
   margin % = margin ÷ revenue, to one decimal place (none when revenue is
   zero). Base-fee and minimum lines of the price have no usage: they cost
   nothing. The cost rate's own base fee and minimum are the meter's fixed
   cost, reported beside its lines, not spread over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from pricing.money import exactly, round_money, round_places
from pricing.price_models import ONE
from pricing.rating import (
    Aggregation,
    LineKind,
    PartialUsage,
    PricedLine,
    RateSpec,
    project_usage,
    rate_usage,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class LineCost:
    """One priced line with what its usage cost."""

    line: PricedLine
    cost: Decimal | None  # rounded; None when some of its usage has no known cost
    known_cost: Decimal  # rounded cost of the usage whose cost is known
    unknown_quantity: Decimal  # usage on the line with no known cost (may be 0)

    @property
    def revenue(self) -> Decimal:
        return self.line.amount

    @property
    def margin(self) -> Decimal | None:
        return None if self.cost is None else self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.revenue, self.margin)


@dataclass(frozen=True)
class MeterCost:
    lines: tuple[LineCost, ...]
    fixed_cost: Decimal  # the cost rate's base fee and minimum true-up


def margin_percent(revenue: Decimal, margin: Decimal | None) -> Decimal | None:
    """Margin as a percentage of revenue, one decimal place, half up; None
    when the margin is unknown or there is no revenue to measure it by."""
    if margin is None or not revenue:
        return None
    return round_places(Fraction(margin) / Fraction(revenue) * 100, 1)


def _key(part: PartialUsage, dimensions: Sequence[str]) -> tuple[str | None, ...]:
    return tuple(part.dimensions.get(name) for name in dimensions)


@dataclass(frozen=True)
class CostWindow:
    """Usage of a stretch of the period at its finest grain, and the cost
    rate in effect then (None: no cost known). A period is one window unless
    the cost plan's prices changed inside it."""

    parts: Sequence[PartialUsage]
    cost_rate: RateSpec | None


@exactly
def cost_lines(
    aggregation: Aggregation,
    parts: Sequence[PartialUsage],
    price_dimensions: Sequence[str],
    lines: Sequence[PricedLine],
    cost_rate: RateSpec | None,
    currency: str,
    coverage: Fraction | Decimal = ONE,
) -> MeterCost:
    """The cost of each of a meter's priced `lines` (priced from `parts` by
    a rate with `price_dimensions`), by `cost_rate` (None: no cost known)."""
    window = CostWindow(parts, cost_rate)
    return windowed_cost_lines(aggregation, [window], price_dimensions, lines, currency, coverage)


@exactly
def windowed_cost_lines(
    aggregation: Aggregation,
    windows: Sequence[CostWindow],
    price_dimensions: Sequence[str],
    lines: Sequence[PricedLine],
    currency: str,
    coverage: Fraction | Decimal = ONE,
) -> MeterCost:
    """`cost_lines` for a period whose cost prices changed inside it: each
    window's usage costed by its own cost rate, the exact costs summed per
    line, and each line rounded once. The cost rates' fees count once, by
    the last window's rate."""
    rows: list[tuple[PartialUsage, Fraction | None]] = []
    fixed = Fraction(0)
    for n, window in enumerate(windows):
        costs, fees = _row_costs(aggregation, window, currency, coverage)
        rows += list(zip(window.parts, costs, strict=True))
        if n == len(windows) - 1:
            fixed += fees
    costed = []
    for line in lines:
        if line.kind not in (LineKind.USAGE, LineKind.LATE_USAGE):
            costed.append(LineCost(line, ZERO, ZERO, ZERO))
            continue
        values = tuple(value for _, value in line.dimensions)
        members = [
            (part, cost) for part, cost in rows if _matches(_key(part, price_dimensions), values)
        ]
        known = sum((cost for _, cost in members if cost is not None), Fraction(0))
        missing = [part for part, cost in members if cost is None]
        unknown = sum((part.quantity for part in missing), ZERO)
        rounded = round_money(known, currency)
        costed.append(LineCost(line, None if missing else rounded, rounded, unknown))
    return MeterCost(tuple(costed), round_money(fixed, currency))


def _row_costs(
    aggregation: Aggregation, window: CostWindow, currency: str, coverage: Fraction | Decimal
) -> tuple[list[Fraction | None], Fraction]:
    """Each row's exact cost (None: unknown) and the cost rate's fees."""
    parts, cost_rate = window.parts, window.cost_rate
    part_cost: list[Fraction | None] = [None] * len(parts)
    fixed = Fraction(0)
    if cost_rate is None:
        return part_cost, fixed
    groups: dict[tuple[str | None, ...], list[int]] = {}
    for n, part in enumerate(parts):
        groups.setdefault(_key(part, cost_rate.dimensions), []).append(n)
    rated = rate_usage(
        cost_rate, project_usage(aggregation, parts, cost_rate.dimensions), currency, coverage
    )
    for cost in rated.lines:
        if cost.kind is not LineKind.USAGE:
            fixed += Fraction(cost.exact_amount)
            continue
        values = tuple(value for _, value in cost.dimensions)
        members = [n for key, ns in groups.items() if _matches(key, values) for n in ns]
        total = sum((Fraction(parts[n].quantity) for n in members), Fraction(0))
        if total == 0:  # no usage to share it over (a tier's flat fee at zero)
            fixed += Fraction(cost.exact_amount)
            for n in members:
                part_cost[n] = Fraction(0)
            continue
        for n in members:
            part_cost[n] = Fraction(cost.exact_amount) * Fraction(parts[n].quantity) / total
    return part_cost, fixed


def _matches(key: tuple[str | None, ...], values: tuple[str, ...]) -> bool:
    """Whether a row's values for some dimensions are a line's: a line
    without dimensions takes every row."""
    return not values or key == values
