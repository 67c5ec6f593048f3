"""Checking one usage record against the meters and customers we know.
Pure, no ORM: the caller passes in lookups. Every rejection names the field
and says why, in words an operator can act on.

Invariant: a ValidEvent fits its storage on every database, so the batch
insert cannot fail because of one record's content. Every text is free of NUL
(PostgreSQL refuses it in text and jsonb) and of lone surrogates (not
encodable as UTF-8 at all); IDs fit their 255-character columns; the
canonical dimension key, with its values percent-escaped, fits its
1000-character column; the value fits DecimalField(30, 9). These checks do no
decimal arithmetic, so no decimal context can overflow on them.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from meters.meter_rules import has_control_characters
from meters.naming import dimension_key, normalize_api_name

MAX_FUTURE = timedelta(minutes=5)
# Below 10^20 with 9 places is at most 29 digits: fits DecimalField(30, 9).
MAX_VALUE = Decimal("1e20")
MAX_DECIMAL_PLACES = 9
# The columns' max_length (UsageEvent, Customer, RejectedRecord); a test
# holds these equal to the models.
MAX_ID_LENGTH = 255
MAX_DIMENSION_KEY_LENGTH = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# No usage is older than this; an earlier time is a mistake (seconds sent as
# milliseconds, or 0), refused even when older history is loaded on purpose.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

# What no database column can hold: NUL (PostgreSQL text and jsonb refuse it)
# and lone surrogates (no UTF-8 encoding exists, so neither driver can send them).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
SHOWN_CHARACTERS = 60  # of a received value quoted in a reason
SHOWN_DEPTH = 3
STORED_DEPTH = 32  # of a rejected record's kept copy
TOO_DEEP = "…nested too deep, not kept…"


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


def visible(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """Received text fit for a reason: cut to `limit` characters (with …), NUL
    and lone surrogates written as \\u escapes, so a reason is always storable."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def show(raw: object) -> str:
    """A received value as the sender wrote it in JSON (`true`, `"ten"`, `1.5`),
    shortened (`[[["…nested too deep, not kept…"]]]`, `"aaaa…`)."""
    if isinstance(raw, Decimal):
        return visible(str(raw))
    return visible(json.dumps(_copy(raw, SHOWN_DEPTH, str), ensure_ascii=False))


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD, as a decoder does
    with bytes it cannot read, so any database stores it."""
    return UNSTORABLE.sub(REPLACEMENT, text)


def storable_copy(raw: object) -> object:
    """A received JSON value as a JSONField can always hold it: texts (and keys)
    made storable, exact decimals kept as text, nesting deeper than
    STORED_DEPTH replaced by a marker."""
    return _copy(raw, STORED_DEPTH, storable_text)


def _copy(raw: object, depth: int, text: Callable[[str], str]) -> object:
    # Recursion is bounded by `depth`, however deep the received value.
    if isinstance(raw, str):
        return text(raw)
    if isinstance(raw, Decimal) or (isinstance(raw, float) and not math.isfinite(raw)):
        return str(raw)
    if isinstance(raw, dict | list) and depth <= 0:
        return TOO_DEEP
    if isinstance(raw, dict):
        return {text(str(k)): _copy(v, depth - 1, text) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_copy(v, depth - 1, text) for v in raw]
    if raw is None or isinstance(raw, bool | int | float):
        return raw
    return text(str(raw))


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
    # Decimal(int) and comparisons are exact in any context; nothing here rounds.
    value = Decimal(raw)
    if value.is_nan():
        raise Invalid("meterValue", "meterValue must be a finite number")
    if value < 0:
        raise Invalid("meterValue", "meterValue must not be negative")
    if value >= MAX_VALUE:
        raise Invalid("meterValue", f"meterValue is too large: it must be below {MAX_VALUE:E}")
    if _decimal_places(value) > MAX_DECIMAL_PLACES:
        raise Invalid("meterValue", f"meterValue has more than {MAX_DECIMAL_PLACES} decimal places")
    return value


def _decimal_places(value: Decimal) -> int:
    """Significant digits after the point (1.500 has 1), read from the
    representation rather than computed, so no context can overflow."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if not any(digits):
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def _time(record: Mapping[str, object], now: datetime, backfill: timedelta | None) -> datetime:
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
        raise Invalid("meterTimeInMillis", f"meterTimeInMillis {show(raw)} is not a valid time")
    if moment > now + MAX_FUTURE:
        raise Invalid("meterTimeInMillis", "meterTimeInMillis is more than 5 minutes in the future")
    if moment < EARLIEST:
        raise Invalid("meterTimeInMillis", _too_early(raw, moment, now))
    if backfill is not None and moment < now - backfill:
        raise Invalid(
            "meterTimeInMillis",
            f"meterTimeInMillis {raw} is {moment:%Y-%m-%d}, older than the "
            f"{backfill.days}-day backfill window; older history is loaded on purpose "
            "(the upload's older-history option or the load_usage command)",
        )
    return moment


