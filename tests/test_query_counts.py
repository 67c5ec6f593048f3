# factory_boy's declarations carry no type hints.
# mypy: disable-error-code="no-untyped-call"
"""Every page answers with the same number of SQL queries whatever the size of
the lists it shows: each page is measured on a small seed and again after the
seed has grown to at least 200 rows of its list (36 periods for a customer,
100 rates for a plan, the most a plan may hold), and the two counts must be
equal. An upper bound on the small count catches an N+1 that small data would
hide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from customers.models import Customer
from customers.services import customer_cost_plan_set, plan_assign
from invoices.builder import customer_periods
from invoices.closing import close_periods
from invoices.discounts import coupon_redeem
from invoices.models import Invoice
from invoices.services import draft_ensure
from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter, RejectedRecord, UsageEvent
from meters.naming import dimension_key
from pricing.coupons import coupon_create
from pricing.models import Coupon, Plan, TaxRate
from pricing.schema import MAX_ONE_TIME_FEES
from pricing.services import (
    cost_plan_make_default,
    plan_charges_save,
    plan_create,
    rate_create,
)
from pricing.taxes import tax_rate_create
from tests.factories import CustomerFactory, MeterFactory, PlanFactory, UserFactory, guide_setup
from tests.fixtures import HTMX

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
MANY = 200
MANY_RATES = 100  # a plan holds at most 100 rates
MANY_PERIODS = 40  # more than the 36 the period picker reaches back
# The most queries any page may run (session, user, permissions, the page's own reads).
MOST = 30
# The client may see costs: a page showing usage to date reads the default cost
# plan once to cost it (invoices.margins.Coster), whatever the usage.
COSTS = 1

Get = Callable[[], "Response"]


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def client(client: Client) -> Client:
    # A superuser, so the counts do not depend on how roles are granted.
    client.force_login(UserFactory.create(is_superuser=True))
    return client


@pytest.fixture
def api_client(db: None) -> Client:
    key, raw = api_key_create(name="query counts")
    ApiKey.objects.filter(pk=key.pk).update(scope="full")
    return Client(headers={"X-API-KEY": raw})


def queries(get: Get) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = get()
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)


def assert_flat(get: Get, grow: Callable[[], object], *, most: int = MOST) -> None:
    """`get` runs as many queries after `grow()` as before, and no more than `most`."""
    get()  # warm per-process caches (content types, templates) out of the measure
    small = queries(get)
    grow()
    large = queries(get)
    assert small <= most, f"{small} queries on a small seed"
    assert large == small, f"{small} queries on a small seed, {large} on a large one"


# Batch helpers


def meters(n: int, **kwargs: object) -> list[Meter]:
    return MeterFactory.create_batch(n, **kwargs)


def events(meter: Meter, customer_id: str, times: list[datetime], **dims: str) -> None:
    """One event of value 1 at each of `times`; `dims` with the event's index
    appended to each value, so each event has its own dimension values."""
    start = UsageEvent.objects.count()
    UsageEvent.objects.bulk_create(
        UsageEvent(
            meter=meter,
            customer_id=customer_id,
            value=Decimal("1"),
            event_time=at,
            dimensions=(values := {k: f"{v}{n % 3}" for k, v in dims.items()}),
            dimension_key=dimension_key(values),
            unique_id=f"event-{start + n}",
        )
        for n, at in enumerate(times)
    )


def rejections(n: int, meter: Meter) -> None:
    RejectedRecord.objects.bulk_create(
        RejectedRecord(
            source=RejectedRecord.Source.API,
            batch_id=f"batch-{RejectedRecord.objects.count() + i}",
            index=i,
            meter=meter if i % 2 else None,
            meter_api_name=meter.api_name,
            customer_id=f"customer-{i}",
            field="meterValue",
            reason="meterValue must not be negative",
            record={"meterValue": -1},
        )
        for i in range(n)
    )


def api_keys(n: int) -> None:
    for i in range(n):
        api_key_create(name=f"key {i}")


def coupons(n: int) -> None:
    """`n` coupons, each on two meters and given to a customer."""
    for i, pair in enumerate(zip(*[iter(meters(2 * n))] * 2, strict=True)):
        coupon = coupon_create(
            code=f"C{i}-{Coupon.objects.count()}",
            name=f"Coupon {i}",
            kind="percentage",
            value="10",
            meters=list(pair),
            max_redemptions=5,
            now=NOW,
        )
        coupon_redeem(coupon=coupon, customer=CustomerFactory.create(), now=NOW, actor="test")


def tax_rates(n: int) -> None:
    """`n` tax rates, each charged by two plans."""
    for i in range(n):
        rate = tax_rate_create(
            code=f"t{TaxRate.objects.count()}", name=f"Tax {i}", percentage="20", country="GB"
        )
        for plan in PlanFactory.create_batch(2):
            plan.tax_rates.add(rate)


def customers_on(plan: Plan, n: int) -> None:
    for customer in CustomerFactory.create_batch(n):
        plan_assign(customer=customer, plan=plan, start_at=NOW - timedelta(days=3))


def month_starts(count: int) -> list[datetime]:
    """The first instants of the `count` months up to NOW's, newest first."""
    starts, at = [], NOW.replace(day=1, hour=0, minute=0)
    for _ in range(count):
        starts.append(at)
        at = (at - timedelta(days=1)).replace(day=1)
    return starts


