"""Admin for meters and usage events.

Usage events are immutable (they are the evidence behind every invoice), so the
admin only shows them. The events table holds millions of rows: the changelist
never counts the whole table and search matches IDs exactly, so it can use the
customer index instead of scanning.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from meters.meter_rules import check_meter
from meters.models import Meter, UsageEvent
from meters.naming import describe_dimensions
from meters.quantities import format_quantity


class MeterAdminForm(forms.ModelForm[Meter]):
    """The admin's meter form, held to the same rules as the create page and
    the API (meters.meter_rules). On the change page the API name is read-only,
    so the stored one is checked."""

    class Meta:
        model = Meter
        fields = ["label", "api_name", "meter_type", "dimensions", "unique_dimension"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        api_name = data.get("api_name") if "api_name" in self.fields else self.instance.api_name
        dimensions = data.get("dimensions")
        fields, problems = check_meter(
            label=data.get("label") or "",
            api_name=api_name or "",
            meter_type=data.get("meter_type") or "",
            dimensions=[] if dimensions is None else dimensions,
            unique_dimension=data.get("unique_dimension") or "",
        )
        for name, message in problems.items():
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, message)
        for name in ("label", "dimensions", "unique_dimension"):
            if name in self.fields and name not in self.errors:
                data[name] = getattr(fields, name)
        return data


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = MeterAdminForm
    list_display = ["label", "api_name", "meter_type", "dimension_names", "created_at"]
    search_fields = ["label", "api_name"]
    list_filter = ["meter_type"]
    ordering = ["label"]

    def get_readonly_fields(self, request: HttpRequest, obj: Meter | None = None) -> list[str]:
        # Senders address a meter by its API name; renaming it would make their
        # events bounce, so it is fixed once the meter exists.
        return ["api_name", "created_at"] if obj else ["created_at"]

    @admin.display(description="dimensions")
    def dimension_names(self, meter: Meter) -> str:
        return ", ".join(meter.dimensions) or "—"


# Shown, not the columns: the value normalized ("1", not "1.000000000") and
# the dimensions as "model: model a" rather than their escaped dimension_key.
EVENT_FIELDS = (
    "event_time",
    "meter",
    "customer_id",
    "quantity",
    "dimension_values",
    "unique_id",
    "received_at",
)


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "event_time",
        "meter",
        "customer_id",
        "quantity",
        "dimension_values",
        "unique_id",
        "received_at",
    ]
    # The search box shows because search_fields is set; get_search_results
    # below decides how a term matches.
    search_fields = ["customer_id", "unique_id"]
    list_filter = ["meter"]
    date_hierarchy = "event_time"
    list_select_related = ["meter"]
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    show_full_result_count = False
    list_per_page = 100

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[UsageEvent], search_term: str
    ) -> tuple[QuerySet[UsageEvent], bool]:
        # Exact matches only: `icontains` over millions of rows is a full scan,
        # and people look events up by a whole customer ID or uniqueId.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(customer_id=term) | Q(unique_id=term)), False

    @admin.display(description="value", ordering="value")
    def quantity(self, event: UsageEvent) -> str:
        return format_quantity(event.value)

    @admin.display(description="dimensions")
    def dimension_values(self, event: UsageEvent) -> str:
        return describe_dimensions(event.dimensions) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
