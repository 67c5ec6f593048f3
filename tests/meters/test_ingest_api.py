"""POST /ingest/: the Amberflo-compatible ingestion endpoint (../shared/COMPAT.md).

Every behaviour is checked twice, through Django's test client and through
real HTTP against the live test server (the `transport` fixture), because the
SDK talks HTTP: gzip bodies, header spellings and the missing redirect only
show there for certain.

Invariants under test: a rejected record never costs the good records beside
it their place, and is answered 200 with its index and reason (the SDK drops a
batch for good on any 4xx but 429); a record already stored (same meter and
uniqueId) changes no total, however many times and however concurrently it
is sent; a request without a valid key, with an unreadable body or over the
limits stores nothing and is answered with a JSON error naming the field.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer
from invoices.builder import build_invoice, current_period
from meters.api_keys import api_key_create, api_key_revoke
from meters.models import RejectedRecord, UsageEvent
from tests.factories import Guide, guide_setup, millis
from tests.fixtures import login, page, table_rows

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
EARLIER = millis(NOW - timedelta(hours=1))
A_INPUT = {"model": "model a", "type": "input"}
# What Amberflo's SDK sends besides its key and body (COMPAT.md).
SDK_HEADERS = {"Accept": "application/json", "User-Agent": "Amberflo.io SDK 3.3.1; Python 3.13"}


# -- Two ways to reach the endpoint ------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the parsed JSON, or the raw text when the answer is not JSON
    content_type: str
    location: str = ""


class Transport:
    name = ""

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def get(self, path: str) -> Answer:
        raise NotImplementedError


def _answer(status: int, content: bytes, content_type: str, location: str = "") -> Answer:
    body: Any = content.decode("utf-8", "replace")
    if content_type.startswith("application/json"):
        body = json.loads(content)
    return Answer(status, body, content_type, location)


class DjangoClientTransport(Transport):
    """Django's test client, with CSRF checks on as for a real machine."""

    name = "test-client"

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json")
        response = self.client.generic(
            "POST", path, body, content_type=content_type, headers=headers
        )
        return self._answer(response)

    def get(self, path: str) -> Answer:
        return self._answer(self.client.get(path))

    @staticmethod
    def _answer(response: Any) -> Answer:
        return _answer(
            response.status_code,
            response.content,
            response.get("Content-Type", ""),
            response.get("Location", ""),
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # The SDK must reach /ingest and /ingest/ directly: a redirect would be a
    # 3xx it does not follow. Surface any redirect as the answer it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class LiveHttpTransport(Transport):
    """Real HTTP over a socket to the live test server, through urllib."""

    name = "live-http"
    opener = urllib.request.build_opener(_NoRedirects)

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        headers = {"Content-Type": "application/json", **headers}
        request = urllib.request.Request(
            self.base_url + path, data=body, headers=headers, method="POST"
        )
        return self._send(request)

    def get(self, path: str) -> Answer:
        return self._send(urllib.request.Request(self.base_url + path, method="GET"))

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=30) as response:
                return _answer(
                    response.status, response.read(), response.headers.get("Content-Type", "")
                )
        except urllib.error.HTTPError as error:
            return _answer(
                error.code,
                error.read(),
                error.headers.get("Content-Type", ""),
                error.headers.get("Location", ""),
            )


@pytest.fixture(
    params=[
        pytest.param("test-client", marks=pytest.mark.django_db),
        # The server answers from other threads, which only see committed data.
        # (A marker, not getfixturevalue("transactional_db"): pytest-django
        # decides on transactions before a dynamically requested fixture counts.)
        pytest.param("live-http", marks=pytest.mark.django_db(transaction=True)),
    ]
)
def transport(request: pytest.FixtureRequest) -> Transport:
    if request.param == "test-client":
        return DjangoClientTransport()
    return LiveHttpTransport(request.getfixturevalue("live_server").url)


@pytest.fixture
def guide(transport: Transport, time_machine: TimeMachineFixture) -> Guide:
    """The guide's meters, plan and customer at NOW, before any usage is sent.
    Time ticks (the live server's threads share the clock) from NOW."""
    time_machine.move_to(NOW, tick=True)
    return guide_setup(NOW, events=False)


