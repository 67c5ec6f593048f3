"""The margin report (invoices/margin_report.py, /invoices/margins/): issued
invoices' stored lines grouped by customer, meter, a dimension's value or
month; filters; totals that are the sum of the rows; lines whose cost is not
known listed apart, never counted as zero; negative margins flagged."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN
from invoices.closing import close_periods
from invoices.margin_report import (
    Filters,
    GroupBy,
    MarginRow,
    StoredLine,
    aggregate,
    margin_report,
    parse_month,
)
from invoices.models import Invoice
from invoices.services import invoice_void
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.factories import Guide
from tests.fixtures import element, login, page, table_rows

MARCH = date(2025, 3, 1)
APRIL = date(2025, 4, 1)


def line(
    customer: str = "acme",
    meter: str = "API calls",
    month: date = MARCH,
    model: str | None = None,
    revenue: str = "1.00",
    cost: str | None = "0.40",
    unknown: str | None = None,
    currency: str = "USD",
) -> StoredLine:
    dims = (("model", model),) if model is not None else ()
    return StoredLine(
        customer,
        customer.title(),
        meter,
        month,
        dims,
        currency,
        Decimal(revenue),
        None if cost is None else Decimal(cost),
        None if unknown is None else Decimal(unknown),
    )


def figures(row: MarginRow) -> tuple[str, Decimal, Decimal, Decimal, Decimal | None]:
    return (row.key, row.revenue, row.cost, row.margin, row.margin_percent)


# The pure aggregation ----------------------------------------------------------


def test_grouped_by_customer_each_customer_is_one_row() -> None:
    report = aggregate(
        [line("acme"), line("acme", revenue="3.00", cost="1.00"), line("zeta", cost="1.50")],
        GroupBy.CUSTOMER,
    )

    assert [figures(r) for r in report.rows] == [
        ("acme", Decimal("4.00"), Decimal("1.40"), Decimal("2.60"), Decimal("65.0")),
        ("zeta", Decimal("1.00"), Decimal("1.50"), Decimal("-0.50"), Decimal("-50.0")),
    ]
    assert [r.negative for r in report.rows] == [False, True]


def test_grouped_by_meter_month_and_a_dimensions_value() -> None:
    lines = [
        line(meter="Tokens", model="a", month=MARCH),
        line(meter="Tokens", model="b", month=APRIL),
        line(meter="API calls", month=APRIL),
    ]

    assert [r.key for r in aggregate(lines, GroupBy.METER).rows] == ["API calls", "Tokens"]
    assert [r.label for r in aggregate(lines, GroupBy.MONTH).rows] == ["2025-03", "2025-04"]
    by_model = aggregate(lines, GroupBy.DIMENSION, "model")
    assert [(r.label, r.lines) for r in by_model.rows] == [("(none)", 1), ("a", 1), ("b", 1)]
    assert by_model.dimension_names == ["model"]


def test_a_line_with_no_cost_known_is_listed_apart_never_as_zero() -> None:
    report = aggregate([line(), line(cost="0.10", unknown="5"), line(cost=None)], GroupBy.CUSTOMER)

    [row] = report.rows
    # Only the costed line counts in the margin: $1.00 − $0.40.
    assert figures(row) == (
        "acme",
        Decimal("1.00"),
        Decimal("0.40"),
        Decimal("0.60"),
        Decimal("60.0"),
    )
    assert (row.unknown_lines, row.unknown_revenue) == (2, Decimal("2.00"))
    assert report.unknown == [row]


def test_each_currency_has_its_own_rows_and_totals() -> None:
    report = aggregate([line(), line(currency="EUR", revenue="2.00")], GroupBy.CUSTOMER)

    assert [(r.currency, r.revenue) for r in report.rows] == [
        ("EUR", Decimal("2.00")),
        ("USD", Decimal("1.00")),
    ]
    assert [(t.currency, t.revenue) for t in report.totals] == [
        ("EUR", Decimal("2.00")),
        ("USD", Decimal("1.00")),
    ]


Spec = tuple[
    str, str, date, str | None, str, Decimal, Decimal | None, Decimal | None
]  # customer, meter, month, model, currency, revenue, cost, unknown quantity
money = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["acme", "zeta", "omni"]),
            st.sampled_from(["API calls", "Tokens"]),
            st.sampled_from([MARCH, APRIL]),
            st.sampled_from([None, "a", "b"]),
            st.sampled_from(["USD", "EUR"]),
            money,
            st.one_of(st.none(), money),
            st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=0)),
        ),
        max_size=40,
    ),
    st.sampled_from(list(GroupBy)),
)
def test_totals_are_the_sum_of_the_rows_however_grouped(
    specs: list[Spec],
    by: GroupBy,
) -> None:
    lines = [
        StoredLine(c, c, m, mo, (("model", d),) if d else (), cur, rev, cost, unk)
        for c, m, mo, d, cur, rev, cost, unk in specs
    ]
    report = aggregate(lines, by)

    for total in report.totals:
        rows = [r for r in report.rows if r.currency == total.currency]
        assert total.revenue == sum((r.revenue for r in rows), Decimal(0))
        assert total.cost == sum((r.cost for r in rows), Decimal(0))
        assert total.margin == sum((r.margin for r in rows), Decimal(0))
        assert total.unknown_revenue == sum((r.unknown_revenue for r in rows), Decimal(0))
    # Every line's revenue is in exactly one place: costed or not.
    everything = sum((t.revenue + t.unknown_revenue for t in report.totals), Decimal(0))
    assert everything == sum((ln.revenue for ln in lines), Decimal(0))
    assert sum(t.lines + t.unknown_lines for t in report.totals) == len(lines)


def test_a_month_is_yyyy_mm() -> None:
    assert parse_month("2025-03") == MARCH
    for bad in ["2025-13", "2025-3", "March", "0000-01", ""]:
        with pytest.raises(ValueError):
            parse_month(bad)


# From issued invoices ----------------------------------------------------------


def issue(guide: Guide, calls: str = "0.0005") -> Invoice:
    plan = plan_create(name="Provider costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal(calls))
    cost_plan_make_default(plan=plan)
    close_periods(now=datetime(2025, 4, 2, 1, tzinfo=UTC))
    return Invoice.objects.get(assignment=guide.assignment, period_start__month=3)


def test_the_report_reads_issued_invoices_stored_lines(guide: Guide) -> None:
    issue(guide)

    report = margin_report(Filters(), GroupBy.METER)

    by_meter = {r.key: r for r in report.rows}
    # API calls were costed: $0.10 − $0.01. Tokens had no cost rate: no cost known.
    assert figures(by_meter["API calls"])[1:4] == (
        Decimal("0.10"),
        Decimal("0.01"),
        Decimal("0.09"),
    )
    assert by_meter["LLM tokens"].lines == 0
    assert by_meter["LLM tokens"].unknown_lines == 3
    assert report.totals[0].revenue == Decimal("0.10")


def test_void_invoices_and_drafts_are_not_counted(guide: Guide) -> None:
    invoice = issue(guide)
    invoice_void(invoice=invoice, reason="test", actor="test", now=datetime(2025, 4, 3, tzinfo=UTC))

    assert margin_report(Filters(), GroupBy.CUSTOMER).rows == []


def test_filters_by_customer_meter_and_month(guide: Guide) -> None:
    issue(guide)
    customer = guide.customer.customer_id

    assert margin_report(Filters(customer="someone-else"), GroupBy.CUSTOMER).rows == []
    assert len(margin_report(Filters(customer=customer), GroupBy.CUSTOMER).rows) == 1
    only_calls = margin_report(Filters(meter_id=guide.api_calls.pk), GroupBy.METER)
    assert [r.key for r in only_calls.rows] == ["API calls"]
    assert margin_report(Filters(start=APRIL), GroupBy.MONTH).rows == []
    assert [r.label for r in margin_report(Filters(end=MARCH), GroupBy.MONTH).rows] == ["2025-03"]


# The page ------------------------------------------------------------------------


def test_the_page_shows_rows_totals_the_chart_and_no_cost_known_apart(
    client: Client, guide: Guide
) -> None:
    issue(guide, calls="0.02")  # $0.20 cost against $0.10 billed
    login(client, role=ADMIN)

    html = page(client.get(reverse("invoices:margins"), {"group_by": "meter"}))

    report = element(html, "margin-report")
    rows = {r[0]: r for r in table_rows(report) if r}
    assert rows["API calls"][1:6] == ["USD", "$0.10", "$0.20", "-$0.10", "-100.0%"]
    assert 'negative-margin">-$0.10' in report
    assert "No cost known" in report
    assert 'id="margin-chart"' in report and 'id="margin-chart-data"' in report
    assert "vendor/uplot/uPlot.iife.min.js" in html


def test_the_csv_export_has_the_rows(client: Client, guide: Guide) -> None:
    issue(guide)
    login(client, role=ADMIN)

    response = client.get(reverse("invoices:margins"), {"group_by": "meter", "_export": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == ["Group", "Currency", "Revenue", "Cost", "Margin"]
    assert ["API calls", "USD", "0.10", "0.01", "0.09", "90.0", "0.00", "0"] in rows


def test_bad_filters_are_shown_beside_their_field_not_a_500(client: Client, guide: Guide) -> None:
    login(client, role=ADMIN)

    response = client.get(
        reverse("invoices:margins"),
        {"start": "2025-13", "end": "x", "group_by": "nonsense", "meter": "999999"},
    )

    assert response.status_code == 200
    assert "Enter a month as YYYY-MM." in page(response)
    assert "That filter is not applied." in page(response)


def test_sorting_by_margin_percent_with_unknowns_does_not_fail(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    issue(guide)
    login(client, role=ADMIN)

    for order in ["margin_percent", "-margin_percent", "-margin", "label"]:
        response = client.get(reverse("invoices:margins"), {"group_by": "meter", "sort": order})
        assert response.status_code == 200


def test_the_htmx_partial_is_the_report_only(client: Client, guide: Guide) -> None:
    issue(guide)
    login(client, role=ADMIN)

    response = client.get(reverse("invoices:margins"), headers={"HX-Request": "true"})

    assert 'id="margin-report"' in page(response)
    assert "<html" not in page(response)
