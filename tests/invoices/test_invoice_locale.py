"""The guide's invoice written in its customer's locale, on the page and in
the PDF; an issued invoice keeps the locale it was issued in."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.services import customer_update
from invoices.closing import close_periods
from invoices.models import Invoice
from invoices.pdf import render_credit_note_pdf, render_stored_invoice_pdf
from invoices.services import CreditRequest, credit_note_create
from tests.factories import Guide, guide_setup
from tests.fixtures import element, page, text

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
MARCH = datetime(2025, 3, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = datetime(2025, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def set_locale(guide: Guide, locale: str) -> None:
    customer_update(customer=guide.customer, name=guide.customer.name, email="", locale=locale)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"[ \t]+", " ", "\n".join(p.extract_text() for p in reader.pages))


# The guide's March invoice, written by each locale: (the period, API calls'
# line of 10 calls at $0.01, the total).
GUIDE = {
    "en_US": ("Mar 1, 2025 – Apr 1, 2025", "$0.10", "$0.14"),
    "de_DE": ("01.03.2025 – 01.04.2025", f"0,10{NBSP}$", f"0,14{NBSP}$"),
    "fr_CH": ("1 mars 2025 – 1 avr. 2025", f"0,10{NBSP}$US", f"0,14{NBSP}$US"),
    "ja_JP": ("2025/03/01 – 2025/04/01", "$0.10", "$0.14"),
    # Without CLDR's right-to-left marks, which would scramble the date in a
    # left-to-right document (pricing.locales.BIDI_MARKS).
    "ar_EG": ("01/03/2025 – 01/04/2025", f"0.10{NBSP}US$", f"0.14{NBSP}US$"),
}


LABELS = {
    "en_US": "English (United States)",
    "de_DE": "German (Germany)",
    "fr_CH": "French (Switzerland)",
    "ja_JP": "Japanese (Japan)",
    "ar_EG": "Arabic (Egypt)",
}


@pytest.mark.parametrize("locale", list(GUIDE))
def test_the_draft_page_writes_amounts_and_dates_in_the_customers_locale(
    admin_client: Client, guide: Guide, locale: str
) -> None:
    set_locale(guide, locale)
    close_periods(now=MID_MARCH)
    draft = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)

    html = page(admin_client.get(draft.get_absolute_url()))

    period, api_calls, total = GUIDE[locale]
    shown = text(html)  # whitespace collapsed: a no-break space reads as a space
    assert period in shown
    assert f"Subtotal · API calls {api_calls}".replace(NBSP, " ") in shown
    assert f"Total {total}".replace(NBSP, " ") in shown
    assert text(element(html, "invoice-locale")) == LABELS[locale]


@pytest.mark.parametrize("locale", list(GUIDE))
def test_the_pdf_writes_amounts_and_dates_in_the_customers_locale(
    admin_client: Client, guide: Guide, locale: str
) -> None:
    set_locale(guide, locale)
    response = admin_client.get(reverse("invoices:pdf", args=[guide.customer.pk]))

    content = pdf_text(response.content)
    period, api_calls, total = GUIDE[locale]
    assert period in content
    assert f"Subtotal · API calls {api_calls}" in content
    assert f"Total {total}" in content


def test_the_pdf_names_its_language_for_the_fonts_and_readers(guide: Guide) -> None:
    from invoices.builder import build_invoice, customer_periods
    from invoices.pdf import render_invoice_html

    set_locale(guide, "ja_JP")
    ref = customer_periods(guide.customer, MID_MARCH)[0]

    html = render_invoice_html(build_invoice(guide.customer, ref))

    assert '<html lang="ja-JP">' in html


def test_a_customer_without_a_locale_gets_the_sellers(
    admin_client: Client, guide: Guide, settings: Settings
) -> None:
    settings.SELLER_LOCALE = "de_DE"
    response = admin_client.get(reverse("invoices:pdf", args=[guide.customer.pk]))

    assert "0,14 $" in pdf_text(response.content).replace(NBSP, " ")


def test_an_issued_invoice_keeps_its_locale_when_the_customer_changes_theirs(
    admin_client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    set_locale(guide, "de_DE")
    close_periods(now=AFTER_GRACE)
    invoice = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    assert invoice.customer_locale == "de_DE"

    set_locale(guide, "ja_JP")
    time_machine.move_to(AFTER_GRACE + timedelta(hours=1), tick=False)

    html = page(admin_client.get(invoice.get_absolute_url()))
    assert text(element(html, "invoice-locale")) == "German (Germany)"
    assert f"0,14{NBSP}$" in html
    stored = pdf_text(render_stored_invoice_pdf(invoice)).replace(NBSP, " ")
    assert "0,14 $" in stored and "01.03.2025" in stored
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE invoices_invoice SET customer_locale = 'ja_JP' WHERE id = %s", [invoice.pk]
        )


def test_an_invoice_issued_before_locales_reads_as_it_was_written_in_en_us(
    admin_client: Client, guide: Guide, settings: Settings
) -> None:
    close_periods(now=AFTER_GRACE)
    invoice = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    # As migration 0009 leaves an invoice issued before it (the row cannot
    # be changed now, so the column is emptied in memory only).
    invoice.customer_locale = None
    settings.SELLER_LOCALE = "de_DE"

    assert invoice.locale == "en_US"
    assert "$0.14" in pdf_text(render_stored_invoice_pdf(invoice))


def test_a_credit_note_is_written_in_its_invoices_locale(guide: Guide) -> None:
    set_locale(guide, "de_DE")
    close_periods(now=AFTER_GRACE)
    invoice = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    line = invoice.lines.get(description="API calls")
    set_locale(guide, "en_US")

    note = credit_note_create(
        invoice=invoice,
        requests=[CreditRequest(line, Decimal("0.05"))],
        reason="Fünf Aufrufe fehlgeschlagen",
        now=AFTER_GRACE,
        actor="op",
    )

    content = pdf_text(render_credit_note_pdf(note)).replace(NBSP, " ")
    assert "Total credited 0,05 $" in content
    assert "01.03.2025" in content
