"""Which billing period a page, a PDF or the API names, from a period token
(`PeriodRef.token`: `<assignment id>@<period start in UTC>`)."""

from __future__ import annotations

from datetime import UTC, datetime

from customers.models import Customer
from invoices.builder import PeriodRef, find_period

TOKEN_TIME = "%Y-%m-%dT%H:%M:%SZ"


def period_by_token(customer: Customer, token: str, now: datetime) -> PeriodRef | None:
    assignment_id, _, start = token.partition("@")
    if not assignment_id.isdigit() or len(assignment_id) > 18:
        return None
    try:
        moment = datetime.strptime(start, TOKEN_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
    return find_period(customer, int(assignment_id), moment, now)


def selected_period(
    customer: Customer, token: str | None, periods: list[PeriodRef], now: datetime
) -> PeriodRef | None:
    """The period named by `token`, else the newest listed (the current one)."""
    if token:
        found = period_by_token(customer, token, now)
        if found is not None:
            return found
    return periods[0] if periods else None
