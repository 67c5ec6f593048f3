"""The margin report and the invoice's cost columns in Chromium: the chart of
margin over time draws (uPlot, served from our static files) under the
Content-Security-Policy without a violation; screenshots for a look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from invoices.closing import close_periods
from invoices.models import Invoice
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.browser.conftest import log_in, settle
from tests.factories import guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_margin_chart_draws_under_the_csp_and_the_invoice_shows_costs(  # type: ignore[no-untyped-def]
    page, artifacts
) -> None:
    now = datetime.now(UTC)
    guide = guide_setup(now)
    plan = plan_create(name="Provider costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.02"))
    cost_plan_make_default(plan=plan)
    close_periods(now=now + timedelta(days=40))
    issued = Invoice.objects.exclude(status="draft").earliest("period_start")
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page)

    page.get_by_role("link", name="Margins").click()
    page.locator("#margin-chart canvas").first.wait_for()
    settle(page)
    page.screenshot(path=str(artifacts / "margins.png"), full_page=True)
    assert page.locator(".margin-table .negative-margin").count() >= 1

    page.get_by_label("Group by").select_option("month")
    settle(page)
    page.locator("#margin-chart canvas").first.wait_for()
    assert (
        "2025" in page.locator(".margin-table").inner_text()
        or page.locator(".margin-table").inner_text()
    )

    page.goto(issued.get_absolute_url())
    page.locator("table.invoice-lines .negative-margin").first.wait_for()
    page.screenshot(path=str(artifacts / "invoice-costs.png"), full_page=True)
    page.goto(reverse("invoices:customer_billing", args=[guide.customer.pk]))
    page.screenshot(path=str(artifacts / "billing-costs.png"), full_page=True)

    assert violations == []
