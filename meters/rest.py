"""The native JSON API for meters and usage events (mounted by billing_site/api.py).

Events are sent in our own record format, the one the upload and /ingest/
read (meterApiName, meterValue, customerId, meterTimeInMillis, uniqueId,
dimensions), and go through the same `events_ingest`: each record is checked
on its own, duplicates are skipped, and the answer counts them like /ingest/.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import P, PathEx, QueryEx, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict

from meters.machine_http import ApiKeyAuth, BadRequest, read_records
from meters.models import ApiKey, Meter, RejectedRecord, UsageEvent
from meters.naming import normalize_api_name
from meters.services import events_ingest, meter_create, meter_update
from meters.validation import EPOCH

# Objects are named by their id in paths: /meters/{id}.
ObjectId = PathEx[int, P(alias="id")]

router = Router()

MAX_EVENTS_PAGE = 1000


class BodyRefused(HttpError):
    """A request body we will not read (too large, not JSON); 400 or 413."""

    def __init__(self, status_code: int, message: str, field: str = "body") -> None:
        super().__init__(status_code, message)
        self.field = field


class MeterIn(Schema):
    label: str
    api_name: str
    meter_type: Meter.MeterType = Meter.MeterType.COUNT
    dimensions: list[str] = []
    unique_dimension: str = ""


class MeterOut(Schema):
    id: int
    label: str
    api_name: str
    meter_type: Meter.MeterType
    dimensions: list[str]
    unique_dimension: str
    created_at: datetime


class EventOut(Schema):
    id: int
    meter: str  # the meter's API name
    customer_id: str
    value: str  # exact, e.g. "1000" or "2.5"
    time: datetime
    time_in_millis: int
    dimensions: dict[str, str]
    unique_id: str
    received_at: datetime


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None  # pass as `cursor` for the next (older) page


class RejectionOut(Schema):
    index: int
    field: str
    reason: str


class IngestOut(Schema):
    accepted: int
    duplicates: int
    rejected: list[RejectionOut]


def aware(moment: datetime) -> datetime:
    """A time without an offset is read in the billing time zone (TIME_ZONE),
    the zone the pages show and billing periods use."""
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def get_meter(pk: int) -> Meter:
    meter = Meter.objects.filter(pk=pk).first()
    if meter is None:
        raise Http404(f"No meter with id {pk}.")
    return meter


# /meters


@router.get("/meters", response=list[MeterOut], tags=["meters"], summary="List meters")
def meter_list(request: HttpRequest) -> list[Meter]:
    """Every meter, by label."""
    return list(Meter.objects.order_by("label", "pk"))


@router.get("/meters/{id}", response=MeterOut, tags=["meters"], summary="Get a meter")
def meter_detail(request: HttpRequest, pk: ObjectId) -> Meter:
    return get_meter(pk)


@router.post("/meters", response={201: MeterOut}, tags=["meters"], summary="Create a meter")
def meter_add(request: HttpRequest, payload: MeterIn) -> Status[Meter]:
    """Create a meter. `api_name` is what events send as meterApiName. The
    rules are the create page's (meters.meter_rules): a label, a slug API name,
    at most 20 dimensions, each a distinct name (letters, digits, "_", "-",
    "."), and a unique-count meter counts one of them; a broken rule is a 400
    naming its field."""
    return Status(201, meter_create(**payload.model_dump()))


class MeterPatch(Schema):
    # Any other field (api_name, meter_type, dimensions...) is refused by
    # name rather than ignored: events and rates depend on those.
    model_config = ConfigDict(extra="forbid")

    label: str | None = None


@router.patch("/meters/{id}", response=MeterOut, tags=["meters"], summary="Change a meter")
def meter_change(request: HttpRequest, pk: ObjectId, payload: MeterPatch) -> Meter:
    """Change the meter's `label` (the create rules apply; a broken one is a
    400 on `label`). The API name, type and dimensions are fixed once the
    meter exists, since events address it by them: sending one is a 422
    naming the field."""
    meter = get_meter(pk)
    if payload.label is not None:
        meter_update(meter=meter, label=payload.label)
    return meter


# /events


def _event_json(event: UsageEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "meter": event.meter.api_name,
        "customer_id": event.customer_id,
        "value": format(event.value.normalize(), "f"),
        "time": event.event_time,
        "time_in_millis": (event.event_time - EPOCH) // timedelta(milliseconds=1),
        "dimensions": event.dimensions,
        "unique_id": event.unique_id,
        "received_at": event.received_at,
    }


def encode_cursor(event: UsageEvent) -> str:
    raw = json.dumps([event.event_time.isoformat(), event.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Q:
    """The events that come after the cursor's event in list order (newest
    first; `-pk` breaks ties between events at the same time)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, pk = json.loads(raw)
        at = datetime.fromisoformat(moment)
        if not isinstance(pk, int) or at.tzinfo is None:
            raise ValueError(cursor)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": "is not a cursor this API gave out"}) from exc
    return Q(event_time__lt=at) | Q(event_time=at, pk__lt=pk)


