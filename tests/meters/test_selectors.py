"""`customer_usage` (several meters in one query per aggregation) gives every
meter exactly what `usage_partials` gives it alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Q

from meters.models import Meter, UsageEvent
from meters.naming import dimension_key
from meters.selectors import customer_usage, meter_events, usage_partials
from pricing.rating import PartialUsage
from tests.factories import MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 4, 1, tzinfo=UTC)
CUSTOMER = "acme"


def send(meter: Meter, customer_id: str, at: datetime, value: str, **dims: str) -> None:
    UsageEvent.objects.create(
        meter=meter,
        customer_id=customer_id,
        value=Decimal(value),
        event_time=at,
        dimensions=dims,
        dimension_key=dimension_key(dims),
        unique_id=f"e{UsageEvent.objects.count()}",
    )


def in_order(partials: list[PartialUsage]) -> list[PartialUsage]:
    return sorted(partials, key=lambda p: sorted(p.dimensions.items()))


def test_every_aggregation_matches_the_one_meter_query() -> None:
    kinds = [
        {"meter_type": Meter.MeterType.COUNT},
        {"meter_type": Meter.MeterType.COUNT},
        {"meter_type": Meter.MeterType.EVENT_COUNT},
        {"meter_type": Meter.MeterType.MAX},
        {"meter_type": Meter.MeterType.UNIQUE_COUNT, "unique_dimension": "user"},
        {"meter_type": Meter.MeterType.UNIQUE_COUNT, "unique_dimension": "session"},
        {"meter_type": Meter.MeterType.LATEST},
        {"meter_type": Meter.MeterType.LATEST},
    ]
    meters = [
        MeterFactory.create(dimensions=["model", "user", "session"], **kind) for kind in kinds
    ]
    at = START + timedelta(days=3)
    for n, meter in enumerate(meters):
        for model in ["a", "b"]:
            send(meter, CUSTOMER, at, f"{n}.5", model=model, user="u1", session="s1")
            send(meter, CUSTOMER, at, f"{n}.25", model=model, user="u1", session="s1")  # a tie
            send(meter, CUSTOMER, at, f"{n + 2}", model=model, user="u2", session="s1")
            send(meter, CUSTOMER, at - timedelta(hours=1), "99", model=model, user="u3")
        send(meter, CUSTOMER, at, "7")  # no dimensions
        send(meter, CUSTOMER, END, "1000", model="a")  # after the window
        send(meter, "someone-else", at, "1000", model="a")

    found = customer_usage(meters, CUSTOMER, Q(event_time__gte=START, event_time__lt=END))

    assert set(found) == {meter.pk for meter in meters}
    for meter in meters:
        alone = usage_partials(meter, meter_events(meter, CUSTOMER, START, END))
        assert in_order(found[meter.pk]) == in_order(alone), meter.meter_type
        assert found[meter.pk]


def test_a_meter_without_usage_gets_no_partials() -> None:
    meter = MeterFactory.create()

    found = customer_usage([meter], CUSTOMER, Q(event_time__gte=START, event_time__lt=END))

    assert found == {meter.pk: []}
