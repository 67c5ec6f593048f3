from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from customers.models import Customer


class CustomerTable(tables.Table):
    name = tables.Column(linkify=True, verbose_name="Customer name")
    customer_id = tables.Column(verbose_name="Customer ID")
    current_plan = tables.Column(verbose_name="Current plan", orderable=False, empty_values=())
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d")

    class Meta:
        model = Customer
        fields = ["name", "customer_id", "current_plan", "created_at"]
        order_by = "name"
        empty_text = "No customers yet."

    def render_customer_id(self, value: str) -> str:
        return format_html("<code>{}</code>", value)

    def render_current_plan(self, value: str | None) -> str:
        if not value:
            return mark_safe('<span class="muted">No plan</span>')
        return format_html('<span class="pill ok">{}</span>', value)
