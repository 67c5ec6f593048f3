"""The margin report page (/invoices/margins/): revenue, cost and margin of
issued invoices, grouped and filtered, as a table, a CSV and a chart of
margin over time. Only for people who may see costs (pricing.see_costs);
the figures come from invoices.margin_report."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig
from django_tables2.export import TableExport

from billing_site.htmx import page_or_partial
from invoices.margin_report import (
    Filters,
    GroupBy,
    MarginReport,
    aggregate,
    margin_rows,
    parse_month,
    stored_lines,
)
from invoices.tables import MarginTable
from meters.models import Meter


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_month(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class MarginFilterForm(forms.Form):
    group_by = forms.ChoiceField(
        label="Group by",
        choices=[(g.value, g.value.capitalize()) for g in GroupBy],
        required=False,
    )
    dimension = forms.CharField(label="Dimension", max_length=200, required=False)
    customer = forms.CharField(label="Customer id", max_length=255, required=False)
    meter = forms.ModelChoiceField(
        label="Meter", queryset=Meter.objects.order_by("label"), required=False
    )
    start = MonthField(label="From month", required=False)
    end = MonthField(label="To month", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The last month comes before the first.")
        return data


def filters_of(form: MarginFilterForm) -> tuple[Filters, GroupBy, str]:
    """What the form asks for; with bad filters, no filter (the page says
    the filter is not applied)."""
    data = form.cleaned_data if form.is_valid() else {}
    meter = data.get("meter")
    filters = Filters(
        customer=data.get("customer") or "",
        meter_id=meter.pk if meter is not None else None,
        start=data.get("start"),
        end=data.get("end"),
    )
    by = GroupBy(data.get("group_by") or GroupBy.CUSTOMER)
    return filters, by, data.get("dimension") or "model"


def chart_points(monthly: MarginReport) -> list[dict[str, str]]:
    """Margin per month and currency: the chart's data (money as strings)."""
    return [
        {"month": row.key[:7], "currency": row.currency, "margin": str(row.margin)}
        for row in monthly.rows
    ]


@require_GET
@permission_required("pricing.see_costs", raise_exception=True)
@vary_on_headers("HX-Request")
def margin_report_view(request: HttpRequest) -> HttpResponse:
    form = MarginFilterForm(request.GET or None)
    filters, by, dimension = filters_of(form)
    lines = stored_lines(margin_rows(filters))  # the one read of the report
    report = aggregate(lines, by, dimension)
    table = MarginTable(report.rows)
    RequestConfig(request, paginate=False).configure(table)
    if request.GET.get("_export") == "csv":
        exported: HttpResponse = TableExport("csv", table).response(f"margins-by-{by}.csv")
        return exported
    query = request.GET.copy()
    query.pop("_export", None)
    template = page_or_partial(request, "invoices/margins.html", "margin-report")
    context = {
        "form": form,
        "table": table,
        "report": report,
        "group_by": by,
        "dimension": dimension,
        "chart": chart_points(aggregate(lines, GroupBy.MONTH)),
        "query": query.urlencode(),
    }
    return render(request, template, context)
