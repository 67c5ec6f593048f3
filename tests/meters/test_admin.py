from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from invoices.demo import guide_seed
from meters.models import Meter, UsageEvent

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def guide() -> None:
    guide_seed(now=NOW)


def results(client: Client, url: str) -> list[Any]:
    response = client.get(url)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_meter_pages_open(admin_client: Client) -> None:
    meter = Meter.objects.get(api_name="llm-tokens")

    for url in (
        reverse("admin:meters_meter_changelist"),
        reverse("admin:meters_meter_add"),
        reverse("admin:meters_meter_change", args=[meter.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_lists_show_dimensions_readably(admin_client: Client) -> None:
    meters = admin_client.get(reverse("admin:meters_meter_changelist"))
    events = admin_client.get(reverse("admin:meters_usageevent_changelist"))

    assert "model, type" in meters.content.decode()
    assert "model: model a, type: input" in events.content.decode()
    assert "model%20a" not in events.content.decode()


def test_meter_search_matches_label_and_api_name(admin_client: Client) -> None:
    url = reverse("admin:meters_meter_changelist")

    assert [m.api_name for m in results(admin_client, f"{url}?q=tokens")] == ["llm-tokens"]
    assert [m.api_name for m in results(admin_client, f"{url}?q=api-calls")] == ["api-calls"]
    assert results(admin_client, f"{url}?meter_type__exact=max") == []


def test_meter_api_name_cannot_be_changed(admin_client: Client) -> None:
    meter = Meter.objects.get(api_name="llm-tokens")
    url = reverse("admin:meters_meter_change", args=[meter.pk])

    response = admin_client.post(
        url,
        {
            "label": "Tokens",
            "api_name": "renamed",
            "meter_type": "count",
            "dimensions": '["model", "type"]',
            "unique_dimension": "",
        },
    )

    assert response.status_code == 302
    meter.refresh_from_db()
    assert (meter.label, meter.api_name) == ("Tokens", "llm-tokens")


def test_event_pages_open(admin_client: Client) -> None:
    event = UsageEvent.objects.get(unique_id="guide-llm-a-input-2025-03")
    changelist = reverse("admin:meters_usageevent_changelist")

    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(f"{changelist}?event_time__year=2025").status_code == 200
    month = f"{changelist}?event_time__year=2025&event_time__month=3"
    assert admin_client.get(month).status_code == 200
    response = admin_client.get(reverse("admin:meters_usageevent_change", args=[event.pk]))
    assert response.status_code == 200
    assert "guide-llm-a-input-2025-03" in response.content.decode()


def test_event_search_matches_whole_customer_id_or_unique_id(admin_client: Client) -> None:
    url = reverse("admin:meters_usageevent_changelist")

    # The guide's four events, last month and this month.
    assert len(results(admin_client, f"{url}?q=test-customer")) == 8
    found = results(admin_client, f"{url}?q=guide-llm-a-input-2025-03")
    assert [e.unique_id for e in found] == ["guide-llm-a-input-2025-03"]
    assert results(admin_client, f"{url}?q=nobody") == []


def test_event_filter_by_meter(admin_client: Client) -> None:
    meter = Meter.objects.get(api_name="api-calls")
    url = reverse("admin:meters_usageevent_changelist")

    found = results(admin_client, f"{url}?meter__id__exact={meter.pk}")

    assert sorted(e.unique_id for e in found) == [
        "guide-api-calls-2025-02",
        "guide-api-calls-2025-03",
    ]


def test_events_cannot_be_added_changed_or_deleted(admin_client: Client) -> None:
    event = UsageEvent.objects.get(unique_id="guide-api-calls-2025-03")
    change = reverse("admin:meters_usageevent_change", args=[event.pk])

    assert admin_client.get(reverse("admin:meters_usageevent_add")).status_code == 403
    assert admin_client.post(change, {"customer_id": "someone-else"}).status_code == 403
    delete = reverse("admin:meters_usageevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.customer_id == "test-customer"
    assert 'name="customer_id"' not in admin_client.get(change).content.decode()


def test_event_values_and_dimensions_read_as_a_person_writes_them(admin_client: Client) -> None:
    event = UsageEvent.objects.get(unique_id="guide-llm-a-input-2025-03")
    changelist = admin_client.get(reverse("admin:meters_usageevent_changelist")).content.decode()
    change = admin_client.get(
        reverse("admin:meters_usageevent_change", args=[event.pk])
    ).content.decode()

    for html in (changelist, change):
        assert "model: model a, type: input" in html
        assert "model=model%20a" not in html
        assert ".000000000" not in html
    assert '<td class="field-quantity">1,000</td>' in changelist
