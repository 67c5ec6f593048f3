"""The guide, clicked through in Chromium from an empty database: meters, a
plan with a per-unit rate and a pricing matrix, a customer on that plan, usage
upload, and the $0.14 invoice on the page and in the downloaded PDF."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.browser.conftest import log_in, settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN_EVENTS = [
    {"meterApiName": "llm tokens", "meterValue": 1000, "dimensions": {"model": m, "type": t}}
    for m, t in [("model a", "input"), ("model a", "output"), ("model b", "input")]
]
API_EVENTS = [{"meterApiName": "api calls", "meterValue": 10}]
MATRIX = [
    ("model a", "input", "0.00001"),
    ("model a", "output", "0.00002"),
    ("model b", "input", "0.000005"),
    ("model b", "output", "0.00001"),
]


def nav(page, section: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=section).click()


def create_meter(page, label: str, api_name: str, dimensions: list[str]) -> None:
    nav(page, "Meters")
    page.get_by_role("link", name="Create meter").first.click()
    page.get_by_label("Label").fill(label)
    # The API name follows the label as it is typed.
    assert page.get_by_label("API name").input_value() == api_name
    rows = page.locator("input[name=dimensions]")
    for index, name in enumerate(dimensions):
        page.get_by_role("button", name="+ Add dimension").click()
        rows.nth(index).fill(name)  # waits for the row HTMX appends
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name=label).wait_for()
    assert page.get_by_text(f"Meter “{label}” created.").is_visible()


def create_plan_with_rates(page) -> None:
    nav(page, "Pricing")
    page.get_by_role("link", name="Create pricing plan").first.click()
    page.get_by_label("Name").fill("Chatbot Usage Plan")
    assert page.get_by_label("Billing period").input_value() == "monthly"
    page.get_by_role("button", name="Create plan").click()
    page.get_by_role("heading", name="Chatbot Usage Plan").wait_for()

    # 3a: API calls, per unit, $0.01.
    page.get_by_role("link", name="Add rate").first.click()
    settle(page)
    page.get_by_label("Meter", exact=True).select_option(label="API calls")
    settle(page)
    page.locator("input[name=rate_model][value=per_unit]").check()
    settle(page)
    page.locator("input[name=unit_price]").fill("0.01")
    settle(page, debounce_ms=400)  # the live preview waits 300 ms after typing
    page.get_by_role("button", name="Save rate").click()
    page.locator("#rates").get_by_text("API calls").first.wait_for()

    # 3b: LLM tokens, dimensions model x type, the guide's matrix.
    page.get_by_role("link", name="Add rate").first.click()
    settle(page)
    page.get_by_label("Meter", exact=True).select_option(label="LLM tokens")
    settle(page)
    page.locator("input[name=rate_model][value=dimensions]").check()
    settle(page)
    for dimension in ("model", "type"):
        box = page.locator(".checkboxes").get_by_label(dimension, exact=True)
        if not box.is_checked():
            box.check()
            settle(page)
    page.locator("#matrix-rows").wait_for()
    for index, (model, token_type, price) in enumerate(MATRIX):
        rows = page.locator("#matrix-rows .matrix-row")
        if rows.count() <= index:
            page.get_by_role("button", name="+ Add row").click()
            rows.nth(index).wait_for()
            settle(page)
        row = rows.nth(index)
        row.get_by_label("model", exact=True).fill(model)
        row.get_by_label("type", exact=True).fill(token_type)
        row.get_by_label("Price per unit").fill(price)
        settle(page)  # the live preview re-prices as prices are typed
    settle(page, debounce_ms=400)  # the live preview waits 300 ms after typing
    page.get_by_role("button", name="Save rate").click()
    page.locator("#rates").get_by_text("LLM tokens").first.wait_for()
    for _model, _type, price in MATRIX:
        assert page.locator("#rates").get_by_text(f"${price}").first.is_visible()


def create_customer_and_assign(page) -> None:
    nav(page, "Customers")
    page.get_by_role("link", name="Create customer").first.click()
    page.get_by_label("Customer name").fill("Test Customer")
    page.get_by_label("Customer ID").fill("test-customer")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Test Customer").wait_for()
    page.get_by_label("Plan").select_option(label="Chatbot Usage Plan")
    # Start date defaults to now.
    assert page.get_by_label("Start date").input_value()
    page.get_by_role("button", name="Assign plan").click()
    page.get_by_text("Test Customer is now on Chatbot Usage Plan.").wait_for()


def upload(page, meter_label: str, records: list[dict[str, object]], expect: str) -> None:
    nav(page, "Meters")
    page.get_by_role("link", name=meter_label).click()
    page.get_by_label("Paste events").fill(json.dumps(records))
    page.get_by_label("Customer", exact=True).select_option(label="Test Customer (test-customer)")
    page.get_by_role("button", name="Upload events").click()
    page.get_by_text(expect).wait_for()


def test_guide_flow_from_empty_database_to_the_invoice_and_pdf(page, artifacts: Path) -> None:
    log_in(page)
    nav(page, "Meters")
    assert page.get_by_text("No meters yet").first.is_visible()
    page.screenshot(path=artifacts / "1-meters-empty.png", full_page=True)

    create_meter(page, "API calls", "api-calls", [])
    create_meter(page, "LLM tokens", "llm-tokens", ["model", "type"])
    page.screenshot(path=artifacts / "2-meter.png", full_page=True)

    create_plan_with_rates(page)
    page.screenshot(path=artifacts / "3-plan.png", full_page=True)

    create_customer_and_assign(page)

    upload(page, "LLM tokens", TOKEN_EVENTS, "3 accepted")
    page.screenshot(path=artifacts / "4-upload.png", full_page=True)
    upload(page, "API calls", API_EVENTS, "1 accepted")

    nav(page, "Customers")
    page.get_by_role("link", name="Test Customer").click()
    # The billing region loads into the customer page by HTMX after the page.
    invoice = page.locator("#invoice")
    invoice.wait_for()
    rows = {
        "LLM tokens · model a · input": "$0.01",
        "LLM tokens · model a · output": "$0.02",
        "LLM tokens · model b · input": "$0.01",
        "API calls": "$0.10",
    }
    for description, amount in rows.items():
        exactly = re.compile(f"^{re.escape(description)}$")
        first_cell = page.locator("td:first-child", has_text=exactly)
        row = invoice.locator("tbody tr").filter(has=first_cell)
        # The Amount column (an Admin also sees the line's cost and margin after it).
        assert row.locator("td").nth(3).inner_text() == amount
    total = invoice.locator(".invoice-total td").last
    assert total.inner_text() == "$0.14"
    page.screenshot(path=artifacts / "invoice.png", full_page=True)

    page.get_by_role("link", name="Simplified").click()
    page.locator(".tabs a[aria-selected=true]", has_text="Simplified").wait_for()
    assert invoice.locator(".invoice-total td").last.inner_text() == "$0.14"
    assert invoice.locator("tbody tr").count() == 2
    page.screenshot(path=artifacts / "invoice-simplified.png", full_page=True)

    page.get_by_role("link", name="Itemized").click()
    page.locator(".tabs a[aria-selected=true]", has_text="Itemized").wait_for()
    settle(page)  # the Download PDF link now names the itemized view
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf_bytes = Path(download_info.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes)).pages)
    for description, amount in rows.items():
        assert description in text
        assert amount in text
    assert "$0.14" in text
    assert "Test Customer" in text
