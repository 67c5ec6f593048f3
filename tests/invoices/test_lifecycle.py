"""A customer's month from draft to an issued, immutable invoice, and the
corrections after it, through the services every door calls."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from customers.services import customer_update
from invoices.closing import close_periods
from invoices.models import CreditNote, Invoice, InvoiceLine, InvoiceStatusChange
from invoices.selectors import stored_content
from invoices.services import (
    CreditRequest,
    credit_note_create,
    invoice_document_store,
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid,
    invoice_void,
)
from meters.services import events_ingest
from pricing.models import PriceCell
from pricing.services import rate_delete
from tests.factories import CUSTOMER_NAME, Guide, guide_records, guide_setup
from tests.fixtures import element, login, page

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
    assert report.finalized == 1
    invoice = _march(guide)
    assert invoice.status == "open"
    assert invoice.number == "TAL-2025-000001"
    assert invoice.total == Decimal("0.14")
    assert invoice.issue_date == date(2025, 4, 2)
    assert invoice.due_date == date(2025, 5, 2)  # net 30 by default
    assert invoice.customer_name == CUSTOMER_NAME
    assert invoice.lines.count() == 4
    assert invoice_document_store(invoice=invoice).content.startswith(b"%PDF")
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
        "UPDATE invoices_invoice SET plan_version = 2 WHERE id = %s",
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


# Late usage: events for a period whose invoice was already issued.

MAY = datetime(2025, 5, 1, tzinfo=UTC)


def _late_api_calls(at: datetime, received: datetime, unique_id: str, value: int = 10) -> None:
    record = {
        "meterApiName": "api-calls",
        "meterValue": value,
        "customerId": "test-customer",
        "meterTimeInMillis": int(at.timestamp() * 1000),
        "uniqueId": unique_id,
    }
    result = events_ingest(records=[record], now=received)
    assert result.accepted == 1, result


def _issued(guide: Guide, start: datetime) -> Invoice:
    return Invoice.objects.get(assignment=guide.assignment, period_start=start)


def test_late_usage_is_billed_on_the_next_invoice_and_never_changes_the_issued_one(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    close_periods(now=AFTER_GRACE)
    march_lines = list(_issued(guide, MARCH).lines.values_list("amount", flat=True))
    time_machine.move_to(APRIL + timedelta(days=4), tick=False)
    _late_api_calls(MID_MARCH, APRIL + timedelta(days=4), "late-1")

    close_periods(now=MAY + timedelta(hours=25))

    march = _issued(guide, MARCH)
    assert march.total == Decimal("0.14")
    assert list(march.lines.values_list("amount", flat=True)) == march_lines
    april = _issued(guide, APRIL)
    late = april.lines.get(kind="late_usage")
    assert late.description == "Late usage for 1 Mar 2025 – 1 Apr 2025 · API calls"
    assert (late.quantity, late.amount, late.late_for) == (Decimal(10), Decimal("0.10"), march)
    assert april.total == Decimal("0.10")


def test_late_usage_is_billed_once_and_later_arrivals_go_on_the_invoice_after(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    close_periods(now=AFTER_GRACE)
    _late_api_calls(MID_MARCH, APRIL + timedelta(days=4), "late-1")
    close_periods(now=MAY + timedelta(hours=25))
    end_of_march = datetime(2025, 3, 31, 12, tzinfo=UTC)  # inside the 35-day backfill window
    _late_api_calls(end_of_march, MAY + timedelta(days=3), "late-2", value=3)

    close_periods(now=datetime(2025, 6, 2, 1, tzinfo=UTC))

    june_invoice = _issued(guide, MAY)
    late = june_invoice.lines.get(kind="late_usage")
    assert (late.quantity, late.amount) == (Decimal(3), Decimal("0.03"))
    billed = InvoiceLine.objects.filter(kind="late_usage").values_list("quantity", flat=True)
    assert sorted(billed) == [Decimal(3), Decimal(10)]  # each late event billed once


def test_a_report_only_plan_lists_late_usage_without_billing_it(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    from invoices.late_usage import pending_late_usage

    guide.plan.late_usage_policy = "report"
    guide.plan.save(update_fields=["late_usage_policy"])
    close_periods(now=AFTER_GRACE)
    _late_api_calls(MID_MARCH, APRIL + timedelta(days=4), "late-1")

    close_periods(now=MAY + timedelta(hours=25))

    assert _issued(guide, APRIL).total == Decimal("0.00")
    assert not InvoiceLine.objects.filter(kind="late_usage").exists()
    pending = pending_late_usage(guide.customer, before=MAY, until=MAY, now=MAY)
    assert [(p.invoice.number, p.total, p.billable) for p in pending] == [
        ("TAL-2025-000001", Decimal("0.10"), False)
    ]


def test_the_customer_page_shows_late_usage_and_the_draft_that_will_bill_it(
    guide: Guide, client: Client, time_machine: TimeMachineFixture
) -> None:
    close_periods(now=AFTER_GRACE)
    _late_api_calls(MID_MARCH, APRIL + timedelta(days=4), "late-1")
    time_machine.move_to(APRIL + timedelta(days=5), tick=False)
    login(client)

    html = page(client.get(reverse("invoices:customer_billing", args=[guide.customer.pk])))

    late = element(html, "late-usage")
    assert "TAL-2025-000001" in late and "Billed on the next invoice" in late
    assert "Late usage for 1 Mar 2025 – 1 Apr 2025 · API calls" in element(html, "invoice")
    draft = Invoice.objects.get(assignment=guide.assignment, period_start=APRIL)
    total = re.search(
        r'class="invoice-total".*?</tr>', page(client.get(draft.get_absolute_url())), re.S
    )
    assert total is not None and "$0.10" in total.group()


def test_a_credit_finer_than_the_currency_or_a_future_payment_is_refused(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)
    invoice = _march(guide)

    with pytest.raises(ValidationError, match="at most 2 decimal places in USD"):
        credit_note_create(
            invoice=invoice,
            requests=[CreditRequest(None, Decimal("0.005"))],
            reason="half a cent",
            now=AFTER_GRACE,
            actor="op",
        )
    with pytest.raises(ValidationError, match="in the future"):
        invoice_mark_paid(
            invoice=invoice, paid_on=date(2025, 4, 9), reference="", now=AFTER_GRACE, actor="op"
        )
    assert _march(guide).status == "open" and not CreditNote.objects.exists()


def test_numbering_starts_again_at_one_after_the_database_is_emptied(guide: Guide) -> None:
    from invoices.models import NumberSequence

    NumberSequence.objects.all().delete()  # as `manage.py flush` leaves it

    close_periods(now=AFTER_GRACE)

    assert _march(guide).number == "TAL-2025-000001"


def test_the_invoice_keeps_how_the_customer_was_taxed_when_issued(guide: Guide) -> None:
    customer_update(
        customer=guide.customer,
        name=guide.customer.name,
        email="",
        country="DE",
        tax_id="DE 136 695 976",
        tax_status="reverse_charge",
    )
    close_periods(now=AFTER_GRACE)
    customer_update(
        customer=guide.customer,
        name="Renamed",
        email="",
        country="FR",
        tax_id="",
        tax_status="taxable",
    )

    invoice = _march(guide)
    assert (invoice.customer_country, invoice.customer_tax_id, invoice.customer_tax_status) == (
        "DE",
        "DE136695976",
        "reverse_charge",
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE invoices_invoice SET customer_tax_id = 'X' WHERE id = %s", [invoice.pk]
        )
    header = stored_content(invoice).header
    assert (header.customer_country, header.customer_tax_id, header.tax_note) == (
        "Germany",
        "DE136695976",
        "Reverse charge: no tax charged; the customer accounts for the tax.",
    )


def test_an_invoice_of_a_customer_without_tax_details_prints_none(guide: Guide) -> None:
    close_periods(now=AFTER_GRACE)

    header = stored_content(_march(guide)).header

    assert (header.customer_country, header.customer_tax_id, header.tax_note) == ("", "", "")
