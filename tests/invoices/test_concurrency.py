"""Period close in several workers at once: every draft finalized exactly
once, numbers 1..N with no gap and no repeat, one invoice per period. And
price changes and credit notes made at the same moment.

The races need PostgreSQL: real threads, each on its own connection, released
together by a barrier, against row locks (SELECT … FOR UPDATE SKIP LOCKED)
that SQLite does not have.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.forms.models import model_to_dict
from time_machine import TimeMachineFixture

from customers.models import Customer, PlanAssignment
from invoices.closing import CloseReport, close_periods, drafts_create, finalize_due_drafts
from invoices.credits import credit_grant_create, grant_balances
from invoices.discounts import coupon_redeem
from invoices.models import (
    CreditNote,
    Invoice,
    InvoiceAdjustment,
    InvoiceLine,
    InvoiceStatusChange,
    NumberSequence,
)
from invoices.services import SYSTEM, CreditRequest, credit_note_create, invoice_finalize
from meters.services import events_ingest, meter_create
from pricing.coupons import coupon_create
from pricing.models import Plan
from pricing.price_models import CellPrice
from pricing.schema import RateDraft
from pricing.selectors import plan_rates
from pricing.services import rate_save
from tests.factories import CUSTOMER_ID, guide_records, guide_setup

FEBRUARY = datetime(2025, 2, 15, 12, tzinfo=UTC)
MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=25)

needs_postgres = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL: SQLite has no row locks (SELECT … FOR UPDATE SKIP LOCKED) "
    "and serializes writers, so there is no race to test; the in-memory test database "
    "is also one shared connection (run with DATABASE_URL=postgres://...)",
)


def at_once[T](workers: int, work: Callable[[], T]) -> list[T]:
    """`work` in `workers` threads released together, each on its own
    database connection; their results."""
    start = threading.Barrier(workers)
    results: list[T] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            results.append(work())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert errors == []
    assert len(results) == workers
    return results


def customers_on_the_guide_plan(count: int) -> None:
    """The guide (its customer, plan and four events in March) and
    `count` - 1 more customers on the same plan since 1 March, without usage."""
    # The counters migration 0002 writes, gone if a transactional test ran
    # before this one (it empties the database after itself).
    for name in ("invoice", "credit_note"):
        NumberSequence.objects.get_or_create(name=name)
    guide = guide_setup(MID_MARCH, start_at=MARCH)
    others = Customer.objects.bulk_create(
        Customer(name=f"Customer {n:04d}", customer_id=f"customer-{n:04d}") for n in range(1, count)
    )
    PlanAssignment.objects.bulk_create(
        PlanAssignment(customer=customer, plan=guide.plan, start_at=MARCH) for customer in others
    )


def assert_numbered_once(count: int) -> None:
    """`count` invoices issued, numbered 1..count, each finalized once."""
    issued = Invoice.objects.exclude(status=Invoice.Status.DRAFT)
    assert sorted(issued.values_list("sequence", flat=True)) == list(range(1, count + 1))
    assert len(set(issued.values_list("number", flat=True))) == count
    assert InvoiceStatusChange.objects.filter(to_status="open").count() == count
    assert NumberSequence.objects.get(name="invoice").next_value == count + 1
    guide = issued.get(customer__customer_id=CUSTOMER_ID, period_start=MARCH)
    assert guide.total == Decimal("0.14")
    assert guide.lines.count() == 4


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_eight_workers_finalize_a_thousand_drafts_numbered_1_to_1000(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(1_000)
    assert drafts_create(now=MID_MARCH) == 1_000

    reports = at_once(8, lambda: finalize_due_drafts(now=AFTER_GRACE))

    assert sum(r.finalized for r in reports) == 1_000
    assert sum(r.failed for r in reports) == 0
    # They shared the work rather than queueing behind one another's locks.
    assert sum(1 for r in reports if r.finalized) > 1
    assert not Invoice.objects.filter(status=Invoice.Status.DRAFT).exists()
    assert_numbered_once(1_000)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_workers_finalizing_the_same_drafts_bill_each_once(
    time_machine: TimeMachineFixture,
) -> None:
    # No claiming here: every worker tries every draft, each in its own order.
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(100)
    drafts_create(now=MID_MARCH)
    drafts = list(Invoice.objects.all())
    orders = iter([random.Random(seed).sample(drafts, len(drafts)) for seed in range(8)])
    lock = threading.Lock()

    def finalize_all() -> int:
        with lock:
            order = next(orders)
        for draft in order:
            invoice_finalize(invoice=draft, now=AFTER_GRACE, actor=SYSTEM)
        return len(order)

    at_once(8, finalize_all)

    assert_numbered_once(100)
    # Lines were stored once per invoice: the guide's four, and the same few
    # for each of the 99 customers without usage.
    other = Invoice.objects.exclude(customer__customer_id=CUSTOMER_ID).first()
    assert other is not None
    assert InvoiceLine.objects.count() == 4 + 99 * other.lines.count()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_closing_the_same_periods_issue_one_invoice_each(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(300)

    reports: list[CloseReport] = at_once(2, lambda: close_periods(now=AFTER_GRACE))

    # March (issued) and April (a draft) for each customer, one row each.
    assert Invoice.objects.count() == 600
    assert Invoice.objects.filter(period_start=APRIL, status=Invoice.Status.DRAFT).count() == 300
    assert sum(r.finalized for r in reports) == 300
    assert all(r.failed == 0 and r.waiting == 300 for r in reports)
    assert_numbered_once(300)


def _everything() -> dict[str, object]:
    """The invoices' state as stored: every row that close writes."""
    return {
        "invoices": [model_to_dict(i) for i in Invoice.objects.order_by("pk")],
        "lines": InvoiceLine.objects.count(),
        "changes": InvoiceStatusChange.objects.count(),
        "next": list(NumberSequence.objects.order_by("name").values_list("next_value")),
    }


