"""POST /amberflo/usage/, /amberflo/usage/batch and GET /amberflo/usage/all
through the test client: auth, every 400, the report's shape, every
aggregation and interval, groupBy, filter, take — and SUM equals the invoice."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from time_machine import TimeMachineFixture

from customers.models import Customer
from invoices.builder import build_invoice, current_period
from meters.api_keys import api_key_create, api_key_revoke
from meters.machine_http import json_number
from meters.models import ApiKey, Meter
from meters.services import events_ingest
from meters.usage_api import (
    MAX_BUCKETS,
    Interval,
    bucket_start,
    bucket_starts,
    epoch_seconds,
    parse_query,
    percentage_change,
    usage_report,
)
from tests.factories import CustomerFactory, MeterFactory, guide_setup, millis

USAGE = "/amberflo/usage/"
BATCH = "/amberflo/usage/batch"
ALL = "/amberflo/usage/all"
T0 = datetime(2025, 3, 10, 10, 15, tzinfo=UTC)  # a Monday
NOW = datetime(2025, 4, 15, 12, 0, tzinfo=UTC)


def seconds(moment: datetime) -> int:
    return epoch_seconds(moment)


# --- pure helpers, no database ----------------------------------------------


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (Interval.HOUR, datetime(2025, 3, 12, 10, tzinfo=UTC)),
        (Interval.DAY, datetime(2025, 3, 12, tzinfo=UTC)),
        (Interval.WEEK, datetime(2025, 3, 10, tzinfo=UTC)),
        (Interval.MONTH, datetime(2025, 3, 1, tzinfo=UTC)),
    ],
)
def test_bucket_start_truncates_in_utc(interval: Interval, expected: datetime) -> None:
    moment = datetime(2025, 3, 12, 10, 59, 59, 999999, tzinfo=UTC)
    assert bucket_start(moment, interval) == expected


def test_month_buckets_cross_the_year() -> None:
    start, end = datetime(2024, 11, 20, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)

    assert bucket_starts(start, end, Interval.MONTH) == [
        datetime(2024, 11, 1, tzinfo=UTC),
        datetime(2024, 12, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    ]


def test_bucket_list_stops_just_past_the_cap() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    assert len(bucket_starts(start, start + timedelta(days=3650), Interval.HOUR)) == MAX_BUCKETS + 1


@pytest.mark.parametrize(
    ("previous", "value", "expected"),
    [
        (None, Decimal(5), 0.0),
        (Decimal(0), Decimal(0), 0.0),
        (Decimal(0), Decimal(4040), 100.0),
        (Decimal(200), Decimal(100), -50.0),
        (Decimal(4), Decimal(5), 25.0),
    ],
)
def test_percentage_from_previous(
    previous: Decimal | None, value: Decimal, expected: float
) -> None:
    assert percentage_change(previous, value) == expected


def test_quantities_are_exact_ints_when_whole() -> None:
    assert json_number(Decimal("3000.000000000")) == 3000
    assert isinstance(json_number(Decimal("3000.000000000")), int)
    assert json_number(Decimal("12345678901234567890")) == 12345678901234567890
    assert json_number(Decimal("200.5")) == 200.5


# --- through the endpoints -------------------------------------------------


@pytest.fixture
def key(db: None) -> str:
    return api_key_create(name="usage reader", scope=ApiKey.Scope.READ)[1]


@pytest.fixture
def api(client: Client, key: str) -> Client:
    client.defaults["HTTP_X_API_KEY"] = key
    return client


def post(client: Client, body: object, path: str = USAGE) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def record(value: object, customer: str, at: datetime, **dimensions: str) -> dict[str, object]:
    return {
        "meterApiName": "llm-tokens",
        "meterValue": value,
        "customerId": customer,
        "meterTimeInMillis": millis(at),
        **({"dimensions": dimensions} if dimensions else {}),
    }


@pytest.fixture
def usage(db: None) -> Meter:
    """Tokens of two customers over hours, days, weeks and two months."""
    meter = MeterFactory.create(api_name="llm-tokens", dimensions=["model", "type"])
    CustomerFactory.create(customer_id="test-customer")
    CustomerFactory.create(customer_id="other")
    records = [
        record(1000, "test-customer", T0, model="model a", type="input"),
        record(500, "test-customer", T0 + timedelta(minutes=30), model="model a", type="output"),
        record(1000, "test-customer", T0 + timedelta(hours=1), model="model b", type="input"),
        record(200, "other", T0 + timedelta(days=1), model="model a", type="input"),
        record(Decimal("0.5"), "other", T0 + timedelta(days=7), model="model b", type="output"),
        record(300, "test-customer", datetime(2025, 4, 2, tzinfo=UTC), model="model a"),
    ]
    # Months of history, loaded on purpose as an operator would.
    result = events_ingest(records=records, now=NOW, allow_backfill=True)
    assert (result.accepted, result.rejected) == (6, [])
    return meter


def query(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "aggregation": "SUM",
        "meterApiName": "llm-tokens",
        "timeGroupingInterval": "MONTH",
        "timeRange": {
            "startTimeInSeconds": seconds(datetime(2025, 3, 10, tzinfo=UTC)),
            "endTimeInSeconds": seconds(datetime(2025, 4, 10, tzinfo=UTC)),
        },
        "groupBy": ["customerId"],
    }
    body.update(overrides)
    return body


def series(report: dict[str, Any]) -> dict[tuple[str | None, ...], list[int | float]]:
    """{group values: [bucket values]} in the answer's order."""
    return {
        tuple(m["group"]["groupInfo"].values()): [v["value"] for v in m["values"]]
        for m in report["clientMeters"]
    }


