from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from meters.models import Meter, UsageEvent
from meters.quantities import format_quantity
from meters.templatetags.dimension_values import visible_spaces

# An empty cell, shown the same way in every table.
DASH = mark_safe('<span class="muted">—</span>')


class MeterTable(tables.Table):
    label = tables.Column(linkify=True)
    api_name = tables.Column(verbose_name="API name")
    meter_type = tables.Column(verbose_name="Type")
    dimensions = tables.Column(orderable=False)
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d")

    class Meta:
        model = Meter
        fields = ["label", "api_name", "meter_type", "dimensions", "created_at"]
        order_by = "label"
        empty_text = "No meters yet."

    def render_api_name(self, value: str) -> str:
        return format_html("<code>{}</code>", value)

    def render_dimensions(self, value: list[str]) -> str:
        if not value:
            return DASH
        return format_html_join("", '<span class="pill">{}</span>', ((v,) for v in value))


class EventTable(tables.Table):
    event_time = tables.DateTimeColumn(verbose_name="Event time (UTC)", format="Y-m-d H:i:s")
    customer_id = tables.Column(verbose_name="Customer ID")
    value = tables.Column(
        verbose_name="Value", attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    dimensions = tables.Column(orderable=False)
    unique_id = tables.Column(verbose_name="Unique ID", orderable=False)
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i:s")

    class Meta:
        model = UsageEvent
        fields = ["event_time", "customer_id", "value", "dimensions", "unique_id", "received_at"]
        order_by = "-event_time"
        empty_text = "No events yet. Upload some above."

    def render_value(self, value: Decimal) -> str:
        return format_quantity(value)

    def render_dimensions(self, value: dict[str, str]) -> str:
        if not value:
            return DASH
        # Doubled or edge spaces shown (visible_spaces): they make a different value.
        return format_html_join(
            "",
            '<span class="pill dim">{}: {}</span>',
            ((name, visible_spaces(v)) for name, v in sorted(value.items())),
        )
