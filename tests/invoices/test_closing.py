"""Period close: drafts in bulk, PDFs after the invoices are final (not in
the close), and the worker's tasks that share a big close and its PDFs."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from time_machine import TimeMachineFixture

from customers.models import Customer, PlanAssignment
from invoices import tasks
from invoices.closing import (
    CloseReport,
    close_periods,
    pending_documents,
    render_pending_documents,
)
from invoices.models import Invoice, InvoiceDocument, NumberSequence
from invoices.tasks import (
    close_periods_task,
    finalize_drafts_task,
    render_invoice_documents_task,
)
from tests.factories import guide_setup

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=25)


def customers_on_the_guide_plan(count: int) -> None:
    """The guide, and `count` - 1 more customers on its plan since 1 March."""
    for name in ("invoice", "credit_note"):  # gone if a transactional test ran before
        NumberSequence.objects.get_or_create(name=name)
    guide = guide_setup(MID_MARCH, start_at=MARCH)
    others = Customer.objects.bulk_create(
        Customer(name=f"Customer {n}", customer_id=f"customer-{n}") for n in range(1, count)
    )
    PlanAssignment.objects.bulk_create(
        PlanAssignment(customer=customer, plan=guide.plan, start_at=MARCH) for customer in others
    )


@pytest.fixture
def four_customers(db: None, time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(4)


@pytest.mark.usefixtures("four_customers")
def test_a_dry_run_reports_what_close_would_do_and_changes_nothing() -> None:
    close_periods(now=MID_MARCH)  # March's drafts

    report = close_periods(now=AFTER_GRACE, dry_run=True)

    # April's drafts would be created, March's would be finalized.
    assert report == CloseReport(drafts_created=4, finalized=4)
    assert Invoice.objects.count() == 4
    assert not Invoice.objects.exclude(status=Invoice.Status.DRAFT).exists()


@pytest.mark.usefixtures("four_customers")
def test_close_issues_invoices_and_leaves_their_pdfs_to_be_rendered_after() -> None:
    report = close_periods(now=AFTER_GRACE)

    assert (report.finalized, report.documents_pending) == (4, 4)
    assert not InvoiceDocument.objects.exists()

    assert render_pending_documents(limit=3) == 3
    assert render_pending_documents(limit=3) == 1
    assert render_pending_documents(limit=3) == 0  # each rendered once
    assert not pending_documents().exists()
    for document in InvoiceDocument.objects.all():
        assert bytes(document.content).startswith(b"%PDF")
    assert close_periods(now=AFTER_GRACE).documents_pending == 0


@pytest.mark.usefixtures("four_customers")
def test_a_held_draft_is_left_alone_and_counted() -> None:
    close_periods(now=MID_MARCH)
    Invoice.objects.filter(customer__customer_id="customer-1").update(on_hold=True)

    report = close_periods(now=AFTER_GRACE)

    assert (report.finalized, report.held, report.waiting) == (3, 1, 4)


# The worker


@pytest.fixture
def worker_signals_restored() -> Iterator[None]:
    """The worker installs its own signal handlers; put the test's back."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
    saved = {signum: signal.getsignal(signum) for signum in handled}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _rows(task: object) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=task.module_path))  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_signals_restored")
def test_the_worker_shares_a_big_close_and_renders_the_pdfs_after(
    time_machine: TimeMachineFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(6)
    # As many drafts as 3 helpers' worth; the real threshold is in the hundreds.
    monkeypatch.setattr(tasks, "DRAFTS_PER_HELPER", 2)
    monkeypatch.setattr(tasks, "DOCUMENTS_PER_TASK", 4)
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods_task.enqueue()

    call_command("db_worker", batch=True, reload=False, startup_delay=False, stdout=StringIO())

    [close] = _rows(close_periods_task)
    helpers = _rows(finalize_drafts_task)
    renders = _rows(render_invoice_documents_task)
    assert close.status == TaskResultStatus.SUCCESSFUL
    assert close.return_value["finalized"] == 6  # one worker: the helpers found none left
    assert close.return_value["documents_pending"] == 6
    assert [h.status for h in helpers] == [TaskResultStatus.SUCCESSFUL] * 3
    assert sum(h.return_value["finalized"] for h in helpers) == 0
    # Two render tasks of 4 for the 6 PDFs, run after the finalization.
    assert [r.return_value for r in renders] == [{"documents": 4}, {"documents": 2}]
    assert all(r.priority < close.priority for r in renders)
    assert Invoice.objects.filter(status=Invoice.Status.OPEN).count() == 6
    assert InvoiceDocument.objects.count() == 6


@pytest.mark.django_db
def test_tasks_already_queued_are_counted_so_closes_do_not_pile_them_up() -> None:
    render_invoice_documents_task.enqueue(limit=1)  # an earlier close's, still waiting

    assert tasks._enqueue_up_to(render_invoice_documents_task, 4, limit=1) == 3
    assert tasks._enqueue_up_to(render_invoice_documents_task, 4, limit=1) == 0
    assert len(_rows(render_invoice_documents_task)) == 4
