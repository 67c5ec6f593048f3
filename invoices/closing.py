"""Period close: the drafts of every billing period that has begun, and the
finalization of each whose grace period is over. Run by the background
worker (invoices/tasks.py) and `manage.py close_periods`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from customers.models import PlanAssignment
from invoices.builder import MAX_PERIODS, billing_tz
from invoices.models import Invoice
from invoices.services import (
    SYSTEM,
    draft_ensure,
    invoice_document_store,
    invoice_finalize,
    settles_at,
)
from pricing.periods import Period, boundary, period_index

Status = Invoice.Status


# Period close ----------------------------------------------------------------------


@dataclass(frozen=True)
class CloseReport:
    """What one run of period close did."""

    drafts_created: int = 0
    finalized: int = 0
    held: int = 0
    waiting: int = 0  # drafts still inside their grace period
    documents: int = 0


def _due_periods(assignment: PlanAssignment, now: datetime) -> list[tuple[datetime, datetime]]:
    """The assignment's periods that have begun, up to MAX_PERIODS back."""
    if now < assignment.start_at:
        return []
    until = now
    if assignment.end_at and assignment.end_at <= now:
        until = assignment.end_at - timedelta(microseconds=1)
    tz, period = billing_tz(), Period(assignment.plan.billing_period)
    last = period_index(assignment.start_at, period, until, tz)
    return [
        (
            boundary(assignment.start_at, period, n, tz),
            boundary(assignment.start_at, period, n + 1, tz),
        )
        for n in range(max(0, last + 1 - MAX_PERIODS), last + 1)
    ]


def close_periods(*, now: datetime, dry_run: bool = False) -> CloseReport:
    """Settle every billing period: a draft for each period that has begun
    (the current one follows usage), and finalization of each draft whose
    grace period has ended and is not held. Idempotent and safe to run in
    several workers at once: drafts are unique per period in the database and
    finalization locks the draft and re-checks it."""
    created = finalized = held = waiting = documents = 0
    known = set(Invoice.objects.values_list("assignment_id", "period_start"))
    assignments = PlanAssignment.objects.select_related("plan").filter(start_at__lte=now)
    for assignment in assignments.iterator(chunk_size=500):
        for start, end in _due_periods(assignment, now):
            if (assignment.pk, start) in known:
                continue
            created += 1
            if not dry_run:
                draft_ensure(assignment=assignment, start=start, end=end)
    drafts = Invoice.objects.filter(status=Status.DRAFT, period_start__lte=now).select_related(
        "assignment__plan"
    )
    to_finalize = []
    for draft in drafts.iterator(chunk_size=500):
        if now < settles_at(draft):
            waiting += 1
        elif draft.on_hold:
            held += 1
        else:
            to_finalize.append(draft)
    if dry_run:
        return CloseReport(created, len(to_finalize), held, waiting)
    for draft in to_finalize:
        issued = invoice_finalize(invoice=draft, now=now, actor=SYSTEM)
        finalized += 1
        invoice_document_store(invoice=issued)
        documents += 1
    return CloseReport(created, finalized, held, waiting, documents)
