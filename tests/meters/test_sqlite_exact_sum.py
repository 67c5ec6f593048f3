"""Usage sums and maxima are exact on the embedded default (SQLite) too.

SQLite keeps a usage value as a double and its SUM adds doubles; Tally sums
through `exact_sum` (meters/sqlite_functions.py) instead. Each test stores its
events through ingestion and reads them back the way an invoice does
(meters.selectors.usage_partials). The same tests run on PostgreSQL, where
numeric was always exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from meters.models import Meter
from meters.selectors import meter_events, usage_partials
from meters.services import events_ingest, meter_create
from meters.sqlite_functions import stored_decimal

D = Decimal
CUSTOMER = "acme"
NOW = datetime(2025, 4, 15, 12, tzinfo=UTC)
SINCE = datetime(2025, 4, 1, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def meter_with(meter_type: str, values: list[str]) -> Meter:
    meter = meter_create(label="Storage", api_name="storage", meter_type=meter_type, dimensions=[])
    records = [
        {
            "meterApiName": "storage",
            "meterValue": D(value),
            "customerId": CUSTOMER,
            "uniqueId": f"event-{i}",
        }
        for i, value in enumerate(values)
    ]
    result = events_ingest(records=records, now=NOW, create_customers=True)
    assert (result.accepted, result.rejected) == (len(values), []), result
    return meter


def quantity(meter: Meter) -> Decimal:
    [part] = usage_partials(meter, meter_events(meter, CUSTOMER, SINCE, None))
    return part.quantity


def float_sum(meter: Meter) -> float:
    """What the database's own SUM answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT SUM(value) FROM meters_usageevent WHERE meter_id = %s", [meter.pk])
        return float(cursor.fetchone()[0])


def test_a_tiny_event_beside_a_large_one_is_not_lost_in_the_sum() -> None:
    # Each value fits a double exactly enough; their sum (21 digits) does not.
    meter = meter_with(Meter.MeterType.COUNT, ["99999999999.9", "0.000000001"])

    assert quantity(meter) == D("99999999999.900000001")
    if connection.vendor == "sqlite":
        assert float_sum(meter) == 99999999999.9  # what SQLite's SUM says


def test_many_fractional_events_sum_to_their_true_total() -> None:
    # 1,000 events of a billionth and 1,000 of 99999999.9: 17 digits in all,
    # more than SQLite's float SUM carries.
    values = ["0.000000001"] * 1000 + ["99999999.9"] * 1000
    meter = meter_with(Meter.MeterType.COUNT, values)

    assert quantity(meter) == D("99999999900.000001")
    if connection.vendor == "sqlite":
        assert D(repr(float_sum(meter))) != D("99999999900.000001")


def test_the_largest_fractional_event_is_read_exactly() -> None:
    meter = meter_with(Meter.MeterType.MAX, ["0.1", "99999.000000001", "0.3"])

    assert quantity(meter) == D("99999.000000001")


def test_a_latest_fractional_value_is_read_exactly() -> None:
    meter = meter_with(Meter.MeterType.LATEST, ["0.3"])

    assert quantity(meter) == D("0.3")


def test_a_meter_without_events_in_the_period_has_no_usage() -> None:
    meter = meter_with(Meter.MeterType.COUNT, [])

    assert usage_partials(meter, meter_events(meter, CUSTOMER, SINCE, None)) == []


def test_stored_values_read_back_as_the_decimal_written() -> None:
    # A double holds any decimal of at most 15 significant digits exactly
    # enough to give it back; integers come back as they were.
    assert stored_decimal(0.1) == D("0.1")
    assert stored_decimal(99999999999.9) == D("99999999999.9")
    assert stored_decimal(12345678901234567) == D("12345678901234567")
    assert stored_decimal("12345678901.123456789") == D("12345678901.123456789")


@pytest.mark.xfail(
    connection.vendor == "sqlite",
    strict=True,
    reason="SQLite's NUMERIC column keeps 15 significant digits; storing usage values "
    "exactly needs a TEXT column (a meters migration), see docs/PRICING.md",
)
def test_a_value_with_more_than_15_significant_digits_is_stored_exactly() -> None:
    meter = meter_with(Meter.MeterType.COUNT, ["12345678901.123456789"])

    assert quantity(meter) == D("12345678901.123456789")
