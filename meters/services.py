"""Writes for meters and usage. Each function is atomic and keyword-only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from meters.customer_directory import customer_directory
from meters.event_store import insert_new, unique_in_batch
from meters.meter_rules import check_meter
from meters.models import Meter, RejectedRecord
from meters.naming import normalize_api_name
from meters.records import BadRecord
from meters.validation import (
    MeterInfo,
    Rejection,
    ValidEvent,
    customer_id_of,
    storable_copy,
    storable_text,
    validate_record,
)


@transaction.atomic
def meter_create(
    *,
    label: str,
    api_name: str,
    meter_type: str,
    dimensions: Sequence[str],
    unique_dimension: str = "",
) -> Meter:
    """Create a meter held to meters.meter_rules, whichever door calls.

    Raises ValidationError keyed by field. A taken API name is refused with
    the same message whether the check or the unique constraint (a concurrent
    request with the same name) finds it."""
    fields, problems = check_meter(
        label=label,
        api_name=api_name,
        meter_type=meter_type,
        dimensions=list(dimensions),
        unique_dimension=unique_dimension,
    )
    if problems:
        raise ValidationError(problems)
    meter = Meter(**asdict(fields))
    meter.full_clean()
    try:
        with transaction.atomic():
            meter.save()
    except IntegrityError as exc:
        if not Meter.objects.filter(api_name=meter.api_name).exists():
            raise
        taken = meter.unique_error_message(Meter, ("api_name",))
        raise ValidationError({"api_name": taken}) from exc
    return meter


@transaction.atomic
def meter_update(*, meter: Meter, label: str) -> Meter:
    """Change the meter's label, held to the create rules (meters.meter_rules).

    Only the label: events address the meter by its API name and carry its
    dimensions, and rates and invoices read its type, so changing those would
    reinterpret usage already stored. Raises ValidationError on `label`."""
    fields, problems = check_meter(
        label=label,
        api_name=meter.api_name,
        meter_type=meter.meter_type,
        dimensions=list(meter.dimensions),
        unique_dimension=meter.unique_dimension,
    )
    if "label" in problems:
        raise ValidationError({"label": problems["label"]})
    meter.label = fields.label
    meter.save(update_fields=["label"])
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


def _named_customers(records: Sequence[object], default: str | None) -> set[str]:
    # Only storable IDs are looked up: a NUL or lone surrogate would fail the
    # query itself, and such a record is rejected anyway.
    wanted = {default} if default else set()
    for record in records:
        customer_id = customer_id_of(record)
        if customer_id:
            wanted.add(customer_id)
    return wanted


def events_ingest(
    *,
    records: Sequence[object],
    default_meter: Meter | None = None,
    default_customer_id: str | None = None,
    now: datetime | None = None,
    create_customers: bool = False,
    source: str = RejectedRecord.Source.UPLOAD,
    allow_backfill: bool = False,
) -> IngestResult:
    """Validate each record on its own and store the good ones.

    Invariants: a bad record never stops the good ones beside it; a record whose
    (meter, uniqueId) is already stored, or repeated earlier in the same batch,
    is a duplicate and changes nothing; the unique constraint backs this up
    against concurrent writers. Every rejection is kept as a RejectedRecord.
    With `create_customers` (the ingestion API), an unknown customerId is not
    refused: the customer is created, marked as created by ingestion, so no
    usage is lost. Customers are looked up and created through the customer
    directory (meters/customer_directory.py). A record older than
    INGEST_BACKFILL_DAYS before `now` is rejected unless `allow_backfill` (an
    operator loading older history on purpose); a time before 2000 is rejected
    always.

    Every ValidEvent fits its columns (validation.py), and every kept rejection
    is made storable (_keep_rejections), so no record's content can fail the
    request.
    """
    now = now or timezone.now()
    backfill = None if allow_backfill else timedelta(days=settings.INGEST_BACKFILL_DAYS)
    meters = meter_infos()
    default = meters.get(default_meter.api_name) if default_meter else None
    customers = customer_directory()
    known = customers.known(_named_customers(records, default_customer_id))
    exists = (lambda _cid: True) if create_customers else known.__contains__
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
            customer_exists=exists,
            now=now,
            default_meter=default,
            default_customer_id=default_customer_id,
            backfill=backfill,
        )
        if isinstance(outcome, Rejection):
            result.rejected.append(outcome)
        else:
            valid.append(outcome)
    fresh = unique_in_batch(valid)
    if create_customers:
        customers.create({e.customer_id for e in fresh} - known)
    result.accepted = insert_new(fresh, received_at=now)
    result.duplicates = len(valid) - result.accepted
    _keep_rejections(
        records,
        result.rejected,
        meters,
        source,
        default_meter=default,
        default_customer_id=default_customer_id,
    )
    return result


def _keep_rejections(
    records: Sequence[object],
    rejected: list[Rejection],
    meters: dict[str, MeterInfo],
    source: str,
    *,
    default_meter: MeterInfo | None = None,
    default_customer_id: str | None = None,
) -> None:
    """Keep each rejection as a RejectedRecord. Whatever was received, the row
    is storable: texts have NUL and lone surrogates replaced by U+FFFD and are
    cut to their columns, the record copy is made storable too
    (validation.storable_copy), so keeping rejections never fails a request.
    A record without its own meterApiName or customerId (or one that was not
    even readable) is listed under the meter and customer the upload picked."""
    if not rejected:
        return
    batch, received_at = uuid.uuid4().hex, timezone.now()
    rows = []
    for r in rejected:
        raw = records[r.index]
        record = raw if isinstance(raw, dict) else None
        name = record.get("meterApiName") if record else None
        customer = record.get("customerId") if record else None
        if name in (None, "") and default_meter is not None:
            name = default_meter.api_name
        if customer in (None, "") and default_customer_id:
            customer = default_customer_id
        meter = meters.get(normalize_api_name(name)) if isinstance(name, str) else None
        rows.append(
            RejectedRecord(
                received_at=received_at,
                source=source,
                batch_id=batch,
                index=r.index,
                field=r.field,
                reason=storable_text(r.reason)[:500],
                record=_json_safe(raw),
                meter_id=meter.id if meter else None,
                meter_api_name=storable_text(name)[:255] if isinstance(name, str) else "",
                customer_id=storable_text(customer)[:255] if isinstance(customer, str) else "",
            )
        )
    RejectedRecord.objects.bulk_create(rows, batch_size=1000)


def _json_safe(raw: object) -> object:
    """The record as received, for a JSONField (exact decimals kept as text,
    unstorable characters replaced); None for a line that was not even valid JSON."""
    if isinstance(raw, BadRecord):
        return None
    return storable_copy(raw)
