"""Writes for meters and usage. Each function is atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from meters.models import Meter, UsageEvent
from meters.records import BadRecord
from meters.validation import MeterInfo, Rejection, ValidEvent, validate_record

LOOKUP_CHUNK = 500


@transaction.atomic
def meter_create(
    *,
    label: str,
    api_name: str,
    meter_type: str,
    dimensions: Sequence[str],
    unique_dimension: str = "",
) -> Meter:
    meter = Meter(
        label=label,
        api_name=api_name,
        meter_type=meter_type,
        dimensions=list(dimensions),
        unique_dimension=unique_dimension,
    )
    meter.full_clean()
    meter.save()
    return meter


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates + len(self.rejected)


def meter_infos() -> dict[str, MeterInfo]:
    """Every meter, keyed by API name (already normalized), for validation."""
    return {
        m.api_name: MeterInfo(m.pk, m.api_name, frozenset(m.dimensions))
        for m in Meter.objects.only("id", "api_name", "dimensions")
    }


def _known_customers(records: Sequence[object], default: str | None) -> set[str]:
    wanted = {default} if default else set()
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("customerId"), str | int):
            wanted.add(str(record["customerId"]).strip())
    known: set[str] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        known.update(
            Customer.objects.filter(customer_id__in=chunk).values_list("customer_id", flat=True)
        )
    return known


def events_ingest(
    *,
    records: Sequence[object],
    default_meter: Meter | None = None,
    default_customer_id: str | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Validate each record on its own and store the good ones.

    Invariants: a bad record never stops the good ones beside it; a record whose
    (meter, uniqueId) is already stored, or repeated earlier in the same batch,
    is a duplicate and changes nothing; the unique constraint backs this up
    against concurrent writers.
    """
    now = now or timezone.now()
    meters = meter_infos()
    default = meters.get(default_meter.api_name) if default_meter else None
    known = _known_customers(records, default_customer_id)
    result = IngestResult()
    valid: list[ValidEvent] = []
    for index, record in enumerate(records):
        if isinstance(record, BadRecord):
            result.rejected.append(Rejection(index, record.reason))
            continue
        outcome = validate_record(
            index,
            record,
            meters=meters,
            customer_exists=known.__contains__,
            now=now,
            default_meter=default,
            default_customer_id=default_customer_id,
        )
        if isinstance(outcome, Rejection):
            result.rejected.append(outcome)
        else:
            valid.append(outcome)
    fresh = _drop_duplicates(valid)
    result.duplicates = len(valid) - len(fresh)
    result.accepted = len(fresh)
    _store(fresh)
    return result


def _drop_duplicates(events: list[ValidEvent]) -> list[ValidEvent]:
    seen: set[tuple[int, str]] = set()
    by_meter: dict[int, list[str]] = {}
    for event in events:
        by_meter.setdefault(event.meter_id, []).append(event.unique_id)
    for meter_id, unique_ids in by_meter.items():
        for start in range(0, len(unique_ids), LOOKUP_CHUNK):
            chunk = unique_ids[start : start + LOOKUP_CHUNK]
            stored = UsageEvent.objects.filter(meter_id=meter_id, unique_id__in=chunk)
            seen.update((meter_id, u) for u in stored.values_list("unique_id", flat=True))
    fresh = []
    for event in events:
        key = (event.meter_id, event.unique_id)
        if key not in seen:
            seen.add(key)
            fresh.append(event)
    return fresh


@transaction.atomic
def _store(events: list[ValidEvent]) -> None:
    # ignore_conflicts: a concurrent writer that stored the same (meter,
    # uniqueId) first wins, and this copy is silently skipped, never doubled.
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                meter_id=e.meter_id,
                customer_id=e.customer_id,
                value=e.value,
                event_time=e.event_time,
                dimensions=e.dimensions,
                dimension_key=e.dimension_key,
                unique_id=e.unique_id,
            )
            for e in events
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
