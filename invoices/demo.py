"""Getting a fresh install to the guide's invoice: the scenario of the guide
"Billing for LLM tokens" (steps 1 to 6), built through the same services the
screens use, and one demo user per role. Beside it, a coupon (WELCOME10) and
a tax rate (uk-vat) so the Coupons and Tax rates pages show what they are
for; neither is given to the guide's customer nor set on its plan, so the
guide's invoice stays exactly the guide's. And, when there is no cost plan
yet, the model provider's costs as the default cost plan, so the guide's
invoice shows its margins to Admins. `make run` calls it through the
seed_guide command. It lives in invoices, the top app, because it uses every
app below and ends with an invoice.

Invariant: it is idempotent. Everything is looked up before it is created,
an object that already exists is left exactly as it is, and the usage events
carry fixed uniqueIds (per month), so a second run stores nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from billing_site.services import role_of, user_create
from customers.models import Customer, PlanAssignment
from customers.services import customer_create, plan_assign
from invoices.builder import Invoice, build_invoice, current_period
from meters.models import Meter
from meters.services import events_ingest, meter_create
from meters.validation import EPOCH
from pricing.coupons import coupon_create
from pricing.models import Coupon, Plan, Rate, TaxRate
from pricing.services import cost_plan_make_default, plan_create, rate_create
from pricing.taxes import tax_rate_create
from pricing.versions import VersionStart

PLAN_NAME = "Chatbot Usage Plan"
CUSTOMER_NAME = "Test Customer"
CUSTOMER_ID = "test-customer"


@dataclass(frozen=True)
class GuideMeter:
    label: str
    api_name: str
    dimensions: tuple[str, ...]


API_CALLS = GuideMeter("API calls", "api-calls", ())
LLM_TOKENS = GuideMeter("LLM tokens", "llm-tokens", ("model", "type"))

API_CALL_PRICE = Decimal("0.01")
TOKEN_DIMENSIONS = ("model", "type")
TOKEN_PRICES: tuple[tuple[tuple[str, str], Decimal], ...] = (
    (("model a", "input"), Decimal("0.00001")),
    (("model a", "output"), Decimal("0.00002")),
    (("model b", "input"), Decimal("0.000005")),
    (("model b", "output"), Decimal("0.00001")),
)

# (uniqueId, meter, meterValue, dimensions): the guide's step 6.
GUIDE_EVENTS: tuple[tuple[str, GuideMeter, int, dict[str, str]], ...] = (
    ("guide-llm-a-input", LLM_TOKENS, 1000, {"model": "model a", "type": "input"}),
    ("guide-llm-a-output", LLM_TOKENS, 1000, {"model": "model a", "type": "output"}),
    ("guide-llm-b-input", LLM_TOKENS, 1000, {"model": "model b", "type": "input"}),
    ("guide-api-calls", API_CALLS, 10, {}),
)


@dataclass
class GuideSeedResult:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    events_stored: int = 0
    events_already_stored: int = 0
    invoice: Invoice | None = None
    # (username, password, role) of the demo users whose password still works
    demo_logins: list[tuple[str, str, str]] = field(default_factory=list)

    def note(self, what: str, *, created: bool) -> None:
        (self.created if created else self.kept).append(what)


@transaction.atomic
def guide_seed(*, now: datetime) -> GuideSeedResult:
    """Build the guide's meters, plan, customer, assignment and usage, and
    price the customer's current period. Raises ValidationError (and stores
    nothing) when existing data stands in the way, e.g. an assignment that
    overlaps the one the guide needs."""
    result = GuideSeedResult()
    api_calls = _meter(API_CALLS, result)
    llm_tokens = _meter(LLM_TOKENS, result)
    plan = _plan(result)
    _rate(plan, api_calls, result, now, unit_price=API_CALL_PRICE)
    _rate(
        plan,
        llm_tokens,
        result,
        now,
        dimensions=TOKEN_DIMENSIONS,
        matrix=[(list(values), price) for values, price in TOKEN_PRICES],
    )
    customer = _customer(result)
    assignment = _assignment(customer, plan, now, result)
    _events(customer, assignment, now, result)
    _demo_users(result)
    _demo_coupon(result, now)
    _demo_tax_rate(result)
    _demo_cost_plan(result, api_calls, llm_tokens, now)
    ref = current_period(customer, now)
    result.invoice = build_invoice(customer, ref) if ref else None
    return result


# One demo user per role, with a password anyone reading this file knows: made
# only by this demo seed (`make run`), never by migrate or in production.
DEMO_USERS: tuple[tuple[str, str], ...] = (
    ("demo-viewer", VIEWER),
    ("demo-operator", OPERATOR),
    ("demo-admin", ADMIN),
)


def demo_password(username: str) -> str:
    return f"{username}-password"


def _demo_users(result: GuideSeedResult) -> None:
    """Create each demo user that is missing; an existing one is left as it is
    (its role and password included), and listed only if the demo password
    still logs it in."""
    users = get_user_model()._default_manager
    for username, role in DEMO_USERS:
        password = demo_password(username)
        user = users.filter(username=username).first()
        result.note(f"demo user {username} ({role})", created=user is None)
        if user is None:
            user = user_create(username=username, email="", password=password, role=role)
        if user.is_active and user.check_password(password):
            result.demo_logins.append((username, password, role_of(user) or "no role"))


# Shown on the Coupons and Tax rates pages; applied to no one.
DEMO_COUPON_CODE = "WELCOME10"
DEMO_TAX_RATE_CODE = "uk-vat"


def _demo_coupon(result: GuideSeedResult, now: datetime) -> None:
    exists = Coupon.objects.filter(code__iexact=DEMO_COUPON_CODE).exists()
    terms = "" if exists else " (10% off, once; given to no one)"
    result.note(f"coupon {DEMO_COUPON_CODE}{terms}", created=not exists)
    if not exists:
        coupon_create(
            code=DEMO_COUPON_CODE,
            name="Welcome offer",
            kind=Coupon.Kind.PERCENTAGE,
            value="10",
            duration=Coupon.Duration.ONCE,
            now=now,
        )


def _demo_tax_rate(result: GuideSeedResult) -> None:
    exists = TaxRate.objects.filter(code__iexact=DEMO_TAX_RATE_CODE).exists()
    terms = "" if exists else " (VAT 20%, GB, exclusive; on no plan)"
    result.note(f"tax rate {DEMO_TAX_RATE_CODE}{terms}", created=not exists)
    if not exists:
        tax_rate_create(
            code=DEMO_TAX_RATE_CODE, name="VAT", percentage="20", country="GB", inclusive=False
        )


# What serving the guide's usage costs (docs/PRICING.md, "Cost and margin"):
# the default cost plan, so the guide's invoice shows its margins.
DEMO_COST_PLAN = "Model provider costs"
API_CALL_COST = Decimal("0.0005")
TOKEN_COSTS: tuple[tuple[tuple[str, str], Decimal], ...] = (
    (("model a", "input"), Decimal("0.000003")),
    (("model a", "output"), Decimal("0.000015")),
    (("model b", "input"), Decimal("0.000001")),
    (("model b", "output"), Decimal("0.000004")),
)


def _demo_cost_plan(
    result: GuideSeedResult, api_calls: Meter, llm_tokens: Meter, now: datetime
) -> None:
    """The guide's provider costs as the default cost plan, made only when
    there is no cost plan at all (an existing one is left as it is)."""
    exists = Plan.objects.filter(kind=Plan.Kind.COST).exists()
    result.note(f"cost plan {DEMO_COST_PLAN}", created=not exists)
    if exists:
        return
    plan = plan_create(
        name=DEMO_COST_PLAN,
        billing_period=Plan.BillingPeriod.MONTHLY,
        currency="USD",
        kind=Plan.Kind.COST,
    )
    rate_create(plan=plan, meter=api_calls, unit_price=API_CALL_COST, now=now)
    rate_create(
        plan=plan,
        meter=llm_tokens,
        dimensions=TOKEN_DIMENSIONS,
        matrix=[(list(values), cost) for values, cost in TOKEN_COSTS],
        now=now,
    )
    cost_plan_make_default(plan=plan)


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s calendar month in UTC."""
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _meter(spec: GuideMeter, result: GuideSeedResult) -> Meter:
    meter = Meter.objects.filter(api_name=spec.api_name).first()
    result.note(f"meter {spec.label} ({spec.api_name})", created=meter is None)
    if meter is not None:
        return meter
    return meter_create(
        label=spec.label,
        api_name=spec.api_name,
        meter_type=Meter.MeterType.COUNT,
        dimensions=spec.dimensions,
    )