# One meter of each aggregation, dimensional where the aggregation allows.
KINDS: list[dict[str, object]] = [
    {"meter_type": Meter.MeterType.COUNT, "dimensions": ["model"]},
    {"meter_type": Meter.MeterType.EVENT_COUNT, "dimensions": ["model"]},
    {"meter_type": Meter.MeterType.MAX, "dimensions": ["model"]},
    {
        "meter_type": Meter.MeterType.UNIQUE_COUNT,
        "dimensions": ["model", "user"],
        "unique_dimension": "user",
    },
    {"meter_type": Meter.MeterType.LATEST, "dimensions": ["model"]},
]


def usage(meter: Meter, customer_id: str, times: list[datetime]) -> None:
    dims = {"model": "m", "user": "u"} if meter.unique_dimension else {"model": "m"}
    events(meter, customer_id, times, **{d: dims[d] for d in meter.dimensions})


def plan_with_rates(per_kind: int) -> tuple[Plan, list[Meter]]:
    plan = PlanFactory.create()
    priced = [m for kind in KINDS for m in meters(per_kind, **kind)]
    for meter in priced:
        rate_create(plan=plan, meter=meter, unit_price=Decimal("0.01"))
    return plan, priced


def customer_with_history(
    plan: Plan, priced: list[Meter], *, months: int, unpriced: list[Meter]
) -> Customer:
    """A customer on `plan` for `months` months (usage of every priced meter in
    each), with usage of every `unpriced` meter both inside the current period
    and before the assignment began."""
    customer = CustomerFactory.create()
    starts = month_starts(months)
    plan_assign(customer=customer, plan=plan, start_at=starts[-1])
    in_each_month = [at + timedelta(hours=n + 1) for n, at in enumerate(starts)]
    for meter in priced:
        usage(meter, customer.customer_id, in_each_month + [NOW - timedelta(minutes=1)])
    before = starts[-1] - timedelta(days=2)
    for meter in unpriced:
        usage(meter, customer.customer_id, [NOW - timedelta(minutes=2), before])
    return customer


# Meters


def test_meter_list_and_its_partial_are_flat(client: Client) -> None:
    meters(2)
    url = reverse("meters:list")

    assert_flat(lambda: client.get(url), lambda: meters(MANY))
    assert_flat(lambda: client.get(url, headers=HTMX), lambda: meters(MANY))


def test_meter_page_and_its_event_table_are_flat(client: Client) -> None:
    meter, customer = MeterFactory.create(), CustomerFactory.create()
    url = reverse("meters:detail", args=[meter.pk])
    times = [NOW - timedelta(minutes=n) for n in range(1, MANY + 1)]
    events(meter, customer.customer_id, times[:2])

    def grow() -> None:
        events(meter, customer.customer_id, times[2:])
        CustomerFactory.create_batch(MANY)  # the upload form's customer choices

    assert_flat(lambda: client.get(url), grow)
    assert_flat(lambda: client.get(url, {"page": 3}, headers=HTMX), grow)


def test_rejected_records_page_and_its_partial_are_flat(client: Client) -> None:
    meter = MeterFactory.create()
    rejections(2, meter)
    url = reverse("meters:rejected")

    def grow() -> None:
        rejections(MANY, meter)
        meters(MANY)  # the meter filter's choices

    assert_flat(lambda: client.get(url), grow)
    assert_flat(lambda: client.get(url, {"field": "meterValue"}, headers=HTMX), grow)


def test_api_keys_page_and_its_partial_are_flat(client: Client) -> None:
    api_keys(2)
    url = reverse("meters:api_keys")

    assert_flat(lambda: client.get(url), lambda: api_keys(MANY))
    assert_flat(lambda: client.get(url, headers=HTMX), lambda: api_keys(MANY))


# Pricing


def test_plan_list_and_its_partial_are_flat(client: Client) -> None:
    plan, _ = plan_with_rates(1)
    url = reverse("pricing:list")

    def grow() -> None:
        for other in PlanFactory.create_batch(MANY):
            rate_create(plan=other, meter=MeterFactory.create(), unit_price=Decimal("1"))

    assert_flat(lambda: client.get(url), grow)
    assert_flat(lambda: client.get(url, headers=HTMX), grow)