@pytest.fixture
def key(guide: Guide) -> str:
    return api_key_create(name="sdk")[1]


# -- Helpers -----------------------------------------------------------------


def record(unique_id: str, **fields: Any) -> dict[str, Any]:
    """A good LLM tokens record for test-customer, an hour ago, in the SDK's key
    order, unless overridden; a field given as ... is left out."""
    sent = {
        "uniqueId": unique_id,
        "meterApiName": "llm-tokens",
        "meterValue": 1000,
        "customerId": "test-customer",
        "meterTimeInMillis": EARLIER,
        "dimensions": A_INPUT,
        **fields,
    }
    return {name: value for name, value in sent.items() if value is not ...}


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def post(
    transport: Transport,
    document: Any = None,
    *,
    key: str | None,
    raw: bytes | None = None,
    compress: bool = False,
    path: str = "/ingest/",
    headers: dict[str, str] | None = None,
) -> Answer:
    """POST `document` as JSON (or `raw` bytes), gzip-compressed if asked, with
    the key in X-API-KEY as the SDK sends it."""
    body = raw if raw is not None else encode(document)
    sent = dict(headers or {})
    if key is not None:
        sent.setdefault("X-API-KEY", key)
    if compress:
        body = gzipped(body)
        sent["Content-Encoding"] = "gzip"
    return transport.post(path, body, sent)


def stored() -> list[tuple[str, str, str, Decimal]]:
    events = UsageEvent.objects.select_related("meter").order_by("meter__api_name", "unique_id")
    return [(e.meter.api_name, e.unique_id, e.customer_id, e.value) for e in events]


def stored_ids() -> list[str]:
    return sorted(UsageEvent.objects.values_list("unique_id", flat=True))


def total(customer: Customer) -> Decimal:
    ref = current_period(customer, NOW)
    assert ref is not None
    return build_invoice(customer, ref).total


def ok(accepted: int, duplicates: int = 0, rejected: list[Any] | None = None) -> dict[str, Any]:
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected or []}


def assert_json_error(answer: Answer, status: int, field: str, *fragments: str) -> None:
    assert answer.status == status, answer
    assert answer.content_type == "application/json", answer
    assert answer.body["field"] == field, answer.body
    for fragment in fragments:
        assert fragment in answer.body["error"], answer.body


# -- Every rejection reason --------------------------------------------------

FUTURE = millis(NOW + timedelta(minutes=6))

# (test id, the bad record's fields, the field named, the reason answered)
REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown-meter",
        {"meterApiName": "gpu-hours"},
        "meterApiName",
        'unknown meter "gpu-hours"',
    ),
    (
        "missing-customerId",
        {"customerId": ...},
        "customerId",
        "customerId is missing or empty",
    ),
    (
        "empty-customerId",
        {"customerId": ""},
        "customerId",
        "customerId is missing or empty",
    ),
    (
        "blank-customerId",
        {"customerId": "   "},
        "customerId",
        "customerId is missing or empty",
    ),
    (
        "value-true",
        {"meterValue": True},
        "meterValue",
        "meterValue must be a finite number, got true",
    ),
    (
        "value-text",
        {"meterValue": "ten"},
        "meterValue",
        'meterValue must be a finite number, got "ten"',
    ),
    (
        "value-NaN-as-text",
        {"meterValue": "NaN"},
        "meterValue",
        'meterValue must be a finite number, got "NaN"',
    ),
    (
        "value-Infinity-as-text",
        {"meterValue": "Infinity"},
        "meterValue",
        'meterValue must be a finite number, got "Infinity"',
    ),
    ("value-missing", {"meterValue": ...}, "meterValue", "meterValue is missing"),
    ("value-negative", {"meterValue": -5}, "meterValue", "meterValue must not be negative"),
    (
        "value-out-of-range",
        {"meterValue": Decimal("1e400")},
        "meterValue",
        "meterValue is too large: it must be below 1E+20",
    ),
    (
        "time-fractional-1.5",
        {"meterTimeInMillis": Decimal("1.5")},
        "meterTimeInMillis",
        "meterTimeInMillis must be whole epoch milliseconds, got 1.5",
    ),
    (
        "time-as-text",
        {"meterTimeInMillis": str(EARLIER)},
        "meterTimeInMillis",
        f'meterTimeInMillis must be whole epoch milliseconds, got "{EARLIER}"',
    ),
    (
        "time-over-5-minutes-ahead",
        {"meterTimeInMillis": FUTURE},
        "meterTimeInMillis",
        "meterTimeInMillis is more than 5 minutes in the future",
    ),
    (
        "dimension-the-meter-does-not-define",
        {"dimensions": {"model": "model a", "region": "eu"}},
        "dimensions",
        "meter 'llm-tokens' does not define the dimension region",
    ),
    (
        "dimension-on-a-meter-without-any",
        {"meterApiName": "api-calls", "dimensions": {"model": "model a"}},
        "dimensions",
        "meter 'api-calls' does not define the dimension model",
    ),
    ("not-an-object", {}, "", "a usage record must be a JSON object"),
]


