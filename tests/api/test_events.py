"""Usage events over the API: sending records in our own format (answered
like /ingest/), and listing stored events with filters and a cursor."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import pytest
from django.test import Client
from pytest_django import Settings

from customers.models import Customer
from meters.models import RejectedRecord, UsageEvent
from tests.api.conftest import Api, errors, fields
from tests.factories import Guide, guide_records, millis

pytestmark = pytest.mark.django_db


def record(now: datetime, value: object = 1, **fields: object) -> dict[str, object]:
    return {
        "meterApiName": "api-calls",
        "meterValue": value,
        "customerId": "test-customer",
        "meterTimeInMillis": millis(now - timedelta(minutes=1)),
        **fields,
    }


# POST /events


def test_each_record_is_checked_on_its_own_and_answered_like_ingest(
    api: Api, guide: Guide, now: datetime
) -> None:
    batch = [
        record(now, 5, uniqueId="a"),
        record(now, "five", uniqueId="b"),
        record(now, 5, uniqueId="guide-api-calls"),  # sent by the guide already
        record(now, 1, uniqueId="c", meterApiName="no-such-meter"),
        record(now, 1, uniqueId="d", dimensions={"region": "eu"}),
    ]

    response = api.post("/events", batch)

    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [
            {
                "index": 1,
                "field": "meterValue",
                "reason": 'meterValue must be a finite number, got "five"',
            },
            {"index": 3, "field": "meterApiName", "reason": 'unknown meter "no-such-meter"'},
            {
                "index": 4,
                "field": "dimensions",
                "reason": "meter 'api-calls' does not define the dimension region",
            },
        ],
    }
    assert RejectedRecord.objects.filter(source=RejectedRecord.Source.API).count() == 3


def test_a_resent_batch_is_stored_once(api: Api, guide: Guide, now: datetime) -> None:
    batch = guide_records(now - timedelta(minutes=2))
    for r in batch:
        r["uniqueId"] = f"again-{r['uniqueId']}"

    first = api.post("/events", batch).json()
    second = api.post("/events", batch).json()

    assert (first["accepted"], first["duplicates"]) == (4, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 4)
    assert UsageEvent.objects.count() == 8


def test_a_single_record_object_and_a_gzip_body_are_accepted(
    api: Api, guide: Guide, now: datetime
) -> None:
    single = api.post("/events", record(now, uniqueId="single"))
    body = gzip.compress(json.dumps([record(now, uniqueId="zipped")]).encode())
    zipped = api.client.post(
        "/api/v1/events",
        body,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )

    assert single.json()["accepted"] == 1
    assert zipped.json()["accepted"] == 1


def test_a_value_with_many_decimals_is_stored_exactly(
    api: Api, guide: Guide, now: datetime
) -> None:
    body = json.dumps([record(now, uniqueId="exact")]).replace(
        '"meterValue": 1', '"meterValue": 0.123456789'
    )

    api.client.post("/api/v1/events", body, content_type="application/json")

    listed = api.get("/events", meter="api-calls", limit=1).json()["items"][0]
    assert listed["value"] == "0.123456789"


def test_an_unknown_customer_is_created_so_no_usage_is_lost(
    api: Api, guide: Guide, now: datetime
) -> None:
    response = api.post("/events", [record(now, customerId="new-co", uniqueId="n1")])

    assert response.json()["accepted"] == 1
    assert Customer.objects.get(customer_id="new-co").created_by_ingestion


def test_a_body_that_is_not_json_is_400_naming_the_body(api: Api) -> None:
    response = api.client.post("/api/v1/events", "not json", content_type="application/json")

    assert response.status_code == 400
    assert fields(response) == ["body"]
    assert errors(response)[0][1].startswith("the body is not valid JSON")


def test_a_body_that_is_not_records_is_400(api: Api) -> None:
    response = api.post("/events", "records")

    assert response.status_code == 400
    assert errors(response) == [
        ("body", "send a JSON array of usage records, or one record object")
    ]


def test_too_many_records_is_413(api: Api, settings: Settings, now: datetime) -> None:
    settings.INGEST_MAX_RECORDS = 2

    response = api.post("/events", [record(now)] * 3)

    assert response.status_code == 413
    assert errors(response) == [("body", "3 records is more than 2 a request")]


def test_a_body_over_the_size_limit_is_413(api: Api, settings: Settings, now: datetime) -> None:
    settings.INGEST_MAX_BYTES = 100
    body = gzip.compress(json.dumps([record(now)] * 50).encode())

    response = api.client.post(
        "/api/v1/events",
        body,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )

    assert response.status_code == 413
    assert fields(response) == ["body"]
    assert "larger than 100 bytes" in errors(response)[0][1]


def test_sending_needs_a_key(guide: Guide, now: datetime) -> None:
    response = Client().post("/api/v1/events", [record(now)], content_type="application/json")

    assert response.status_code == 401
    assert UsageEvent.objects.count() == 4


# GET /events


def test_events_are_listed_newest_first_in_a_plain_format(
    api: Api, guide: Guide, now: datetime
) -> None:
    page = api.get("/events").json()

    assert page["next_cursor"] is None
    assert len(page["items"]) == 4
    tokens = next(e for e in page["items"] if e["unique_id"] == "guide-model-a-input")
    assert tokens | {"id": 0, "received_at": ""} == {
        "id": 0,
        "meter": "llm-tokens",
        "customer_id": "test-customer",
        "value": "1000",
        "time": "2025-03-15T11:59:00Z",
        "time_in_millis": millis(now - timedelta(minutes=1)),
        "dimensions": {"model": "model a", "type": "input"},
        "unique_id": "guide-model-a-input",
        "received_at": "",
    }


def test_events_filter_by_meter_customer_and_time(api: Api, guide: Guide, now: datetime) -> None:
    earlier = now - timedelta(hours=2)
    api.post("/events", [record(now, uniqueId="early", meterTimeInMillis=millis(earlier))])
    api.post("/events", [record(now, uniqueId="other", customerId="someone-else")])

    by_meter = api.get("/events", meter="API calls").json()["items"]
    by_customer = api.get("/events", meter="api-calls", customer="test-customer").json()["items"]
    window = api.get("/events", start="2025-03-15T09:00:00Z", end="2025-03-15T11:00:00Z").json()[
        "items"
    ]

    assert {e["unique_id"] for e in by_meter} == {"guide-api-calls", "early", "other"}
    assert {e["unique_id"] for e in by_customer} == {"guide-api-calls", "early"}
    assert [e["unique_id"] for e in window] == ["early"]


def test_paging_with_the_cursor_visits_every_event_once(
    api: Api, guide: Guide, now: datetime
) -> None:
    same_time = millis(now - timedelta(minutes=3))
    api.post(
        "/events", [record(now, uniqueId=f"p{i}", meterTimeInMillis=same_time) for i in range(5)]
    )

    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = api.get("/events", limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [e["unique_id"] for e in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]

    assert pages == 3
    assert len(seen) == len(set(seen)) == 9
    assert seen == [e.unique_id for e in UsageEvent.objects.order_by("-event_time", "-pk")]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"meter": "no-such-meter"}, "meter"),
        ({"cursor": "garbage!"}, "cursor"),
    ],
)
def test_a_bad_filter_is_400_naming_it(api: Api, params: dict[str, str], field: str) -> None:
    response = api.get("/events", **params)

    assert response.status_code == 400
    assert fields(response) == [field]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"start": "yesterday"}, "start")],
)
def test_a_filter_of_the_wrong_type_is_422_naming_it(
    api: Api, params: dict[str, object], field: str
) -> None:
    response = api.get("/events", **params)

    assert response.status_code == 422
    assert fields(response) == [field]
