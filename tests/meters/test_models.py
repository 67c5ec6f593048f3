"""The database itself refuses bad meters and double-counted events, whatever
code path writes them (these go through the ORM, skipping forms and services)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from meters.models import Meter, UsageEvent
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db

AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def event(meter: Meter, unique_id: str, value: str = "1000") -> UsageEvent:
    return UsageEvent.objects.create(
        meter=meter,
        customer_id="test-customer",
        value=Decimal(value),
        event_time=AT,
        unique_id=unique_id,
    )


def test_two_meters_cannot_share_an_api_name() -> None:
    MeterFactory.create(api_name="llm-tokens")

    with pytest.raises(IntegrityError), transaction.atomic():
        MeterFactory.create(api_name="llm-tokens")

    assert Meter.objects.filter(api_name="llm-tokens").count() == 1


def test_a_meter_needs_an_api_name() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterFactory.create(api_name="")


def test_the_same_event_cannot_be_stored_twice_for_a_meter() -> None:
    tokens = MeterFactory.create(api_name="llm-tokens")
    event(tokens, "req-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        event(tokens, "req-1", value="5000")

    assert list(UsageEvent.objects.values_list("value", flat=True)) == [Decimal("1000")]


def test_the_same_unique_id_on_two_different_meters_is_two_events() -> None:
    tokens = MeterFactory.create(api_name="llm-tokens")
    calls = MeterFactory.create(api_name="api-calls")

    event(tokens, "req-1")
    event(calls, "req-1", value="1")

    assert UsageEvent.objects.filter(unique_id="req-1").count() == 2


def test_a_unique_count_meter_without_its_counted_dimension_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        MeterFactory.create(meter_type=Meter.MeterType.UNIQUE_COUNT, dimensions=["user"])

    assert not Meter.objects.exists()


def test_a_unique_count_meter_naming_its_dimension_is_stored() -> None:
    meter = MeterFactory.create(
        meter_type=Meter.MeterType.UNIQUE_COUNT, dimensions=["user"], unique_dimension="user"
    )

    assert Meter.objects.get().unique_dimension == meter.unique_dimension == "user"
