"""The pricing pages for taxes and discounts, in Chromium: an Admin creates a
VAT rate on the Tax rates page and a coupon on the Coupons page (its currency
and number of invoices shown only when they mean something), then sets the
guide plan's invoice minimum and a setup fee, and chooses its tax rate. The
same pages are then looked at on a phone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from pricing.models import Coupon, Plan, TaxRate
from pricing.selectors import version_charges
from tests.browser.conftest import log_in, settle
from tests.factories import guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_an_admin_sets_up_taxes_coupons_and_invoice_charges(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    guide = guide_setup(timezone.now())
    log_in(page)

    # A tax rate, through the Tax rates page (its link in the navigation).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tax rates").click()
    assert "No tax rates yet" in page.locator("#tax-rate-table").inner_text()
    form = page.locator("#tax-rate-form")
    form.get_by_label("Code").fill("uk-vat")
    form.get_by_label("Name").fill("VAT")
    form.get_by_label("Percentage").fill("20.123456")
    form.get_by_label("Jurisdiction").select_option("GB")
    form.get_by_role("button", name="Create tax rate").click()
    settle(page)
    error = page.locator("#field-percentage .error")
    assert error.inner_text() == "Use at most 4 decimal places."
    page.locator("#new-tax-rate").screenshot(path=artifacts / "tax-rate-form-error.png")
    page.locator("#tax-rate-form").get_by_label("Percentage").fill("20")
    page.locator("#tax-rate-form").get_by_role("button", name="Create tax rate").click()
    page.get_by_text("Tax rate “VAT” (20%, United Kingdom) created.").wait_for()
    rate = TaxRate.objects.get(code="uk-vat")
    row = page.locator(f"#tax-rate-{rate.pk}")
    assert "United Kingdom" in row.inner_text() and "Active" in row.inner_text()
    page.screenshot(path=artifacts / "tax-rates-page.png", full_page=True)

    # A coupon: the currency appears for a fixed amount, the number of
    # invoices for a repeating one.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Coupons").click()
    form = page.locator("#coupon-form")
    currency = form.locator("#field-currency")
    periods = form.locator("#field-duration_periods")
    assert currency.is_hidden() and periods.is_hidden()
    form.get_by_label("Code").fill("CALLS5")
    form.get_by_label("Name").fill("API calls discount")
    form.get_by_label("Fixed amount").check()
    assert currency.is_visible()
    form.get_by_label("Value").fill("5")
    form.get_by_label("Currency").select_option("USD")
    form.locator("input[name=duration][value=repeating]").check()
    assert periods.is_visible()
    form.get_by_label("Number of invoices").fill("3")
    form.get_by_label("API calls").check()
    form.screenshot(path=artifacts / "coupon-form.png")
    form.get_by_role("button", name="Create coupon").click()
    page.get_by_text("Coupon CALLS5 created: $5.00 off, for 3 invoices.").wait_for()
    coupon = Coupon.objects.get(code="CALLS5")
    row = page.locator(f"#coupon-{coupon.pk}")
    assert "API calls" in row.inner_text() and "0" in row.inner_text()
    page.screenshot(path=artifacts / "coupons-page.png", full_page=True)

    # The plan's invoice minimum, a setup fee, and its tax.
    page.goto(guide.plan.get_absolute_url())
    charges = page.locator("#invoice-charges")
    assert "No invoice minimum or one-time fees" in charges.inner_text()
    charges.get_by_text("Edit invoice charges").click()
    charges.get_by_label("Invoice minimum").fill("50")
    charges.get_by_label("Fee 1: description").fill("Setup fee")
    charges.get_by_label("Fee 1: amount").fill("500")
    charges.get_by_label("From the next period").check()
    charges.screenshot(path=artifacts / "plan-charges-form.png")
    charges.get_by_role("button", name="Save invoice charges").click()
    page.get_by_text("Invoice charges changed: version 2 of Chatbot Usage Plan").wait_for()
    charges = page.locator("#invoice-charges")
    assert "$50.00 per billing period" in charges.inner_text()
    assert "$500.00" in charges.inner_text()

    taxes = page.locator("#taxes")
    taxes.get_by_text("Choose tax rates").click()
    taxes.get_by_label("VAT 20% · United Kingdom · tax-exclusive").check()
    taxes.get_by_role("button", name="Save taxes").click()
    page.get_by_text("Taxes of Chatbot Usage Plan saved (VAT)").wait_for()
    assert "United Kingdom" in page.locator("#taxes").inner_text()
    page.screenshot(path=artifacts / "plan-charges-and-taxes.png", full_page=True)

    plan = Plan.objects.get(pk=guide.plan.pk)
    assert plan.current_version is not None
    assert version_charges(plan.current_version).invoice_minimum == Decimal("50")
    assert list(plan.tax_rates.all()) == [rate]

    # On a phone, none of these pages scrolls sideways.
    page.set_viewport_size(PHONE)
    for name, url in [
        ("tax-rates", reverse("pricing:tax_rates")),
        ("coupons", reverse("pricing:coupons")),
        ("plan-charges", guide.plan.get_absolute_url()),
    ]:
        page.goto(url)
        if name == "plan-charges":
            page.locator("#invoice-charges").get_by_text("Edit invoice charges").click()
        page.screenshot(path=artifacts / f"phone-{name}.png", full_page=True)
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        assert width <= PHONE["width"], name
