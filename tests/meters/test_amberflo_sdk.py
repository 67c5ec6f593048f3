"""Amberflo's own Python SDK (amberflo-metering-python, import `metering`)
against the live test server, changed only by its two base URLs: the guide's
events through its batching producer end on the guide's invoice, and its
customer and usage clients get the answers they need."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from metering.customer import CustomerApiClient, create_customer_payload
from metering.exceptions import ApiError
from metering.ingest import IngestApiClient, create_ingest_client, create_ingest_payload
from metering.session.api_session import ApiSession
from metering.session.ingest_session import IngestSession
from metering.usage import (
    AggregationType,
    Take,
    TimeGroupingInterval,
    TimeRange,
    UsageApiClient,
    create_all_usage_query,
    create_usage_query,
)

from customers.models import Customer
from invoices.builder import Invoice, build_invoice, current_period
from meters.api_keys import api_key_create
from meters.models import ApiKey, UsageEvent
from tests.factories import CUSTOMER_ID, Guide, guide_records, guide_setup, millis

GUIDE_LINES = {
    "LLM tokens · model a · input": Decimal("0.01"),
    "LLM tokens · model a · output": Decimal("0.02"),
    "LLM tokens · model b · input": Decimal("0.01"),
    "API calls": Decimal("0.10"),
}


@pytest.fixture
def tally(live_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the SDK at the live server, the way a team would (two lines);
    monkeypatch puts Amberflo's own URLs back afterwards.

    Every SDK session opened during the test is closed at its end: the SDK
    keeps HTTP keep-alive connections (and registers its producer with atexit),
    and a connection left open would be served after the test database is gone.
    """
    root = live_server.url + "/amberflo"
    monkeypatch.setattr(IngestSession, "root_url", root)
    monkeypatch.setattr(ApiSession, "root_url", root)
    opened: list[IngestSession | ApiSession] = []
    for session_class in (IngestSession, ApiSession):
        monkeypatch.setattr(session_class, "__init__", _recorded(session_class.__init__, opened))
    yield root
    for session in opened:
        session.session.close()


def _recorded(init: Callable[..., None], opened: list[Any]) -> Callable[..., None]:
    def record_and_init(self: Any, api_key: str) -> None:
        init(self, api_key)
        opened.append(self)

    return record_and_init


@pytest.fixture
def api_key(tally: str) -> str:
    """A key as created by default: scope ingest, all the SDK needs to send
    usage and add or update customers."""
    _key, raw = api_key_create(name="amberflo sdk")
    return raw


@pytest.fixture
def read_key(tally: str) -> str:
    """For the SDK's reads beyond ingesting: usage queries, the customer list."""
    _key, raw = api_key_create(name="amberflo reports", scope=ApiKey.Scope.READ)
    return raw


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def guide(now: datetime) -> Guide:
    # On the plan since yesterday, so "a minute ago" is inside the current
    # period whatever the day of the month.
    return guide_setup(now, start_at=now - timedelta(days=1), events=False)


def invoice_now(customer: Customer) -> Invoice:
    ref = current_period(customer, timezone.now())
    assert ref is not None
    return build_invoice(customer, ref)


def send_through_producer(api_key: str, records: list[dict[str, object]]) -> list[object]:
    """The README's batching client; returns what it reported as failed.
    retries=0 so a failure shows at once instead of after minutes of backoff,
    and a short send interval so the test does not wait for half-empty batches."""
    failures: list[object] = []
    client = create_ingest_client(
        api_key=api_key,
        retries=0,
        send_interval_in_secs=0.1,
        on_error=lambda error, batch: failures.append(error),
    )
    try:
        for record in records:
            client.meter(
                meter_api_name=record["meterApiName"],
                meter_value=record["meterValue"],
                meter_time_in_millis=record["meterTimeInMillis"],
                customer_id=record["customerId"],
                dimensions=record.get("dimensions"),
                unique_id=record["uniqueId"],
            )
    finally:
        client.shutdown()  # blocks until every queued record was sent
    return failures


def test_batching_producer_sends_the_guide_events_to_the_invoice(
    api_key: str, guide: Guide, now: datetime
) -> None:
    failures = send_through_producer(api_key, guide_records(now - timedelta(minutes=1)))

    assert failures == []
    invoice = invoice_now(guide.customer)
    assert {line.description: line.amount for line in invoice.lines} == GUIDE_LINES
    assert invoice.total == Decimal("0.14")
    assert invoice.unpriced == []


def test_resending_the_same_batch_leaves_the_total_unchanged(
    api_key: str, guide: Guide, now: datetime
) -> None:
    records = guide_records(now - timedelta(minutes=1))
    assert send_through_producer(api_key, records) == []

    assert send_through_producer(api_key, records) == []

    assert UsageEvent.objects.count() == 4
    assert invoice_now(guide.customer).total == Decimal("0.14")


