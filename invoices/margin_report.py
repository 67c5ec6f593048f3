"""The margin report: revenue, cost and margin of issued invoices, grouped by
customer, meter, a dimension's value or month, read from their stored lines
(InvoiceLine.cost, kept at finalization) and nothing live.

Invariants:
- Only issued, non-void invoices count; a draft's costs are not yet kept.
- A line whose cost is not known (some usage had no cost, or it was issued
  before costs were kept) is never counted as zero: its revenue and known
  cost go to the group's "no cost known" part, beside the costed part, and
  the group's margin covers the costed lines only.
- The totals are the sum of the rows, exactly (the property test checks).
- Money is summed per currency: Tally does not convert currencies, so a row
  is one group in one currency.

`aggregate` and `line_totals` are pure; `margin_rows` is the one database
read, a plain values() query over the stored lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from invoices.builder import billing_tz
from invoices.models import Invoice, InvoiceLine
from pricing.costing import margin_percent

ZERO = Decimal(0)


class GroupBy(StrEnum):
    CUSTOMER = "customer"
    METER = "meter"
    DIMENSION = "dimension"
    MONTH = "month"


@dataclass(frozen=True)
class StoredLine:
    """One issued invoice line, as the report reads it."""

    customer: str  # the customer's external id
    customer_name: str
    meter: str  # the section label when invoiced
    month: date  # the first day of the invoice period's month
    dimensions: tuple[tuple[str, str], ...]
    currency: str
    revenue: Decimal
    cost: Decimal | None  # the known part; None: issued before costs were kept
    unknown_quantity: Decimal | None  # None: all of its usage had a cost

    @property
    def cost_known(self) -> bool:
        return self.cost is not None and self.unknown_quantity is None


@dataclass(frozen=True)
class MarginRow:
    """A group's figures in one currency. `revenue`, `cost` and `margin`
    cover its lines whose cost is known; `unknown_*` its other lines."""

    key: str
    label: str
    currency: str
    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    lines: int = 0
    unknown_revenue: Decimal = ZERO
    unknown_lines: int = 0

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.revenue, self.margin)

    @property
    def margin_percent_key(self) -> Decimal:
        """For sorting: no margin % sorts first."""
        percent = self.margin_percent
        return Decimal("-Infinity") if percent is None else percent

    @property
    def negative(self) -> bool:
        return self.margin < 0

    @property
    def has_unknown(self) -> bool:
        return self.unknown_lines > 0


@dataclass(frozen=True)
class MarginReport:
    rows: list[MarginRow]
    totals: list[MarginRow]  # one per currency: the sum of its rows
    dimension_names: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> list[MarginRow]:
        """The rows with lines whose cost is not known, listed apart."""
        return [row for row in self.rows if row.has_unknown]


NONE_LABEL = "(none)"


def _group(line: StoredLine, by: GroupBy, dimension: str) -> tuple[str, str]:
    if by is GroupBy.CUSTOMER:
        return line.customer, f"{line.customer_name} ({line.customer})"
    if by is GroupBy.METER:
        return line.meter, line.meter
    if by is GroupBy.MONTH:
        return line.month.isoformat(), f"{line.month:%Y-%m}"
    value = dict(line.dimensions).get(dimension)
    return ("", NONE_LABEL) if value is None else (value, value)


def aggregate(lines: Iterable[StoredLine], by: GroupBy, dimension: str = "model") -> MarginReport:
    """The lines grouped `by` (a `dimension`'s value when by dimension), one
    row per group and currency, sorted by currency then key; and per
    currency, the totals of the rows."""
    # Summed in plain lists (revenue, cost, lines, unknown revenue, unknown
    # lines), then frozen: one small list per group, not a row per line.
    sums: dict[tuple[str, str], list[Any]] = {}
    labels: dict[tuple[str, str], str] = {}
    names: set[str] = set()
    for line in lines:
        names.update(name for name, _ in line.dimensions)
        key, label = _group(line, by, dimension)
        group = (line.currency, key)
        acc = sums.get(group)
        if acc is None:
            acc = sums[group] = [ZERO, ZERO, 0, ZERO, 0]
            labels[group] = label
        if line.cost is not None and line.unknown_quantity is None:
            acc[0] += line.revenue
            acc[1] += line.cost
            acc[2] += 1
        else:
            acc[3] += line.revenue
            acc[4] += 1
    ordered = [
        MarginRow(key, labels[(currency, key)], currency, *sums[(currency, key)])
        for currency, key in sorted(sums)
    ]
    return MarginReport(ordered, totals_of(ordered), sorted(names))


def totals_of(rows: Sequence[MarginRow]) -> list[MarginRow]:
    totals: dict[str, MarginRow] = {}
    for row in rows:
        total = totals.get(row.currency) or MarginRow("", "Total", row.currency)
        totals[row.currency] = MarginRow(
            "",
            "Total",
            row.currency,
            revenue=total.revenue + row.revenue,
            cost=total.cost + row.cost,
            lines=total.lines + row.lines,
            unknown_revenue=total.unknown_revenue + row.unknown_revenue,
            unknown_lines=total.unknown_lines + row.unknown_lines,
        )
    return [totals[c] for c in sorted(totals)]


# Lines of an invoice, for the invoice page's totals row ---------------------


@dataclass(frozen=True)
class LineTotals:
    """The lines' revenue and cost; the cost and margin are unknown when
    any line's cost is."""

    revenue: Decimal
    known_cost: Decimal
    unknown_lines: int
    negative_lines: int = 0

    @property
    def negative(self) -> bool:
        """Whether some line's margin is below zero."""
        return self.negative_lines > 0

    @property
    def cost(self) -> Decimal | None:
        return None if self.unknown_lines else self.known_cost

    @property
    def margin(self) -> Decimal | None:
        return None if self.cost is None else self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.revenue, self.margin)


