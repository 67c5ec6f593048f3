"""Property: whatever a batch holds, ingestion answers without a 5xx, stores
the good record beside the odd ones, and accounts for every record sent
(accepted + duplicates + rejected = records), through all three doors:
POST /ingest/, POST /api/v1/events and the UI upload. Run on SQLite and on
PostgreSQL (DATABASE_URL), whose refusals (NUL, lone surrogates) differ.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from time_machine import TimeMachineFixture

from meters.api_keys import api_key_create
from meters.models import UsageEvent
from tests.factories import Guide, guide_setup, millis
from tests.fixtures import login

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
ABSENT = object()  # a field left out of the record

# Every example gets fresh uniqueIds, so examples sharing the test's database
# cannot influence each other: the function-scoped fixtures are safe to reuse.
PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ODD_CHARACTERS = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "é", "\u2028", "\ufeff"]
odd_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=20),  # surrogates too
    st.builds(
        lambda a, odd, b: a + odd + b,
        st.text(max_size=5),
        st.sampled_from(ODD_CHARACTERS),
        st.text(max_size=5),
    ),
    st.sampled_from(
        ["", " ", "llm-tokens", "LLM Tokens", "api-calls", "test-customer", "model a", "input"]
    ),
    st.sampled_from(["a" * 10_000, "é" * 300, "a" * 256, "a" * 983, "a" * 984]),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            10**19,
            10**20 - 1,
            10**20,
            Decimal("99999999999999999999.999999999"),
            Decimal("0.0000000001"),
            Decimal("1e400"),
            Decimal("-1e400"),
            Decimal("1e-400"),
            Decimal("9" * 5000),  # written as a 5000-digit integer literal
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | odd_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=8,
)


def deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: left out, a plausible one, any JSON value, odd text, deep."""
    return st.one_of(
        st.just(ABSENT),
        good,
        json_values,
        odd_text,
        st.integers(min_value=1, max_value=300).map(deep),
    )


now_ms = millis(NOW)
times = st.one_of(
    st.integers(min_value=now_ms - 40 * 86_400_000, max_value=now_ms + 600_000),
    st.sampled_from([0, -1, now_ms // 1000, now_ms * 1000, 10**30]),
)
dimension_sets = st.dictionaries(
    st.one_of(st.sampled_from(["model", "type"]), odd_text),
    st.one_of(odd_text, json_values),
    max_size=3,
)
records = st.one_of(
    json_values,  # not even an object
    st.fixed_dictionaries(
        {
            "meterApiName": field(st.sampled_from(["llm-tokens", "api calls"])),
            "meterValue": field(numbers),
            "customerId": field(st.sampled_from(["test-customer"]) | odd_text),
            "uniqueId": field(odd_text | st.integers()),
            "meterTimeInMillis": field(times),
            "dimensions": field(dimension_sets),
        }
    ).map(lambda r: {k: v for k, v in r.items() if v is not ABSENT}),
)
batches = st.tuples(st.lists(records, max_size=4), st.integers(min_value=0, max_value=4))


def to_json(value: Any) -> str:
    """Raw JSON as a sender's library writes it: \\u escapes (so NUL and lone
    surrogates travel), Decimals as bare numbers."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_json(str(k))}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def with_good_record(odd: list[Any], position: int) -> tuple[str, str]:
    good_id = f"good-{uuid.uuid4()}"
    good = {
        "meterApiName": "llm-tokens",
        "meterValue": 1,
        "customerId": "test-customer",
        "meterTimeInMillis": millis(NOW - timedelta(minutes=1)),
        "uniqueId": good_id,
        "dimensions": {"model": "model a", "type": "input"},
    }
    batch = [*odd]
    batch.insert(min(position, len(batch)), good)
    return to_json(batch), good_id


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(NOW, tick=False)
    return guide_setup(NOW, events=False)


@pytest.fixture
def key(guide: Guide) -> str:
    return api_key_create(name="property")[1]


def check_api(key: str, path: str, batch: tuple[list[Any], int]) -> None:
    body, good_id = with_good_record(*batch)
    response = Client().generic(
        "POST", path, body, content_type="application/json", headers={"X-API-KEY": key}
    )

    assert response.status_code == 200, response.content[:500]
    answer = response.json()
    assert answer["accepted"] + answer["duplicates"] + len(answer["rejected"]) == len(batch[0]) + 1
    assert UsageEvent.objects.filter(unique_id=good_id).exists()


@PROPERTY
@given(batch=batches)
def test_ingest_answers_every_batch_and_keeps_its_good_record(
    key: str, batch: tuple[list[Any], int]
) -> None:
    check_api(key, "/ingest/", batch)


@PROPERTY
@given(batch=batches)
def test_native_api_answers_every_batch_and_keeps_its_good_record(
    key: str, batch: tuple[list[Any], int]
) -> None:
    check_api(key, "/api/v1/events", batch)


@PROPERTY
@given(batch=batches)
def test_upload_answers_every_batch_and_keeps_its_good_record(
    guide: Guide, batch: tuple[list[Any], int]
) -> None:
    body, good_id = with_good_record(*batch)
    client = login(Client())
    upload = SimpleUploadedFile("batch.json", body.encode())

    response = client.post(reverse("meters:upload", args=[guide.llm_tokens.pk]), {"file": upload})

    assert response.status_code == 200
    result = response.context["result"]
    assert result.accepted + result.duplicates + len(result.rejected) == len(batch[0]) + 1
    assert UsageEvent.objects.filter(unique_id=good_id).exists()