def totals(report: dict[str, Any]) -> dict[tuple[str | None, ...], int | float]:
    return {
        tuple(m["group"]["groupInfo"].values()): m["groupValue"] for m in report["clientMeters"]
    }


def test_report_has_amberflo_shape(api: Client, usage: Meter) -> None:
    response = post(api, query(take={"limit": 5, "isAscending": False}))

    assert response.status_code == 200
    report = response.json()
    march, april = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    assert report["metadata"] == {
        "meterApiName": "llm-tokens",
        "aggregation": "SUM",
        "timeGroupingInterval": "MONTH",
        "timeRange": query()["timeRange"],
        "groupBy": ["customerId"],
        "filter": {},
        "take": {"limit": 5, "isAscending": False},
    }
    assert report["secondsSinceEpochIntervals"] == [seconds(march), seconds(april)]
    first = report["clientMeters"][0]
    assert first == {
        "group": {"groupInfo": {"customerId": "test-customer"}},
        "groupValue": 2800,
        "values": [
            {"secondsSinceEpochUtc": seconds(march), "value": 2500, "percentageFromPrevious": 0.0},
            {"secondsSinceEpochUtc": seconds(april), "value": 300, "percentageFromPrevious": -88.0},
        ],
    }


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("SUM", {("test-customer",): [2500, 300], ("other",): [200.5, 0]}),
        ("COUNT", {("test-customer",): [3, 1], ("other",): [2, 0]}),
        ("MIN", {("test-customer",): [500, 300], ("other",): [0.5, 0]}),
        ("MAX", {("test-customer",): [1000, 300], ("other",): [200, 0]}),
    ],
)
def test_every_aggregation_per_month(
    api: Client, usage: Meter, aggregation: str, expected: dict[tuple[str], list[int | float]]
) -> None:
    report = post(api, query(aggregation=aggregation)).json()

    assert series(report) == expected


def test_group_value_follows_the_aggregation(api: Client, usage: Meter) -> None:
    assert totals(post(api, query(aggregation="MIN")).json()) == {
        ("test-customer",): 300,
        ("other",): 0.5,
    }
    assert totals(post(api, query(aggregation="COUNT")).json()) == {
        ("test-customer",): 4,
        ("other",): 2,
    }


