"""An upload on a meter's page, in Chromium: the report and the new events
appear without a reload, the box empties, and the same paste sent again is
recognized as already uploaded."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from customers.services import customer_create
from meters.services import meter_create
from tests.browser.conftest import settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# No uniqueId: the upload's own key must recognize the second send.
EVENTS = [{"meterValue": 10}, {"meterValue": 5}]


def test_upload_shows_the_new_events_and_recognizes_a_second_send(page) -> None:
    meter = meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    customer_create(name="Test Customer", customer_id="test-customer")
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    page.goto(meter.get_absolute_url())
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    events = page.locator("#event-table")
    assert "No events yet" in events.inner_text()

    for expect in ["2 accepted · 0 duplicates", "0 accepted · 2 duplicates (already uploaded)"]:
        page.get_by_label("Paste events").fill(json.dumps(EVENTS))
        page.get_by_label("Customer", exact=True).select_option("test-customer")
        page.get_by_role("button", name="Upload events").click()
        page.locator("#upload [role=status]", has_text=expect).wait_for()
        settle(page)
        assert page.get_by_label("Paste events").input_value() == ""

        assert "No events yet" not in events.inner_text()
        assert events.locator("tbody tr").count() == 2