def test_plan_page_its_rates_partial_and_its_export_are_flat() -> None:
    small, _ = plan_with_rates(1)
    large, _ = plan_with_rates(MANY_RATES // len(KINDS))
    meters(MANY)  # the add-rate link asks whether any meter is left
    client = Client()
    client.force_login(UserFactory.create(is_superuser=True))

    for name, headers in [("pricing:detail", {}), ("pricing:detail", HTMX), ("pricing:export", {})]:

        def get(plan: Plan, name: str = name, headers: dict[str, str] = headers) -> Response:
            return client.get(reverse(name, args=[plan.pk]), headers=headers)

        get(small)
        assert queries(lambda: get(small)) <= MOST
        assert queries(lambda: get(large)) == queries(lambda: get(small)), name


def test_coupons_page_and_its_partial_are_flat(client: Client) -> None:
    coupons(2)
    url = reverse("pricing:coupons")

    assert_flat(lambda: client.get(url), lambda: coupons(MANY))
    assert_flat(lambda: client.get(url, headers=HTMX), lambda: coupons(10))


def test_tax_rates_page_and_its_partial_are_flat(client: Client) -> None:
    tax_rates(2)
    url = reverse("pricing:tax_rates")

    assert_flat(lambda: client.get(url), lambda: tax_rates(MANY))
    assert_flat(lambda: client.get(url, headers=HTMX), lambda: tax_rates(10))


def test_cost_plans_page_is_flat(client: Client) -> None:
    def cost_plans(n: int) -> None:
        """`n` cost plans, each with a rate and a customer of its own."""
        for meter in meters(n):
            plan = plan_create(
                name=f"Costs {Plan.objects.count()}",
                billing_period="monthly",
                currency="USD",
                kind="cost",
            )
            rate_create(plan=plan, meter=meter, unit_price=Decimal("0.001"))
            customer_cost_plan_set(customer=CustomerFactory.create(), plan=plan)

    cost_plans(2)
    url = reverse("pricing:cost_plans")

    assert_flat(lambda: client.get(url), lambda: cost_plans(10))


def test_plan_page_is_flat_in_its_fees_and_tax_rates(client: Client) -> None:
    plan, _ = plan_with_rates(1)
    url = reverse("pricing:detail", args=[plan.pk])

    def grow() -> None:
        fees = [{"description": f"Fee {i}", "amount": "5"} for i in range(MAX_ONE_TIME_FEES)]
        plan_charges_save(plan=plan, invoice_minimum="50", one_time_fees=fees)
        tax_rates(MANY)
        plan.tax_rates.set(TaxRate.objects.all())

    assert_flat(lambda: client.get(url), grow)


def test_add_rate_form_is_flat(client: Client) -> None:
    plan = PlanFactory.create()
    meters(2)
    url = reverse("pricing:add_rate", args=[plan.pk])

    assert_flat(lambda: client.get(url), lambda: meters(MANY))


# Customers and invoices


def test_customer_list_and_its_partial_are_flat(client: Client) -> None:
    plan = PlanFactory.create()
    customers_on(plan, 2)
    url = reverse("customers:list")

    assert_flat(lambda: client.get(url), lambda: customers_on(plan, MANY))
    assert_flat(lambda: client.get(url, headers=HTMX), lambda: customers_on(plan, MANY))


@pytest.fixture
def histories() -> Iterator[tuple[Customer, Customer]]:
    """A customer two months on a five-rate plan with usage of one meter outside
    it, and one 40 months on a 100-rate plan with usage of 200 meters outside
    it and before it, every plan in the assign form's choices; each has a
    stored draft invoice for every period the period picker lists."""
    small_plan, small_priced = plan_with_rates(1)
    large_plan, large_priced = plan_with_rates(MANY_RATES // len(KINDS))
    small = customer_with_history(small_plan, small_priced, months=2, unpriced=meters(1))
    large = customer_with_history(
        large_plan, large_priced, months=MANY_PERIODS, unpriced=meters(MANY)
    )
    PlanFactory.create_batch(MANY)
    for customer in (small, large):
        for ref in customer_periods(customer, NOW):
            draft_ensure(assignment=ref.assignment, start=ref.period.start, end=ref.period.end)
    yield small, large


def assert_same_for_both(
    histories: tuple[Customer, Customer], get: Callable[[Customer], Response]
) -> None:
    small, large = histories
    get(small)
    counted = queries(lambda: get(small))
    assert counted <= MOST + COSTS, f"{counted} queries on a small seed"
    assert queries(lambda: get(large)) == counted


def test_customer_page_is_flat_in_periods_rates_and_meters(
    client: Client, histories: tuple[Customer, Customer]
) -> None:
    assert_same_for_both(histories, lambda c: client.get(reverse("customers:detail", args=[c.pk])))


def billing_url(customer: Customer) -> str:
    return reverse("invoices:customer_billing", args=[customer.pk])


def test_customer_billing_page_and_region_are_flat_in_periods_rates_and_meters(
    client: Client, histories: tuple[Customer, Customer]
) -> None:
    assert_same_for_both(histories, lambda c: client.get(billing_url(c)))
    # What the customer page loads into itself.
    assert_same_for_both(histories, lambda c: client.get(billing_url(c), headers=HTMX))


def test_customer_invoice_partial_is_flat_for_any_period(
    client: Client, histories: tuple[Customer, Customer]
) -> None:
    def get(customer: Customer) -> Response:
        # The oldest period listed, picked the way the period picker does.
        oldest = customer_periods(customer, NOW)[-1].token
        return client.get(
            billing_url(customer),
            {"period": oldest, "view": "simplified"},
            headers={**HTMX, "HX-Target": "invoice"},
        )

    assert_same_for_both(histories, get)


def test_invoice_pdf_is_flat(client: Client, histories: tuple[Customer, Customer]) -> None:
    assert_same_for_both(histories, lambda c: client.get(reverse("invoices:pdf", args=[c.pk])))


# The JSON APIs


@pytest.mark.parametrize("path", ["/api/v1/customers", "/amberflo/customers"])
def test_customer_lists_of_the_apis_are_flat(api_client: Client, path: str) -> None:
    plan = PlanFactory.create()
    customers_on(plan, 2)

    assert_flat(lambda: api_client.get(path), lambda: customers_on(plan, MANY))


def test_api_meter_and_plan_lists_are_flat(api_client: Client) -> None:
    plan_with_rates(1)

    def grow() -> None:
        plan_with_rates(MANY_RATES // len(KINDS))
        meters(MANY)
        PlanFactory.create_batch(MANY)

    assert_flat(lambda: api_client.get("/api/v1/meters"), grow)
    assert_flat(lambda: api_client.get("/api/v1/plans"), grow)


def test_api_plan_is_flat_in_its_rates(api_client: Client) -> None:
    small, _ = plan_with_rates(1)
    large, _ = plan_with_rates(MANY_RATES // len(KINDS))

    def get(plan: Plan) -> Response:
        return api_client.get(f"/api/v1/plans/{plan.pk}")

    get(small)
    assert queries(lambda: get(small)) <= MOST
    assert queries(lambda: get(large)) == queries(lambda: get(small))


def test_api_event_list_is_flat(api_client: Client) -> None:
    meter, customer = MeterFactory.create(), CustomerFactory.create()
    times = [NOW - timedelta(minutes=n) for n in range(1, MANY + 1)]
    events(meter, customer.customer_id, times[:2])

    def grow() -> None:
        for other in meters(5):
            events(other, customer.customer_id, times)

    assert_flat(lambda: api_client.get("/api/v1/events", {"limit": 500}), grow)


def test_api_invoices_are_flat_in_periods_rates_and_meters(
    api_client: Client, histories: tuple[Customer, Customer]
) -> None:
    assert_same_for_both(histories, lambda c: api_client.get(f"/api/v1/customers/{c.pk}/invoices"))
    assert_same_for_both(
        histories, lambda c: api_client.get(f"/api/v1/customers/{c.pk}/invoices/current")
    )


# Cost and margin (the client may see costs)


def test_invoice_page_with_costs_is_flat_in_periods_rates_and_meters(
    client: Client, histories: tuple[Customer, Customer]
) -> None:
    def get(customer: Customer) -> Response:
        draft = customer.invoices.order_by("-period_start").first()
        assert draft is not None
        return client.get(reverse("invoices:detail", args=[draft.pk]))

    assert_same_for_both(histories, get)


def test_margin_report_and_its_export_are_flat_in_issued_lines(client: Client) -> None:
    guide = guide_setup(NOW)
    cost = plan_create(name="Costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=cost, meter=guide.api_calls, unit_price=Decimal("0.0005"))
    cost_plan_make_default(plan=cost)
    url = reverse("invoices:margins")

    def issue() -> None:
        close_periods(now=datetime(2025, 4, 2, 1, tzinfo=UTC))
        assert Invoice.objects.exclude(status="draft").exists()

    assert_flat(lambda: client.get(url, {"group_by": "dimension"}), issue)
    assert_flat(lambda: client.get(url, {"_export": "csv"}), lambda: None)
