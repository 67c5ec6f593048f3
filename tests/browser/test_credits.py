"""Prepaid credit in Chromium, as a billing operator gives it: the guide's
customer gets $0.10 of promotional credit through the customer page's form,
period close issues last month's $0.14 invoice, which draws it, and the
invoice asks $0.04. Screenshots of the Credit card and the invoice, on a
desktop and on a phone, land in the artifacts folder."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from billing_site.roles import OPERATOR
from invoices.closing import close_periods
from invoices.models import CreditGrant, Invoice
from tests.browser.conftest import settle
from tests.browser.test_invoices import PHONE, log_in
from tests.factories import Guide, guide_setup, month_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def guide_last_month() -> Guide:
    """The guide's usage in the middle of last month, on the plan since that
    month began; period close has not run yet."""
    last_month = month_start(month_start(timezone.now()) - timedelta(days=1))
    return guide_setup(last_month + timedelta(days=10), start_at=last_month)


def test_an_operator_grants_credit_and_the_next_invoice_draws_it(page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    guide = guide_last_month()
    log_in(page, OPERATOR)
    page.goto(guide.customer.get_absolute_url())
    credit = page.locator("#credit")
    expect(credit).to_contain_text("No credit yet")

    credit.locator("summary", has_text="Grant credit").click()
    expect(credit.get_by_label("Currency")).to_have_value("USD")
    expect(credit.get_by_label("Priority")).to_have_value("50")
    credit.get_by_label("Amount").fill("0.001")
    credit.get_by_label("Description").fill("Welcome credit")
    credit.locator("form button[type=submit]").click()
    settle(page)
    credit = page.locator("#credit")
    expect(credit.locator("#field-amount .error")).to_have_text(
        "Use at most 2 decimal places in USD."
    )
    credit.screenshot(path=artifacts / "credit-form-error.png")
    credit.get_by_label("Amount").fill("0.10")
    credit.locator("form button[type=submit]").click()
    settle(page)

    credit = page.locator("#credit")
    expect(credit).to_contain_text("$0.10 of promotional credit granted.")
    expect(page.locator("#credit-available")).to_have_text(
        re.compile(r"Available \(USD\)\s*\$0\.10")
    )
    [grant] = CreditGrant.objects.all()
    expect(page.locator(f"#grant-{grant.pk} h3")).to_have_text(
        re.compile(r"Welcome credit\s+Active")
    )
    credit.screenshot(path=artifacts / "credit-granted.png")
    void = page.locator(f"#grant-{grant.pk} details.grant-void")
    void.locator("summary").click()
    expect(void.get_by_role("button", name="Void $0.10")).to_be_visible()
    page.screenshot(path=artifacts / "credit-void-panel.png", full_page=True)
    void.locator("summary").click()

    # Period close after last month's grace period issues its invoice.
    close_periods(now=max(timezone.now(), month_start(timezone.now()) + timedelta(hours=25)))
    invoice = Invoice.objects.exclude(status=Invoice.Status.DRAFT).get()

    page.goto(guide.customer.get_absolute_url())
    block = page.locator(f"#grant-{grant.pk}")
    expect(block).to_contain_text(f"Drawn by invoice {invoice.number}")
    expect(block.locator("h3")).to_have_text(re.compile(r"Welcome credit\s+Used up"))
    page.locator("#credit").screenshot(path=artifacts / "credit-drawn.png")

    block.get_by_role("link", name=str(invoice.number)).click()
    lines = page.locator("table.invoice-lines tfoot")
    expect(lines.locator("tr.credit-applied")).to_have_text(
        re.compile(r"Credit applied · Welcome credit\s*−\$0\.10")
    )
    expect(lines.locator("tr.amount-due")).to_have_text(re.compile(r"Amount due\s*\$0\.04"))
    expect(page.locator("#credit-applied")).to_have_text("−$0.10")
    expect(page.locator("#amount-due")).to_have_text("$0.04")
    page.screenshot(path=artifacts / "credit-invoice.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#amount-due")).to_have_text("$0.04")
    page.screenshot(path=artifacts / "credit-invoice-phone.png", full_page=True)
    page.goto(guide.customer.get_absolute_url())
    page.locator("#credit").wait_for()
    page.locator("#credit").screenshot(path=artifacts / "credit-card-phone.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the customer page scrolls sideways on a phone: {width}px"
