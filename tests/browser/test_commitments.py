"""A prepaid commitment in Chromium, as a billing operator makes it: $100 of
usage for three months from last month's start, at 15% off, on the guide's
customer. Its invoice is issued at once ($85.00); period close then issues
last month's usage invoice, paid from the commitment ($0.14 of usage, $0.00
due), and the card shows what usage paid and what is left."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from billing_site.roles import OPERATOR
from invoices.closing import close_periods
from invoices.models import Commitment, Invoice
from tests.browser.conftest import log_in, settle
from tests.browser.test_credits import guide_last_month
from tests.browser.test_invoices import PHONE
from tests.factories import month_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_makes_a_commitment_and_usage_draws_it_down(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    guide = guide_last_month()
    start = guide.assignment.start_at
    log_in(page, OPERATOR)
    page.goto(guide.customer.get_absolute_url())
    card = page.locator("#commitments")
    expect(card).to_contain_text("No prepaid commitments")

    card.locator("summary", has_text="New commitment").click()
    card.get_by_label("Amount").fill("100.00")
    card.get_by_label("Discount (%)").fill("15")
    card.get_by_label("Term starts").fill(f"{start:%Y-%m-%d}")
    card.get_by_label("Term ends").fill(f"{start:%Y-%m-%d}")
    card.get_by_role("button", name="Make the commitment and issue its invoice").click()
    settle(page)
    card = page.locator("#commitments")
    expect(card.locator("#field-commitment-ends_at .error")).to_have_text(
        "The term ends after it starts."
    )

    ends = month_start(month_start(start + timedelta(days=95)))
    card.get_by_label("Term ends").fill(f"{ends:%Y-%m-%d}")
    card.get_by_role("button", name="Make the commitment and issue its invoice").click()
    settle(page)
    card = page.locator("#commitments")
    [commitment] = Commitment.objects.all()
    number = commitment.invoice.number
    expect(card.get_by_role("status")).to_have_text(
        f"Commitment of $100.00 made; invoice {number} issued."
    )
    row = card.locator(f"#commitment-{commitment.pk}")
    expect(row).to_contain_text(f"{number} $85.00")
    card.screenshot(path=artifacts / "commitment-made.png")

    close_periods(now=max(timezone.now(), month_start(timezone.now()) + timedelta(hours=25)))
    usage = Invoice.objects.get(kind="usage", status=Invoice.Status.OPEN)
    assert usage.total == 0

    page.goto(usage.get_absolute_url())
    steps = page.locator("table.invoice-lines tfoot")
    expect(steps.locator("tr.step-commitment")).to_have_text(
        re.compile(r"Paid from the prepaid commitment\s*−\$0\.14")
    )
    expect(steps.locator("tr.invoice-total")).to_have_text(re.compile(r"Total\s*\$0\.00"))
    page.screenshot(path=artifacts / "commitment-usage-invoice.png", full_page=True)

    page.goto(guide.customer.get_absolute_url())
    row = page.locator(f"#commitment-{commitment.pk}")
    expect(row).to_contain_text("$0.14")
    expect(row).to_contain_text("$99.86")
    page.set_viewport_size(PHONE)
    page.reload()
    page.locator("#commitments").screenshot(path=artifacts / "commitment-card-phone.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the customer page scrolls sideways on a phone: {width}px"