def test_synchronous_client_sends_one_record_as_an_object(
    api_key: str, guide: Guide, now: datetime
) -> None:
    client = IngestApiClient(api_key)
    record = create_ingest_payload(
        meter_api_name="api-calls",
        meter_value=10,
        meter_time_in_millis=millis(now - timedelta(minutes=1)),
        customer_id=CUSTOMER_ID,
        unique_id="sync-api-calls",
    )

    first = json.loads(client.send(record))
    again = json.loads(client.send(record))

    assert (first["accepted"], first["duplicates"], first["rejected"]) == (1, 0, [])
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    invoice = invoice_now(guide.customer)
    assert {line.description: line.amount for line in invoice.lines} == {
        "API calls": Decimal("0.10")
    }
    assert invoice.total == Decimal("0.10")


def test_a_bad_key_is_refused_and_the_sdk_gives_up(guide: Guide, tally: str, now: datetime) -> None:
    client = IngestApiClient("tly_not-a-key")
    record = create_ingest_payload("api-calls", 1, millis(now), CUSTOMER_ID)

    with pytest.raises(ApiError) as raised:
        client.send(record)

    assert raised.value.status_code == 401
    assert UsageEvent.objects.count() == 0


def test_customer_client_creates_reads_and_updates(api_key: str, read_key: str, db: None) -> None:
    client = CustomerApiClient(api_key)
    payload = create_customer_payload(
        customer_id="acme",
        customer_name="Acme Inc.",
        customer_email="billing@acme.test",
        traits={"region": "us-east-1"},
    )

    created = client.add(payload, create_in_stripe=True)
    fetched = client.get("acme")
    updated = client.add_or_update(
        create_customer_payload(customer_id="acme", customer_name="Acme Corp", enabled=False)
    )

    assert created["customerId"] == fetched["customerId"] == "acme"
    assert fetched["customerName"] == "Acme Inc."
    assert fetched["customerEmail"] == "billing@acme.test"
    assert fetched["traits"] == {"region": "us-east-1"}
    # add_or_update found it (GET) and replaced it (PUT): email and traits are gone.
    assert updated["customerName"] == "Acme Corp"
    acme = Customer.objects.get(customer_id="acme")
    assert (acme.name, acme.email, acme.enabled, acme.traits) == ("Acme Corp", "", False, {})
    assert [c["customerId"] for c in CustomerApiClient(read_key).list()] == ["acme"]


def test_an_ingest_key_may_not_list_every_customer(api_key: str, db: None) -> None:
    with pytest.raises(ApiError) as raised:
        CustomerApiClient(api_key).list()

    assert raised.value.status_code == 403


def test_customer_client_handles_a_missing_customer(api_key: str, db: None) -> None:
    client = CustomerApiClient(api_key)

    assert client.get("nobody") == {}
    created = client.add_or_update(create_customer_payload("newco", "NewCo"))

    assert created["customerId"] == "newco"
    assert Customer.objects.get(customer_id="newco").name == "NewCo"


def test_customer_created_by_ingestion_is_claimed_by_add_or_update(
    api_key: str, guide: Guide, now: datetime
) -> None:
    record = create_ingest_payload("api-calls", 1, millis(now), "walk-in", unique_id="walk-in-1")
    IngestApiClient(api_key).send(record)
    assert Customer.objects.get(customer_id="walk-in").created_by_ingestion

    CustomerApiClient(api_key).add_or_update(create_customer_payload("walk-in", "Walk-in Ltd"))

    walk_in = Customer.objects.get(customer_id="walk-in")
    assert (walk_in.name, walk_in.created_by_ingestion) == ("Walk-in Ltd", False)


def test_usage_client_returns_the_guide_token_sum(
    api_key: str, read_key: str, guide: Guide, now: datetime
) -> None:
    assert send_through_producer(api_key, guide_records(now - timedelta(minutes=1))) == []
    client = UsageApiClient(read_key)
    since = TimeRange(int(guide.assignment.start_at.timestamp()))
    tokens = create_usage_query(
        aggregation=AggregationType.SUM,
        meter_api_name="llm-tokens",
        time_grouping_interval=TimeGroupingInterval.DAY,
        time_range=since,
        group_by=["customerId"],
        usage_filter={"customerId": [CUSTOMER_ID]},
        take=Take(limit=10, is_ascending=False),
    )

    report = client.get(tokens)
    batch = client.get([tokens, {**tokens, "meterApiName": "api-calls"}])
    everything = client.get_all(
        create_all_usage_query(TimeGroupingInterval.DAY, since, filter_by_customer_id=CUSTOMER_ID)
    )

    [meter] = report["clientMeters"]
    assert meter["group"]["groupInfo"] == {"customerId": CUSTOMER_ID}
    assert meter["groupValue"] == 3000
    assert sum(v["value"] for v in meter["values"]) == 3000
    assert [r["clientMeters"][0]["groupValue"] for r in batch] == [3000, 10]
    totals = {r["metadata"]["meterApiName"]: r["clientMeters"][0]["groupValue"] for r in everything}
    assert totals == {"api-calls": 10, "llm-tokens": 3000}


def test_the_usage_client_needs_a_read_key(api_key: str, guide: Guide) -> None:
    since = TimeRange(int(guide.assignment.start_at.timestamp()))
    query = create_all_usage_query(TimeGroupingInterval.DAY, since)

    with pytest.raises(ApiError) as raised:
        UsageApiClient(api_key).get_all(query)

    assert raised.value.status_code == 403