def _plan(result: GuideSeedResult) -> Plan:
    plan = Plan.objects.filter(name=PLAN_NAME).first()
    result.note(f"plan {PLAN_NAME}", created=plan is None)
    if plan is not None:
        return plan
    return plan_create(name=PLAN_NAME, billing_period=Plan.BillingPeriod.MONTHLY, currency="USD")


def _rate(
    plan: Plan,
    meter: Meter,
    result: GuideSeedResult,
    now: datetime,
    *,
    unit_price: Decimal | None = None,
    dimensions: tuple[str, ...] = (),
    matrix: list[tuple[list[str], Decimal]] | None = None,
) -> None:
    exists = Rate.objects.filter(version=plan.current_version_id, meter=meter).exists()
    result.note(f"rate for {meter.label} on {plan.name}", created=not exists)
    if not exists:
        rate_create(
            plan=plan,
            meter=meter,
            unit_price=unit_price,
            dimensions=dimensions,
            matrix=matrix or [],
            # A plan already billing someone gets the guide's prices for
            # the period the demo shows.
            starts=VersionStart.CURRENT_PERIOD,
            now=now,
        )


def _customer(result: GuideSeedResult) -> Customer:
    customer = Customer.objects.filter(customer_id=CUSTOMER_ID).first()
    result.note(f"customer {CUSTOMER_NAME} ({CUSTOMER_ID})", created=customer is None)
    if customer is not None:
        return customer
    return customer_create(name=CUSTOMER_NAME, customer_id=CUSTOMER_ID)


