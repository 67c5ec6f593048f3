"""Amberflo-compatible usage reports: POST /amberflo/usage/, POST
/amberflo/usage/batch and GET /amberflo/usage/all (../shared/COMPAT.md).

A report answers "how much of one meter, per time bucket and per group":
{"metadata": {the query as understood}, "secondsSinceEpochIntervals": [...],
 "clientMeters": [{"group": {"groupInfo": {...}}, "groupValue": n,
                   "values": [{"secondsSinceEpochUtc", "value", "percentageFromPrevious"}]}]}
as Amberflo's own /usage answers. Buckets are UTC hours, days, weeks (starting
Monday) or calendar months; every bucket of the range is listed, empty ones as 0.

Invariants:
- Each report is one grouped query (time bucket + group keys), never a loop
  over events. Time ranges are [start, end), like billing periods, so SUM over
  a billing period equals the invoice's quantity for a count meter.
- Quantities leave as JSON numbers: int when whole, else float. Floats appear
  only here, at the JSON boundary, and only for usage quantities, never money.

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Aggregate, Count, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Trunc
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from meters.machine_http import BadRequest, json_number, machine_api, read_json
from meters.models import ApiKey, Meter, UsageEvent
from meters.naming import normalize_api_name
from meters.sqlite_functions import ExactMax, ExactMin, ExactSum
from meters.validation import EPOCH

MAX_BATCH = 100  # queries in one /usage/batch request
MAX_BUCKETS = 10_000  # time buckets in one report (a year of hours fits)
MAX_POINTS = 500_000  # groups x buckets in one report
CUSTOMER_ID = "customerId"
# Times from the year 3000 on are refused, so bucket arithmetic never overflows.
LATEST_SECONDS = 32_503_680_000
# Amberflo options Tally does not implement: refused rather than silently ignored.
UNSUPPORTED = ("valuesTimeGroupingInterval", "rescaleFunction")


# --- the query ---------------------------------------------------------------


class Aggregation(StrEnum):
    SUM = "SUM"
    COUNT = "COUNT"
    MIN = "MIN"
    MAX = "MAX"


class Interval(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


# A meter's own aggregation, for queries that name none (and /usage/all).
# Unique-count and latest meters have no Amberflo equivalent: their events are
# counted and maxed; metadata.aggregation always says which was used.
DEFAULT_AGGREGATION = {
    Meter.MeterType.COUNT: Aggregation.SUM,
    Meter.MeterType.EVENT_COUNT: Aggregation.COUNT,
    Meter.MeterType.MAX: Aggregation.MAX,
    Meter.MeterType.UNIQUE_COUNT: Aggregation.COUNT,
    Meter.MeterType.LATEST: Aggregation.MAX,
}


@dataclass(frozen=True)
class UsageQuery:
    meter: Meter
    aggregation: Aggregation
    interval: Interval
    start: datetime
    end: datetime
    group_by: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    limit: int | None = None
    ascending: bool = False


def _whole(raw: object, field: str, *, minimum: int = 0) -> int:
    if raw is None:
        raise BadRequest(field, f"{field} is required")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadRequest(field, f"{field} must be a whole number")
    if raw < minimum:
        raise BadRequest(field, f"{field} must be at least {minimum}")
    return raw


def _seconds(raw: object, field: str) -> datetime:
    seconds = _whole(raw, field)
    if seconds >= LATEST_SECONDS:
        raise BadRequest(field, f"{field} {seconds} is not a valid time")
    return EPOCH + timedelta(seconds=seconds)


def _choice[E: StrEnum](raw: object, field: str, choices: type[E]) -> E:
    names = ", ".join(choices)
    if not isinstance(raw, str) or raw.upper() not in choices.__members__:
        raise BadRequest(field, f"{field} must be one of {names}")
    return choices[raw.upper()]


def _texts(raw: object, field: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise BadRequest(field, f"{field} must be a list of strings")
    return tuple(raw)


def _key(name: str, meter: Meter, field: str) -> str:
    if name != CUSTOMER_ID and name not in meter.dimensions:
        known = ", ".join([CUSTOMER_ID, *meter.dimensions])
        raise BadRequest(field, f"meter {meter.api_name!r} has no {name!r}; use one of {known}")
    return name


def parse_query(raw: object, *, now: datetime, prefix: str = "") -> UsageQuery:
    """One Amberflo usage query; BadRequest names the first bad field
    (`prefix` locates the query inside a batch, as in "[1].")."""
    if not isinstance(raw, dict):
        raise BadRequest(prefix.rstrip(".") or "body", "a usage query must be a JSON object")
    for option in UNSUPPORTED:
        if option in raw:
            raise BadRequest(prefix + option, f"{option} is not supported by Tally")
    meter = _meter(raw.get("meterApiName"), prefix + "meterApiName")
    aggregation = DEFAULT_AGGREGATION[Meter.MeterType(meter.meter_type)]
    if raw.get("aggregation") is not None:
        aggregation = _choice(raw["aggregation"], prefix + "aggregation", Aggregation)
    interval = _choice(raw.get("timeGroupingInterval"), prefix + "timeGroupingInterval", Interval)
    start, end = _time_range(raw.get("timeRange"), interval, now, prefix + "timeRange")
    group_by: list[str] = []
    for key in _texts(raw.get("groupBy") or [], prefix + "groupBy"):
        if _key(key, meter, prefix + "groupBy") not in group_by:
            group_by.append(key)
    usage_filter = raw.get("filter") or {}
    if not isinstance(usage_filter, dict):
        raise BadRequest(prefix + "filter", "filter must be an object of name to list of values")
    filters = tuple(
        (_key(key, meter, f"{prefix}filter.{key}"), _texts(values, f"{prefix}filter.{key}"))
        for key, values in usage_filter.items()
    )
    limit, ascending = _take(raw.get("take"), prefix + "take")
    return UsageQuery(
        meter, aggregation, interval, start, end, tuple(group_by), filters, limit, ascending
    )


def _meter(raw: object, field: str) -> Meter:
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest(field, "meterApiName is required")
    meter = Meter.objects.filter(api_name=normalize_api_name(raw)).first()
    if meter is None:
        raise BadRequest(field, f"unknown meter {raw!r}")
    return meter


def _time_range(
    raw: object, interval: Interval, now: datetime, field: str
) -> tuple[datetime, datetime]:
    if not isinstance(raw, dict):
        raise BadRequest(field, "timeRange must be an object")
    start = _seconds(raw.get("startTimeInSeconds"), field + ".startTimeInSeconds")
    end = now
    if raw.get("endTimeInSeconds") is not None:
        end = _seconds(raw["endTimeInSeconds"], field + ".endTimeInSeconds")
    _check_range(start, end, interval, field + ".endTimeInSeconds", field)
    return start, end


def _take(raw: object, field: str) -> tuple[int | None, bool]:
    if raw is None:
        return None, False
    if not isinstance(raw, dict):
        raise BadRequest(field, "take must be an object with limit and isAscending")
    limit = _whole(raw.get("limit"), field + ".limit", minimum=1)
    ascending = raw.get("isAscending", False)
    if not isinstance(ascending, bool):
        raise BadRequest(field + ".isAscending", "take.isAscending must be true or false")
    return limit, ascending


def _check_range(
    start: datetime, end: datetime, interval: Interval, end_field: str, range_field: str
) -> None:
    if end <= start:
        raise BadRequest(end_field, "the time range must end after it starts")
    if len(bucket_starts(start, end, interval)) > MAX_BUCKETS:
        raise BadRequest(
            range_field,
            f"the time range holds more than {MAX_BUCKETS:,} {interval} intervals; "
            "shorten it or use a longer timeGroupingInterval",
        )


# --- time buckets (pure) -----------------------------------------------------


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """The UTC hour, day, week (from Monday) or month containing `moment`."""
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if interval is Interval.HOUR:
        return hour
    day = hour.replace(hour=0)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: datetime, interval: Interval) -> datetime:
    if interval is Interval.MONTH:
        if start.month == 12:
            return start.replace(year=start.year + 1, month=1)
        return start.replace(month=start.month + 1)
    step = {Interval.HOUR: 1, Interval.DAY: 24, Interval.WEEK: 24 * 7}[interval]
    return start + timedelta(hours=step)


def bucket_starts(start: datetime, end: datetime, interval: Interval) -> list[datetime]:
    """Every bucket that overlaps [start, end); stops after MAX_BUCKETS + 1."""
    buckets = [bucket_start(start, interval)]
    while len(buckets) <= MAX_BUCKETS:
        following = next_bucket(buckets[-1], interval)
        if following >= end:
            break
        buckets.append(following)
    return buckets


def epoch_seconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(seconds=1)


def percentage_change(previous: Decimal | None, value: Decimal) -> float:
    """Amberflo's percentageFromPrevious: 0 for the first bucket, 100 from zero."""
    if previous is None or (previous == 0 and value == 0):
        return 0.0
    if previous == 0:
        return 100.0
    return float((value - previous) / previous * 100)


