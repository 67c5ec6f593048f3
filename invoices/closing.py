"""Period close: the drafts of every billing period that has begun, and the
finalization of each whose grace period is over. Run by the background
worker (invoices/tasks.py) and `manage.py close_periods`.

Safe, and useful, in any number of workers at once:
- Drafts are created set-based, a thousand rows a statement, and the
  database's one-invoice-per-period rule keeps one when two closes insert the
  same period (the loser's row is skipped, `ignore_conflicts`).
- Finalization claims a window of due drafts (CLAIM_WINDOW) with `SELECT …
  FOR UPDATE SKIP LOCKED` and finalizes them together in the same
  transaction (`invoice_finalize_batch`: a constant number of statements
  for the window, not a dozen per invoice): a draft another worker is
  finalizing is skipped, not waited for, so N workers finalize different
  drafts side by side instead of queueing behind each other's locks. The
  status is re-checked under the lock, so a draft finalized meanwhile is
  never billed twice, and numbers stay gapless (a rolled-back finalization
  rolls its numbers back). If a window fails, it is rolled back and its
  drafts are finalized one at a time (`invoice_finalize`), so one bad draft
  stays behind alone. On SQLite, whose
  IMMEDIATE transactions take the write lock at BEGIN, workers simply take
  turns, each claim seeing the other's commits.
- The PDF is not rendered here: the invoice is final at COMMIT, and
  WeasyPrint's 100+ ms an invoice (20+ minutes for 10,000 on two cores) would
  hold up every invoice behind it. `render_pending_documents` renders the
  invoices still without a stored PDF, in the worker's
  `render_invoice_documents_task` that the close enqueues (or on first
  download, invoices.views.invoice_document).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from itertools import batched

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet

from customers.models import PlanAssignment
from invoices.builder import assignment_periods
from invoices.credits import credit_grants_expire
from invoices.models import Invoice, InvoiceDocument
from invoices.services import (
    SYSTEM,
    invoice_document_store,
    invoice_finalize,
    invoice_finalize_batch,
    settles_at,
)

logger = logging.getLogger(__name__)
Status = Invoice.Status

# Draft rows per INSERT.
DRAFTS_PER_INSERT = 1_000
# Due drafts claimed and finalized in one transaction: enough that the
# statements' fixed cost is shared (a window costs about as many statements as
# one invoice did), few enough that a window's transaction stays short and the
# other workers find windows of their own.
CLAIM_WINDOW = 100


# Period close ----------------------------------------------------------------------


@dataclass(frozen=True)
class CloseReport:
    """What one run of period close did. Other workers finalizing beside it
    (invoices.tasks.finalize_drafts_task) report their own share."""

    drafts_created: int = 0
    finalized: int = 0  # by this run
    failed: int = 0  # drafts whose finalization raised: logged, left as drafts, retried next run
    held: int = 0
    waiting: int = 0  # drafts still inside their grace period
    # Issued invoices with no stored PDF yet when this run ended. The close
    # renders none itself; render_invoice_documents_task does, or the
    # first download.
    documents_pending: int = 0
    # Expired credit grants written off (invoices.credits.credit_grants_expire),
    # after the finalizations that could still draw them.
    credits_expired: int = 0


@dataclass(frozen=True)
class Finalized:
    """What one worker's pass over the due drafts did."""

    finalized: int = 0
    failed: int = 0
    held: int = 0
    waiting: int = 0


def close_periods(
    *,
    now: datetime,
    dry_run: bool = False,
    invite_helpers: Callable[[int], object] | None = None,
) -> CloseReport:
    """Settle every billing period: a draft for each period that has begun
    (the current one follows usage), and finalization of each draft whose
    grace period has ended and is not held. Idempotent, and safe to run in
    several workers at once (module docstring).

    `invite_helpers`, if given, is called with the number of drafts due
    before this run starts finalizing them, so the caller can have other
    workers join in (invoices.tasks enqueues finalize_drafts_task)."""
    if dry_run:
        due, held, waiting = _due_drafts(now)
        pending = pending_documents().count()
        return CloseReport(len(_missing_drafts(now)), len(due), 0, held, waiting, pending)
    created = drafts_create(now=now)
    due, held, waiting = _due_drafts(now)
    if invite_helpers is not None and due:
        invite_helpers(len(due))
    finalized, failed = _finalize(due, now)
    expired = credit_grants_expire(now=now, actor=SYSTEM)
    pending = pending_documents().count()
    return CloseReport(created, finalized, failed, held, waiting, pending, expired)


# Drafts ------------------------------------------------------------------------------


def _missing_drafts(now: datetime) -> list[Invoice]:
    """Unsaved drafts for the periods that have begun and have no invoice."""
    wanted: list[Invoice] = []
    assignments = PlanAssignment.objects.filter(start_at__lte=now).select_related("plan")
    for assignment in assignments.order_by("pk").iterator(chunk_size=2_000):
        wanted.extend(
            Invoice(
                customer_id=assignment.customer_id,
                assignment=assignment,
                plan_id=assignment.plan_id,
                period_start=period.start,
                period_end=period.end,
                currency=assignment.plan.currency,
            )
            for period in assignment_periods(assignment, now)
        )
    if not wanted:
        return []
    earliest = min(draft.period_start for draft in wanted)
    known = set(
        Invoice.objects.filter(kind=Invoice.Kind.USAGE, period_start__gte=earliest).values_list(
            "assignment_id", "period_start"
        )
    )
    return [d for d in wanted if (d.assignment_id, d.period_start) not in known]