@pytest.mark.django_db
def test_a_second_close_at_the_same_instant_changes_nothing(
    time_machine: TimeMachineFixture,
) -> None:
    # Runs on both engines: no concurrency, just idempotence.
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(5)
    first = close_periods(now=AFTER_GRACE)
    assert (first.drafts_created, first.finalized) == (10, 5)
    before = _everything()

    second = close_periods(now=AFTER_GRACE)

    assert second == CloseReport(waiting=5, documents_pending=5)
    assert _everything() == before


# --- price changes and credit notes at the same moment -----------------------------------


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_price_changes_made_at_once_each_get_a_version_and_none_is_lost(
    time_machine: TimeMachineFixture,
) -> None:
    """Four operators change the plan's prices at the same moment, each a
    different meter: versions 2 to 5, one after the other, the last holding
    all four changes (the plan row is locked while a version is made)."""
    time_machine.move_to(MID_MARCH, tick=False)
    guide = guide_setup(MID_MARCH, start_at=MARCH)
    meters = [
        meter_create(label=f"Meter {n}", api_name=f"meter-{n}", meter_type="count", dimensions=[])
        for n in range(4)
    ]
    queue = iter(meters)
    lock = threading.Lock()

    def add_one() -> int:
        with lock:
            meter = next(queue)
        plan = Plan.objects.get(pk=guide.plan.pk)  # as a request reads it
        draft = RateDraft(meter.api_name, "per_unit", (), (((), CellPrice(Decimal("1"))),))
        return rate_save(plan=plan, meter=meter, draft=draft, starts="current_period").pk

    at_once(4, add_one)

    plan = Plan.objects.get(pk=guide.plan.pk)
    assert list(plan.versions.order_by("number").values_list("number", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert plan.current_version is not None and plan.current_version.number == 5
    counts = [v.rates.count() for v in plan.versions.order_by("number")]
    assert counts == [2, 3, 4, 5, 6]
    assert set(plan_rates(plan).values_list("meter__api_name", flat=True)) == {
        "api-calls",
        "llm-tokens",
        *(m.api_name for m in meters),
    }


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_full_credit_notes_at_once_credit_the_invoice_once(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    customers_on_the_guide_plan(1)
    close_periods(now=AFTER_GRACE)
    invoice = Invoice.objects.get(period_start=MARCH)
    assert invoice.total == Decimal("0.14")

    def credit_all() -> str:
        try:
            note = credit_note_create(
                invoice=invoice,
                requests=[CreditRequest(None, Decimal("0.14"))],
                reason="refund",
                now=AFTER_GRACE,
                actor="operator",
            )
        except ValidationError as refused:
            return " ".join(refused.messages)
        return note.number

    answers = sorted(at_once(2, credit_all))

    assert CreditNote.objects.count() == 1
    number = CreditNote.objects.get().number
    assert number in answers
    refused = next(a for a in answers if a != number)
    assert "left to credit" in refused, refused


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_invoices_finalized_at_once_never_draw_the_same_credit(
    time_machine: TimeMachineFixture,
) -> None:
    """February's and March's invoices of one customer, finalized by two
    workers at the same moment, share $0.20 of credit: $0.14 and $0.06, in
    whichever order, never $0.28."""
    time_machine.move_to(MID_MARCH, tick=False)
    for name in ("invoice", "credit_note"):
        NumberSequence.objects.get_or_create(name=name)
    guide = guide_setup(MID_MARCH, start_at=datetime(2025, 2, 1, tzinfo=UTC))
    february = [dict(r, uniqueId=f"feb-{n}") for n, r in enumerate(guide_records(FEBRUARY))]
    assert events_ingest(records=february, now=MID_MARCH).accepted == 4
    credit = credit_grant_create(
        customer=guide.customer,
        amount=Decimal("0.20"),
        currency="USD",
        description="Launch credit",
        effective_at=datetime(2025, 2, 1, tzinfo=UTC),
        now=MID_MARCH,
        actor="operator",
    )
    drafts_create(now=MID_MARCH)
    drafts = iter(list(Invoice.objects.order_by("period_start")))
    lock = threading.Lock()

    def finalize_one() -> Decimal | None:
        with lock:
            draft = next(drafts)
        return invoice_finalize(invoice=draft, now=AFTER_GRACE, actor=SYSTEM).credits_applied

    applied = at_once(2, finalize_one)

    assert sorted(a for a in applied if a is not None) == [Decimal("0.06"), Decimal("0.14")]
    assert grant_balances([credit.pk]) == {credit.pk: Decimal(0)}
    assert sorted(Invoice.objects.values_list("amount_due", flat=True)) == [
        Decimal("0.00"),
        Decimal("0.08"),
    ]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_invoices_finalized_at_once_use_a_coupon_once_only_once(
    time_machine: TimeMachineFixture,
) -> None:
    """A 50% coupon "once", given in February: February's and March's
    invoices finalized by two workers at the same moment, and exactly one of
    them is discounted (the coupon rows are locked before the counting)."""
    time_machine.move_to(MID_MARCH, tick=False)
    for name in ("invoice", "credit_note"):
        NumberSequence.objects.get_or_create(name=name)
    guide = guide_setup(MID_MARCH, start_at=datetime(2025, 2, 1, tzinfo=UTC))
    february = [dict(r, uniqueId=f"feb-{n}") for n, r in enumerate(guide_records(FEBRUARY))]
    assert events_ingest(records=february, now=MID_MARCH).accepted == 4
    half = coupon_create(code="HALF", name="Half off", kind="percentage", value="50", now=FEBRUARY)
    coupon_redeem(coupon=half, customer=guide.customer, now=FEBRUARY, actor="operator")
    drafts_create(now=MID_MARCH)
    drafts = iter(list(Invoice.objects.order_by("period_start")))
    lock = threading.Lock()

    def finalize_one() -> Decimal | None:
        with lock:
            draft = next(drafts)
        return invoice_finalize(invoice=draft, now=AFTER_GRACE, actor=SYSTEM).total

    totals = at_once(2, finalize_one)

    # $0.14 at half price, each line rounded half up: $0.06; the other in full.
    assert sorted(t for t in totals if t is not None) == [Decimal("0.06"), Decimal("0.14")]
    assert (
        InvoiceAdjustment.objects.filter(kind="discount").values("invoice").distinct().count() == 1
    )
