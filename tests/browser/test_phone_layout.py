"""Every page on a phone (390 × 844, an iPhone 12–15): nothing wider than the
screen, so the page never scrolls sideways. Wide tables scroll inside their
card instead. Screenshots of each page land in the artifacts folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from meters.models import RejectedRecord
from meters.services import events_ingest, meter_create
from pricing.services import plan_create
from tests.browser.conftest import log_in, settle
from tests.factories import Guide, guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def seeded() -> Guide:
    """The guide's data, plus what makes pages wide: unpriced usage with a
    long dimension value, and rejected records with long JSON."""
    now = timezone.now()
    guide = guide_setup(now)
    when = int((now.timestamp() - 120) * 1000)
    events_ingest(
        records=[
            {
                "meterApiName": "llm-tokens",
                "meterValue": 5000,
                "customerId": "test-customer",
                "meterTimeInMillis": when,
                "dimensions": {"model": "model  a", "type": "input"},
            },
            {
                "meterApiName": "llm-tokens",
                "meterValue": 70,
                "customerId": "test-customer",
                "meterTimeInMillis": when,
                "dimensions": {"model": "a-rather-long-model-name-without-spaces-v2", "type": "x"},
            },
        ],
        now=now,
    )
    events_ingest(
        records=[
            {"meterValue": "lots", "dimensions": {"model": "x" * 120, "type": "input"}},
            {"meterValue": 1, "meterTimeInMillis": when, "dimensions": {"region": "y" * 200}},
        ],
        default_meter=guide.llm_tokens,
        default_customer_id="test-customer",
        now=now,
    )
    assert RejectedRecord.objects.count() == 2
    return guide


def page_width(page, name: str, artifacts: Path) -> int:  # type: ignore[no-untyped-def]
    """The page's laid-out width, after saving its screenshot."""
    page.wait_for_load_state("networkidle")
    if name in {"customer", "customer-simplified"}:
        page.locator("#invoice").wait_for()  # loaded into the page by HTMX
    page.screenshot(path=artifacts / f"phone-{name}.png", full_page=True)
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_every_page_fits_a_phone_screen(page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    guide = seeded()
    page.set_viewport_size(PHONE)
    page.goto("/")
    widths = {"login": page_width(page, "login", artifacts)}
    log_in(page)
    pages = {
        "customer": reverse("customers:detail", args=[guide.customer.pk]),
        "customer-simplified": reverse("customers:detail", args=[guide.customer.pk])
        + "?view=simplified",
        "customer-billing": reverse("invoices:customer_billing", args=[guide.customer.pk]),
        "customers": reverse("customers:list"),
        "customer-create": reverse("customers:create"),
        "meters": reverse("meters:list"),
        "meter": reverse("meters:detail", args=[guide.llm_tokens.pk]),
        "meter-create": reverse("meters:create"),
        "rejected": reverse("meters:rejected"),
        "api-keys": reverse("meters:api_keys"),
        "plans": reverse("pricing:list"),
        "plan": reverse("pricing:detail", args=[guide.plan.pk]),
        "plan-create": reverse("pricing:create"),
        "plan-import": reverse("pricing:import"),
        "rate-editor": reverse("pricing:add_rate", args=[guide.plan.pk]),
    }
    for name, url in pages.items():
        page.goto(url)
        widths[name] = page_width(page, name, artifacts)

    assert {name: w for name, w in widths.items() if w > PHONE["width"]} == {}


def test_rate_editor_matrix_fits_a_phone_screen(page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    meter_create(
        label="Images", api_name="images", meter_type="count", dimensions=["size", "quality"]
    )
    plan = plan_create(name="Phone plan", billing_period="monthly", currency="USD")
    page.set_viewport_size(PHONE)
    log_in(page)
    page.goto(reverse("pricing:add_rate", args=[plan.pk]))
    page.locator("input[name=rate_model][value=dimensions]").check()
    page.locator("#matrix-rows").wait_for()
    settle(page)
    row = page.locator("#matrix-rows .matrix-row").first
    row.get_by_label("size", exact=True).fill("1024x1024")
    row.get_by_label("quality", exact=True).fill("hd")
    row.get_by_label("Price model").select_option("graduated")
    row.get_by_label("Unit price (tier 1)").fill("0.04")
    settle(page, debounce_ms=400)
    assert page_width(page, "rate-editor-matrix", artifacts) <= PHONE["width"]
