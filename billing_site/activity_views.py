"""The Activity page: the audit trail (billing_site/audit.py), newest first,
filterable by object, person and day. An object's page links here with
`?type=<app_label>.<model>&id=<pk>` to show its own history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

import django_tables2 as tables
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django import forms
from django.contrib.auth.decorators import permission_required
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_tables2 import LazyPaginator, RequestConfig

from billing_site.htmx import page_or_partial

DASH = mark_safe('<span class="muted">—</span>')
DATE = forms.DateInput(attrs={"type": "date"})
PER_PAGE = 50


def _type_name(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def type_choices() -> list[tuple[str, str]]:
    """Every audited model, as `app_label.model` (what an object's History link sends)."""
    models = sorted(auditlog.get_models(), key=lambda m: str(m._meta.verbose_name))
    return [("", "Any object")] + [
        (_type_name(m), str(m._meta.verbose_name).capitalize()) for m in models
    ]


class ActivityFilterForm(forms.Form):
    type = forms.ChoiceField(required=False, label="Object")
    id = forms.IntegerField(required=False, min_value=1, label="ID")
    person = forms.CharField(
        required=False,
        max_length=150,
        label="Person",
        help_text="A username or an API key's name (part of it is enough).",
    )
    day_from = forms.DateField(required=False, label="From", widget=DATE)
    day_to = forms.DateField(required=False, label="To", widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = type_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("day_from"), cleaned.get("day_to")
        if start and end and end < start:
            self.add_error("day_to", "Pick a day on or after “From”.")
        return cleaned


def _day_start(day: date) -> datetime:
    # Days are the billing time zone's days, as everywhere else in the app.
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_entries(form: ActivityFilterForm) -> QuerySet[LogEntry]:
    """The entries the form's valid filters allow (an invalid filter is ignored;
    the form shows its error)."""
    entries: QuerySet[LogEntry] = LogEntry.objects.select_related("actor", "content_type")
    if not form.is_valid():
        return entries
    data = form.cleaned_data
    if data["type"]:
        app_label, _, model = data["type"].partition(".")
        content_type = ContentType.objects.get_by_natural_key(app_label, model)
        entries = entries.filter(content_type=content_type)
    if data["id"]:
        entries = entries.filter(object_pk=str(data["id"]))
    if person := data["person"].strip():
        entries = entries.filter(
            Q(actor__username__icontains=person) | Q(additional_data__who__icontains=person)
        )
    # Half-open day ranges on the raw column, so the timestamp index serves them.
    if data["day_from"]:
        entries = entries.filter(timestamp__gte=_day_start(data["day_from"]))
    if data["day_to"]:
        entries = entries.filter(timestamp__lt=_day_start(data["day_to"] + timedelta(1)))
    return entries


# Where each audited object is shown, by model: the related names to load with
# it and its page. Objects without a page of their own link to their parent's.
_PAGES: dict[str, tuple[tuple[str, ...], Callable[[Any], str]]] = {
    "meters.meter": ((), lambda o: o.get_absolute_url()),
    "meters.apikey": ((), lambda o: reverse("meters:api_keys")),
    "pricing.plan": ((), lambda o: o.get_absolute_url()),
    "pricing.planversion": (("plan",), lambda o: o.plan.get_absolute_url()),
    "pricing.rate": (("plan",), lambda o: o.plan.get_absolute_url()),
    "pricing.pricecell": (("rate__plan",), lambda o: o.rate.plan.get_absolute_url()),
    "customers.customer": ((), lambda o: o.get_absolute_url()),
    "customers.planassignment": (("customer",), lambda o: o.customer.get_absolute_url()),
    "invoices.creditgrant": (("customer",), lambda o: o.get_absolute_url()),
    "auth.user": ((), lambda o: reverse("users:list")),
}


def object_links(entries: Iterable[LogEntry]) -> dict[tuple[int, str], str]:
    """(content type id, object pk) → the page of each object that still
    exists: one query per kind of object on the page, whatever the page's length."""
    wanted: dict[ContentType, set[str]] = defaultdict(set)
    for entry in entries:
        wanted[entry.content_type].add(entry.object_pk)
    links: dict[tuple[int, str], str] = {}
    for content_type, pks in wanted.items():
        page = _PAGES.get(f"{content_type.app_label}.{content_type.model}")
        model = content_type.model_class()
        if page is None or model is None:
            continue
        related, url_of = page
        objects = model._default_manager.select_related(*related).filter(pk__in=pks)
        for obj in objects:
            links[(content_type.pk, str(obj.pk))] = url_of(obj)
    return links


def _value(value: object) -> SafeString:
    return DASH if value in (None, "None", "") else format_html("<code>{}</code>", value)


def change_lines(entry: LogEntry) -> list[SafeString]:
    """Each changed field as `field: before → after` (many-to-many: added/removed)."""
    lines = []
    for field, change in sorted((entry.changes_dict or {}).items()):
        if isinstance(change, dict):  # many-to-many: {"operation", "objects"}
            verb = "added" if change.get("operation") == "add" else "removed"
            objects = ", ".join(str(o) for o in change.get("objects", []))
            lines.append(format_html("{}: {} {}", field, verb, objects))
        else:
            before, after = change
            lines.append(format_html("{}: {} → {}", field, _value(before), _value(after)))
    return lines


class ActivityTable(tables.Table):
    timestamp = tables.DateTimeColumn(verbose_name="When", format="Y-m-d H:i:s")
    who = tables.Column(accessor="pk", verbose_name="Who", orderable=False)
    door = tables.Column(accessor="pk", verbose_name="Through", orderable=False)
    action = tables.Column(orderable=False)
    object = tables.Column(accessor="object_repr", verbose_name="Object", orderable=False)
    changes = tables.Column(accessor="pk", verbose_name="Changes", orderable=False)

    class Meta:
        model = LogEntry
        fields = ["timestamp", "who", "door", "action", "object", "changes"]
        order_by = "-timestamp"
        empty_text = "No activity."
        attrs = {"class": "table activity"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Filled by the view once the page's rows are known (object_links).
        self.links: dict[tuple[int, str], str] = {}

    def render_who(self, record: LogEntry) -> str:
        data = record.additional_data or {}
        if data.get("who"):
            return str(data["who"])
        return record.actor.get_username() if record.actor is not None else "—"

    def render_door(self, record: LogEntry) -> SafeString:
        door = (record.additional_data or {}).get("door")
        return format_html('<span class="pill">{}</span>', door) if door else DASH

    def render_action(self, record: LogEntry) -> str:
        return str(record.get_action_display())

    def render_object(self, record: LogEntry) -> SafeString:
        model = record.content_type.model_class()
        kind = str(model._meta.verbose_name if model else record.content_type.model).capitalize()
        url = self.links.get((record.content_type_id, record.object_pk))
        if url:
            return format_html('{} <a href="{}">{}</a>', kind, url, record.object_repr)
        return format_html("{} {}", kind, record.object_repr)

    def render_changes(self, record: LogEntry) -> SafeString:
        lines = change_lines(record)
        if not lines:
            return DASH
        return format_html(
            '<ul class="changes">{}</ul>',
            format_html_join("", "<li>{}</li>", ((li,) for li in lines)),
        )


@require_GET
@permission_required("auditlog.view_logentry", raise_exception=True)
@vary_on_headers("HX-Request")
def activity_list(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET)
    entries = filtered_entries(form)
    table = ActivityTable(entries)
    RequestConfig(
        request, paginate={"per_page": PER_PAGE, "paginator_class": LazyPaginator}
    ).configure(table)
    table.links = object_links(row.record for row in table.page.object_list)
    filtering = any(request.GET.get(name) for name in form.fields)
    context = {
        "form": form,
        "table": table,
        "filtering": filtering,
        # Lazy pagination never counts; one EXISTS tells an empty list apart.
        "has_rows": entries.exists(),
    }
    template = page_or_partial(request, "activity/list.html", "activity-table")
    return render(request, template, context)
