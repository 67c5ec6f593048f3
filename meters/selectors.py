"""Reads of usage: one grouped query per meter, never a loop over events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform

from meters.models import Meter, UsageEvent
from meters.naming import parse_dimension_key
from pricing.rating import Aggregation, PartialUsage


def meter_events(
    meter: Meter, customer_id: str, start: datetime, end: datetime | None
) -> QuerySet[UsageEvent]:
    events = UsageEvent.objects.filter(meter=meter, customer_id=customer_id, event_time__gte=start)
    return events.filter(event_time__lt=end) if end is not None else events


def usage_partials(meter: Meter, events: QuerySet[UsageEvent]) -> list[PartialUsage]:
    """Aggregate `events` (of one meter) per dimension key with the meter's
    aggregation, as input for pricing.rating.project_usage."""
    aggregation = Aggregation(meter.meter_type)
    grouped = events.order_by().values("dimension_key")
    if aggregation is Aggregation.SUM:
        rows = grouped.annotate(q=Sum("value"))
    elif aggregation is Aggregation.EVENT_COUNT:
        rows = grouped.annotate(q=Count("id"))
    elif aggregation is Aggregation.MAX:
        rows = grouped.annotate(q=Max("value"))
    elif aggregation is Aggregation.UNIQUE_COUNT:
        return _unique_partials(meter, events)
    else:
        return _latest_partials(events)
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