# --- the report ----------------------------------------------------------------

TRUNC_KIND = {
    Interval.HOUR: "hour",
    Interval.DAY: "day",
    Interval.WEEK: "week",
    Interval.MONTH: "month",
}


def _aggregate(aggregation: Aggregation) -> Aggregate:
    # Exact on SQLite too (meters/sqlite_functions.py); plain SUM would add floats.
    if aggregation is Aggregation.SUM:
        return ExactSum("value")
    if aggregation is Aggregation.COUNT:
        return Count("id")
    if aggregation is Aggregation.MIN:
        return ExactMin("value")
    return ExactMax("value")


def grouped_rows(query: UsageQuery) -> list[dict[str, Any]]:
    """The one grouped query: (bucket, group keys...) -> q."""
    events: QuerySet[UsageEvent] = UsageEvent.objects.filter(
        meter=query.meter, event_time__gte=query.start, event_time__lt=query.end
    ).order_by()
    for index, (key, values) in enumerate(query.filters):
        if key == CUSTOMER_ID:
            events = events.filter(customer_id__in=values)
        else:
            # The JSON value (KeyTransform), not its text: Django's `__in` on a
            # key compares JSON values, and would misread bare text on SQLite.
            alias = f"filter_{index}"
            events = events.alias(**{alias: KeyTransform(key, "dimensions")})
            events = events.filter(**{f"{alias}__in": values})
    kind = TRUNC_KIND[query.interval]
    columns = ["bucket", *(_column(key, i) for i, key in enumerate(query.group_by))]
    dimensions = {
        _column(key, i): KeyTextTransform(key, "dimensions")
        for i, key in enumerate(query.group_by)
        if key != CUSTOMER_ID
    }
    return list(
        events.annotate(bucket=Trunc("event_time", kind, tzinfo=UTC), **dimensions)
        .values(*columns)
        .annotate(q=_aggregate(query.aggregation))
    )