def as_json(document: Any) -> bytes:
    """JSON with Decimal fields written as bare numbers (1.5, 1E+400), as a
    sender's JSON library would write them."""

    def default(value: object) -> str:
        assert isinstance(value, Decimal)
        return f"@@{value}@@"

    text = json.dumps(document, default=default)
    return text.replace('"@@', "").replace('@@"', "").encode()


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
def test_each_rejection_is_answered_200_with_its_index_and_reason_and_the_good_records_are_kept(
    transport: Transport,
    guide: Guide,
    key: str,
    bad: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    middle: Any = record("bad", **bad) if bad else "not a record"
    batch = [record("good-1"), middle, record("good-2", dimensions={"model": "model b"})]

    answer = post(transport, key=key, raw=as_json(batch), compress=True)

    assert answer.status == 200, answer
    assert answer.body == ok(2, rejected=[{"index": 1, "field": field, "reason": reason}])
    assert stored_ids() == ["good-1", "good-2"]
    kept = RejectedRecord.objects.get()
    assert (kept.source, kept.index, kept.field, kept.reason) == ("api", 1, field, reason)


def test_one_batch_with_every_rejection_keeps_all_its_good_records(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch: list[Any] = [record("first")]
    for name, bad, _, _ in REJECTIONS:
        batch.append(record(f"bad-{name}", **bad) if bad else "not a record")
        batch.append(record(f"good-after-{name}", meterValue=1))

    answer = post(transport, key=key, raw=as_json(batch))

    assert answer.status == 200
    assert answer.body["accepted"] == 1 + len(REJECTIONS)
    assert answer.body["rejected"] == [
        {"index": 1 + 2 * n, "field": field, "reason": reason}
        for n, (_, _, field, reason) in enumerate(REJECTIONS)
    ]
    assert len(stored_ids()) == 1 + len(REJECTIONS)
    assert not any(uid.startswith("bad-") for uid in stored_ids())
    assert RejectedRecord.objects.count() == len(REJECTIONS)
    # 1000 + 17 × 1 model a input tokens at $0.00001.
    assert total(guide.customer) == Decimal("0.01")


def test_a_time_less_than_5_minutes_ahead_and_a_missing_time_are_accepted(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [
        record("soon", meterTimeInMillis=millis(NOW + timedelta(minutes=4))),
        record("now", meterTimeInMillis=...),
    ]

    assert post(transport, batch, key=key).body == ok(2)

    times = dict(UsageEvent.objects.values_list("unique_id", "event_time"))
    assert times["soon"] == NOW + timedelta(minutes=4)
    assert NOW <= times["now"] < NOW + timedelta(minutes=1)  # the time it arrived


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_bare_nan_or_infinity_value_makes_the_whole_body_invalid_json_so_it_is_a_400(
    transport: Transport, guide: Guide, key: str, constant: str
) -> None:
    # JSON has no NaN or Infinity: a body holding one bare (as Python's json
    # writes float('nan')) is not JSON, so the whole request is refused 400 and
    # nothing in it is stored; only a quoted "NaN" is a per-record rejection.
    body = as_json([record("good-1"), record("bad", meterValue=Decimal(0))])
    body = body.replace(b'"meterValue": 0,', f'"meterValue": {constant},'.encode())
    assert constant.encode() in body

    answer = post(transport, key=key, raw=body, compress=True)

    assert_json_error(answer, 400, "body", "the body is not valid JSON", "not a finite number")
    assert stored_ids() == []
    assert not RejectedRecord.objects.exists()


# -- Bodies: gzip or plain, an array or one object ---------------------------


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("shape", ["array", "single-object"])
def test_gzip_and_plain_bodies_holding_an_array_or_one_object_are_stored(
    transport: Transport, guide: Guide, key: str, compress: bool, shape: str
) -> None:
    records = [
        record("r-1"),
        record("r-2", meterApiName="api-calls", meterValue=10, dimensions=...),
    ]
    document: Any = records if shape == "array" else records[0]

    answer = post(transport, document, key=key, compress=compress, headers=SDK_HEADERS)

    assert answer.status == 200
    assert answer.content_type == "application/json"
    expected = [
        ("api-calls", "r-2", "test-customer", Decimal("10")),
        ("llm-tokens", "r-1", "test-customer", Decimal("1000")),
    ]
    if shape == "array":
        assert answer.body == ok(2)
        assert stored() == expected
    else:
        assert answer.body == ok(1)
        assert stored() == expected[1:]


def test_an_empty_array_is_fine(transport: Transport, guide: Guide, key: str) -> None:
    assert post(transport, [], key=key).body == ok(0)


def test_decimal_values_are_kept_exactly(transport: Transport, guide: Guide, key: str) -> None:
    answer = post(
        transport,
        key=key,
        raw=b'[{"meterApiName": "api-calls", "meterValue": 0.1,'
        b' "customerId": "test-customer", "uniqueId": "tenth"}]',
    )

    assert answer.body == ok(1)
    assert UsageEvent.objects.get().value == Decimal("0.1")


@pytest.mark.parametrize("path", ["/ingest/", "/ingest"])
def test_both_spellings_of_the_path_answer_directly_without_a_redirect(
    transport: Transport, guide: Guide, key: str, path: str
) -> None:
    answer = post(transport, [record("r-1")], key=key, compress=True, path=path)

    assert (answer.status, answer.location) == (200, "")
    assert answer.body == ok(1)


def test_only_post_is_allowed(transport: Transport, guide: Guide) -> None:
    assert transport.get("/ingest/").status == 405


# -- Authentication ----------------------------------------------------------


def test_without_a_key_the_answer_is_401_json_and_nothing_is_stored(
    transport: Transport, guide: Guide
) -> None:
    answer = post(transport, [record("r-1")], key=None, compress=True)

    assert_json_error(answer, 401, "X-API-KEY", "a valid API key is required")
    assert stored_ids() == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-KEY": "tly_not-a-key-we-issued"},
        {"X-API-KEY": ""},
        {"Authorization": "Bearer tly_not-a-key-we-issued"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["wrong-key", "empty-key", "wrong-bearer", "basic-auth"],
)
def test_a_wrong_key_is_401(
    transport: Transport, guide: Guide, key: str, headers: dict[str, str]
) -> None:
    answer = post(transport, [record("r-1")], key=None, headers=headers)

    assert_json_error(answer, 401, "X-API-KEY")
    assert stored_ids() == []


def test_a_revoked_key_is_401(transport: Transport, guide: Guide) -> None:
    api_key, raw = api_key_create(name="old")
    assert post(transport, [record("r-1")], key=raw).status == 200

    api_key_revoke(key=api_key)
    answer = post(transport, [record("r-2")], key=raw)

    assert_json_error(answer, 401, "X-API-KEY")
    assert stored_ids() == ["r-1"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_an_authorization_bearer_key_works(
    transport: Transport, guide: Guide, key: str, scheme: str
) -> None:
    answer = post(
        transport, [record("r-1")], key=None, headers={"Authorization": f"{scheme} {key}"}
    )

    assert answer.body == ok(1)


def test_using_a_key_records_when_it_was_last_used(transport: Transport, guide: Guide) -> None:
    api_key, raw = api_key_create(name="sdk")
    assert api_key.last_used_at is None

    post(transport, [], key=raw)

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert NOW <= api_key.last_used_at < NOW + timedelta(minutes=1)


def test_the_key_is_checked_before_the_body_is_read(
    transport: Transport, guide: Guide, settings: Settings
) -> None:
    settings.INGEST_MAX_BYTES = 100

    answer = post(transport, key="tly_wrong", raw=b"x" * 1000)

    assert answer.status == 401


# -- Limits ------------------------------------------------------------------


def padded_batch(size: int) -> bytes:
    """A one-record JSON array of exactly `size` bytes (spaces after the array)."""
    body = encode([record("r-1")])
    assert len(body) <= size
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_body_over_the_size_limit_is_413_json(
    transport: Transport, guide: Guide, key: str, settings: Settings, compress: bool
) -> None:
    settings.INGEST_MAX_BYTES = 1000

    at_limit = post(transport, key=key, raw=padded_batch(1000), compress=compress)
    over = post(transport, key=key, raw=padded_batch(1001), compress=compress)

    assert at_limit.body == ok(1)
    expected = "the decompressed body is larger" if compress else "the request body is larger"
    assert_json_error(over, 413, "body", expected, "1,000 bytes", "send smaller batches")


def test_a_compressed_body_too_big_to_even_read_is_413_json(
    transport: Transport, guide: Guide, key: str, settings: Settings
) -> None:
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE at all.
    settings.INGEST_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    noise = b"".join(hashlib.sha256(str(n).encode()).digest() for n in range(200))  # 6.4 kB

    answer = post(
        transport, key=key, raw=gzip.compress(noise), headers={"Content-Encoding": "gzip"}
    )

    assert_json_error(answer, 413, "body", "larger than 1,000 bytes")


def test_too_many_records_is_413_and_nothing_is_stored(
    transport: Transport, guide: Guide, key: str, settings: Settings
) -> None:
    settings.INGEST_MAX_RECORDS = 3
    batch = [record(f"r-{n}") for n in range(4)]

    assert post(transport, batch[:3], key=key).body == ok(3)
    answer = post(transport, batch, key=key, compress=True)

    assert_json_error(answer, 413, "body", "4 records is more than 3 a request")
    assert stored_ids() == ["r-0", "r-1", "r-2"]


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of spaces, gzip-compressed to about 50 kB, built without ever
    holding the 50 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(50)) + packer.flush()
    assert len(bomb) < 100_000
    return bomb


def test_a_gzip_bomb_is_refused_quickly_without_inflating_it(
    transport: Transport, guide: Guide, key: str, settings: Settings, gzip_bomb: bytes
) -> None:
    settings.INGEST_MAX_BYTES = 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        answer = post(transport, key=key, raw=gzip_bomb, headers={"Content-Encoding": "gzip"})
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert_json_error(answer, 413, "body", "the decompressed body is larger than 1,048,576 bytes")
    assert elapsed < 2, elapsed
    # At most the limit is ever inflated: nowhere near the bomb's 50 MB.
    assert peak < 8 * 1024 * 1024, peak


# -- Unreadable bodies -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "field", "fragment"),
    [
        (b'[{"meterApiName": "api-calls",', {}, "body", "the body is not valid JSON"),
        (b"", {}, "body", "the body is not valid JSON"),
        (b"\xff\xfe[]", {}, "body", "the body is not valid JSON"),
        (b"42", {}, "body", "send a JSON array of usage records, or one record object"),
        (b'"records"', {}, "body", "send a JSON array of usage records"),
        (b"[]", {"Content-Encoding": "gzip"}, "Content-Encoding", "the body is not valid gzip"),
        (b"[]", {"Content-Encoding": "br"}, "Content-Encoding", "unsupported Content-Encoding"),
    ],
    ids=[
        "truncated-json",
        "empty-body",
        "not-utf8",
        "a-number",
        "a-string",
        "not-really-gzip",
        "brotli",
    ],
)
def test_an_unreadable_body_is_400_json_naming_the_field(
    transport: Transport,
    guide: Guide,
    key: str,
    body: bytes,
    headers: dict[str, str],
    field: str,
    fragment: str,
) -> None:
    answer = post(transport, key=key, raw=body, headers=headers)

    assert_json_error(answer, 400, field, fragment)
    assert stored_ids() == []


# -- Customers we have not seen ----------------------------------------------


def test_an_unknown_customer_is_created_by_ingestion_and_its_usage_kept(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [
        record("new-1", customerId="new-customer"),
        record(
            "new-2",
            customerId="new-customer",
            meterApiName="api-calls",
            meterValue=3,
            dimensions=...,
        ),
        record("known-1"),
        record("bad", customerId="never-created", meterValue="ten"),
    ]

    answer = post(transport, batch, key=key, compress=True)

    assert answer.body["accepted"] == 3
    created = Customer.objects.get(customer_id="new-customer")
    assert (created.name, created.created_by_ingestion) == ("new-customer", True)
    assert not Customer.objects.get(customer_id="test-customer").created_by_ingestion
    # A rejected record's customer is not created.
    assert not Customer.objects.filter(customer_id="never-created").exists()
    assert sorted(
        UsageEvent.objects.filter(customer_id="new-customer").values_list("unique_id", flat=True)
    ) == ["new-1", "new-2"]


# -- Idempotency -------------------------------------------------------------


def test_the_same_batch_twice_is_all_duplicates_the_second_time(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [
        record("r-1"),
        record("r-2", meterApiName="api-calls", meterValue=10, dimensions=...),
        record("r-3", meterValue="ten"),
    ]
    first = post(transport, batch, key=key, compress=True)
    # 1000 model a input tokens ($0.01) + 10 API calls ($0.10).
    assert total(guide.customer) == Decimal("0.11")
    before = stored()

    again = post(transport, batch, key=key, compress=True)

    rejection = {
        "index": 2,
        "field": "meterValue",
        "reason": 'meterValue must be a finite number, got "ten"',
    }
    assert first.body == ok(2, rejected=[rejection])
    assert again.body == ok(0, duplicates=2, rejected=[rejection])
    assert stored() == before
    assert total(guide.customer) == Decimal("0.11")


def test_a_repeat_never_changes_the_stored_value(
    transport: Transport, guide: Guide, key: str
) -> None:
    post(transport, [record("r-1", meterValue=1000)], key=key)

    answer = post(transport, [record("r-1", meterValue=999_999)], key=key)

    assert answer.body == ok(0, duplicates=1)
    assert stored() == [("llm-tokens", "r-1", "test-customer", Decimal("1000"))]


def test_a_repeat_inside_one_batch_is_a_duplicate(
    transport: Transport, guide: Guide, key: str
) -> None:
    answer = post(transport, [record("r-1"), record("r-1"), record("r-2")], key=key)

    assert answer.body == ok(2, duplicates=1)


def test_the_same_unique_id_on_two_meters_is_two_events(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [record("same"), record("same", meterApiName="api-calls", meterValue=1, dimensions=...)]

    assert post(transport, batch, key=key).body == ok(2)


def test_a_record_without_unique_id_is_given_one(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [record(..., meterApiName="api-calls", meterValue=1, dimensions=...)]

    assert post(transport, batch, key=key).body == ok(1)
    # Without an id it cannot be recognized when sent again, so it is stored again.
    assert post(transport, batch, key=key).body == ok(1)

    ids = stored_ids()
    assert len(ids) == 2
    assert ids[0] != ids[1]
    assert all(len(uid) == 36 and uid.count("-") == 4 for uid in ids)  # UUIDs


# -- Rejections are kept for operators ---------------------------------------


def test_rejected_records_are_kept_with_their_reason_and_browsable(
    transport: Transport, guide: Guide, key: str
) -> None:
    batch = [
        record("good"),
        record("bad-1", meterApiName="gpu-hours", customerId="acme"),
        record("bad-2", meterValue=True),
    ]
    post(transport, batch, key=key, compress=True)

    kept = list(
        RejectedRecord.objects.order_by("index").values_list(
            "source", "index", "meter_api_name", "customer_id", "field", "reason"
        )
    )
    assert kept == [
        ("api", 1, "gpu-hours", "acme", "meterApiName", 'unknown meter "gpu-hours"'),
        (
            "api",
            2,
            "llm-tokens",
            "test-customer",
            "meterValue",
            "meterValue must be a finite number, got true",
        ),
    ]
    assert RejectedRecord.objects.get(index=1).record == batch[1]
    html = page(login(Client()).get("/meters/rejected/", {"field": "meterApiName"}))
    [row] = table_rows(html)[1:]
    assert row[1:7] == [
        "Ingestion API",
        "2",
        "gpu-hours (unknown)",
        "acme",
        "meterApiName",
        'unknown meter "gpu-hours"',
    ]


# -- Concurrency -------------------------------------------------------------

SENDERS = 4
BATCH = 500


def concurrent_batch() -> list[dict[str, Any]]:
    """250 × 2 API calls ($5.00) and 250 × 1000 model a input tokens ($2.50)."""
    return [
        record(f"c-{n}", meterApiName="api-calls", meterValue=2, dimensions=...)
        if n % 2
        else record(f"c-{n}")
        for n in range(BATCH)
    ]


def orders(batch: list[dict[str, Any]], mixed: bool) -> list[list[dict[str, Any]]]:
    """What each sender sends: the same batch, or the same records in 4 orders."""
    if not mixed:
        return [batch] * SENDERS
    half = len(batch) // 2
    return [batch, batch[::-1], batch[half:] + batch[:half], batch[::2] + batch[1::2]]


needs_postgres = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL: on SQLite the live server hands the test's one in-memory "
    "connection to every request thread, so concurrent requests would share a "
    "transaction rather than race (run with DATABASE_URL=postgres://...)",
)


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "mixed",
    [
        pytest.param(False, id="same-order"),
        # Rows locked in different orders is how concurrent inserts deadlock.
        pytest.param(True, id="different-orders"),
    ],
)
def test_the_same_batch_from_4_senders_at_once_is_stored_once(
    live_server: Any, time_machine: TimeMachineFixture, mixed: bool
) -> None:
    time_machine.move_to(NOW, tick=True)
    guide = guide_setup(NOW, events=False)
    raw = api_key_create(name="sdk")[1]
    headers = {"X-API-KEY": raw, "Content-Encoding": "gzip"}
    bodies = [gzipped(encode(batch)) for batch in orders(concurrent_batch(), mixed)]
    http = LiveHttpTransport(live_server.url)
    start = threading.Barrier(SENDERS)
    answers: list[Answer] = []
    errors: list[BaseException] = []

    def send(body: bytes) -> None:
        try:
            start.wait(timeout=10)  # all four requests leave together
            answers.append(http.post("/ingest/", body, headers))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [a.status for a in answers] == [200] * SENDERS, answers
    assert sum(a.body["accepted"] for a in answers) == BATCH
    assert sum(a.body["duplicates"] for a in answers) == BATCH * (SENDERS - 1)
    assert UsageEvent.objects.count() == BATCH
    assert total(guide.customer) == Decimal("7.50")
    # And once more, after the race: nothing new.
    assert http.post("/ingest/", bodies[0], headers).body == ok(0, duplicates=BATCH)
    assert UsageEvent.objects.count() == BATCH
    assert total(guide.customer) == Decimal("7.50")


def test_the_concurrency_batch_totals_what_its_docstring_says(
    db: None, time_machine: TimeMachineFixture
) -> None:
    # Runs on every database, so the figure the PostgreSQL test relies on is checked.
    time_machine.move_to(NOW, tick=False)
    guide = guide_setup(NOW, events=False)
    raw = api_key_create(name="sdk")[1]

    answer = post(DjangoClientTransport(), concurrent_batch(), key=raw, compress=True)

    assert answer.body == ok(BATCH)
    assert total(guide.customer) == Decimal("7.50")
