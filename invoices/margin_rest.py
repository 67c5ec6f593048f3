"""The margin report as JSON (GET /margins): the rows and totals the margin
page shows (invoices.margin_report), money as strings. Cost data: only
`full` keys (a `read` key gets 403). Mounted beside invoices.rest."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import P, QueryEx, Router, Schema

from invoices.margin_report import Filters, GroupBy, MarginRow, margin_report, parse_month
from invoices.rest import money
from meters.machine_http import FULL_ONLY

router = Router(tags=["invoices"])


class MarginRowOut(Schema):
    key: str  # the customer id, meter label, dimension value or month (YYYY-MM-01)
    label: str
    currency: str
    revenue: str  # of the lines whose cost is known
    cost: str
    margin: str
    margin_percent: str | None  # one decimal place; null without revenue
    lines: int
    unknown_revenue: str  # of the lines with no cost known: never counted as a zero cost
    unknown_lines: int


class MarginReportOut(Schema):
    group_by: str
    dimension: str | None
    rows: list[MarginRowOut]
    totals: list[MarginRowOut]  # per currency: the sums of the rows


def _row(row: MarginRow) -> dict[str, Any]:
    cur = row.currency
    percent = row.margin_percent
    return {
        "key": row.key,
        "label": row.label,
        "currency": cur,
        "revenue": money(row.revenue, cur),
        "cost": money(row.cost, cur),
        "margin": money(row.margin, cur),
        "margin_percent": None if percent is None else str(percent),
        "lines": row.lines,
        "unknown_revenue": money(row.unknown_revenue, cur),
        "unknown_lines": row.unknown_lines,
    }


def _filters(
    group_by: str, dimension: str, customer: str, start: str, end: str
) -> tuple[Filters, GroupBy]:
    """The query, checked: a bad value is a 400 naming its field."""
    errors: dict[str, str] = {}
    if group_by not in {g.value for g in GroupBy}:
        errors["group_by"] = "Choose one of " + ", ".join(g.value for g in GroupBy) + "."
    if not dimension or len(dimension) > 200:
        errors["dimension"] = "Name a dimension (at most 200 characters)."
    if len(customer) > 255:
        errors["customer"] = "A customer id has at most 255 characters."
    months = {}
    for name, text in (("from", start), ("to", end)):
        if text:
            try:
                months[name] = parse_month(text)
            except ValueError as exc:
                errors[name] = str(exc)
    if "from" in months and "to" in months and months["to"] < months["from"]:
        errors["to"] = "The last month comes before the first."
    if errors:
        raise ValidationError(errors)
    filters = Filters(customer=customer, start=months.get("from"), end=months.get("to"))
    return filters, GroupBy(group_by)


@router.get(
    "/margins",
    response=MarginReportOut,
    auth=FULL_ONLY,
    summary="Margin report",
)
def margin_report_api(
    request: HttpRequest,
    group_by: str = "customer",
    dimension: str = "model",
    customer: str = "",
    start: QueryEx[str, P(alias="from")] = "",
    end: QueryEx[str, P(alias="to")] = "",
) -> dict[str, Any]:
    """Revenue, cost and margin of issued (not void) invoices, from the cost
    each line stored at finalization, grouped by `group_by` (customer, meter,
    month or dimension: the value of `dimension`, default "model"), filtered
    by `customer` (its id) and the months `from` and `to` (YYYY-MM, the
    invoice period's month). Lines whose cost is not known count in
    `unknown_revenue` and `unknown_lines`, never as a zero cost. Only `full`
    API keys: costs are not for every reader."""
    filters, by = _filters(group_by, dimension, customer, start, end)
    report = margin_report(filters, by, dimension)
    return {
        "group_by": by.value,
        "dimension": dimension if by is GroupBy.DIMENSION else None,
        "rows": [_row(row) for row in report.rows],
        "totals": [_row(row) for row in report.totals],
    }