@pytest.mark.parametrize(
    ("interval", "start", "end", "buckets", "expected"),
    [
        (
            "HOUR",
            datetime(2025, 3, 10, 10, tzinfo=UTC),
            datetime(2025, 3, 10, 12, tzinfo=UTC),
            [datetime(2025, 3, 10, 10, tzinfo=UTC), datetime(2025, 3, 10, 11, tzinfo=UTC)],
            {("test-customer",): [1500, 1000]},
        ),
        (
            "DAY",
            datetime(2025, 3, 10, tzinfo=UTC),
            datetime(2025, 3, 12, tzinfo=UTC),
            [datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 11, tzinfo=UTC)],
            {("test-customer",): [2500, 0], ("other",): [0, 200]},
        ),
        (
            "WEEK",
            datetime(2025, 3, 11, tzinfo=UTC),  # a Tuesday: its week began on Monday the 10th
            datetime(2025, 3, 20, tzinfo=UTC),
            [datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 17, tzinfo=UTC)],
            {("other",): [200, 0.5]},
        ),
        (
            "MONTH",
            datetime(2025, 3, 10, tzinfo=UTC),
            datetime(2025, 4, 10, tzinfo=UTC),
            [datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)],
            {("test-customer",): [2500, 300], ("other",): [200.5, 0]},
        ),
    ],
)
def test_every_interval_buckets_in_utc(
    api: Client,
    usage: Meter,
    interval: str,
    start: datetime,
    end: datetime,
    buckets: list[datetime],
    expected: dict[tuple[str], list[int | float]],
) -> None:
    time_range = {"startTimeInSeconds": seconds(start), "endTimeInSeconds": seconds(end)}

    report = post(api, query(timeGroupingInterval=interval, timeRange=time_range)).json()

    assert report["secondsSinceEpochIntervals"] == [seconds(b) for b in buckets]
    assert series(report) == expected


def test_interval_and_aggregation_names_ignore_case(api: Client, usage: Meter) -> None:
    report = post(api, query(aggregation="sum", timeGroupingInterval="Month")).json()

    assert report["metadata"]["aggregation"] == "SUM"
    assert totals(report)[("test-customer",)] == 2800


def test_group_by_dimensions(api: Client, usage: Meter) -> None:
    report = post(api, query(groupBy=["model", "type"])).json()

    assert totals(report) == {
        ("model a", "input"): 1200,
        ("model b", "input"): 1000,
        ("model a", "output"): 500,
        ("model a", None): 300,  # the April event carries no type
        ("model b", "output"): 0.5,
    }
    assert report["clientMeters"][0]["group"]["groupInfo"] == {"model": "model a", "type": "input"}


def test_group_by_customer_and_dimension(api: Client, usage: Meter) -> None:
    report = post(api, query(groupBy=["customerId", "model"])).json()

    assert totals(report) == {
        ("test-customer", "model a"): 1800,
        ("test-customer", "model b"): 1000,
        ("other", "model a"): 200,
        ("other", "model b"): 0.5,
    }


def test_no_group_by_is_the_meter_as_a_whole(api: Client, usage: Meter) -> None:
    report = post(api, query(groupBy=[])).json()

    assert report["clientMeters"] == [
        {
            "group": {"groupInfo": {}},
            "groupValue": 3000.5,
            "values": [
                {
                    "secondsSinceEpochUtc": seconds(datetime(2025, 3, 1, tzinfo=UTC)),
                    "value": 2700.5,
                    "percentageFromPrevious": 0.0,
                },
                {
                    "secondsSinceEpochUtc": seconds(datetime(2025, 4, 1, tzinfo=UTC)),
                    "value": 300,
                    "percentageFromPrevious": pytest.approx(-88.8909),
                },
            ],
        }
    ]


def test_no_usage_answers_zeros_or_no_groups(api: Client, usage: Meter) -> None:
    empty = {
        "startTimeInSeconds": seconds(datetime(2024, 1, 1, tzinfo=UTC)),
        "endTimeInSeconds": seconds(datetime(2024, 1, 3, tzinfo=UTC)),
    }
    whole = post(api, query(groupBy=[], timeRange=empty, timeGroupingInterval="DAY")).json()
    grouped = post(api, query(timeRange=empty, timeGroupingInterval="DAY")).json()

    assert [v["value"] for v in whole["clientMeters"][0]["values"]] == [0, 0]
    assert whole["clientMeters"][0]["groupValue"] == 0
    assert grouped["clientMeters"] == []