def _column(key: str, index: int) -> str:
    return "customer_id" if key == CUSTOMER_ID else f"group_{index}"


def _group_value(aggregation: Aggregation, values: Sequence[Decimal]) -> Decimal:
    if aggregation is Aggregation.MIN:
        return min(values)
    if aggregation is Aggregation.MAX:
        return max(values)
    return sum(values, Decimal(0))


def usage_report(query: UsageQuery) -> dict[str, object]:
    buckets = [epoch_seconds(b) for b in bucket_starts(query.start, query.end, query.interval)]
    columns = [_column(key, i) for i, key in enumerate(query.group_by)]
    groups: dict[tuple[str | None, ...], dict[int, Decimal]] = {}
    if not query.group_by:
        groups[()] = {}  # the meter as a whole: one series, even when empty
    for row in grouped_rows(query):
        key = tuple(row[c] for c in columns)
        bucket = epoch_seconds(row["bucket"])
        groups.setdefault(key, {})[bucket] = Decimal(row["q"] or 0)
    if len(groups) * len(buckets) > MAX_POINTS:
        raise BadRequest(
            "take",
            f"the report would hold {len(groups) * len(buckets):,} values (at most "
            f"{MAX_POINTS:,}); filter, use take.limit or a longer timeGroupingInterval",
        )
    totals = {
        key: _group_value(query.aggregation, list(series.values()) or [Decimal(0)])
        for key, series in groups.items()
    }
    order = sorted(
        groups,
        key=lambda k: (totals[k], tuple((v is not None, v or "") for v in k)),
        reverse=not query.ascending,
    )
    if query.limit is not None:
        order = order[: query.limit]
    return {
        "metadata": _metadata(query),
        "secondsSinceEpochIntervals": buckets,
        "clientMeters": [
            _client_meter(
                dict(zip(query.group_by, key, strict=True)), totals[key], groups[key], buckets
            )
            for key in order
        ],
    }