def _too_early(raw: int, moment: datetime, now: datetime) -> str:
    reason = f"meterTimeInMillis {raw} is {moment:%Y-%m-%d}, before {EARLIEST:%Y-%m-%d}"
    # Read as seconds, would it be a plausible time? Compared in whole seconds,
    # so no datetime arithmetic can overflow.
    earliest_s = (EARLIEST - EPOCH) // timedelta(seconds=1)
    latest_s = (now + MAX_FUTURE - EPOCH) // timedelta(seconds=1)
    if earliest_s <= raw <= latest_s:
        as_seconds = EPOCH + timedelta(seconds=raw)
        return f"{reason}; is it in seconds ({as_seconds:%Y-%m-%d})? Send milliseconds"
    return f"{reason}; send milliseconds since 1970-01-01 UTC"


def _storable(text: str, field: str) -> str:
    found = UNSTORABLE.search(text)
    if found is None:
        return text
    if found.group() == "\x00":
        raise Invalid(field, f"{field} contains a NUL character (\\u0000), which cannot be stored")
    raise Invalid(
        field,
        f"{field} contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid "
        "Unicode; send UTF-8 text",
    )


def _dimensions(record: Mapping[str, object], meter: MeterInfo) -> tuple[dict[str, str], str]:
    """The dimensions and their canonical key, each value storable and the key
    (values percent-escaped, "é" as 6 characters) within its column."""
    raw = record.get("dimensions")
    if raw is None:
        return {}, ""
    if not isinstance(raw, dict):
        raise Invalid("dimensions", "dimensions must be an object of name to text value")
    unknown = sorted(visible(str(k)) for k in raw if k not in meter.dimensions)
    if unknown:
        names = ", ".join(unknown)
        raise Invalid(
            "dimensions", f"meter {meter.api_name!r} does not define the dimension {names}"
        )
    dimensions: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise Invalid("dimensions", f"dimension {key} must be text, got {show(value)}")
        dimensions[str(key)] = _storable(value, "dimensions")
    key = dimension_key(dimensions)
    if len(key) > MAX_DIMENSION_KEY_LENGTH:
        raise Invalid(
            "dimensions",
            f"dimensions are too long: {len(key):,} characters once escaped (the limit is "
            f"{MAX_DIMENSION_KEY_LENGTH:,}; each non-ASCII character counts 6 to 12)",
        )
    return dimensions, key


def text_field(record: Mapping[str, object], field: str) -> str | None:
    """customerId or uniqueId as stored: text or a whole number, trimmed,
    storable and at most MAX_ID_LENGTH characters; None when absent or blank."""
    raw = record.get(field)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise Invalid(field, f"{field} must be text")
    text = _storable(str(raw).strip(), field)
    if len(text) > MAX_ID_LENGTH:
        raise Invalid(field, f"{field} is longer than {MAX_ID_LENGTH} characters")
    if field == "customerId" and has_control_characters(text):
        # The rule every door holds a stored customer ID to (customers.customer_rules):
        # ingestion creates customers, so it must not create one no form could.
        raise Invalid(field, "customerId must not contain control characters (tab, newline…)")
    return text or None


def customer_id_of(record: object) -> str | None:
    """The record's customerId if it is storable (for looking customers up
    before validation), else None."""
    if not isinstance(record, dict):
        return None
    try:
        return text_field(record, "customerId")
    except Invalid:
        return None


def validate_record(
    index: int,
    record: object,
    *,
    meters: Mapping[str, MeterInfo],
    customer_exists: Callable[[str], bool],
    now: datetime,
    default_meter: MeterInfo | None = None,
    default_customer_id: str | None = None,
    backfill: timedelta | None = None,
) -> ValidEvent | Rejection:
    """One record in, a storable event or a rejection (with its position) out.

    `meters` is keyed by normalized API name. A record without uniqueId is
    given a fresh one, so it is stored (and cannot be deduplicated later).
    `backfill` is how far before `now` an event may be (None: any time from
    EARLIEST on, for loading older history on purpose).
    """
    if not isinstance(record, dict):
        return Rejection(index, "a usage record must be a JSON object")
    try:
        meter = _meter(record, meters, default_meter)
        value = _value(record)
        customer_id = text_field(record, "customerId") or default_customer_id
        if not customer_id:
            raise Invalid("customerId", "customerId is missing or empty")
        if not customer_exists(customer_id):
            raise Invalid("customerId", f"unknown customer {customer_id!r}")
        event_time = _time(record, now, backfill)
        dimensions, key = _dimensions(record, meter)
        unique_id = text_field(record, "uniqueId") or str(uuid.uuid4())
    except Invalid as exc:
        return Rejection(index, exc.reason, exc.field)
    return ValidEvent(
        meter_id=meter.id,
        customer_id=customer_id,
        value=value,
        event_time=event_time,
        dimensions=dimensions,
        dimension_key=key,
        unique_id=unique_id,
    )
