"""The meter form in Chromium: “Unique dimension” shows only while the type
is Unique count (static/js/app.js), also after HTMX re-renders the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_unique_dimension_shows_only_for_a_unique_count_meter(page) -> None:  # type: ignore[no-untyped-def]
    log_in(page)
    page.goto("/meters/new/")
    field = page.get_by_label("Unique dimension")

    expect(field).to_be_hidden()
    page.get_by_label("Meter type").select_option("unique_count")
    expect(field).to_be_visible()
    page.get_by_label("Meter type").select_option("max")
    expect(field).to_be_hidden()

    # A refused form comes back through HTMX; the field follows the type still.
    page.get_by_label("Meter type").select_option("unique_count")
    page.get_by_role("button", name="Create").click()
    settle(page)
    expect(page.locator("#field-unique_dimension .error")).to_have_count(1)
    expect(page.get_by_label("Unique dimension")).to_be_visible()