def _assignment(
    customer: Customer, plan: Plan, now: datetime, result: GuideSeedResult
) -> PlanAssignment:
    """The customer's assignment at `now`, whatever its plan; else a new,
    open-ended one to the guide's plan from the start of this month (plan_assign
    refuses it if it would overlap a later assignment)."""
    current = (
        customer.assignments.filter(start_at__lte=now)
        .exclude(end_at__lte=now)
        .select_related("plan")
        .first()
    )
    if current is not None:
        result.note(f"plan assignment to {current.plan.name}", created=False)
        return current
    # From the start of last month, so the guide's invoice for last month can
    # be issued by period close while this month's draft runs alongside.
    start_at = month_start(month_start(now) - timedelta(days=1))
    result.note(f"plan assignment to {plan.name} from {start_at:%Y-%m-%d %H:%M} UTC", created=True)
    return plan_assign(customer=customer, plan=plan, start_at=start_at)


def _events(
    customer: Customer, assignment: PlanAssignment, now: datetime, result: GuideSeedResult
) -> None:
    """The guide's four events last month (an hour before this month began,
    inside the backfill window; period close issues that month's invoice)
    and again this month (a minute ago: the draft's usage to date), where the
    assignment covers them."""
    this_month = month_start(now)
    times = [this_month - timedelta(hours=1), max(now - timedelta(minutes=1), this_month)]
    for event_time in times:
        if assignment.start_at <= event_time or event_time == times[-1]:
            _month_events(customer, assignment, max(event_time, assignment.start_at), now, result)


def _month_events(
    customer: Customer,
    assignment: PlanAssignment,
    event_time: datetime,
    now: datetime,
    result: GuideSeedResult,
) -> None:
    # Whole milliseconds, rounded up so the time never falls before the assignment.
    millis = -((EPOCH - event_time) // timedelta(milliseconds=1))
    records: list[object] = [
        {
            "meterApiName": meter.api_name,
            "meterValue": value,
            # One set per month: a later month's `make run` shows the guide's
            # invoice again, and a second run in the same month stores nothing.
            "uniqueId": f"{unique_id}-{event_time:%Y-%m}",
            "meterTimeInMillis": millis,
            **({"dimensions": dimensions} if dimensions else {}),
        }
        for unique_id, meter, value, dimensions in GUIDE_EVENTS
    ]
    # Received when they happened (a minute later), as a live integration sends
    # them: last month's events then count on last month's invoice, not as
    # late usage of it.
    received = min(now, event_time + timedelta(minutes=1))
    ingest = events_ingest(records=records, default_customer_id=customer.customer_id, now=received)
    if ingest.rejected:
        reasons = "; ".join(f"event {r.index + 1}: {r.reason}" for r in ingest.rejected)
        raise ValidationError(f"The guide's usage was refused: {reasons}")
    result.events_stored += ingest.accepted
    result.events_already_stored += ingest.duplicates