@router.get("/events", response=EventPage, tags=["events"], summary="List usage events")
def event_list(
    request: HttpRequest,
    meter: str = "",
    customer: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_EVENTS_PAGE)] = 100,
    cursor: str = "",
) -> dict[str, Any]:
    """Stored events, newest first. Filters: `meter` (API name), `customer`
    (the customerId events were sent with), `start` <= time < `end` (ISO 8601;
    without an offset, in the billing time zone). Page with `limit`, passing
    the previous page's `next_cursor` as `cursor`."""
    events = UsageEvent.objects.select_related("meter").order_by("-event_time", "-pk")
    if meter:
        found = Meter.objects.filter(api_name=normalize_api_name(meter)).first()
        if found is None:
            raise ValidationError({"meter": f"unknown meter {meter!r}"})
        events = events.filter(meter=found)
    if customer:
        events = events.filter(customer_id=customer)
    if start is not None:
        events = events.filter(event_time__gte=aware(start))
    if end is not None:
        events = events.filter(event_time__lt=aware(end))
    if cursor:
        events = events.filter(decode_cursor(cursor))
    page = list(events[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [_event_json(e) for e in page],
        "next_cursor": encode_cursor(page[-1]) if more else None,
    }


RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["meterApiName", "meterValue", "customerId"],
    "properties": {
        "meterApiName": {"type": "string", "description": "The meter's API name."},
        "meterValue": {"type": "number", "description": "Finite, not negative."},
        "customerId": {"type": "string"},
        "meterTimeInMillis": {
            "type": "integer",
            "description": "Epoch milliseconds; default now; at most 5 minutes ahead.",
        },
        "uniqueId": {
            "type": "string",
            "description": "Idempotency key per meter; a resent record is a duplicate.",
        },
        "dimensions": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
RECORD_EXAMPLE = {
    "meterApiName": "llm-tokens",
    "meterValue": 1000,
    "customerId": "test-customer",
    "meterTimeInMillis": 1741694400000,
    "uniqueId": "req-42-input",
    "dimensions": {"model": "model a", "type": "input"},
}
EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "array", "items": RECORD_SCHEMA}, RECORD_SCHEMA]},
                "example": [RECORD_EXAMPLE],
            }
        },
    }
}


def _records(request: HttpRequest) -> list[object]:
    """The body's records, read exactly as /ingest/ reads them."""
    try:
        return read_records(request)
    except BadRequest as exc:
        raise BodyRefused(exc.status, exc.message, exc.field) from exc


@router.post(
    "/events",
    response=IngestOut,
    tags=["events"],
    openapi_extra=EVENTS_BODY,
    summary="Send usage events",
    auth=ApiKeyAuth(scopes=(ApiKey.Scope.INGEST,)),
)
def event_send(request: HttpRequest) -> dict[str, Any]:
    """Send usage records (gzip or plain JSON). Each record is checked on its
    own, so a bad one never blocks the good ones: the answer counts accepted
    and duplicate records and gives each rejection's index, field and reason.
    Like /ingest/, an unknown customerId creates the customer (marked as
    created by ingestion), so no usage is lost."""
    result = events_ingest(
        records=_records(request), create_customers=True, source=RejectedRecord.Source.API
    )
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [
            {"index": r.index, "field": r.field, "reason": r.reason} for r in result.rejected
        ],
    }
