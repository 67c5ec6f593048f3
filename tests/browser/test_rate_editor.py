"""The rate editor in Chromium: build Stripe's graduated example tier by tier,
watch the live preview price six units at $29.00 without a page reload (and
$24.00 as volume tiers), then save the rate and see its tier table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from meters.services import meter_create
from pricing.models import Rate
from pricing.services import plan_create
from tests.browser.conftest import settle as htmx_idle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIERS = [("5", "5"), ("10", "4"), ("15", "3"), ("20", "2"), ("", "1")]


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """HTMX idle, including a preview waiting out its 300 ms typing delay."""
    htmx_idle(page, debounce_ms=400)


def log_in(page) -> None:
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    page.goto("/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def test_graduated_rate_with_a_live_preview(page, artifacts: Path) -> None:
    meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    plan = plan_create(name="Tiered plan", billing_period="monthly", currency="USD")
    log_in(page)
    page.goto(plan.get_absolute_url())
    page.get_by_role("link", name="Add rate").first.click()
    page.locator("#rate-form").wait_for()
    # Set on this document: a page reload would drop it.
    page.evaluate("window.stillTheSamePage = true")

    page.locator("input[name=rate_model][value=graduated]").check()
    settle(page)
    rows = page.locator("#tiers .tier-row")
    assert rows.count() == 2  # a new tier table starts with two tiers
    for index, (up_to, price) in enumerate(TIERS):
        if rows.count() <= index:
            page.get_by_role("button", name="+ Add tier").click()
            rows.nth(index).wait_for()
            settle(page)  # the new row's autofocus lands when the swap settles
        row = rows.nth(index)
        if up_to:
            row.get_by_label("Up to").fill(up_to)
        row.get_by_label("Unit price").fill(price)
    assert [rows.nth(i).locator("[data-tier-from]").inner_text() for i in range(5)] == [
        "0",
        "5",
        "10",
        "15",
        "20",
    ]
    assert rows.nth(4).get_by_label("Up to").get_attribute("placeholder") == "No limit"

    page.get_by_label("Quantity of API calls").fill("6")
    total = page.locator("#preview-total")
    total.wait_for()
    settle(page)
    assert total.inner_text() == "$29.00"
    preview = page.locator("#preview-result")
    assert "5 × $5.00 + 1 × $4.00" in preview.inner_text()
    assert page.evaluate("window.stillTheSamePage") is True
    page.screenshot(path=artifacts / "rate-editor-graduated-preview.png", full_page=True)

    # The same tiers as volume tiers: every unit at the tier six falls in.
    page.locator("input[name=rate_model][value=volume]").check()
    settle(page)
    assert page.locator("#preview-total").inner_text() == "$24.00"
    page.locator("input[name=rate_model][value=graduated]").check()
    settle(page)
    assert page.locator("#preview-total").inner_text() == "$29.00"
    assert page.evaluate("window.stillTheSamePage") is True

    page.get_by_role("button", name="Save rate").click()
    page.get_by_text("Rate added: API calls, graduated tiers (5 tiers).").wait_for()
    rate = Rate.objects.get()
    assert rate.rate_model == "graduated"
    assert [(t["up_to"], t["unit_price"]) for t in rate.cells.get().tiers] == [
        ("5", "5"),
        ("10", "4"),
        ("15", "3"),
        ("20", "2"),
        (None, "1"),
    ]
    assert rate.minimum_charge is None and rate.base_fee is None
    tier_table = page.locator("#rates .tier-table")
    assert tier_table.locator("tbody tr").count() == 5
    assert tier_table.locator("tbody tr").last.inner_text().split("\t") == [
        "20",
        "no limit",
        "$1.00",
    ]
    page.screenshot(path=artifacts / "rate-editor-saved.png", full_page=True)
    assert Decimal(rate.cells.get().tiers[0]["unit_price"]) == Decimal(5)
