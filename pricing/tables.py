from __future__ import annotations

import django_tables2 as tables

from pricing.models import Plan

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}


class PlanTable(tables.Table):
    """Expects plans annotated with `rate_count` (views.plan_list)."""

    name = tables.Column(linkify=True)
    billing_period = tables.Column(verbose_name="Billing period")
    currency = tables.Column()
    rate_count = tables.Column(verbose_name="Rates", attrs=NUM)
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d")

    class Meta:
        model = Plan
        fields = ["name", "billing_period", "currency", "rate_count", "created_at"]
        order_by = "name"
        empty_text = "No pricing plans yet."
