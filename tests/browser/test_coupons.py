"""A coupon in Chromium, as a billing operator gives it: the guide's customer,
in GB on a plan taxed with 20% VAT, gets a 10%-once coupon through the
customer page's Coupons card during last month; period close issues last
month's invoice, which shows the discount, the tax and the total in their own
sections ($0.14 of usage, −$0.01, $0.02 of VAT: $0.15), and its PDF says the
same. Screenshots of the card and the invoice, on a desktop and on a phone,
land in the artifacts folder."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from pypdf import PdfReader
from time_machine import TimeMachineFixture

from billing_site.roles import OPERATOR
from customers.services import customer_update
from invoices.closing import close_periods
from invoices.models import CouponRedemption, Invoice
from pricing.coupons import coupon_create
from pricing.taxes import plan_tax_rates_set, tax_rate_create
from tests.browser.conftest import log_in, settle
from tests.browser.test_credits import guide_last_month
from tests.browser.test_invoices import PHONE
from tests.factories import Guide, month_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def taxed_in_gb(guide: Guide) -> None:
    """VAT at 20% on the guide's plan, for a customer in GB."""
    vat = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    plan_tax_rates_set(plan=guide.plan, rates=[vat])
    c = guide.customer
    customer_update(customer=c, name=c.name, email=c.email, country="GB")


def test_an_operator_gives_a_coupon_and_the_next_invoice_is_discounted_and_taxed(  # type: ignore[no-untyped-def]
    page, artifacts: Path, time_machine: TimeMachineFixture
) -> None:
    from playwright.sync_api import expect

    guide = guide_last_month()
    taxed_in_gb(guide)
    coupon_create(
        code="WELCOME10",
        name="Welcome offer",
        kind="percentage",
        value=Decimal(10),
        now=timezone.now(),
    )
    log_in(page, OPERATOR)
    # Back to the middle of last month, the clock running: a coupon discounts
    # the invoices of periods that end after it is given. (Logged in first, so
    # the session cookie's expiry is in the browser's present.)
    today = timezone.now()
    last_month = month_start(month_start(today) - timedelta(days=1))
    time_machine.move_to(last_month + timedelta(days=12), tick=True)

    page.goto(guide.customer.get_absolute_url())
    coupons = page.locator("#coupons")
    expect(coupons).to_contain_text("No coupons")
    expect(coupons.get_by_label("Applies to")).to_have_value("")  # the whole customer

    coupons.get_by_role("button", name="Give coupon").click()
    settle(page)
    coupons = page.locator("#coupons")
    expect(coupons.locator("#field-coupon .error")).to_have_text("Choose the coupon to give.")
    coupons.screenshot(path=artifacts / "coupon-form-error.png")

    coupons.get_by_label("Coupon", exact=True).select_option(
        label="WELCOME10 · Welcome offer (10% off, once)"
    )
    coupons.get_by_role("button", name="Give coupon").click()
    settle(page)
    coupons = page.locator("#coupons")
    expect(coupons.get_by_role("status")).to_have_text(
        "WELCOME10 (10% off, once) given to Test Customer."
    )
    [given] = CouponRedemption.objects.all()
    row = coupons.locator(f"#redemption-{given.pk}")
    expect(row).to_contain_text("Welcome offer")
    expect(row).to_contain_text("10% off, once")
    expect(row).to_contain_text("Whole customer")
    expect(row.locator(".pill")).to_have_text("Active")
    coupons.screenshot(path=artifacts / "coupon-given.png")
    # The usage to date above reloads with the discount.
    expect(page.locator("#invoice tr.step-discount")).to_have_text(
        re.compile(r"Welcome offer \(WELCOME10\)\s*−\$0\.01")
    )
    remove = row.locator("details.coupon-remove")
    remove.locator("summary").click()
    expect(remove.get_by_role("button", name="Remove WELCOME10")).to_be_visible()
    page.screenshot(path=artifacts / "coupon-remove-panel.png", full_page=True)
    remove.locator("summary").click()

    # Back to today; period close after last month's grace period issues its invoice.
    time_machine.move_to(today, tick=True)
    close_periods(now=max(timezone.now(), month_start(timezone.now()) + timedelta(hours=25)))
    invoice = Invoice.objects.exclude(status=Invoice.Status.DRAFT).get()

    page.goto(guide.customer.get_absolute_url())
    row = page.locator(f"#redemption-{given.pk}")
    expect(row.locator(".pill")).to_have_text("Used up")
    expect(row.locator("td[data-label='Invoices discounted']")).to_have_text("1")

    page.goto(invoice.get_absolute_url())
    steps = page.locator("table.invoice-lines tfoot")
    expect(steps.locator("tr.step-charges")).to_have_text(re.compile(r"Usage and fees\s*\$0\.14"))
    expect(steps.locator("tr.step-head")).to_have_text(["Discounts", "Tax"])
    expect(steps.locator("tr.step-discount")).to_have_text(
        re.compile(r"Welcome offer \(WELCOME10\)\s*−\$0\.01")
    )
    expect(steps.locator("tr.step-subtotal")).to_have_text(
        re.compile(r"Subtotal, before tax\s*\$0\.13")
    )
    expect(steps.locator("tr.step-tax")).to_have_text(
        re.compile(r"VAT 20% · GB on \$0\.13\s*\$0\.02")
    )
    expect(steps.locator("tr.invoice-total")).to_have_text(re.compile(r"Total\s*\$0\.15"))
    expect(page.locator("#amount-due")).to_have_text("$0.15")
    page.screenshot(path=artifacts / "coupon-invoice.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    words = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for shown in ("Welcome offer (WELCOME10)", "VAT", "$0.13", "$0.02", "$0.15"):
        assert shown in words, shown

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#amount-due")).to_have_text("$0.15")
    page.screenshot(path=artifacts / "coupon-invoice-phone.png", full_page=True)
    page.goto(guide.customer.get_absolute_url())
    page.locator("#coupons").wait_for()
    page.locator("#coupons").screenshot(path=artifacts / "coupon-card-phone.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the customer page scrolls sideways on a phone: {width}px"
