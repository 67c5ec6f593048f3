from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from billing_site.roles import ROLES
from billing_site.services import role_of
from customers.models import Customer, PlanAssignment
from customers.services import customer_create, plan_assign
from invoices.closing import close_periods
from invoices.demo import DEMO_USERS, demo_password, guide_seed
from invoices.models import CouponRedemption, Invoice
from meters.models import Meter, UsageEvent
from meters.services import meter_create
from pricing.coupons import coupon_create, describe
from pricing.models import Coupon, Plan, PriceCell, Rate, TaxRate
from pricing.services import plan_create
from pricing.taxes import tax_rate_create

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 30, tzinfo=UTC)
FEBRUARY = datetime(2025, 2, 1, tzinfo=UTC)
MARCH = datetime(2025, 3, 1, tzinfo=UTC)
MODELS = (Meter, Plan, Rate, PriceCell, Customer, PlanAssignment, UsageEvent)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("seed_guide", *args, stdout=out)
    return out.getvalue()


def test_seed_builds_exactly_the_guides_objects() -> None:
    guide_seed(now=NOW)

    # The guide's plan, and the model provider's costs (a cost plan, rated the same way).
    assert counts() == {
        "Meter": 2,
        "Plan": 2,
        "Rate": 4,
        "PriceCell": 10,
        "Customer": 1,
        "PlanAssignment": 1,
        "UsageEvent": 8,
    }
    api_calls = Meter.objects.get(api_name="api-calls")
    assert (api_calls.label, api_calls.meter_type, api_calls.dimensions) == (
        "API calls",
        "count",
        [],
    )
    tokens = Meter.objects.get(api_name="llm-tokens")
    assert (tokens.label, tokens.meter_type, tokens.dimensions) == (
        "LLM tokens",
        "count",
        ["model", "type"],
    )
    plan = Plan.objects.get(kind="price")
    assert (plan.name, plan.billing_period, plan.currency) == (
        "Chatbot Usage Plan",
        "monthly",
        "USD",
    )
    per_unit = Rate.objects.get(meter=api_calls, plan=plan)
    assert per_unit.rate_model == Rate.RateModel.PER_UNIT
    assert [c.unit_price for c in per_unit.cells.all()] == [Decimal("0.01")]
    matrix = Rate.objects.get(meter=tokens, plan=plan)
    assert (matrix.rate_model, matrix.dimensions) == (Rate.RateModel.DIMENSIONS, ["model", "type"])
    assert {tuple(c.dimension_values): c.unit_price for c in matrix.cells.all()} == {
        ("model a", "input"): Decimal("0.00001"),
        ("model a", "output"): Decimal("0.00002"),
        ("model b", "input"): Decimal("0.000005"),
        ("model b", "output"): Decimal("0.00001"),
    }
    customer = Customer.objects.get()
    assert (customer.name, customer.customer_id) == ("Test Customer", "test-customer")
    assignment = PlanAssignment.objects.get()
    assert (assignment.customer, assignment.plan) == (customer, plan)
    # From the start of last month: February's invoice can be issued.
    assert (assignment.start_at, assignment.end_at) == (FEBRUARY, None)
    events = {e.unique_id: e for e in UsageEvent.objects.all()}
    assert sorted(events) == [
        "guide-api-calls-2025-02",
        "guide-api-calls-2025-03",
        "guide-llm-a-input-2025-02",
        "guide-llm-a-input-2025-03",
        "guide-llm-a-output-2025-02",
        "guide-llm-a-output-2025-03",
        "guide-llm-b-input-2025-02",
        "guide-llm-b-input-2025-03",
    ]
    assert events["guide-api-calls-2025-03"].value == Decimal(10)
    assert events["guide-llm-b-input-2025-03"].dimensions == {"model": "model b", "type": "input"}
    assert {e.event_time for e in events.values()} == {
        datetime(2025, 2, 28, 23, tzinfo=UTC),
        datetime(2025, 3, 15, 12, 29, tzinfo=UTC),
    }
    assert {e.customer_id for e in events.values()} == {"test-customer"}


def test_invoice_of_the_current_period_matches_the_guide() -> None:
    invoice = guide_seed(now=NOW).invoice

    assert invoice is not None
    assert invoice.ref.period.start == MARCH
    assert invoice.total == Decimal("0.14")
    assert {line.description: line.amount for line in invoice.lines} == {
        "LLM tokens · model a · input": Decimal("0.01"),
        "LLM tokens · model a · output": Decimal("0.02"),
        "LLM tokens · model b · input": Decimal("0.01"),
        "API calls": Decimal("0.10"),
    }
    assert invoice.unpriced == []


def test_running_twice_changes_nothing() -> None:
    first = guide_seed(now=NOW)
    before = counts()

    second = guide_seed(now=NOW)

    assert counts() == before
    assert second.created == []
    assert (second.events_stored, second.events_already_stored) == (0, 8)
    assert first.invoice is not None and second.invoice is not None
    assert second.invoice.total == first.invoice.total == Decimal("0.14")


def test_command_prints_the_total_and_is_idempotent() -> None:
    first = run_command()
    before = counts()
    second = run_command()

    assert "Created customer Test Customer (test-customer)" in first
    assert "$0.14" in first
    assert counts() == before
    assert "Created" not in second
    assert "stored 0, 8 already there" in second
    assert "$0.14" in second


def test_dry_run_writes_nothing() -> None:
    output = run_command("--dry-run")

    assert counts() == dict.fromkeys(counts(), 0)
    assert "Would create meter LLM tokens (llm-tokens)" in output
    assert "$0.14" in output
    assert "nothing was saved" in output


