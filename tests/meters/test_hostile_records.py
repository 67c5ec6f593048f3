"""One odd record must never take a batch down (issue 7).

Each case sends one odd record beside a good one to POST /ingest/ and checks
what a sender notices: 200, the good record stored, the odd one rejected with
a reason naming its field, and the rejection kept. Bodies are written as raw
JSON so lone surrogates travel as `\\ud800` escapes, as any JSON library
writes them.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer
from meters.api_keys import api_key_create
from meters.models import RejectedRecord, UsageEvent
from meters.services import events_ingest
from meters.validation import MAX_DIMENSION_KEY_LENGTH, MAX_ID_LENGTH
from tests.factories import Guide, guide_setup, millis
from tests.fixtures import login

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
EARLIER = millis(NOW - timedelta(hours=1))
A_INPUT = {"model": "model a", "type": "input"}


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(NOW, tick=False)
    return guide_setup(NOW, events=False)


@pytest.fixture
def key(guide: Guide) -> str:
    return api_key_create(name="hostile")[1]


def record(unique_id: str, **fields: Any) -> dict[str, Any]:
    sent = {
        "meterApiName": "llm-tokens",
        "meterValue": 1000,
        "customerId": "test-customer",
        "meterTimeInMillis": EARLIER,
        "uniqueId": unique_id,
        "dimensions": A_INPUT,
        **fields,
    }
    return {name: value for name, value in sent.items() if value is not ...}


def as_json(document: Any) -> str:
    """JSON as a sender writes it: ASCII with \\u escapes (so a lone surrogate is
    `\\ud800`), Decimals as bare numbers."""

    def default(value: object) -> str:
        assert isinstance(value, Decimal)
        return f"@@{value}@@"

    return json.dumps(document, default=default).replace('"@@', "").replace('@@"', "")


def post(key: str, body: str | bytes, path: str = "/ingest/", **headers: str) -> Any:
    return Client().generic(
        "POST", path, body, content_type="application/json", headers={"X-API-KEY": key, **headers}
    )


def send_beside_good(key: str, odd: dict[str, Any], path: str = "/ingest/") -> dict[str, Any]:
    """POST [good, odd] and return the answer, having checked that it is 200
    and the good record is stored."""
    response = post(key, as_json([record("good"), odd]), path)
    assert response.status_code == 200, response.content
    assert UsageEvent.objects.filter(unique_id="good").exists()
    return dict(response.json())


def assert_rejected(answer: dict[str, Any], field: str, *fragments: str) -> None:
    assert answer["accepted"] == 1
    [rejection] = answer["rejected"]
    assert (rejection["index"], rejection["field"]) == (1, field), rejection
    for fragment in fragments:
        assert fragment in rejection["reason"], rejection
    kept = RejectedRecord.objects.get()
    assert (kept.index, kept.field) == (1, field)


# -- Lengths after escaping -----------------------------------------------------


def test_storage_limits_match_the_columns() -> None:
    assert UsageEvent._meta.get_field("dimension_key").max_length == MAX_DIMENSION_KEY_LENGTH
    for model, name in [
        (UsageEvent, "customer_id"),
        (UsageEvent, "unique_id"),
        (Customer, "customer_id"),
        (RejectedRecord, "customer_id"),
        (RejectedRecord, "meter_api_name"),
    ]:
        assert model._meta.get_field(name).max_length == MAX_ID_LENGTH


@pytest.mark.parametrize(
    "value", ["a" * 10_000, "é" * 300], ids=["10000-ascii", "300-e-acute-escaped-to-1800"]
)
def test_a_dimension_value_too_long_once_escaped_is_rejected_on_its_own(
    key: str, value: str
) -> None:
    answer = send_beside_good(key, record("odd", dimensions={"model": value, "type": "input"}))

    assert_rejected(answer, "dimensions", "dimensions are too long", "once escaped")


def test_a_dimension_key_of_exactly_the_column_length_is_stored(key: str) -> None:
    # "model=" + value + "&type=input" is 17 characters around the value.
    fits = "a" * (MAX_DIMENSION_KEY_LENGTH - 17)

    answer = send_beside_good(key, record("fits", dimensions={"model": fits, "type": "input"}))

    assert (answer["accepted"], answer["rejected"]) == (2, [])
    assert len(UsageEvent.objects.get(unique_id="fits").dimension_key) == 1000


def test_an_id_longer_than_its_column_is_rejected(key: str) -> None:
    answer = send_beside_good(key, record("x" * 256))

    assert_rejected(answer, "uniqueId", "uniqueId is longer than 255 characters")


# -- Characters the database refuses ------------------------------------------

ODD_TEXT = [
    ("customerId", {"customerId": "cust\x00omer"}, "customerId", "NUL"),
    ("uniqueId", {"uniqueId": "odd\x00"}, "uniqueId", "NUL"),
    ("dimension-value", {"dimensions": {"model": "a\x00b"}}, "dimensions", "NUL"),
    ("customerId", {"customerId": "cust\ud800"}, "customerId", "lone surrogate (\\ud800)"),
    ("uniqueId", {"uniqueId": "\udfffodd"}, "uniqueId", "lone surrogate (\\udfff)"),
    ("dimension-value", {"dimensions": {"model": "\ud800"}}, "dimensions", "lone surrogate"),
]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [case[1:] for case in ODD_TEXT],
    ids=[f"{c[0]}-{'nul' if c[3] == 'NUL' else 'surrogate'}" for c in ODD_TEXT],
)
@pytest.mark.parametrize("path", ["/ingest/", "/api/v1/events"])
def test_nul_or_lone_surrogate_in_a_text_field_is_rejected_on_its_own(
    key: str, fields: dict[str, Any], field: str, fragment: str, path: str
) -> None:
    odd = record("odd", **fields)

    answer = send_beside_good(key, odd, path)

    assert_rejected(answer, field, field, fragment)
    assert not Customer.objects.filter(customer_id__startswith="cust").exists()


@pytest.mark.parametrize("customer_id", ["acme\tcorp", "ac\nme", "ac\x7fme"])
def test_a_customer_id_no_form_would_accept_creates_no_customer(key: str, customer_id: str) -> None:
    # Ingestion creates unknown customers: it holds their IDs to the same rule
    # as the customer page and the APIs, so none is created that no form could edit.
    answer = send_beside_good(key, record("odd", customerId=customer_id))

    assert_rejected(answer, "customerId", "control characters")
    assert not Customer.objects.filter(customer_id=customer_id.strip()).exists()


def test_a_record_rejected_anyway_is_kept_with_unstorable_characters_replaced(key: str) -> None:
    odd = {
        "meterApiName": "gpu\x00hours\ud800",
        "customerId": "c\x00\ud800",
        "meterValue": 1,
        "dimensions": {"k\x00": ["\udc00"]},
    }

    answer = send_beside_good(key, odd)

    assert_rejected(answer, "meterApiName", 'unknown meter "gpu\\u0000hours\\ud800"')
    kept = RejectedRecord.objects.get()
    assert (kept.meter_api_name, kept.customer_id) == ("gpu\ufffdhours\ufffd", "c\ufffd\ufffd")
    assert kept.record["dimensions"] == {"k\ufffd": ["\ufffd"]}


def test_an_unknown_dimension_name_with_odd_characters_is_named_visibly(key: str) -> None:
    answer = send_beside_good(key, record("odd", dimensions={"re\x00gion\ud800": "eu"}))

    assert_rejected(answer, "dimensions", "does not define the dimension re\\u0000gion\\ud800")


# -- Numeric range ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [10**19, Decimal("10000000000000000000.5"), Decimal("99999999999999999999.999999999")],
    ids=["1e19", "1e19-and-a-half", "just-below-1e20"],
)
def test_a_value_from_1e19_up_to_the_limit_is_stored(key: str, value: int | Decimal) -> None:
    answer = send_beside_good(key, record("big", meterValue=value))

    assert (answer["accepted"], answer["rejected"]) == (2, [])
    stored = UsageEvent.objects.get(unique_id="big").value
    if connection.vendor == "postgresql":  # SQLite keeps 15 significant digits
        assert stored == Decimal(value)


@pytest.mark.parametrize(
    "raw",
    ["100000000000000000000", "1e400", "1e99999999999999999999", "9" * 5000],
    ids=["1e20", "1e400", "exponent-beyond-decimal", "5000-digits"],
)
def test_a_value_at_or_over_the_limit_is_rejected_on_its_own(key: str, raw: str) -> None:
    body = as_json([record("good"), record("odd", meterValue=0)]).replace(
        '"meterValue": 0', f'"meterValue": {raw}'
    )

    response = post(key, body)

    assert response.status_code == 200
    assert_rejected(response.json(), "meterValue", "meterValue is too large")


def test_an_exponent_too_small_for_decimal_is_rejected_as_too_precise(key: str) -> None:
    body = as_json([record("good"), record("odd", meterValue=0)]).replace(
        '"meterValue": 0', '"meterValue": 1e-99999999999999999999'
    )

    assert_rejected(post(key, body).json(), "meterValue", "more than 9 decimal places")


# -- Deep nesting ---------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("path", ["/ingest/", "/api/v1/events"])
def test_json_nested_100000_levels_is_400_naming_the_body(key: str, path: str) -> None:
    response = post(key, DEEP, path)

    assert response.status_code == 400
    assert "nested too deeply" in response.content.decode()
    assert "body" in response.content.decode()


def test_json_nested_100000_levels_is_an_upload_form_error(client: Client, guide: Guide) -> None:
    login(client)
    upload = SimpleUploadedFile("deep.json", DEEP.encode())

    response = client.post(reverse("meters:upload", args=[guide.llm_tokens.pk]), {"file": upload})

    assert response.status_code == 200
    assert "nested too deeply" in response.content.decode()
    assert not UsageEvent.objects.exists()


def test_a_deeply_nested_field_is_rejected_and_kept_cut_short(key: str) -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = [deep]

    answer = send_beside_good(key, record("odd", dimensions={"model": deep}))

    assert_rejected(answer, "dimensions", "dimension model must be text")
    assert "nested too deep" in json.dumps(RejectedRecord.objects.get().record)


# -- Gzip -------------------------------------------------------------------------


def test_every_gzip_member_is_read(key: str) -> None:
    first = gzip.compress(as_json([record("one")]).encode()[:-1] + b",")
    second = gzip.compress(as_json(record("two")).encode() + b"]")

    response = post(key, first + second, **{"Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert sorted(UsageEvent.objects.values_list("unique_id", flat=True)) == ["one", "two"]


@pytest.mark.parametrize("path", ["/ingest/", "/api/v1/events"])
def test_trailing_garbage_after_gzip_is_refused_saying_why(key: str, path: str) -> None:
    body = gzip.compress(as_json([record("one")]).encode()) + b"garbage"

    response = post(key, body, path, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "7 bytes after the end of the gzip data" in response.content.decode()
    assert not UsageEvent.objects.exists()


def test_cut_short_gzip_is_refused(key: str) -> None:
    body = gzip.compress(as_json([record("one")]).encode())[:-4]

    response = post(key, body, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "cut short" in response.json()["error"]


# -- The backfill window ------------------------------------------------------------


def test_a_time_in_seconds_is_rejected_with_a_hint(key: str) -> None:
    seconds = EARLIER // 1000

    answer = send_beside_good(key, record("odd", meterTimeInMillis=seconds))

    assert_rejected(
        answer, "meterTimeInMillis", "is 1970-01-21, before 2000-01-01", "is it in seconds"
    )


def test_time_zero_is_rejected(key: str) -> None:
    answer = send_beside_good(key, record("odd", meterTimeInMillis=0))

    assert_rejected(
        answer, "meterTimeInMillis", "0 is 1970-01-01, before 2000-01-01", "send milliseconds"
    )


def test_a_time_older_than_the_backfill_window_is_rejected(key: str) -> None:
    old = millis(NOW - timedelta(days=36))

    answer = send_beside_good(key, record("odd", meterTimeInMillis=old))

    assert_rejected(
        answer, "meterTimeInMillis", "is 2025-02-07, older than the 35-day backfill window"
    )


def test_a_time_inside_the_backfill_window_is_stored(key: str) -> None:
    answer = send_beside_good(key, record("ok", meterTimeInMillis=millis(NOW - timedelta(days=34))))

    assert (answer["accepted"], answer["rejected"]) == (2, [])


def test_the_backfill_window_is_a_setting(key: str, settings: Settings) -> None:
    settings.INGEST_BACKFILL_DAYS = 400
    old = millis(NOW - timedelta(days=399))

    answer = send_beside_good(key, record("old", meterTimeInMillis=old))

    assert answer["accepted"] == 2


def test_allow_backfill_loads_older_history_but_not_before_2000(guide: Guide) -> None:
    history = record("2024", meterTimeInMillis=millis(datetime(2024, 6, 1, tzinfo=UTC)))
    zero = record("zero", meterTimeInMillis=0)

    refused = events_ingest(records=[history], now=NOW)
    loaded = events_ingest(records=[history, zero], now=NOW, allow_backfill=True)

    assert refused.accepted == 0
    assert loaded.accepted == 1
    assert [r.field for r in loaded.rejected] == ["meterTimeInMillis"]


def test_load_usage_command_loads_history_on_purpose(guide: Guide, tmp_path: Path) -> None:
    history = [
        record("h1", meterTimeInMillis=millis(datetime(2024, 6, 1, tzinfo=UTC))),
        record("h2", meterTimeInMillis=millis(datetime(2024, 7, 1, tzinfo=UTC))),
    ]
    file = tmp_path / "history.json"
    file.write_text(json.dumps(history))

    def load(*options: str) -> str:
        out = StringIO()
        call_command("load_usage", str(file), *options, stdout=out)
        return out.getvalue()

    refused = load()
    dry = load("--allow-backfill", "--dry-run")
    assert not UsageEvent.objects.exists()
    loaded = load("--allow-backfill")

    assert "0 were accepted" in refused and "backfill window" in refused
    assert "2 would be accepted" in dry and "nothing was stored" in dry
    assert "2 were accepted" in loaded
    assert UsageEvent.objects.count() == 2
