"""Rejected records: what the ingestion API and uploads refused, and why,
filterable by the field at fault, the meter and the day received."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import permission_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_tables2 import LazyPaginator, RequestConfig

from billing_site.htmx import page_or_partial
from meters.models import Meter, RejectedRecord
from meters.tables_api import RejectedRecordTable

WHOLE_RECORD = "-"  # the filter value for rejections not tied to one field
DATE = forms.DateInput(attrs={"type": "date", "style": "width: auto"})


def field_choices() -> list[tuple[str, str]]:
    """Every field some stored rejection names (served by the field index)."""
    fields = RejectedRecord.objects.order_by("field").values_list("field", flat=True).distinct()
    return [("", "Any field")] + [
        (name or WHOLE_RECORD, name or "(the whole record)") for name in fields
    ]


class RejectedFilterForm(forms.Form):
    field = forms.ChoiceField(required=False, label="Field")
    meter = forms.ModelChoiceField(
        queryset=Meter.objects.order_by("label"), required=False, empty_label="Any meter"
    )
    received_from = forms.DateField(required=False, label="Received from", widget=DATE)
    received_to = forms.DateField(required=False, label="Received to", widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = field_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("received_from"), cleaned.get("received_to")
        if start and end and end < start:
            self.add_error("received_to", "Pick a day on or after “Received from”.")
        return cleaned


def _day_start(day: date) -> datetime:
    # Days are the billing time zone's days, as everywhere else in the app.
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_rejections(form: RejectedFilterForm) -> QuerySet[RejectedRecord]:
    """The rejections the form's valid filters allow (an invalid filter is ignored;
    the form shows its error)."""
    records = RejectedRecord.objects.select_related("meter")
    if not form.is_valid():
        return records
    data = form.cleaned_data
    if data["field"]:
        records = records.filter(field="" if data["field"] == WHOLE_RECORD else data["field"])
    if data["meter"]:
        records = records.filter(meter=data["meter"])
    # Half-open day ranges on the raw column, so the received_at index serves them.
    if data["received_from"]:
        records = records.filter(received_at__gte=_day_start(data["received_from"]))
    if data["received_to"]:
        records = records.filter(received_at__lt=_day_start(data["received_to"] + timedelta(1)))
    return records


@require_GET
@permission_required("meters.view_rejectedrecord", raise_exception=True)
@vary_on_headers("HX-Request")
def rejected_list(request: HttpRequest) -> HttpResponse:
    form = RejectedFilterForm(request.GET)
    records = filtered_rejections(form)
    table = RejectedRecordTable(records)
    RequestConfig(request, paginate={"per_page": 50, "paginator_class": LazyPaginator}).configure(
        table
    )
    filtering = any(request.GET.get(name) for name in form.fields)
    context = {
        "form": form,
        "table": table,
        "filtering": filtering,
        # Lazy pagination never counts; one EXISTS tells an empty list apart.
        "has_rows": records.exists(),
    }
    template = page_or_partial(request, "meters/rejected.html", "rejected-table")
    return render(request, template, context)
