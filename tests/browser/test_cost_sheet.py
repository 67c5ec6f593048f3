"""Cost plans in Chromium: an Admin creates a cost plan from the Pricing
page, imports the guide's provider price sheet as CSV (model × token type),
makes it the default and opens it, then sees on the guide's invoice to date
what each line cost and the margin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from customers.models import Customer
from pricing.models import Plan
from pricing.selectors import plan_rates, rate_draft
from tests.browser.conftest import log_in, settle
from tests.factories import CUSTOMER_ID, guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHEET = (
    "meter,model,type,unit_price\n"
    "llm-tokens,model a,input,0.000003\n"
    "llm-tokens,model a,output,0.000015\n"
    "llm-tokens,model b,input,0.000001\n"
)


def test_an_admin_imports_a_provider_sheet_and_makes_it_the_default(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    guide_setup(timezone.now())
    log_in(page)
    asked: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    page.locator("#cost-plans-link").click()
    assert "No cost plans yet" in page.locator("#cost-plan-table").inner_text()
    page.screenshot(path=artifacts / "cost-plans-empty.png", full_page=True)
    form = page.locator("#cost-plan-form")
    form.get_by_label("Name").fill("Model provider costs")
    form.get_by_role("button", name="Create cost plan").click()
    page.get_by_text("Cost plan “Model provider costs” created.").wait_for()
    plan = Plan.objects.get(name="Model provider costs")
    assert page.locator("#cost-plan-badge").inner_text() == "Cost plan"

    # A sheet with a mistake: every problem listed, nothing stored.
    sheet = page.locator("#sheet-form")
    bad = SHEET + "llm-tokens,model b,output,four\n"
    sheet.get_by_label("Price sheet").set_input_files(
        {"name": "provider.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    sheet.get_by_role("button", name="Import price sheet").click()
    page.locator("#sheet-problems").wait_for()
    assert "row 5.unit_price" in page.locator("#sheet-import").inner_text()
    assert not plan_rates(plan).exists()
    page.locator("#sheet-import").screenshot(path=artifacts / "cost-sheet-problems.png")

    page.locator("#sheet-form").get_by_label("Price sheet").set_input_files(
        {"name": "provider.csv", "mimeType": "text/csv", "buffer": SHEET.encode()}
    )
    page.locator("#sheet-form").get_by_role("button", name="Import price sheet").click()
    page.get_by_text("Price sheet imported into “Model provider costs”: 1 rate set.").wait_for()
    (draft,) = [rate_draft(r) for r in plan_rates(plan)]
    assert [p.unit_price for _, p in draft.cells] == [
        Decimal("0.000003"),
        Decimal("0.000015"),
        Decimal("0.000001"),
    ]
    assert "model a" in page.locator("#rates").inner_text()

    page.get_by_role("button", name="Make default").click()
    page.get_by_text("is now the default cost plan").wait_for()
    assert asked and "default cost plan" in asked[0]
    settle(page)
    page.locator(f"#cost-plan-{plan.pk}").get_by_role("link").click()
    page.locator("#default-cost-badge").wait_for()
    page.screenshot(path=artifacts / "cost-plan-page.png", full_page=True)
    plan.refresh_from_db()
    assert plan.is_default_cost
    assert "All usage, until a later version" in page.locator("#versions").inner_text()

    # In use now: a change to its rates asks from when the provider's price applies.
    page.locator("#rates").get_by_role("link", name="Edit").click()
    settle(page)
    effective = page.locator("#rate-form").get_by_role("textbox", name="Effective from")
    assert effective.input_value()  # now, by default
    page.locator("#rate-form").screenshot(path=artifacts / "cost-rate-editor.png")

    # The guide's invoice to date now shows what each line cost and the margin;
    # API calls have no cost price in this sheet: "No cost known", never $0.00.
    customer = Customer.objects.get(customer_id=CUSTOMER_ID)
    page.goto(customer.get_absolute_url())
    invoice = page.locator("#invoice")
    invoice.locator("td.line-cost").first.wait_for()
    rows = {
        row.locator("td").first.inner_text().strip(): row
        for row in invoice.locator("tbody tr").all()
        if row.locator("td.line-cost").count()
    }
    output = rows["LLM tokens · model a · output"]
    assert output.locator("td.line-cost").inner_text() == "$0.02"  # 1,000 × $0.000015
    assert output.locator("td.line-margin").inner_text() == "$0.00"
    assert rows["LLM tokens · model a · input"].locator("td.line-margin").inner_text() == "$0.01"
    assert "No cost known" in rows["API calls"].locator("td.line-cost").inner_text()
    invoice.screenshot(path=artifacts / "cost-sheet-guide-margins.png")
