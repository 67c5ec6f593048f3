# factory_boy's declarations (Sequence, LazyAttribute...) carry no type hints.
# mypy: disable-error-code="no-untyped-call"
"""Deterministic test data: factories for single objects, and `guide_setup`
for the whole scenario of the guide "Billing for LLM tokens".

Factories use sequences for names and IDs and never random values; money is
only ever given as Decimal("…") literals by the test that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from factory.declarations import LazyAttribute, LazyFunction, Sequence
from factory.django import DjangoModelFactory, Password

from customers.models import Customer, PlanAssignment
from customers.services import customer_create, plan_assign
from meters.models import Meter
from meters.services import IngestResult, events_ingest, meter_create
from meters.validation import EPOCH
from pricing.coupons import coupon_create
from pricing.models import Coupon, Plan, Rate
from pricing.services import plan_create, rate_create

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = Sequence(lambda n: f"billing-user-{n}")
    email = LazyAttribute(lambda user: f"{user.username}@example.com")
    password = Password(PASSWORD)


class MeterFactory(DjangoModelFactory[Meter]):
    class Meta:
        model = Meter

    label = Sequence(lambda n: f"Meter {n}")
    api_name = Sequence(lambda n: f"meter-{n}")
    meter_type = Meter.MeterType.COUNT
    dimensions = LazyFunction(list)
    unique_dimension = ""


class PlanFactory(DjangoModelFactory[Plan]):
    class Meta:
        model = Plan

    name = Sequence(lambda n: f"Plan {n}")
    billing_period = Plan.BillingPeriod.MONTHLY
    currency = "USD"

    @classmethod
    def _create(cls, model_class: type[Plan], *args: Any, **kwargs: Any) -> Plan:
        # Through the service, so the plan has its first price version.
        return plan_create(**kwargs)


class CustomerFactory(DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    name = Sequence(lambda n: f"Customer {n}")
    customer_id = Sequence(lambda n: f"customer-{n}")
    email = ""


# The guide's numbers, step by step.
PLAN_NAME = "Chatbot Usage Plan"
CUSTOMER_NAME = "Test Customer"
CUSTOMER_ID = "test-customer"
API_CALL_PRICE = Decimal("0.01")
TOKEN_MATRIX: list[tuple[list[str], Decimal]] = [
    (["model a", "input"], Decimal("0.00001")),
    (["model a", "output"], Decimal("0.00002")),
    (["model b", "input"], Decimal("0.000005")),
    (["model b", "output"], Decimal("0.00001")),
]


def millis(moment: datetime) -> int:
    """`moment` as whole epoch milliseconds, the meterTimeInMillis format."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def guide_records(at: datetime) -> list[dict[str, object]]:
    """The guide's step 6: 1000 tokens for three model/type combinations and
    10 API calls, each with a fixed uniqueId so resending them is harmless."""
    when = millis(at)
    return [
        {
            "meterApiName": "llm-tokens",
            "meterValue": 1000,
            "customerId": CUSTOMER_ID,
            "meterTimeInMillis": when,
            "uniqueId": f"guide-{model.replace(' ', '-')}-{kind}",
            "dimensions": {"model": model, "type": kind},
        }
        for model, kind in [("model a", "input"), ("model a", "output"), ("model b", "input")]
    ] + [
        {
            "meterApiName": "api-calls",
            "meterValue": 10,
            "customerId": CUSTOMER_ID,
            "meterTimeInMillis": when,
            "uniqueId": "guide-api-calls",
        }
    ]


@dataclass(frozen=True)
class Guide:
    api_calls: Meter
    llm_tokens: Meter
    plan: Plan
    api_rate: Rate
    token_rate: Rate
    customer: Customer
    assignment: PlanAssignment
    ingest: IngestResult | None


def guide_setup(now: datetime, *, start_at: datetime | None = None, events: bool = True) -> Guide:
    """The guide's steps 1 to 6 through the services the screens use.

    The customer is on the plan from `start_at` (default: the start of `now`'s
    month, open-ended); the guide's four events happen one minute before `now`.
    """
    api_calls = meter_create(
        label="API calls", api_name="api-calls", meter_type="count", dimensions=[]
    )
    llm_tokens = meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )
    plan = plan_create(name=PLAN_NAME, billing_period="monthly", currency="USD")
    api_rate = rate_create(plan=plan, meter=api_calls, unit_price=API_CALL_PRICE)
    token_rate = rate_create(
        plan=plan, meter=llm_tokens, dimensions=["model", "type"], matrix=TOKEN_MATRIX
    )
    customer = customer_create(name=CUSTOMER_NAME, customer_id=CUSTOMER_ID)
    assignment = plan_assign(customer=customer, plan=plan, start_at=start_at or month_start(now))
    ingest = None
    if events:
        ingest = events_ingest(records=guide_records(now - timedelta(minutes=1)), now=now)
        assert (ingest.accepted, ingest.rejected) == (4, []), ingest
    return Guide(api_calls, llm_tokens, plan, api_rate, token_rate, customer, assignment, ingest)


def coupon_make(now: datetime, code: str = "WELCOME10", **given: object) -> Coupon:
    """A coupon made through its service: "Welcome offer", 10% off, once,
    unless `given` says otherwise."""
    fields: dict[str, object] = {
        "code": code,
        "name": "Welcome offer",
        "kind": "percentage",
        "value": Decimal(10),
        "now": now,
    }
    return coupon_create(**(fields | given))  # type: ignore[arg-type]