def drafts_create(*, now: datetime) -> int:
    """Create the missing drafts, DRAFTS_PER_INSERT rows a statement; returns
    how many this run set out to create. A draft another close inserted
    first is skipped by the database's one-invoice-per-period rule (so two
    closes racing may both count it; only one row exists)."""
    missing = _missing_drafts(now)
    for chunk in batched(missing, DRAFTS_PER_INSERT):
        Invoice.objects.bulk_create(chunk, ignore_conflicts=True)
    return len(missing)


# Finalization ------------------------------------------------------------------------


def _due_drafts(now: datetime) -> tuple[list[int], int, int]:
    """The ids of the drafts to finalize now (oldest first), and how many
    are held and how many still wait for their grace period to end."""
    due: list[int] = []
    held = waiting = 0
    drafts = (
        Invoice.objects.filter(status=Status.DRAFT, period_start__lte=now)
        .select_related("assignment__plan")
        .order_by("pk")
    )
    for draft in drafts.iterator(chunk_size=2_000):
        if now < settles_at(draft):
            waiting += 1
        elif draft.on_hold:
            held += 1
        else:
            due.append(draft.pk)
    return due, held, waiting


def finalize_due_drafts(*, now: datetime) -> Finalized:
    """Finalize every draft due at `now` that no other worker holds: the
    close's own pass, and that of each worker helping it."""
    due, held, waiting = _due_drafts(now)
    finalized, failed = _finalize(due, now)
    return Finalized(finalized, failed, held, waiting)


def _finalize(due: list[int], now: datetime) -> tuple[int, int]:
    """Finalize the drafts among `due` that are still drafts and that no
    other worker holds; returns (finalized, failed)."""
    finalized = 0
    failed: set[int] = set()
    for window in batched(due, CLAIM_WINDOW):
        try:
            # The whole window in one transaction (drafts another worker holds
            # are skipped: it is finalizing them).
            issued = invoice_finalize_batch(invoices=list(window), now=now, actor=SYSTEM)
        except Exception:
            # Rolled back as a whole; one at a time, a bad draft stays behind
            # alone (logged below) and the others are issued.
            logger.warning(
                "Could not finalize drafts %s to %s together; one at a time instead",
                window[0], window[-1], exc_info=True,
            )  # fmt: skip
        else:
            finalized += len(issued)
            continue
        while True:
            outcome = _finalize_next([pk for pk in window if pk not in failed], now)
            if outcome is None:
                break
            pk, ok = outcome
            if ok:
                finalized += 1
            else:
                failed.add(pk)
    return finalized, len(failed)


def _finalize_next(window: list[int], now: datetime) -> tuple[int, bool] | None:
    """Claim the first draft of `window` that is still a draft, not held,
    and not locked by another worker (SKIP LOCKED: a locked one is another
    worker's, skipped rather than waited for), and finalize it in the same
    transaction, so the claim and the invoice commit together. Returns its id
    and whether it was finalized; None when the window has no draft left."""
    with transaction.atomic():
        claimed = (
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(pk__in=window, status=Status.DRAFT, on_hold=False)
            .only("pk")
            .order_by("pk")
            .first()
        )
        if claimed is None:
            return None
        try:
            # Its own savepoint (invoice_finalize's atomic block): a failure
            # rolls back this invoice's rows and number, not the claim.
            invoice_finalize(invoice=claimed, now=now, actor=SYSTEM)
        except Exception:
            # One draft that cannot be finalized (a bug, a bad price) must not
            # stop the thousands behind it: it stays a draft, is logged with
            # its traceback, and the next close tries it again.
            logger.exception("Could not finalize invoice %s", claimed.pk)
            return claimed.pk, False
    return claimed.pk, True


# Documents ---------------------------------------------------------------------------


def pending_documents() -> QuerySet[Invoice]:
    """Issued invoices with no stored PDF yet."""
    return Invoice.objects.exclude(status=Status.DRAFT).filter(
        ~Exists(InvoiceDocument.objects.filter(invoice=OuterRef("pk")))
    )


def render_pending_documents(*, limit: int) -> int:
    """Render and store the PDFs of up to `limit` issued invoices that have
    none; returns how many this call stored. Several workers may run it at
    once: on PostgreSQL each claims its invoice with SKIP LOCKED, so no two
    render the same one; on SQLite, where a transaction held across the
    rendering would block every writer (ingestion too), they render without
    a claim, and one that loses the race keeps the other's PDF
    (invoice_document_store).

    A PDF that fails to render does not hold up the ones after it: it is
    logged and skipped, and once the others are stored the call raises,
    naming it (the task fails visibly; the next one tries it again)."""
    rendered, after, failed = 0, 0, []
    claims = connection.features.has_select_for_update_skip_locked
    while rendered < limit:
        invoice = None
        try:
            with transaction.atomic() if claims else nullcontext():
                pending = pending_documents().filter(pk__gt=after).order_by("pk")
                if claims:
                    # NO KEY: the document's foreign key to the invoice only
                    # needs KEY SHARE, which this lock does not block.
                    pending = pending.select_for_update(skip_locked=True, no_key=True)
                invoice = pending.first()
                if invoice is None:
                    break
                after = invoice.pk
                invoice_document_store(invoice=invoice)
        except Exception:
            if invoice is None:  # the database itself failed: nothing to skip
                raise
            logger.exception("Could not render the PDF of invoice %s", invoice.pk)
            failed.append(invoice.pk)
            continue
        rendered += 1
    if failed:
        raise RuntimeError(f"Could not render the PDFs of invoices {failed} (logged above)")
    return rendered