@pytest.mark.parametrize(
    ("usage_filter", "expected"),
    [
        ({"customerId": ["other"]}, {("other",): 200.5}),
        ({"model": ["model b"]}, {("test-customer",): 1000, ("other",): 0.5}),
        ({"model": ["model a"], "type": ["output"]}, {("test-customer",): 500}),
        ({"customerId": ["test-customer"], "model": ["model b"]}, {("test-customer",): 1000}),
        ({"customerId": []}, {}),
        ({"customerId": ["nobody"]}, {}),
    ],
)
def test_filter(
    api: Client,
    usage: Meter,
    usage_filter: dict[str, list[str]],
    expected: dict[tuple[str], int | float],
) -> None:
    report = post(api, query(filter=usage_filter)).json()

    assert totals(report) == expected
    assert report["metadata"]["filter"] == usage_filter


def test_take_keeps_the_largest_groups_or_the_smallest(api: Client, usage: Meter) -> None:
    largest = post(api, query(groupBy=["model", "type"], take={"limit": 2})).json()
    smallest = post(
        api, query(groupBy=["model", "type"], take={"limit": 2, "isAscending": True})
    ).json()

    assert list(totals(largest).values()) == [1200, 1000]
    assert list(totals(smallest).values()) == [0.5, 300]


def test_end_defaults_to_now(api: Client, usage: Meter, time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    body = query(timeRange={"startTimeInSeconds": seconds(datetime(2025, 3, 1, tzinfo=UTC))})

    report = post(api, body).json()

    assert report["metadata"]["timeRange"]["endTimeInSeconds"] == seconds(NOW)
    assert totals(report)[("test-customer",)] == 2800


def test_aggregation_defaults_to_the_meters_own(api: Client, usage: Meter) -> None:
    body = query()
    del body["aggregation"]
    assert post(api, body).json()["metadata"]["aggregation"] == "SUM"

    Meter.objects.filter(pk=usage.pk).update(meter_type=Meter.MeterType.EVENT_COUNT)
    report = post(api, body).json()

    assert report["metadata"]["aggregation"] == "COUNT"
    assert totals(report)[("test-customer",)] == 4


def test_meter_name_is_matched_like_ingestion(api: Client, usage: Meter) -> None:
    report = post(api, query(meterApiName="LLM tokens")).json()

    assert report["metadata"]["meterApiName"] == "llm-tokens"


def test_gzip_body_is_accepted(api: Client, usage: Meter) -> None:
    body = gzip.compress(json.dumps(query()).encode())

    response = api.post(
        USAGE, body, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 200
    assert totals(response.json())[("test-customer",)] == 2800


def test_path_without_trailing_slash_is_the_same_endpoint(api: Client, usage: Meter) -> None:
    assert post(api, query(), path="/amberflo/usage").json() == post(api, query()).json()


def test_sum_equals_the_invoice_quantities_of_a_count_meter(api: Client) -> None:
    now = datetime(2025, 3, 15, 12, 30, tzinfo=UTC)
    guide = guide_setup(now)
    ref = current_period(guide.customer, now)
    assert ref is not None
    invoice = build_invoice(guide.customer, ref)
    period = {
        "startTimeInSeconds": seconds(ref.period.start),
        "endTimeInSeconds": seconds(ref.usage_end),
    }

    tokens = post(api, query(groupBy=["model", "type"], timeRange=period)).json()
    calls = post(api, query(meterApiName="api-calls", groupBy=[], timeRange=period)).json()

    by_line = {line.dimensions: line.quantity for line in invoice.lines}
    assert {
        (("model", m["group"]["groupInfo"]["model"]), ("type", m["group"]["groupInfo"]["type"])): (
            Decimal(m["groupValue"])
        )
        for m in tokens["clientMeters"]
    } == {dims: q for dims, q in by_line.items() if dims}
    assert Decimal(calls["clientMeters"][0]["groupValue"]) == by_line[()] == Decimal(10)


# --- batch and all ----------------------------------------------------------


def test_batch_answers_one_report_per_query_in_order(api: Client, usage: Meter) -> None:
    response = post(
        api, [query(aggregation="COUNT"), query(filter={"customerId": ["other"]})], BATCH
    )

    assert response.status_code == 200
    first, second = response.json()
    assert totals(first) == {("test-customer",): 4, ("other",): 2}
    assert totals(second) == {("other",): 200.5}


def test_all_reports_every_meter_with_its_own_aggregation(api: Client, usage: Meter) -> None:
    MeterFactory.create(api_name="api-calls", meter_type=Meter.MeterType.EVENT_COUNT)
    params = {
        "startTimeInSeconds": str(seconds(datetime(2025, 3, 1, tzinfo=UTC))),
        "endTimeInSeconds": str(seconds(datetime(2025, 5, 1, tzinfo=UTC))),
        "timeGroupingInterval": "MONTH",
        "groupBy": "customerId",
    }

    everything = api.get(ALL, params).json()
    one = api.get(ALL, {**params, "customerId": "other"}).json()
    whole = api.get(ALL, {k: v for k, v in params.items() if k != "groupBy"}).json()

    assert [r["metadata"]["meterApiName"] for r in everything] == ["api-calls", "llm-tokens"]
    assert [r["metadata"]["aggregation"] for r in everything] == ["COUNT", "SUM"]
    assert totals(everything[1]) == {("test-customer",): 2800, ("other",): 200.5}
    assert totals(one[1]) == {("other",): 200.5}
    assert totals(whole[1]) == {(): 3000.5}
    assert totals(whole[0]) == {(): 0}


# --- refusals -------------------------------------------------------------------


@pytest.mark.parametrize("path", [USAGE, BATCH])
def test_without_a_key_the_answer_is_401_json(client: Client, usage: Meter, path: str) -> None:
    response = post(client, query(), path)

    assert response.status_code == 401
    assert response.json()["field"] == "X-API-KEY"


def test_a_revoked_key_is_refused(client: Client, usage: Meter) -> None:
    key, raw = api_key_create(name="old", scope=ApiKey.Scope.READ)
    api_key_revoke(key=key)

    response = client.get(
        ALL, {"startTimeInSeconds": "1", "timeGroupingInterval": "DAY"}, headers={"X-API-KEY": raw}
    )

    assert response.status_code == 401


def test_bearer_key_works_too(client: Client, key: str, usage: Meter) -> None:
    response = client.post(
        USAGE,
        json.dumps(query()),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), [("get", USAGE), ("put", BATCH), ("post", ALL)])
def test_wrong_method_is_405_json(api: Client, method: str, path: str) -> None:
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response.json()["field"] == "method"


START = {"startTimeInSeconds": 1741564800}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"meterApiName": ""}, "meterApiName"),
        ({"meterApiName": 7}, "meterApiName"),
        ({"meterApiName": "no-such-meter"}, "meterApiName"),
        ({"aggregation": "AVG"}, "aggregation"),
        ({"aggregation": 1}, "aggregation"),
        ({"timeGroupingInterval": None}, "timeGroupingInterval"),
        ({"timeGroupingInterval": "YEAR"}, "timeGroupingInterval"),
        ({"timeRange": None}, "timeRange"),
        ({"timeRange": [1]}, "timeRange"),
        ({"timeRange": {}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {"startTimeInSeconds": "1741564800"}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {"startTimeInSeconds": 1741564800.5}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {"startTimeInSeconds": True}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {"startTimeInSeconds": -1}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {"startTimeInSeconds": 10**12}}, "timeRange.startTimeInSeconds"),
        ({"timeRange": {**START, "endTimeInSeconds": 1741564800}}, "timeRange.endTimeInSeconds"),
        ({"timeRange": {**START, "endTimeInSeconds": "x"}}, "timeRange.endTimeInSeconds"),
        ({"timeRange": {**START, "endTimeInSeconds": 1741564800 + 3600 * 10_001}}, "timeRange"),
        ({"groupBy": "customerId"}, "groupBy"),
        ({"groupBy": [1]}, "groupBy"),
        ({"groupBy": ["region"]}, "groupBy"),
        ({"filter": ["customerId"]}, "filter"),
        ({"filter": {"customerId": "x"}}, "filter.customerId"),
        ({"filter": {"region": ["eu"]}}, "filter.region"),
        ({"take": 5}, "take"),
        ({"take": {}}, "take.limit"),
        ({"take": {"limit": 0}}, "take.limit"),
        ({"take": {"limit": True}}, "take.limit"),
        ({"take": {"limit": 1, "isAscending": "yes"}}, "take.isAscending"),
        ({"rescaleFunction": "x"}, "rescaleFunction"),
        ({"valuesTimeGroupingInterval": "DAY"}, "valuesTimeGroupingInterval"),
    ],
)
def test_bad_query_is_400_naming_the_field(
    api: Client, usage: Meter, body: object, field: str
) -> None:
    payload = query(**{"timeGroupingInterval": "HOUR", **body}) if isinstance(body, dict) else body
    response = post(api, payload)

    assert response.status_code == 400
    assert response.json()["field"] == field, response.json()
    assert response.json()["error"]


