"""Changing a price of a plan in use, in Chromium: on the guide's plan (a
customer is on it) edit the API-calls rate, see the preview price the new
price, choose "From the current period", save, and find version 2 in the
plan's "Price versions" card; delete a rate from the next period (version 3);
version 1 is still readable as it was."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from pricing.models import PlanVersion
from pricing.selectors import version_rates
from tests.browser.conftest import log_in, settle
from tests.factories import guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_price_change_from_the_current_period_makes_version_2(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    guide = guide_setup(timezone.now())
    log_in(page)
    page.goto(guide.plan.get_absolute_url())

    page.get_by_role("link", name="Edit the rate for API calls").click()
    form = page.locator("#rate-form")
    form.wait_for()
    settle(page)
    assert "Change the rate for API calls" in form.locator("h2").inner_text()
    price = form.get_by_label("Price per unit")
    assert price.input_value() == "0.01"  # filled in from the stored rate
    takes_effect = form.locator("#field-starts")
    assert takes_effect.get_by_label("From the next period").is_checked()  # the default

    price.fill("0.02")
    form.get_by_label("Quantity of API calls").fill("10")
    total = page.locator("#preview-total")
    total.wait_for()
    settle(page, debounce_ms=400)
    assert total.inner_text() == "$0.20"
    takes_effect.get_by_label("From the current period (re-rates open drafts)").check()
    form.screenshot(path=artifacts / "plan-versions-edit-rate.png")

    form.get_by_role("button", name="Save changes").click()
    page.get_by_text(
        "Rate for API calls changed: version 2 of Chatbot Usage Plan, "
        "from the current period (re-rates open drafts)."
    ).wait_for()
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().split("\t")[0].strip() == "Version 2 current"
    assert rows.nth(0).inner_text().split("\t")[1].startswith("From the period containing")
    assert rows.nth(1).inner_text().split("\t")[0].strip() == "Version 1"
    assert "$0.02 per unit" in page.locator("#rates").inner_text()
    page.screenshot(path=artifacts / "plan-versions-plan-page.png", full_page=True)

    version = PlanVersion.objects.get(plan=guide.plan, number=2)
    assert version.starts == "current_period"
    assert version_rates(version.pk).get(meter=guide.api_calls).cells.get().unit_price == Decimal(
        "0.02"
    )

    # Deleting a rate of a plan in use asks from when, in a small panel.
    tokens = page.locator(f"#rate-{version_rates(version.pk).get(meter=guide.llm_tokens).pk}")
    tokens.get_by_text("Delete rate").click()
    panel = tokens.locator(".delete-panel")
    assert panel.get_by_label("From the next period").is_checked()
    page.screenshot(path=artifacts / "plan-versions-delete-panel.png")
    panel.get_by_role("button", name="Delete the rate for LLM tokens").click()
    page.get_by_text(
        "Rate for LLM tokens deleted: version 3 of Chatbot Usage Plan, from the next period."
    ).wait_for()
    assert rows.count() == 3
    assert "LLM tokens" not in page.locator("#rates").inner_text()

    rows.nth(2).get_by_role("link", name="Version 1").click()
    page.get_by_role("heading", name="Version 1 of Chatbot Usage Plan").wait_for()
    assert "$0.01 per unit" in page.locator("#rates").inner_text()
    assert "model a" in page.locator("#rates").inner_text()
    assert page.locator("#rates").get_by_role("button").count() == 0
    assert page.locator("#rates").get_by_role("link", name="Edit").count() == 0
    page.screenshot(path=artifacts / "plan-versions-version-1.png", full_page=True)
