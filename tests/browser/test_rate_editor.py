"""The rate editor in Chromium: build Stripe's graduated example tier by tier,
watch the live preview price six units at $29.00 without a page reload (and
$24.00 as volume tiers), then save the rate and see its tier table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from meters.services import meter_create
from pricing.models import Rate
from pricing.services import plan_create
from tests.browser.conftest import log_in
from tests.browser.conftest import settle as htmx_idle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIERS = [("5", "5"), ("10", "4"), ("15", "3"), ("20", "2"), ("", "1")]


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """HTMX idle, including a preview waiting out its 300 ms typing delay."""
    htmx_idle(page, debounce_ms=400)


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


def test_changing_a_rows_price_model_keeps_every_price_typed(page, artifacts: Path) -> None:
    meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model"]
    )
    plan = plan_create(name="Matrix plan", billing_period="monthly", currency="USD")
    log_in(page)
    page.goto(plan.get_absolute_url())
    page.get_by_role("link", name="Add rate").first.click()
    page.locator("input[name=rate_model][value=dimensions]").check()
    settle(page)
    page.get_by_role("button", name="+ Add row").click()
    rows = page.locator("#matrix-rows .matrix-row")
    rows.nth(1).wait_for()
    settle(page)
    first, second = rows.nth(0), rows.nth(1)
    first.get_by_label("model", exact=True).fill("model a")
    first.get_by_label("Price per unit").fill("0.5")
    second.get_by_label("model", exact=True).fill("model b")

    # Row 2 goes to tiers while row 1's free units are still being typed.
    second.get_by_label("Price model").select_option("graduated")
    first.get_by_label("Free units").fill("100")
    second.get_by_label("Unit price (tier 1)").fill("2")
    second.get_by_label("Up to (tier 1)").fill("10")
    second.get_by_label("Unit price (tier 2)").fill("1")
    settle(page)
    assert first.get_by_label("Price per unit").input_value() == "0.5"
    assert first.get_by_label("Free units").input_value() == "100"
    assert second.get_by_text("Tiers below").is_visible()
    assert not second.get_by_label("Price per unit").is_visible()

    # Row 1 to tiers and back: its price is still there.
    first.get_by_label("Price model").select_option("graduated")
    assert first.get_by_label("Up to (tier 1)").is_visible()
    assert not first.get_by_label("Price per unit").is_visible()
    first.get_by_label("Price model").select_option("per_unit")
    assert first.get_by_label("Price per unit").is_visible()
    assert first.get_by_label("Price per unit").input_value() == "0.5"
    assert not first.get_by_label("Up to (tier 1)").is_visible()
    settle(page)
    page.screenshot(path=artifacts / "rate-editor-row-models.png", full_page=True)

    page.get_by_role("button", name="Save rate").click()
    page.get_by_text("Rate added").wait_for()
    cells = {c.dimension_key: c for c in Rate.objects.get().cells.all()}
    assert (cells["model=model%20a"].price_model, cells["model=model%20a"].unit_price) == (
        "per_unit",
        Decimal("0.5"),
    )
    assert cells["model=model%20a"].free_units == Decimal(100)
    assert cells["model=model%20b"].price_model == "graduated"
    assert [(t["up_to"], t["unit_price"]) for t in cells["model=model%20b"].tiers] == [
        ("10", "2"),
        (None, "1"),
    ]