def test_events_just_after_the_month_starts_stay_in_the_period() -> None:
    now = datetime(2025, 3, 1, 0, 0, 30, 250, tzinfo=UTC)

    invoice = guide_seed(now=now).invoice

    last_month = datetime(2025, 2, 28, 23, tzinfo=UTC)
    assert {e.event_time for e in UsageEvent.objects.all()} == {last_month, MARCH}
    assert invoice is not None and invoice.total == Decimal("0.14")


def test_existing_objects_are_left_as_they_are() -> None:
    meter_create(label="Requests", api_name="api-calls", meter_type="count", dimensions=["region"])
    customer = customer_create(name="Renamed", customer_id="test-customer")
    plan = plan_create(name="Chatbot Usage Plan", billing_period="monthly", currency="USD")
    plan_assign(customer=customer, plan=plan, start_at=datetime(2025, 1, 10, tzinfo=UTC))

    result = guide_seed(now=NOW)

    assert Meter.objects.get(api_name="api-calls").label == "Requests"
    assert Customer.objects.get().name == "Renamed"
    assert PlanAssignment.objects.get().start_at == datetime(2025, 1, 10, tzinfo=UTC)
    assert "plan Chatbot Usage Plan" in result.kept
    assert result.invoice is not None and result.invoice.total == Decimal("0.14")


def test_a_clashing_assignment_stops_the_seed_and_stores_nothing() -> None:
    customer = customer_create(name="Test Customer", customer_id="test-customer")
    other = plan_create(name="Other", billing_period="monthly", currency="USD")
    # Starts after now, so it is not the current assignment, yet it overlaps
    # the open-ended one the guide needs.
    plan_assign(customer=customer, plan=other, start_at=datetime(2099, 1, 1, tzinfo=UTC))

    with pytest.raises(CommandError, match="overlaps the assignment to Other"):
        run_command()

    assert Meter.objects.count() == 0
    assert UsageEvent.objects.count() == 0


def test_a_run_in_a_later_month_shows_the_guides_invoice_for_that_month() -> None:
    guide_seed(now=NOW)
    april = guide_seed(now=datetime(2025, 4, 10, 9, 0, tzinfo=UTC))
    assert april.invoice is not None
    assert april.invoice.total == Decimal("0.14")
    # March's events were already there; April's four are new.
    assert UsageEvent.objects.count() == 12


def test_period_close_issues_last_months_guide_invoice_with_a_number() -> None:
    guide_seed(now=NOW)

    report = close_periods(now=NOW)

    february = Invoice.objects.get(period_start=FEBRUARY)
    assert report.finalized == 1
    assert (february.status, february.number, february.total) == (
        "open",
        "TAL-2025-000001",
        Decimal("0.14"),
    )
    assert Invoice.objects.get(period_start=MARCH).status == "draft"


def test_seed_creates_one_demo_user_per_role_and_prints_their_logins(client: Client) -> None:
    output = run_command()

    assert [role for _, role in DEMO_USERS] == list(ROLES)
    for username, role in DEMO_USERS:
        password = demo_password(username)
        assert f"Demo login ({role}): username {username}, password {password}" in output
        response = client.post("/login/", {"username": username, "password": password})
        assert response.status_code == 302, username
        assert role_of(response.wsgi_request.user) == role
        client.logout()
    assert "Created" not in run_command()


def test_seed_adds_a_coupon_and_a_tax_rate_that_apply_to_no_one() -> None:
    first = guide_seed(now=NOW)
    close_periods(now=NOW)

    coupon = Coupon.objects.get()
    rate = TaxRate.objects.get()
    assert (coupon.code, coupon.name, describe(coupon), coupon.archived_at) == (
        "WELCOME10",
        "Welcome offer",
        "10% off, once",
        None,
    )
    assert (rate.code, rate.name, rate.percentage, rate.country.code, rate.inclusive) == (
        "uk-vat",
        "VAT",
        Decimal("20"),
        "GB",
        False,
    )
    assert "coupon WELCOME10 (10% off, once; given to no one)" in first.created
    assert not CouponRedemption.objects.exists()
    assert not Plan.objects.get(kind="price").tax_rates.exists()
    # The guide's invoice is the guide's: no discount, no tax.
    assert Invoice.objects.get(period_start=FEBRUARY).total == Decimal("0.14")
    assert first.invoice is not None and first.invoice.total == Decimal("0.14")


def test_seed_keeps_an_existing_coupon_and_tax_rate_as_they_are() -> None:
    coupon_create(code="welcome10", name="Spring offer", kind="percentage", value="25", now=NOW)
    tax_rate_create(code="uk-vat", name="VAT", percentage="17.5", country="GB")

    output = run_command()

    assert list(Coupon.objects.values_list("code", "value")) == [("welcome10", Decimal("25"))]
    assert list(TaxRate.objects.values_list("percentage", flat=True)) == [Decimal("17.5")]
    assert "Kept existing coupon WELCOME10" in output
    assert "Kept existing tax rate uk-vat" in output
    assert (Coupon.objects.count(), TaxRate.objects.count()) == (1, 1)


def test_seed_makes_the_providers_costs_the_default_cost_plan_once() -> None:
    first = guide_seed(now=NOW)
    close_periods(now=NOW)

    cost = Plan.objects.get(kind="cost")
    assert (cost.name, cost.is_default_cost) == ("Model provider costs", True)
    assert "cost plan Model provider costs" in first.created
    # February's issued lines carry their cost: 10 calls at $0.0005 → $0.01.
    february = Invoice.objects.get(period_start=FEBRUARY)
    assert february.lines.order_by("position").first().cost == Decimal("0.01")
    again = guide_seed(now=NOW)
    assert "cost plan Model provider costs" not in again.created
    assert Plan.objects.filter(kind="cost").count() == 1
