"""A customer's invoices over the API: the periods, one invoice as JSON built
by invoices.builder.build_invoice (the page's and the PDF's code), and the
periods that do not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from time_machine import TimeMachineFixture

from customers.services import assignment_end
from invoices.builder import build_invoice, current_period
from meters.services import events_ingest
from pricing.price_models import CellPrice
from pricing.schema import RateDraft
from pricing.services import plan_create, rate_save
from tests.api.conftest import Api, errors
from tests.factories import CustomerFactory, Guide, guide_records, guide_setup, millis

pytestmark = pytest.mark.django_db

FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)


def test_periods_list_the_current_one_and_past_ones_with_usage(
    api: Api, db: None, time_machine: TimeMachineFixture
) -> None:
    now = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    guide = guide_setup(now, start_at=datetime(2025, 1, 1, tzinfo=UTC))
    february = [{**r, "uniqueId": f"feb-{r['uniqueId']}"} for r in guide_records(FEB)]
    events_ingest(records=february, now=now, allow_backfill=True)

    periods = api.get(f"/customers/{guide.customer.pk}/invoices").json()

    # January had no usage, so only the current period and February are listed.
    assert periods == [
        {
            "period": f"{guide.assignment.pk}@2025-03-01T00:00:00Z",
            "start": "2025-03-01T00:00:00Z",
            "end": "2025-04-01T00:00:00Z",
            "is_current": True,
            "plan": "Chatbot Usage Plan",
            "assignment_id": guide.assignment.pk,
        },
        {
            "period": f"{guide.assignment.pk}@2025-02-01T00:00:00Z",
            "start": "2025-02-01T00:00:00Z",
            "end": "2025-03-01T00:00:00Z",
            "is_current": False,
            "plan": "Chatbot Usage Plan",
            "assignment_id": guide.assignment.pk,
        },
    ]
    past = api.get(
        f"/customers/{guide.customer.pk}/invoices/{guide.assignment.pk}@2025-02-01T00:00:00Z"
    ).json()
    assert past["total"] == "0.14"
    assert past["period"]["is_current"] is False


def test_current_names_the_current_period(api: Api, guide: Guide) -> None:
    url = f"/customers/{guide.customer.pk}/invoices"

    current = api.get(f"{url}/current").json()
    by_token = api.get(f"{url}/{guide.assignment.pk}@2025-03-01T00:00:00Z").json()

    assert current == by_token
    assert current["period"]["period"] == f"{guide.assignment.pk}@2025-03-01T00:00:00Z"


def test_the_invoice_json_is_the_builders_invoice(api: Api, guide: Guide, now: datetime) -> None:
    ref = current_period(guide.customer, now)
    assert ref is not None
    invoice = build_invoice(guide.customer, ref)

    answer = api.get(f"/customers/{guide.customer.pk}/invoices/current").json()

    assert answer["total"] == str(invoice.total)
    assert [s["subtotal"] for s in answer["sections"]] == [
        str(s.subtotal) for s in invoice.sections
    ]
    assert [line["amount"] for s in answer["sections"] for line in s["lines"]] == [
        str(line.amount) for line in invoice.lines
    ]
    assert answer["customer"] == {
        "id": guide.customer.pk,
        "customer_id": "test-customer",
        "name": "Test Customer",
    }


def test_base_fees_and_minimums_are_lines_of_their_own_kind(
    api: Api, guide: Guide, now: datetime
) -> None:
    plan = plan_create(name="With fees", billing_period="monthly", currency="JPY")
    price = CellPrice(unit_price=Decimal("1"))
    draft = RateDraft(
        "api-calls", "per_unit", (), (((), price),), None, Decimal(1000), Decimal(500)
    )
    rate_save(plan=plan, meter=guide.api_calls, draft=draft)
    assignment_end(assignment=guide.assignment, end_at=now - timedelta(seconds=30))
    customer = guide.customer
    url = f"/customers/{customer.pk}/assignments"
    api.post(url, {"plan_id": plan.pk, "start_at": (now - timedelta(seconds=30)).isoformat()})

    invoice = api.get(f"/customers/{customer.pk}/invoices/current").json()

    assert invoice["currency"] == "JPY"
    kinds = [(line["kind"], line["unit_price"]) for line in invoice["sections"][0]["lines"]]
    assert kinds == [("usage", "1"), ("base_fee", None), ("minimum", None)]
    assert invoice["sections"][0]["subtotal"] == invoice["total"] == "1500"


def test_an_unknown_period_is_404(api: Api, guide: Guide) -> None:
    url = f"/customers/{guide.customer.pk}/invoices"

    pk = guide.assignment.pk
    for period in [
        "999@2025-03-01T00:00:00Z",  # no such assignment
        f"{pk}@2025-03-02T00:00:00Z",  # not a period start
        f"{pk}@2025-05-01T00:00:00Z",  # not begun yet
        f"{pk}@2025-02-01T00:00:00Z",  # before the assignment
        f"{pk}-0",  # the old index form
        "soon",
        f"{pk}@2025-13-01T00:00:00Z",
    ]:
        response = api.get(f"{url}/{period}")
        assert response.status_code == 404, period
        assert errors(response) == [
            ("", f"Test Customer has no invoice for the period {period!r}.")
        ]


def test_a_customer_without_a_plan_has_no_periods_and_no_current_invoice(
    api: Api, now: datetime
) -> None:
    customer = CustomerFactory.create(name="Idle")

    assert api.get(f"/customers/{customer.pk}/invoices").json() == []
    assert api.get(f"/customers/{customer.pk}/invoices/current").status_code == 404


def test_another_customers_period_is_not_found(api: Api, guide: Guide, now: datetime) -> None:
    other = CustomerFactory.create()

    response = api.get(f"/customers/{other.pk}/invoices/{guide.assignment.pk}@2025-03-01T00:00:00Z")

    assert response.status_code == 404


def test_usage_events_sent_after_the_invoice_change_it(
    api: Api, guide: Guide, now: datetime
) -> None:
    more = {
        "meterApiName": "api-calls",
        "meterValue": 90,
        "customerId": "test-customer",
        "meterTimeInMillis": millis(now - timedelta(seconds=5)),
        "uniqueId": "more-calls",
    }
    api.post("/events", [more])

    invoice = api.get(f"/customers/{guide.customer.pk}/invoices/current").json()

    assert invoice["sections"][0]["lines"][0]["quantity"] == "100"
    assert invoice["total"] == "1.04"
