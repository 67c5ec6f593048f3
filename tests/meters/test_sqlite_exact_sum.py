"""Usage values and prices are stored, compared and summed exactly on the
embedded default (SQLite) too.

SQLite has no decimal type: Tally stores decimals as TEXT collated as decimals
(meters/fields.py) and sums through `exact_sum` (meters/sqlite_functions.py),
since SQLite's SUM adds doubles. Usage tests store events through ingestion and
read them back the way an invoice, the meter page or the usage API does. The
same tests run on PostgreSQL, where numeric was always exact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max, Min
from django.test import Client
from django.urls import reverse

from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter, UsageEvent
from meters.selectors import meter_events, usage_partials
from meters.services import events_ingest, meter_create
from meters.sqlite_functions import stored_decimal
from pricing.models import PriceCell, Rate
from pricing.services import plan_create
from tests.fixtures import element, table_rows

D = Decimal
CUSTOMER = "acme"
NOW = datetime(2025, 4, 15, 12, tzinfo=UTC)
SINCE = datetime(2025, 4, 1, tzinfo=UTC)
USAGE = "/amberflo/usage/"
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


def test_a_value_with_more_than_15_significant_digits_is_stored_exactly() -> None:
    meter = meter_with(Meter.MeterType.COUNT, ["12345678901.123456789"])

    assert quantity(meter) == D("12345678901.123456789")
    assert UsageEvent.objects.get().value == D("12345678901.123456789")


def test_events_sort_by_value_as_numbers_on_the_meter_page(admin_client: Client) -> None:
    meter = meter_with(Meter.MeterType.COUNT, ["10", "9", "0.5", "12345678901.123456789", "100"])
    url = reverse("meters:detail", args=[meter.pk])

    def values(sort: str) -> list[str]:
        html = admin_client.get(url, {"sort": sort}).content.decode()
        return [row[2] for row in table_rows(element(html, "event-table"))[1:]]

    ascending = ["0.5", "9", "10", "100", "12,345,678,901.123456789"]
    assert values("value") == ascending
    assert values("-value") == ascending[::-1]


def test_filters_and_plain_min_max_compare_values_as_numbers() -> None:
    meter = meter_with(
        Meter.MeterType.COUNT, ["10", "9", "12345678901.123456789", "12345678901.12345678"]
    )
    events = UsageEvent.objects.filter(meter=meter)

    assert sorted(e.value for e in events.filter(value__gt=D("9"))) == [
        D("10"),
        D("12345678901.12345678"),
        D("12345678901.123456789"),
    ]
    assert events.filter(value=D("12345678901.123456789")).count() == 1
    assert events.aggregate(low=Min("value"), high=Max("value")) == {
        "low": D("9"),
        "high": D("12345678901.123456789"),
    }


def test_the_usage_api_aggregates_values_of_more_than_15_digits_exactly(client: Client) -> None:
    values = ["12345678901234567", "0.5", "0.5", "12345678901234566"]
    meter_with(Meter.MeterType.COUNT, values)
    _, raw = api_key_create(name="usage reader", scope=ApiKey.Scope.READ)
    client.defaults["HTTP_X_API_KEY"] = raw

    def total(aggregation: str) -> object:
        body = {
            "aggregation": aggregation,
            "meterApiName": "storage",
            "timeGroupingInterval": "MONTH",
            "timeRange": {
                "startTimeInSeconds": int(SINCE.timestamp()),
                "endTimeInSeconds": int(NOW.timestamp()) + 1,
            },
        }
        response = client.post(USAGE, json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content
        [group] = response.json()["clientMeters"]
        return group["groupValue"]

    # Whole results are exact JSON integers: a float would have rounded them.
    assert total("SUM") == 24691357802469134
    assert total("MAX") == 12345678901234567
    assert total("MIN") == 0.5


def test_a_30_digit_price_is_stored_and_read_back_exactly(admin_client: Client) -> None:
    price = "123456789012345.123456789012345"  # 30 significant digits
    plan = plan_create(name="Exact plan", billing_period="monthly", currency="USD")
    meter = meter_create(label="Calls", api_name="calls", meter_type="count", dimensions=[])

    response = admin_client.post(
        reverse("pricing:add_rate", args=[plan.pk]),
        {"kind": "usage", "meter": str(meter.pk), "rate_model": "per_unit", "unit_price": price},
    )
    assert response.status_code == 302, response.content.decode()
    cell = PriceCell.objects.get(rate__plan=plan)
    cell.package_price = D("999999999999999.999999999999999")
    cell.save(update_fields=["package_price"])
    Rate.objects.filter(pk=cell.rate_id).update(
        minimum_charge=D(price), base_fee=D("0.000000000000001")
    )

    cell.refresh_from_db()
    rate = Rate.objects.get()
    assert cell.unit_price == D(price)
    assert cell.package_price == D("999999999999999.999999999999999")
    assert (rate.minimum_charge, rate.base_fee) == (D(price), D("0.000000000000001"))
    assert PriceCell.objects.filter(unit_price__gt=D("123456789012345.123456789012344")).exists()


def test_a_negative_price_is_still_refused_by_the_database() -> None:
    plan = plan_create(name="Exact plan", billing_period="monthly", currency="USD")
    meter = meter_create(label="Calls", api_name="calls", meter_type="count", dimensions=[])
    rate = Rate.objects.create(plan=plan, version=plan.current_version, meter=meter)

    with pytest.raises(IntegrityError), transaction.atomic():
        PriceCell.objects.create(rate=rate, unit_price=D("-0.000000000000001"))
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceCell.objects.create(rate=rate, package_size=D("0.000000000"))
    PriceCell.objects.create(rate=rate, unit_price=D("0"), package_size=D("0.000000001"))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's columns do not change")
@pytest.mark.django_db(transaction=True)
def test_an_existing_sqlite_database_keeps_its_values_through_the_migration() -> None:
    executor = MigrationExecutor(connection)
    before = [("meters", "0004_rejected_received_at"), ("pricing", "0002_price_models")]
    executor.migrate(before)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO meters_meter (label, api_name, meter_type, dimensions, "
            "unique_dimension, created_at) VALUES ('S', 's', 'count', '[]', '', %s)",
            [NOW.isoformat()],
        )
        meter_id = cursor.lastrowid
        # What the old NUMERIC column held: doubles (0.1, a value cut to 15
        # digits, a billionth) and an integer larger than a double holds exactly.
        old = [0.1, 12345678901.1235, 0.000000001, 12345678901234567]
        for i, value in enumerate(old):
            cursor.execute(
                "INSERT INTO meters_usageevent (meter_id, customer_id, value, event_time, "
                "dimensions, dimension_key, unique_id, received_at) "
                "VALUES (%s, 'acme', %s, %s, '{}', '', %s, %s)",
                [meter_id, value, NOW.isoformat(), f"e{i}", NOW.isoformat()],
            )
        cursor.execute("SELECT typeof(value) FROM meters_usageevent ORDER BY id")
        assert [t for (t,) in cursor.fetchall()] == ["real", "real", "real", "integer"]
    # Prices written by the old DecimalField, and what it read back from them.
    old_apps = executor.loader.project_state(before).apps
    plan = old_apps.get_model("pricing", "Plan").objects.create(name="P", currency="USD")
    old_rate = old_apps.get_model("pricing", "Rate").objects.create(
        plan=plan, meter_id=meter_id, minimum_charge=D("0.1"), base_fee=D("12.5")
    )
    old_cell = old_apps.get_model("pricing", "PriceCell").objects.create(
        rate=old_rate,
        unit_price=D("0.000000001234567"),
        package_price=D("123456789012345.123456789012345"),
        package_size=D("1000"),
        free_units=D("0.000000001"),
    )
    old_rate.refresh_from_db()
    old_cell.refresh_from_db()
    price_fields = ["unit_price", "package_price", "package_size", "free_units"]

    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT value, typeof(value) FROM meters_usageevent ORDER BY id")
        assert cursor.fetchall() == [
            ("0.100000000", "text"),
            ("12345678901.123500000", "text"),
            ("0.000000001", "text"),
            ("12345678901234567.000000000", "text"),
        ]
    assert [e.value for e in UsageEvent.objects.order_by("id")] == [
        D("0.1"),
        D("12345678901.1235"),
        D("0.000000001"),
        D("12345678901234567"),
    ]
    rate = Rate.objects.get()
    cell = PriceCell.objects.get()
    assert (rate.minimum_charge, rate.base_fee) == (old_rate.minimum_charge, old_rate.base_fee)
    assert [getattr(cell, f) for f in price_fields] == [getattr(old_cell, f) for f in price_fields]
    assert cell.package_price == D("123456789012345")  # the old column had cut it
