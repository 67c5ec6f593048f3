"""The invoice pages in Chromium, as a billing team uses them after period
close: the list and its filter, last month's issued invoice marked paid and
credited on one line, the credit note, the PDFs, a draft held for review;
what a billing operator and a viewer may not do; the invoice page on a phone.
Screenshots of each page land in the artifacts folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from invoices.closing import close_periods
from invoices.models import Invoice
from tests.browser.conftest import log_in, settle
from tests.factories import guide_setup, month_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Billed:
    issued: Invoice  # last month's, open
    draft: Invoice  # this month's, following usage

    @property
    def number(self) -> str:
        assert self.issued.number
        return self.issued.number


def billed_last_month() -> Billed:
    """The guide's usage in the middle of last month, the customer on the
    plan since that month began, and period close run: last month's $0.14
    invoice is issued and this month has a draft."""
    now = timezone.now()
    this_month = month_start(now)
    last_month = month_start(this_month - timedelta(days=1))
    guide_setup(last_month + timedelta(days=10), start_at=last_month)
    # After last month's 24-hour grace period, even on the 1st of a month.
    close_periods(now=max(now, this_month + timedelta(hours=25)))
    issued = Invoice.objects.get(period_start=last_month)
    draft = Invoice.objects.get(period_start=this_month)
    assert (issued.status, draft.status) == (Invoice.Status.OPEN, Invoice.Status.DRAFT)
    return Billed(issued, draft)


def log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").wait_for()


def accept_confirms(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Accept every confirm dialog, keeping what each asked."""
    asked: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def day(value: date) -> str:
    """A date as the invoice page writes it in the customer's locale (here
    the seller's, en_US): Mar 5, 2025."""
    return f"{value:%b} {value.day}, {value.year}"


def fact(page, name: str) -> str:  # type: ignore[no-untyped-def]
    """The value shown next to `name` in the invoice's summary."""
    term = page.locator("dl.facts dt", has_text=re.compile(f"^{re.escape(name)}$"))
    return str(term.locator("xpath=following-sibling::dd[1]").inner_text())


def history(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        " | ".join(row.locator("td").all_inner_texts()[1:])
        for row in page.locator("#history tbody tr").all()
    ]


def pdf_answer(page, link_name: str) -> str:  # type: ignore[no-untyped-def]
    """The content type the page's `link_name` link answers with."""
    href = page.get_by_role("link", name=link_name).get_attribute("href")
    response = page.request.get(href)
    assert response.ok, href
    assert response.body().startswith(b"%PDF")
    return str(response.headers["content-type"])


