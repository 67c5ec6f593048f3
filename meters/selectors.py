"""Reads of usage: one grouped query per meter, never a loop over events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db.models import Aggregate, Case, Count, F, Max, Q, QuerySet, TextField, When, Window
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import RowNumber

from meters.kinds import MeterType
from meters.models import Meter, UsageEvent
from meters.naming import parse_dimension_key
from meters.partial_usage import PartialUsage
from meters.sqlite_functions import ExactMax, ExactSum


def meter_events(
    meter: Meter, customer_id: str, start: datetime, end: datetime | None
) -> QuerySet[UsageEvent]:
    events = UsageEvent.objects.filter(meter=meter, customer_id=customer_id, event_time__gte=start)
    return events.filter(event_time__lt=end) if end is not None else events


def usage_partials(meter: Meter, events: QuerySet[UsageEvent]) -> list[PartialUsage]:
    """Aggregate `events` (of one meter) per dimension key with the meter's
    aggregation, as input for pricing.rating.project_usage. Sums and maxima are
    exact on both engines (meters/sqlite_functions.py)."""
    aggregation = MeterType(meter.meter_type)
    quantity: Aggregate
    if aggregation is MeterType.SUM:
        quantity = ExactSum("value")
    elif aggregation is MeterType.EVENT_COUNT:
        quantity = Count("id")
    elif aggregation is MeterType.MAX:
        quantity = ExactMax("value")
    elif aggregation is MeterType.UNIQUE_COUNT:
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
    return sorted(customers_meter_ids([customer_id], window).get(customer_id, set()))


def customers_meter_ids(customer_ids: Sequence[str], window: Q) -> dict[str, set[int]]:
    """`customer_meter_ids` for several customers in one query (by customer id;
    a customer without usage is absent)."""
    found: dict[str, set[int]] = {}
    rows = (
        UsageEvent.objects.filter(window, customer_id__in=list(customer_ids))
        .order_by()
        .values_list("customer_id", "meter_id")
        .distinct()
    )
    for customer_id, meter_id in rows:
        found.setdefault(customer_id, set()).add(meter_id)
    return found


def customer_usage(
    meters: Sequence[Meter], customer_id: str, window: Q
) -> dict[int, list[PartialUsage]]:
    """What `usage_partials` gives for each of `meters` (by meter id), for the
    customer's events inside `window` (a Q on event_time): the same partials,
    in one grouped query per aggregation present (at most five), however many
    meters, so an invoice costs as many queries for a 100-rate plan as for one."""
    return customers_usage(meters, [customer_id], window)[customer_id]


def customers_usage(
    meters: Sequence[Meter], customer_ids: Sequence[str], window: Q
) -> dict[str, dict[int, list[PartialUsage]]]:
    """`customer_usage` for several customers at once (by customer id, then
    meter id): still one grouped query per aggregation present, with the
    customer in the GROUP BY, however many customers."""
    found: dict[str, dict[int, list[PartialUsage]]] = {
        customer_id: {meter.pk: [] for meter in meters} for customer_id in customer_ids
    }
    by_aggregation: dict[MeterType, list[Meter]] = {}
    for meter in meters:
        by_aggregation.setdefault(MeterType(meter.meter_type), []).append(meter)
    for aggregation, group in by_aggregation.items():
        events = UsageEvent.objects.filter(
            window,
            customer_id__in=list(customer_ids),
            meter_id__in=[meter.pk for meter in group],
        ).order_by()
        for customer_id, meter_id, partial in _grouped_partials(aggregation, group, events):
            found[customer_id][meter_id].append(partial)
    return found


def _grouped_partials(
    aggregation: MeterType, meters: list[Meter], events: QuerySet[UsageEvent]
) -> list[tuple[str, int, PartialUsage]]:
    """`usage_partials` for several meters of one aggregation, and several
    customers, at once: (customer id, meter id, partial)."""
    if aggregation is MeterType.UNIQUE_COUNT:
        return _grouped_unique(meters, events)
    if aggregation is MeterType.LATEST:
        return _grouped_latest(events)
    quantity: Aggregate
    if aggregation is MeterType.SUM:
        quantity = ExactSum("value")
    elif aggregation is MeterType.EVENT_COUNT:
        quantity = Count("id")
    else:
        quantity = ExactMax("value")
    rows = (
        events.values("customer_id", "meter_id", "dimension_key")
        .annotate(q=quantity)
        .order_by("customer_id", "meter_id", "dimension_key")
    )
    return [
        (
            row["customer_id"],
            row["meter_id"],
            PartialUsage(parse_dimension_key(row["dimension_key"]), Decimal(row["q"] or 0)),
        )
        for row in rows
    ]


def _grouped_unique(
    meters: list[Meter], events: QuerySet[UsageEvent]
) -> list[tuple[str, int, PartialUsage]]:
    # Each meter counts its own dimension: pick it per row with a CASE.
    counted = Case(
        *(
            When(meter_id=meter.pk, then=KeyTextTransform(meter.unique_dimension, "dimensions"))
            for meter in meters
        ),
        output_field=TextField(),
    )
    rows = (
        events.annotate(counted=counted)
        .filter(counted__isnull=False)
        .values_list("customer_id", "meter_id", "dimension_key", "counted")
        .distinct()
    )
    values: dict[tuple[str, int, str], set[str]] = {}
    for customer_id, meter_id, key, value in rows:
        values.setdefault((customer_id, meter_id, key), set()).add(value)
    return [
        (
            customer_id,
            meter_id,
            PartialUsage(parse_dimension_key(key), Decimal(len(vs)), distinct_values=frozenset(vs)),
        )
        for (customer_id, meter_id, key), vs in sorted(values.items())
    ]


def _grouped_latest(events: QuerySet[UsageEvent]) -> list[tuple[str, int, PartialUsage]]:
    # The newest event of each (customer, meter, dimension key), ties to the
    # highest id, as `_latest_partials` picks it, by numbering each group's rows.
    ranked = (
        events.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("customer_id"), F("meter_id"), F("dimension_key")],
                order_by=[F("event_time").desc(), F("id").desc()],
            )
        )
        .filter(rank=1)
        .values_list("customer_id", "meter_id", "dimension_key", "value", "event_time")
        .order_by("customer_id", "meter_id", "dimension_key")
    )
    return [
        (customer_id, meter_id, PartialUsage(parse_dimension_key(key), value, at))
        for customer_id, meter_id, key, value, at in ranked
    ]