def line_totals(costs: Iterable[Any]) -> LineTotals:
    """Totals over LineCosts (pricing.costing.LineCost)."""
    revenue, known, unknown, negative = ZERO, ZERO, 0, 0
    for cost in costs:
        if cost is None:
            continue
        revenue += cost.revenue
        known += cost.known_cost
        unknown += cost.cost is None
        negative += cost.margin is not None and cost.margin < 0
    return LineTotals(revenue, known, unknown, negative)


# The database read ------------------------------------------------------------


MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """A YYYY-MM month; ValueError when it is not one."""
    match = MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValueError("Enter a month as YYYY-MM.")
    return date(int(match[1]), int(match[2]), 1)


def month_start(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        moment = moment.astimezone(billing_tz())
    return date(moment.year, moment.month, 1)


def month_bound(month: date) -> datetime:
    """The first instant of `month` where billing happens."""
    return datetime(month.year, month.month, 1, tzinfo=billing_tz())


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@dataclass(frozen=True)
class Filters:
    customer: str = ""  # the customer's id (external), exactly
    meter_id: int | None = None
    start: date | None = None  # first month counted
    end: date | None = None  # last month counted


FIELDS = (
    "invoice__customer_external_id",
    "invoice__customer_name",
    "invoice__currency",
    "invoice__period_start",
    "section",
    "dimensions",
    "amount",
    "cost",
    "cost_unknown_quantity",
)


def margin_rows(filters: Filters) -> list[dict[str, Any]]:
    """The stored lines of issued, non-void invoices the filters keep: one
    values() query."""
    lines = InvoiceLine.objects.exclude(
        invoice__status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID]
    )
    if filters.customer:
        lines = lines.filter(invoice__customer_external_id=filters.customer)
    if filters.meter_id is not None:
        lines = lines.filter(meter_id=filters.meter_id)
    if filters.start is not None:
        lines = lines.filter(invoice__period_start__gte=month_bound(filters.start))
    if filters.end is not None:
        lines = lines.filter(invoice__period_start__lt=month_bound(next_month(filters.end)))
    return list(lines.order_by().values(*FIELDS))


def margin_report(filters: Filters, by: GroupBy, dimension: str = "model") -> MarginReport:
    return aggregate(stored_lines(margin_rows(filters)), by, dimension)


def stored_lines(values: Iterable[dict[str, Any]]) -> list[StoredLine]:
    """StoredLines from the rows of `margin_rows`."""
    return [
        StoredLine(
            customer=v["invoice__customer_external_id"],
            customer_name=v["invoice__customer_name"],
            meter=v["section"],
            month=month_start(v["invoice__period_start"]),
            dimensions=tuple((str(n), str(val)) for n, val in v["dimensions"] or []),
            currency=v["invoice__currency"],
            revenue=v["amount"],
            cost=v["cost"],
            unknown_quantity=v["cost_unknown_quantity"],
        )
        for v in values
    ]