def test_admin_finds_an_invoice_marks_it_paid_credits_a_line_and_downloads_it(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    billed = billed_last_month()
    number, issued = billed.number, billed.issued
    assert issued.issue_date and issued.due_date
    asked = accept_confirms(page)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    log_in(page, ADMIN)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.get_by_role("heading", name="Invoices").wait_for()
    table = page.locator("#invoice-table")
    assert table.locator("tbody tr").count() == 2
    assert table.get_by_role("link", name="Draft").is_visible()
    figure = table.locator(".invoice-total-figure").inner_text()
    assert figure.lower() == "issued in usd\n$0.14\n1 invoice"  # the label is in small caps
    page.screenshot(path=artifacts / "invoices-list.png", full_page=True)

    page.get_by_label("Status").select_option(label="Open")
    page.wait_for_url(re.compile(r"status=open"))
    settle(page)
    assert table.locator("tbody tr").count() == 1
    assert table.get_by_role("link", name="Draft").count() == 0
    table.get_by_role("link", name=number).click()

    page.get_by_role("heading", name=f"Invoice {number}").wait_for()
    assert fact(page, "Total") == "$0.14"
    assert fact(page, "Issued") == day(issued.issue_date)
    assert fact(page, "Due") == f"{day(issued.due_date)} (net 30)"
    assert page.locator("h1 .pill").inner_text() == "Open"
    assert history(page) == [f"Finalized | system (period close) | Numbered {number}, total $0.14"]
    page.screenshot(path=artifacts / "invoices-issued.png", full_page=True)

    pay = page.locator("#pay-form")
    pay.get_by_label("Reference").fill("BANK-0042")
    pay.get_by_role("button", name="Mark paid").click()
    page.get_by_text(f"{number} marked paid.").wait_for()
    assert asked[-1].startswith(f"Mark {number} paid?")
    assert page.locator("h1 .pill").inner_text() == "Paid"
    assert fact(page, "Paid") == f"{day(date.today())} · ref. BANK-0042"
    assert history(page)[-1].startswith("Marked paid | admin | Paid on")
    # Paid is final: nothing is left to record but a credit note.
    assert page.get_by_role("button", name="Void invoice").count() == 0
    assert page.get_by_role("button", name="Mark paid").count() == 0

    credit = page.locator("#credit-form")
    credit.get_by_label("API calls", exact=True).fill("0.05")
    credit.get_by_label("Reason").fill("Five calls failed on our side.")
    credit.get_by_role("button", name="Issue credit note").click()
    heading = page.get_by_role("heading", name=re.compile(r"^Credit note TAL-CN-"))
    heading.wait_for()
    assert asked[-1] == "Issue this credit note? It cannot be changed after."
    note_number = heading.inner_text().removeprefix("Credit note ")
    assert page.get_by_text(f"Credit note {note_number} issued.").is_visible()
    assert page.locator("tbody tr").all_inner_texts() == ["API calls\t$0.05"]
    assert page.locator("tfoot").inner_text() == "Total credited\t$0.05"
    assert fact(page, "Reason") == "Five calls failed on our side."
    assert pdf_answer(page, "Download PDF") == "application/pdf"
    page.screenshot(path=artifacts / "invoices-credit-note.png", full_page=True)

    page.locator("dl.facts").get_by_role("link", name=number).click()
    page.get_by_role("heading", name=f"Invoice {number}").wait_for()
    notes = page.locator("#credit-notes tbody tr")
    assert notes.all_inner_texts() == [
        f"{note_number}\t{day(timezone.localdate())}\tFive calls failed on our side.\t−$0.05"
    ]
    assert fact(page, "Credited") == "−$0.05"
    assert fact(page, "Remaining") == "$0.09"
    assert "up to $0.09 in all" in page.locator("#credit").inner_text()
    assert pdf_answer(page, "Download PDF") == "application/pdf"
    page.screenshot(path=artifacts / "invoices-paid-credited.png", full_page=True)

    page.get_by_role("link", name="Invoices", exact=True).first.click()
    page.locator("#invoice-table").get_by_role("link", name="Draft").click()
    page.get_by_role("heading", name="Draft invoice").wait_for()
    assert page.get_by_text("The period is still running").is_visible()
    # Its period has not ended: it can be held, not finalized.
    assert page.get_by_role("button", name="Finalize now").count() == 0
    page.get_by_role("button", name="Hold for review").click()
    page.get_by_text("Draft held for review: period close leaves it alone.").wait_for()
    assert page.locator("h1 .pill").inner_text() == "Draft · on hold"
    assert page.get_by_role("button", name="Release hold").is_visible()
    assert history(page) == ["Held for review | admin | "]
    assert pdf_answer(page, "Download draft PDF") == "application/pdf"
    page.screenshot(path=artifacts / "invoices-draft.png", full_page=True)
    assert violations == []


def test_billing_operator_records_payments_but_cannot_void_or_credit(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    billed = billed_last_month()
    log_in(page, OPERATOR)
    page.goto(billed.issued.get_absolute_url())
    page.get_by_role("heading", name=f"Invoice {billed.number}").wait_for()

    assert page.get_by_role("button", name="Mark paid").is_visible()
    for absent in ("Void invoice", "Mark uncollectible", "Issue credit note"):
        assert page.get_by_role("button", name=absent).count() == 0, absent
    assert page.get_by_role("heading", name="Issue a credit note").count() == 0
    page.screenshot(path=artifacts / "invoices-operator.png", full_page=True)

    log_out(page)
    log_in(page, VIEWER)
    page.goto(billed.issued.get_absolute_url())
    page.get_by_role("heading", name=f"Invoice {billed.number}").wait_for()
    assert fact(page, "Total") == "$0.14"
    assert page.get_by_role("button").all_inner_texts() == ["Log out"]
    page.goto(billed.draft.get_absolute_url())
    page.get_by_role("heading", name="Draft invoice").wait_for()
    assert page.get_by_role("button").all_inner_texts() == ["Log out"]


def test_invoice_pages_fit_a_phone_screen(page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    billed = billed_last_month()
    page.set_viewport_size(PHONE)
    log_in(page, ADMIN)  # every action form shown
    widths = {}
    for name, url in {
        "phone": billed.issued.get_absolute_url(),
        "phone-list": reverse("invoices:list"),
        "phone-draft": billed.draft.get_absolute_url(),
    }.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=artifacts / f"invoices-{name}.png", full_page=True)
        widths[name] = int(page.evaluate("document.documentElement.scrollWidth"))

    assert {name: w for name, w in widths.items() if w > PHONE["width"]} == {}


def test_each_reason_box_answers_to_its_own_label(page) -> None:  # type: ignore[no-untyped-def]
    billed = billed_last_month()
    log_in(page, ADMIN)  # an open invoice: the void form and the credit form both shown
    page.goto(billed.issued.get_absolute_url())
    page.get_by_role("heading", name="Issue a credit note").wait_for()

    for form in ("#void-form", "#credit-form"):
        label = page.locator(form).locator("label", has_text=re.compile("^Reason$"))
        label.click()
        assert page.locator(f"{form} textarea").evaluate("box => box === document.activeElement")
