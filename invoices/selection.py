"""Which billing period a page or PDF shows, from the `period` query value."""

from __future__ import annotations

from datetime import datetime

from customers.models import Customer
from invoices.builder import PeriodRef, find_period


def selected_period(
    customer: Customer, token: str | None, periods: list[PeriodRef], now: datetime
) -> PeriodRef | None:
    """The period named by `token`, else the newest listed (the current one)."""
    if token:
        assignment_id, _, index = token.partition("-")
        if assignment_id.isdigit() and index.isdigit():
            found = find_period(customer, int(assignment_id), int(index), now)
            if found is not None:
                return found
    return periods[0] if periods else None
