"""Reads of usage: one grouped query per meter, never a loop over events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Aggregate, Count, Max, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform

from meters.models import Meter, UsageEvent
from meters.naming import parse_dimension_key
from meters.sqlite_functions import ExactMax, ExactSum
from pricing.rating import Aggregation, PartialUsage


def meter_events(
    meter: Meter, customer_id: str, start: datetime, end: datetime | None
) -> QuerySet[UsageEvent]:
    events = UsageEvent.objects.filter(meter=meter, customer_id=customer_id, event_time__gte=start)
    return events.filter(event_time__lt=end) if end is not None else events


def usage_partials(meter: Meter, events: QuerySet[UsageEvent]) -> list[PartialUsage]:
    """Aggregate `events` (of one meter) per dimension key with the meter's
    aggregation, as input for pricing.rating.project_usage. Sums and maxima are
    exact on both engines (meters/sqlite_functions.py)."""
    aggregation = Aggregation(meter.meter_type)
    quantity: Aggregate
    if aggregation is Aggregation.SUM:
        quantity = ExactSum("value")
    elif aggregation is Aggregation.EVENT_COUNT:
        quantity = Count("id")
    elif aggregation is Aggregation.MAX:
        quantity = ExactMax("value")
    elif aggregation is Aggregation.UNIQUE_COUNT:
        return _unique_partials(meter, events)
    else:
        return _latest_partials(events)
    rows = events.order_by().values("dimension_key").annotate(q=quantity)
    return [
        PartialUsage(parse_dimension_key(row["dimension_key"]), Decimal(row["q"] or 0))
        for row in rows
    ]


def _unique_partials(meter: Meter, events: QuerySet[UsageEvent]) -> list[PartialUsage]:
    rows = (
        events.order_by()
        .annotate(counted=KeyTextTransform(meter.unique_dimension, "dimensions"))
        .filter(counted__isnull=False)
        .values_list("dimension_key", "counted")
        .distinct()
    )
    values: dict[str, set[str]] = {}
    for key, counted in rows:
        values.setdefault(key, set()).add(counted)
    return [
        PartialUsage(parse_dimension_key(key), Decimal(len(vs)), distinct_values=frozenset(vs))
        for key, vs in values.items()
    ]


def _latest_partials(events: QuerySet[UsageEvent]) -> list[PartialUsage]:
    latest = events.order_by().values("dimension_key").annotate(at=Max("event_time"))
    partials = []
    for row in latest:
        event = (
            events.filter(dimension_key=row["dimension_key"], event_time=row["at"])
            .order_by("-id")
            .only("value")
            .first()
        )
        if event is not None:
            partials.append(
                PartialUsage(parse_dimension_key(row["dimension_key"]), event.value, row["at"])
            )
    return partials


def customer_meter_ids(customer_id: str, window: Q) -> list[int]:
    """Meters with any usage of the customer inside `window` (a Q on event_time)."""
    return list(
        UsageEvent.objects.filter(window, customer_id=customer_id)
        .order_by()
        .values_list("meter_id", flat=True)
        .distinct()
    )
