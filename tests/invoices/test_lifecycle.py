"""A customer's month from draft to an issued, immutable invoice, and the
corrections after it, through the services every door calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatusChange
from invoices.selectors import stored_content
from invoices.services import (
    CreditRequest,
    credit_note_create,
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid,
    invoice_void,
)
from meters.services import events_ingest
from pricing.models import PriceCell
from pricing.services import rate_delete
from tests.factories import CUSTOMER_NAME, Guide, guide_records, guide_setup

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=24)


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def _march(guide: Guide) -> Invoice:
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def test_close_in_the_period_creates_a_draft_that_waits(guide: Guide) -> None:
    report = close_periods(now=MID_MARCH)
    assert (report.drafts_created, report.finalized, report.waiting) == (1, 0, 1)
    draft = _march(guide)
    assert draft.status == "draft" and draft.number is None
    assert draft.period_end == APRIL
    assert close_periods(now=MID_MARCH).drafts_created == 0  # idempotent


def test_close_after_grace_issues_the_guide_invoice_with_a_number(guide: Guide) -> None:
    report = close_periods(now=AFTER_GRACE)
    assert report.finalized == 1 and report.documents == 1
    invoice = _march(guide)
    assert invoice.status == "open"
    assert invoice.number == "TAL-2025-000001"
    assert invoice.total == Decimal("0.14")
    assert invoice.issue_date == date(2025, 4, 2)
    assert invoice.due_date == date(2025, 5, 2)  # net 30 by default
    assert invoice.customer_name == CUSTOMER_NAME
    assert invoice.lines.count() == 4
    assert invoice.document.content.startswith(b"%PDF")
    # April's draft exists and waits for April to end.
    assert Invoice.objects.filter(assignment=guide.assignment, status="draft").count() == 1
    again = close_periods(now=AFTER_GRACE + timedelta(minutes=5))
    assert again.finalized == 0 and Invoice.objects.exclude(status="draft").count() == 1


def test_late_event_inside_grace_lands_on_the_draft(guide: Guide) -> None:
    late = [dict(r, uniqueId=f"late-{n}") for n, r in enumerate(guide_records(MID_MARCH))][:1]
    events_ingest(records=late, now=APRIL + timedelta(hours=2))
    assert close_periods(now=APRIL + timedelta(hours=2)).finalized == 0  # still in grace
    close_periods(now=AFTER_GRACE)
    assert _march(guide).total == Decimal("0.15")


def test_price_edit_and_rate_deletion_leave_the_issued_invoice_as_issued(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)
    invoice = _march(guide)
    before = stored_content(invoice)
    PriceCell.objects.filter(rate=guide.api_rate).update(unit_price=Decimal("5"))
    rate_delete(rate=guide.token_rate)
    invoice.refresh_from_db()
    after = stored_content(invoice)
    assert after == before and after.total == Decimal("0.14")


def test_a_held_draft_is_not_finalized_until_released(guide: Guide) -> None:
    close_periods(now=MID_MARCH)
    invoice_hold(invoice=_march(guide), hold=True, now=MID_MARCH, actor="op")
    assert close_periods(now=AFTER_GRACE).held == 1
    assert _march(guide).status == "draft"
    invoice_hold(invoice=_march(guide), hold=False, now=AFTER_GRACE, actor="op")
    assert close_periods(now=AFTER_GRACE).finalized == 1


def test_an_open_period_cannot_be_finalized(guide: Guide) -> None:
    close_periods(now=MID_MARCH)
    with pytest.raises(ValidationError, match="period runs until"):
        invoice_finalize(invoice=_march(guide), now=MID_MARCH, actor="op")


def test_numbers_are_gapless_across_customers(db: None, time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    guide_setup(MID_MARCH)
    from customers.services import customer_create, plan_assign
    from pricing.models import Plan

    plan = Plan.objects.get()
    for n in range(4):
        customer = customer_create(name=f"C{n}", customer_id=f"c-{n}")
        plan_assign(customer=customer, plan=plan, start_at=MARCH)
    close_periods(now=AFTER_GRACE)
    numbers = sorted(Invoice.objects.exclude(status="draft").values_list("sequence", flat=True))
    assert numbers == [1, 2, 3, 4, 5]


def test_void_then_credit_note(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)
    invoice = _march(guide)
    line = invoice.lines.get(description__contains="API")
    note = credit_note_create(
        invoice=invoice,
        requests=[CreditRequest(line, Decimal("0.05"))],
        reason="goodwill",
        now=AFTER_GRACE,
        actor="op",
    )
    assert note.number == "TAL-CN-2025-000001" and note.total == Decimal("0.05")
    with pytest.raises(ValidationError, match="left to credit"):
        credit_note_create(
            invoice=invoice,
            requests=[CreditRequest(line, Decimal("0.10"))],
            reason="too much",
            now=AFTER_GRACE,
            actor="op",
        )
    with pytest.raises(ValidationError, match="left to credit"):
        credit_note_create(
            invoice=invoice,
            requests=[CreditRequest(None, Decimal("0.10"))],
            reason="too much",
            now=AFTER_GRACE,
            actor="op",
        )
    assert CreditNote.objects.count() == 1
    voided = invoice_void(invoice=invoice, reason="wrong plan", now=AFTER_GRACE, actor="op")
    assert voided.status == "void" and voided.number == "TAL-2025-000001"
    with pytest.raises(ValidationError):
        invoice_mark_paid(
            invoice=voided, paid_on=date(2025, 4, 3), reference="x", now=AFTER_GRACE, actor="op"
        )
    history = list(
        InvoiceStatusChange.objects.filter(invoice=invoice).values_list("to_status", flat=True)
    )
    assert history == ["open", "void"]


def test_the_database_refuses_to_change_an_issued_line(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)
    line = _march(guide).lines.first()
    assert line is not None
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE invoices_invoiceline SET amount = '9.000' WHERE id = %s", [line.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM invoices_invoiceline WHERE id = %s", [line.pk])
    assert InvoiceLine.objects.get(pk=line.pk).amount == line.amount


def test_the_database_refuses_to_change_an_issued_invoice(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)
    invoice = _march(guide)
    for statement in (
        "UPDATE invoices_invoice SET total = '9.000' WHERE id = %s",
        "UPDATE invoices_invoice SET customer_name = 'someone else' WHERE id = %s",
        "UPDATE invoices_invoice SET status = 'draft' WHERE id = %s",
        "DELETE FROM invoices_invoice WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [invoice.pk])
    # The lifecycle moves are allowed.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE invoices_invoice SET status = 'paid' WHERE id = %s", [invoice.pk])
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.total == Decimal("0.14")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE invoices_invoice SET status = 'void' WHERE id = %s", [invoice.pk])
