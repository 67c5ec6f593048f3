"""Getting a fresh install to the guide's invoice: the scenario of the guide
"Billing for LLM tokens" (steps 1 to 6), built through the same services the
screens use, and an admin user to log in with. `make run` calls both through
the seed_guide and ensure_admin commands.

Invariant: both are idempotent. Everything is looked up before it is created,
an object that already exists is left exactly as it is, and the usage events
carry fixed uniqueIds (per month), so a second run stores nothing new.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
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
from pricing.models import Plan, Rate
from pricing.services import plan_create, rate_create

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
    _rate(plan, api_calls, result, unit_price=API_CALL_PRICE)
    _rate(
        plan,
        llm_tokens,
        result,
        dimensions=TOKEN_DIMENSIONS,
        matrix=[(list(values), price) for values, price in TOKEN_PRICES],
    )
    customer = _customer(result)
    assignment = _assignment(customer, plan, now, result)
    _events(customer, assignment, now, result)
    _demo_users(result)
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
    *,
    unit_price: Decimal | None = None,
    dimensions: tuple[str, ...] = (),
    matrix: list[tuple[list[str], Decimal]] | None = None,
) -> None:
    exists = Rate.objects.filter(plan=plan, meter=meter).exists()
    result.note(f"rate for {meter.label} on {plan.name}", created=not exists)
    if not exists:
        rate_create(
            plan=plan,
            meter=meter,
            unit_price=unit_price,
            dimensions=dimensions,
            matrix=matrix or [],
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
    start_at = month_start(now)
    result.note(f"plan assignment to {plan.name} from {start_at:%Y-%m-%d %H:%M} UTC", created=True)
    return plan_assign(customer=customer, plan=plan, start_at=start_at)


def _events(
    customer: Customer, assignment: PlanAssignment, now: datetime, result: GuideSeedResult
) -> None:
    event_time = max(now - timedelta(minutes=1), assignment.start_at)
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
    ingest = events_ingest(records=records, default_customer_id=customer.customer_id, now=now)
    if ingest.rejected:
        reasons = "; ".join(f"event {r.index + 1}: {r.reason}" for r in ingest.rejected)
        raise ValidationError(f"The guide's usage was refused: {reasons}")
    result.events_stored = ingest.accepted
    result.events_already_stored = ingest.duplicates


# Gitignored; holds only a password this module generated, readable by its owner.
ADMIN_PASSWORD_FILE = Path(__file__).resolve().parent.parent / ".admin-password"


class AdminState(StrEnum):
    CREATED = "created"  # a new superuser, with `password`
    KNOWN = "known"  # exists, and `password` (stored or given) still logs in
    CHANGED = "changed"  # exists, and neither the stored nor the given password works
    UNKNOWN = "unknown"  # exists, and no password was stored or given


@dataclass(frozen=True)
class AdminResult:
    username: str
    state: AdminState
    password_file: Path
    password: str | None = None
    # Whether `password` came from the operator (--password / ADMIN_PASSWORD),
    # rather than being generated here and kept in the password file.
    given: bool = False


@transaction.atomic
def admin_ensure(
    *, username: str, password: str | None = None, password_file: Path | None = None
) -> AdminResult:
    """Make sure the superuser `username` exists.

    A new user gets `password`, or a random one that is written to
    `password_file` (mode 600) so later runs can show it again. A password
    the operator chose is never written to disk. An existing user's password
    is only checked, never changed.
    """
    path = password_file or ADMIN_PASSWORD_FILE
    users = get_user_model()._default_manager
    user = users.filter(username=username).first()
    if user is None:
        if password:
            validate_password(password)
        chosen = password or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=chosen)
        if not password:
            # Inside the transaction: if the file cannot be written, no user
            # is left behind with a password nobody knows.
            _write_secret(path, chosen)
        return AdminResult(username, AdminState.CREATED, path, chosen, given=bool(password))
    if not (user.is_active and user.is_superuser):
        raise ValidationError(
            f"User {username} exists but is not an active superuser; "
            "fix it in the admin or choose another --username."
        )
    if password and user.check_password(password):
        return AdminResult(username, AdminState.KNOWN, path, password, given=True)
    stored = _read_secret(path)
    if stored and user.check_password(stored):
        return AdminResult(username, AdminState.KNOWN, path, stored)
    state = AdminState.CHANGED if password or stored else AdminState.UNKNOWN
    return AdminResult(username, state, path)


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # os.open keeps the mode of a file that already existed


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
