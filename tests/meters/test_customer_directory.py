"""Meters reaches customers only through the customer directory
(meters/customer_directory.py) that settings.CUSTOMER_DIRECTORY names: the
upload picker lists the directory's customers, ingestion accepts the IDs it
knows and creates through it the ones it does not. The real directory
(customers.directory.Directory) looks up and creates any number of IDs, and
audits a customer once, when this call inserted it."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer
from meters.models import Meter, UsageEvent
from meters.services import events_ingest, meter_create
from tests.fixtures import element

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
EARLIER = int((NOW - timedelta(hours=1)).timestamp() * 1000)


class ElsewhereDirectory:
    """Customers kept somewhere other than the customers app's table."""

    customers = {"acme": "Acme Corp", "zed": "Zed Ltd"}

    def known(self, customer_ids: Collection[str]) -> set[str]:
        return set(customer_ids) & set(self.customers)

    def create(self, customer_ids: Collection[str]) -> None:
        raise AssertionError("an upload never creates customers")

    def choices(self) -> list[tuple[str, str]]:
        return [(cid, name) for cid, name in sorted(self.customers.items())]


@pytest.fixture
def meter(time_machine: TimeMachineFixture) -> Meter:
    time_machine.move_to(NOW, tick=False)
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


def event(unique_id: str, customer_id: str) -> dict[str, object]:
    return {
        "meterValue": 1,
        "uniqueId": unique_id,
        "customerId": customer_id,
        "meterTimeInMillis": EARLIER,
    }


def test_the_upload_asks_the_directory_the_settings_name(
    admin_client: Client, meter: Meter, settings: Settings
) -> None:
    settings.CUSTOMER_DIRECTORY = f"{__name__}.ElsewhereDirectory"
    page = admin_client.get(reverse("meters:detail", args=[meter.pk])).content.decode()
    assert '<option value="acme">Acme Corp</option>' in page

    records = [
        {"meterValue": 1, "uniqueId": "e-1", "meterTimeInMillis": EARLIER},
        event("e-2", "zed"),
        event("e-3", "nobody"),
    ]
    answer = admin_client.post(
        reverse("meters:upload", args=[meter.pk]),
        {"records": json.dumps(records), "customer": "acme"},
    ).content.decode()

    assert "unknown customer &#x27;nobody&#x27;" in element(answer, "upload")
    assert sorted(UsageEvent.objects.values_list("unique_id", "customer_id")) == [
        ("e-1", "acme"),
        ("e-2", "zed"),
    ]
    assert not Customer.objects.exists()  # the customers table was never asked
    assert '<option value="acme" selected>Acme Corp</option>' in answer


def test_ingestion_creates_more_customers_than_one_lookup_holds_once_each(meter: Meter) -> None:
    ids = [f"new-{n:04d}" for n in range(1_200)]
    Customer.objects.create(name="Known", customer_id="new-0007")

    def ingest(prefix: str) -> int:
        records: list[object] = [event(f"{prefix}-{cid}", cid) for cid in ids]
        result = events_ingest(records=records, default_meter=meter, create_customers=True)
        assert not result.rejected
        return result.accepted

    first, again = ingest("a"), ingest("b")

    assert (first, again) == (1_200, 1_200)
    assert Customer.objects.count() == 1_200
    assert Customer.objects.filter(created_by_ingestion=True).count() == 1_199
    assert Customer.objects.get(customer_id="new-0007").name == "Known"
    created = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), action=LogEntry.Action.CREATE
    )
    ingested = [e for e in created if (e.additional_data or {}).get("door") == "ingest"]
    assert len(ingested) == 1_199
    assert len({e.object_pk for e in ingested}) == 1_199
