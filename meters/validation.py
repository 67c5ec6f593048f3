"""Checking one usage record against the meters and customers we know.
Pure, no ORM: the caller passes in lookups. Every rejection names the field
and says why, in words an operator can act on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from meters.naming import dimension_key, normalize_api_name

MAX_FUTURE = timedelta(minutes=5)
MAX_VALUE = Decimal("1e20")
MAX_ID_LENGTH = 255
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MeterInfo:
    id: int
    api_name: str
    dimensions: frozenset[str]


@dataclass(frozen=True)
class ValidEvent:
    meter_id: int
    customer_id: str
    value: Decimal
    event_time: datetime
    dimensions: dict[str, str]
    dimension_key: str
    unique_id: str


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    field: str = ""


def show(raw: object) -> str:
    """A received value as the sender wrote it in JSON (`true`, `"ten"`, `1.5`)."""
    if isinstance(raw, Decimal):
        return str(raw)
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(raw)


class Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _meter(
    record: Mapping[str, object], meters: Mapping[str, MeterInfo], default: MeterInfo | None
) -> MeterInfo:
    raw = record.get("meterApiName")
    if raw is None or raw == "":
        if default is None:
            raise Invalid("meterApiName", "meterApiName is missing")
        return default
    if not isinstance(raw, str):
        raise Invalid("meterApiName", "meterApiName must be a string")
    meter = meters.get(normalize_api_name(raw))
    if meter is None:
        raise Invalid("meterApiName", f"unknown meter {show(raw)}")
    return meter


def _value(record: Mapping[str, object]) -> Decimal:
    raw = record.get("meterValue")
    if raw is None:
        raise Invalid("meterValue", "meterValue is missing")
    # bool is an int in Python, and JSON true passes some SDKs' checks: refuse it.
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal):
        raise Invalid("meterValue", f"meterValue must be a finite number, got {show(raw)}")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - int/Decimal always convert
        raise Invalid("meterValue", "meterValue must be a finite number") from exc
    if not value.is_finite():
        raise Invalid("meterValue", "meterValue must be a finite number")
    if value < 0:
        raise Invalid("meterValue", "meterValue must not be negative")
    if value >= MAX_VALUE:
        raise Invalid("meterValue", "meterValue is too large")
    if value != value.quantize(Decimal("1e-9")):
        raise Invalid("meterValue", "meterValue has more than 9 decimal places")
    return value


def _time(record: Mapping[str, object], now: datetime) -> datetime:
    raw = record.get("meterTimeInMillis")
    if raw is None:
        return now
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Invalid(
            "meterTimeInMillis",
            f"meterTimeInMillis must be whole epoch milliseconds, got {show(raw)}",
        )
    try:
        moment = EPOCH + timedelta(milliseconds=raw) if raw >= 0 else None
    except OverflowError:
        moment = None
    if moment is None:
        raise Invalid("meterTimeInMillis", f"meterTimeInMillis {raw} is not a valid time")
    if moment > now + MAX_FUTURE:
        raise Invalid("meterTimeInMillis", "meterTimeInMillis is more than 5 minutes in the future")
    return moment


def _dimensions(record: Mapping[str, object], meter: MeterInfo) -> dict[str, str]:
    raw = record.get("dimensions")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid("dimensions", "dimensions must be an object of name to text value")
    unknown = sorted(str(k) for k in raw if k not in meter.dimensions)
    if unknown:
        names = ", ".join(unknown)
        raise Invalid(
            "dimensions", f"meter {meter.api_name!r} does not define the dimension {names}"
        )
    for key, value in raw.items():
        if not isinstance(value, str):
            raise Invalid("dimensions", f"dimension {key} must be text, got {show(value)}")
    return {str(k): str(v) for k, v in raw.items()}


def _text(record: Mapping[str, object], field: str) -> str | None:
    raw = record.get(field)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise Invalid(field, f"{field} must be text")
    text = str(raw).strip()
    if len(text) > MAX_ID_LENGTH:
        raise Invalid(field, f"{field} is longer than {MAX_ID_LENGTH} characters")
    return text or None


def validate_record(
    index: int,
    record: object,
    *,
    meters: Mapping[str, MeterInfo],
    customer_exists: Callable[[str], bool],
    now: datetime,
    default_meter: MeterInfo | None = None,
    default_customer_id: str | None = None,
) -> ValidEvent | Rejection:
    """One record in, a storable event or a rejection (with its position) out.

    `meters` is keyed by normalized API name. A record without uniqueId is
    given a fresh one, so it is stored (and cannot be deduplicated later).
    """
    if not isinstance(record, dict):
        return Rejection(index, "a usage record must be a JSON object")
    try:
        meter = _meter(record, meters, default_meter)
        value = _value(record)
        customer_id = _text(record, "customerId") or default_customer_id
        if not customer_id:
            raise Invalid("customerId", "customerId is missing or empty")
        if not customer_exists(customer_id):
            raise Invalid("customerId", f"unknown customer {customer_id!r}")
        event_time = _time(record, now)
        dimensions = _dimensions(record, meter)
        unique_id = _text(record, "uniqueId") or str(uuid.uuid4())
    except Invalid as exc:
        return Rejection(index, exc.reason, exc.field)
    return ValidEvent(
        meter_id=meter.id,
        customer_id=customer_id,
        value=value,
        event_time=event_time,
        dimensions=dimensions,
        dimension_key=dimension_key(dimensions),
        unique_id=unique_id,
    )
