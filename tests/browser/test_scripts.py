"""The guide's invoice for a customer named in each script (tests.scripts),
in Chromium: the issued invoice page shows the name, drawn by a real font
(the vendored Noto family where the machine has none), with amounts and
dates in the customer's locale. Screenshots land in the artifacts folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from billing_site.roles import ADMIN
from customers.models import Customer
from customers.services import customer_create, plan_assign
from invoices.closing import close_periods
from invoices.models import Invoice
from meters.services import events_ingest
from tests.browser.conftest import log_in
from tests.factories import guide_records, guide_setup, month_start
from tests.scripts import SAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Fonts Chromium may draw with: the vendored Noto families (served by the
# app) and the one font family a fresh machine has (.ci/run: fonts-dejavu-core).
NOTO = {sample.family for sample in SAMPLES}
SYSTEM = {"DejaVu Sans"}
MONO = "DejaVu Sans Mono"  # the address field's monospace font (css/app.css)
# Scripts that no font of a fresh machine has: only the vendored font can draw them.
ONLY_NOTO = {"chinese", "japanese", "korean", "devanagari", "thai"}


def family(font_name: str) -> str:
    """A font's family without its style: the vendored CJK fonts name
    themselves "Noto Sans JP Thin" (the variable font's first instance),
    whatever weight they draw."""
    return font_name.removesuffix(" Thin")


def fonts_drawing(page, selector: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The fonts Chromium drew the element's first text with, and how many
    glyphs each (DevTools' CSS.getPlatformFontsForNode: what was really
    used), looking inside a form field's own shadow tree."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    tree = cdp.send("DOM.describeNode", {"nodeId": node, "depth": -1, "pierce": True})["node"]
    text_node = first_text(tree)
    pushed = cdp.send(
        "DOM.pushNodesByBackendIdsToFrontend", {"backendNodeIds": [text_node["backendNodeId"]]}
    )
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": pushed["nodeIds"][0]})["fonts"]
    cdp.detach()
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def first_text(node: dict) -> dict:  # type: ignore[type-arg]
    if node.get("nodeType") == 3 and node.get("nodeValue", "").strip():
        return node
    for child in [*node.get("shadowRoots", []), *node.get("children", [])]:
        found = first_text(child)
        if found:
            return found
    return {}


def test_each_scripts_customer_reads_their_issued_invoice_in_their_own_script_and_locale(  # type: ignore[no-untyped-def]
    page, artifacts: Path
) -> None:
    now = timezone.now()
    last_month = month_start(month_start(now) - timedelta(days=1))
    used = last_month + timedelta(days=10)
    guide = guide_setup(used, start_at=last_month)
    for sample in SAMPLES:
        customer = customer_create(
            name=sample.name,
            customer_id=f"customer-{sample.script}",
            billing_address=sample.address,
            locale=sample.locale,
        )
        plan_assign(customer=customer, plan=guide.plan, start_at=last_month)
        records = [
            r | {"customerId": customer.customer_id, "uniqueId": f"{sample.script}-{r['uniqueId']}"}
            for r in guide_records(used)
        ]
        assert events_ingest(records=records, now=used).accepted == 4
    close_periods(now=max(now, month_start(now) + timedelta(hours=25)))
    log_in(page, ADMIN)

    for sample in SAMPLES:
        invoice = Invoice.objects.get(
            customer__customer_id=f"customer-{sample.script}", period_start=last_month
        )
        assert invoice.customer_locale == sample.locale
        page.goto(invoice.get_absolute_url())

        billed_to = page.locator(".invoice-summary p strong").first
        assert billed_to.inner_text() == sample.name
        assert sample.address in page.locator(".invoice-summary p").first.inner_text()
        drawn = fonts_drawing(page, ".invoice-summary p strong")
        assert all(family(name) in NOTO | SYSTEM for name in drawn), (sample.script, drawn)
        if sample.script in ONLY_NOTO:
            # The customer's locale picks the regional forms of shared Han
            # characters: a Chinese name is drawn by Noto Sans SC alone.
            # (The system font may draw the space between words.)
            noto = {family(name) for name in drawn} - SYSTEM
            assert noto == {sample.family}, (sample.script, drawn)
        page.screenshot(path=artifacts / f"invoice-script-{sample.script}.png", full_page=True)

    # The edit form shows the names in their fields, drawn the same way
    # (Chromium's text fields do not fall back from system-ui: css/app.css).
    for sample in [s for s in SAMPLES if s.script in ONLY_NOTO]:
        customer = Customer.objects.get(customer_id=f"customer-{sample.script}")
        page.goto(reverse("customers:edit", args=[customer.pk]))
        assert page.get_by_label("Customer name").input_value() == sample.name
        for field in ("#id_name", "#id_billing_address"):
            # (A form field does not know the customer's language: a Chinese
            # name takes the Japanese forms of the characters both have.)
            noto = {family(name) for name in fonts_drawing(page, field)} - SYSTEM - {MONO}
            assert noto and noto <= NOTO, (sample.script, field, noto)
    page.screenshot(path=artifacts / "customer-edit-script-thai.png", full_page=True)

    # The amounts and dates follow each customer's locale.
    assert_written(page, "customer-japanese", last_month, "$0.14")
    assert_written(page, "customer-latin", last_month, "0,14\u00a0$")
    assert_written(page, "customer-cyrillic", last_month, "0,14\u00a0$")


def assert_written(page, customer_id: str, period_start, total: str) -> None:  # type: ignore[no-untyped-def]
    invoice = Invoice.objects.get(customer__customer_id=customer_id, period_start=period_start)
    page.goto(invoice.get_absolute_url())
    term = page.locator("dl.facts dt", has_text="Total")
    assert term.locator("xpath=following-sibling::dd[1]").text_content() == total
