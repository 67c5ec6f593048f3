from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import LazyPaginator, RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.forms import TYPE_DESCRIPTIONS, EventUploadForm, MeterEditForm, MeterForm
from meters.models import Meter
from meters.records import DocumentError, decode, parse_document, upload_keys
from meters.services import events_ingest, meter_create, meter_update
from meters.tables import EventTable, MeterTable


def _get_meter(pk: int) -> Meter:
    return get_object_or_404(Meter, pk=pk)


@require_GET
@permission_required("meters.view_meter", raise_exception=True)
@vary_on_headers("HX-Request")
def meter_list(request: HttpRequest) -> HttpResponse:
    table = MeterTable(Meter.objects.all())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = page_or_partial(request, "meters/list.html", "meter-table")
    return render(request, template, {"table": table})


@require_http_methods(["GET", "POST"])
@permission_required("meters.add_meter", raise_exception=True)
@vary_on_headers("HX-Request")
def meter_create_view(request: HttpRequest) -> HttpResponse:
    form = MeterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meter = meter_create(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Meter “{meter.label}” created.")
            return redirect_after_write(request, meter.get_absolute_url())
    dimension_rows = form["dimensions"].value() or [] if form.is_bound else []
    context = {"form": form, "dimension_rows": dimension_rows, "types": TYPE_DESCRIPTIONS}
    template = page_or_partial(request, "meters/create.html", "meter-form")
    return render(request, template, context)


@require_GET
@permission_required("meters.add_meter", raise_exception=True)
def dimension_row(request: HttpRequest) -> HttpResponse:
    """One empty dimension row, appended in place by the create form."""
    return render(request, "meters/create.html#dimension-row", {"value": ""})


@require_http_methods(["GET", "POST"])
@permission_required("meters.change_meter", raise_exception=True)
@vary_on_headers("HX-Request")
def meter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a meter's label; the rest is shown, fixed (meters.services.meter_update)."""
    meter = _get_meter(pk)
    form = MeterEditForm(request.POST or None, initial={"label": meter.label})
    if request.method == "POST" and form.is_valid():
        try:
            meter_update(meter=meter, label=form.cleaned_data["label"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Meter “{meter.label}” saved.")
            return redirect_after_write(request, meter.get_absolute_url())
    template = page_or_partial(request, "meters/edit.html", "meter-edit-form")
    return render(request, template, {"meter": meter, "form": form})


def _event_table(request: HttpRequest, meter: Meter) -> EventTable:
    events = EventTable(meter.events.all())
    RequestConfig(request, paginate={"per_page": 25, "paginator_class": LazyPaginator}).configure(
        events
    )
    return events


@require_GET
@permission_required("meters.view_meter", raise_exception=True)
@vary_on_headers("HX-Request")
def meter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    meter = _get_meter(pk)
    form = EventUploadForm(max_bytes=settings.UPLOAD_MAX_BYTES)
    template = page_or_partial(request, "meters/detail.html", "event-table")
    return render(
        request, template, {"meter": meter, "events": _event_table(request, meter), "form": form}
    )


@require_POST
@permission_required("meters.add_usageevent", raise_exception=True)
@vary_on_headers("HX-Request")
def event_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Ingest pasted or uploaded records; answer with the upload report and the
    event table, refreshed (over HTMX, swapped out of band)."""
    meter = _get_meter(pk)
    form = EventUploadForm(request.POST, request.FILES, max_bytes=settings.UPLOAD_MAX_BYTES)
    context: dict[str, object] = {"meter": meter}
    if form.is_valid():
        customer = form.cleaned_data.get("customer")
        customer_id = customer.customer_id if customer else None
        try:
            records = _read_records(form, customer_id)
        except DocumentError as exc:
            form.add_error("file" if form.cleaned_data.get("file") else "records", str(exc))
        else:
            context["result"] = events_ingest(
                records=records,
                default_meter=meter,
                default_customer_id=customer_id,
                allow_backfill=form.cleaned_data["allow_backfill"],
            )
            # Emptied, so a second click cannot send the same text again; the
            # customer pick stays, the backfill exception does not.
            form = EventUploadForm(
                max_bytes=settings.UPLOAD_MAX_BYTES, initial={"customer": customer}
            )
    context["form"] = form
    context["events"] = _event_table(request, meter)
    template = page_or_partial(request, "meters/detail.html", "upload-answer")
    return render(request, template, context)


def _read_records(form: EventUploadForm, default_customer_id: str | None) -> list[object]:
    """The upload's records, each without a uniqueId keyed by the upload
    (meters.records.upload_keys), so sending it again is recognized."""
    upload = form.cleaned_data.get("file")
    if upload:
        text, name = decode(upload.read()), upload.name or ""
    else:
        text, name = form.cleaned_data["records"], ""
    records = parse_document(text, name, max_records=settings.UPLOAD_MAX_RECORDS)
    return upload_keys(records, text, default_customer_id=default_customer_id)
