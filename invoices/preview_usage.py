"""The billing periods the rate editor's preview takes usage from
(pricing.usage_windows): settings.PREVIEW_USAGE_WINDOWS names InvoicePeriods,
so pricing never imports customers or invoices.
"""

from __future__ import annotations

from datetime import datetime

from customers.models import Customer
from invoices.builder import billing_tz, current_period
from pricing import usage_windows
from pricing.usage_windows import PreviewCustomer, UsageWindow


class InvoicePeriods(usage_windows.UsageWindows):
    """The periods invoices.builder bills. Subclasses the protocol so mypy
    checks every signature."""

    def customers(self) -> list[PreviewCustomer]:
        rows = Customer.objects.order_by("name").values_list("pk", "name", "customer_id")
        return [PreviewCustomer(pk, name, customer_id) for pk, name, customer_id in rows]

    def current(self, customer: PreviewCustomer, now: datetime) -> UsageWindow | None:
        row = Customer.objects.filter(pk=customer.pk).first()
        ref = current_period(row, now) if row is not None else None
        if ref is None:
            return None
        tz = billing_tz()
        return UsageWindow(
            start=ref.period.start.astimezone(tz),
            end=ref.period.end.astimezone(tz),
            usage_end=ref.usage_end.astimezone(tz),
            coverage=ref.coverage,
            plan_name=ref.assignment.plan.name,
        )