def test_body_that_is_not_json_is_400(api: Client) -> None:
    response = api.post(USAGE, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_body_that_is_not_gzip_is_400(api: Client) -> None:
    response = api.post(
        USAGE, b"plain", content_type="application/json", headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 400
    assert response.json()["field"] == "Content-Encoding"


def test_too_large_body_is_413(api: Client, settings) -> None:
    response = api.post(USAGE, b" " * (1024 * 1024 + 1), content_type="application/json")

    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_too_many_points_is_400(api: Client, usage: Meter, monkeypatch) -> None:
    monkeypatch.setattr("meters.usage_api.MAX_POINTS", 3)

    response = post(api, query())  # two groups x two months

    assert response.status_code == 400
    assert response.json()["field"] == "take"


def test_batch_names_the_query_at_fault(api: Client, usage: Meter) -> None:
    response = post(api, [query(), query(meterApiName="nope")], BATCH)

    assert response.status_code == 400
    assert response.json()["field"] == "[1].meterApiName"


@pytest.mark.parametrize("body", [{"not": "a list"}, [query()] * 101])
def test_batch_must_be_a_bounded_array(api: Client, usage: Meter, body: object) -> None:
    response = post(api, body, BATCH)

    assert response.status_code == 400
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timeGroupingInterval": "DAY"}, "startTimeInSeconds"),
        ({"timeGroupingInterval": "DAY", "startTimeInSeconds": "soon"}, "startTimeInSeconds"),
        ({"startTimeInSeconds": "1741564800"}, "timeGroupingInterval"),
        (
            {"timeGroupingInterval": "DAY", "startTimeInSeconds": "1741564800", "groupBy": "model"},
            "groupBy",
        ),
        (
            {
                "timeGroupingInterval": "DAY",
                "startTimeInSeconds": "1741564800",
                "endTimeInSeconds": "1741564700",
            },
            "endTimeInSeconds",
        ),
    ],
)
def test_bad_all_parameters_are_400(
    api: Client, usage: Meter, params: dict[str, str], field: str
) -> None:
    response = api.get(ALL, params)

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_customers_unknown_to_tally_are_still_reported(api: Client, usage: Meter) -> None:
    # Usage is kept by customerId as sent; the report never joins on customers.
    Customer.objects.filter(customer_id="other").delete()

    assert totals(post(api, query()).json())[("other",)] == 200.5


def test_a_report_is_one_grouped_query(usage: Meter, django_assert_num_queries: Any) -> None:
    parsed = parse_query(query(groupBy=["customerId", "model", "type"]), now=NOW)

    with django_assert_num_queries(1):
        report = usage_report(parsed)

    assert isinstance(report["clientMeters"], list)
    assert len(report["clientMeters"]) == 6