def _client_meter(
    group: Mapping[str, str | None],
    total: Decimal,
    series: Mapping[int, Decimal],
    buckets: Sequence[int],
) -> dict[str, object]:
    values = []
    previous: Decimal | None = None
    for bucket in buckets:
        value = series.get(bucket, Decimal(0))
        values.append(
            {
                "secondsSinceEpochUtc": bucket,
                "value": json_number(value),
                "percentageFromPrevious": percentage_change(previous, value),
            }
        )
        previous = value
    return {"group": {"groupInfo": dict(group)}, "groupValue": json_number(total), "values": values}


def _metadata(query: UsageQuery) -> dict[str, object]:
    return {
        "meterApiName": query.meter.api_name,
        "aggregation": str(query.aggregation),
        "timeGroupingInterval": str(query.interval),
        "timeRange": {
            "startTimeInSeconds": epoch_seconds(query.start),
            "endTimeInSeconds": epoch_seconds(query.end),
        },
        "groupBy": list(query.group_by),
        "filter": {key: list(values) for key, values in query.filters},
        "take": {"limit": query.limit, "isAscending": query.ascending} if query.limit else None,
    }


# --- the endpoints ---------------------------------------------------------------


@machine_api("POST", scope=ApiKey.Scope.READ)
def usage(request: HttpRequest) -> HttpResponse:
    query = parse_query(read_json(request), now=timezone.now())
    return JsonResponse(usage_report(query))


@machine_api("POST", scope=ApiKey.Scope.READ)
def usage_batch(request: HttpRequest) -> HttpResponse:
    document = read_json(request)
    if not isinstance(document, list):
        raise BadRequest("body", "send a JSON array of usage queries")
    if len(document) > MAX_BATCH:
        raise BadRequest("body", f"{len(document)} queries is more than {MAX_BATCH} a request")
    now = timezone.now()
    queries = [parse_query(raw, now=now, prefix=f"[{i}].") for i, raw in enumerate(document)]
    return JsonResponse([usage_report(query) for query in queries], safe=False)


@machine_api("GET", scope=ApiKey.Scope.READ)
def usage_all(request: HttpRequest) -> HttpResponse:
    """One report per meter, each with the meter's own aggregation; the
    parameters are the query string's (startTimeInSeconds, endTimeInSeconds,
    timeGroupingInterval, groupBy=customerId, customerId)."""
    params = request.GET
    interval = _choice(params.get("timeGroupingInterval"), "timeGroupingInterval", Interval)
    start = _seconds(_query_int(params, "startTimeInSeconds"), "startTimeInSeconds")
    end = timezone.now()
    if params.get("endTimeInSeconds"):
        end = _seconds(_query_int(params, "endTimeInSeconds"), "endTimeInSeconds")
    _check_range(start, end, interval, "endTimeInSeconds", "startTimeInSeconds")
    group_by = params.get("groupBy") or None
    if group_by not in (None, CUSTOMER_ID):
        raise BadRequest("groupBy", f"groupBy can only be {CUSTOMER_ID}")
    customer_id = params.get(CUSTOMER_ID)
    filters = ((CUSTOMER_ID, (customer_id,)),) if customer_id else ()
    reports = [
        usage_report(
            UsageQuery(
                meter,
                DEFAULT_AGGREGATION[Meter.MeterType(meter.meter_type)],
                interval,
                start,
                end,
                (CUSTOMER_ID,) if group_by else (),
                filters,
            )
        )
        for meter in Meter.objects.order_by("api_name")
    ]
    return JsonResponse(reports, safe=False)


def _query_int(params: Mapping[str, str], field: str) -> int | None:
    raw = params.get(field)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise BadRequest(field, f"{field} must be a whole number") from exc
