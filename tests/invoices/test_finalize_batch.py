"""Finalizing many drafts in one transaction (`invoice_finalize_batch`, what
period close does) stores exactly the invoices that finalizing them one at a
time would, numbered without gaps, at a cost that does not grow with them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from time_machine import TimeMachineFixture

from customers.models import Customer
from customers.services import customer_create, plan_assign
from invoices.closing import drafts_create
from invoices.models import Invoice, InvoiceLine, InvoiceStatusChange, NumberSequence
from invoices.services import SYSTEM, invoice_finalize, invoice_finalize_batch, invoice_hold
from meters.services import events_ingest
from pricing.models import Rate
from pricing.services import plan_create, rate_create
from tests.factories import Guide, guide_setup, millis

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
MID_APRIL = datetime(2025, 4, 15, 12, tzinfo=UTC)
CLOSE = MAY + timedelta(hours=25)  # April's grace period is over


def _ingest(customer_id: str, meter: str, value: int, at: datetime, received: datetime) -> None:
    record: dict[str, object] = {
        "meterApiName": meter,
        "meterValue": value,
        "customerId": customer_id,
        "meterTimeInMillis": millis(at),
        "uniqueId": f"{customer_id}-{meter}-{millis(at)}-{millis(received)}",
    }
    if meter == "llm-tokens":
        record["dimensions"] = {"model": "model a", "type": "input"}
    assert events_ingest(records=[record], now=received).accepted == 1


def _customer(name: str, **fields: object) -> Customer:
    return customer_create(name=name, customer_id=name.lower().replace(" ", "-"), **fields)  # type: ignore[arg-type]


@pytest.fixture
def mix(db: None, time_machine: TimeMachineFixture) -> list[int]:
    """April's drafts (and May's, still running) of: the guide's customer,
    whose March invoice is issued and who then sent late usage for March;
    a plain guide customer with their own net terms; a customer on a plan
    with a base fee and a minimum, whose assignment ends on 20 April, with
    usage of a meter outside that plan; and a held draft. Returns the ids
    of every draft, oldest first."""
    for name in ("invoice", "credit_note"):
        NumberSequence.objects.get_or_create(name=name)
    time_machine.move_to(MID_MARCH, tick=False)
    guide: Guide = guide_setup(MID_MARCH, start_at=MARCH)
    march_close = APRIL + timedelta(hours=25)
    drafts_create(now=march_close)
    march = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    invoice_finalize(invoice=march, now=march_close, actor=SYSTEM)
    # Late usage for March, received after its invoice; and April's usage.
    _ingest("test-customer", "api-calls", 7, MID_MARCH, APRIL + timedelta(days=4))
    _ingest("test-customer", "api-calls", 20, MID_APRIL, MID_APRIL)

    plain = _customer("Plain", net_terms_days=14)
    plan_assign(customer=plain, plan=guide.plan, start_at=APRIL)
    _ingest("plain", "api-calls", 5, MID_APRIL, MID_APRIL)
    _ingest("plain", "llm-tokens", 2_000, MID_APRIL, MID_APRIL)

    fees = plan_create(name="Fees", billing_period="monthly", currency="USD")
    rate = rate_create(plan=fees, meter=guide.api_calls, unit_price=Decimal("0.05"))
    Rate.objects.filter(pk=rate.pk).update(base_fee=Decimal(30), minimum_charge=Decimal(45))
    fee = _customer("Fee payer")
    plan_assign(customer=fee, plan=fees, start_at=APRIL, end_at=APRIL + timedelta(days=19))
    _ingest("fee-payer", "api-calls", 100, APRIL + timedelta(days=3), APRIL + timedelta(days=3))
    _ingest("fee-payer", "llm-tokens", 500, APRIL + timedelta(days=3), APRIL + timedelta(days=3))

    held = _customer("Held")
    plan_assign(customer=held, plan=guide.plan, start_at=APRIL)
    _ingest("held", "api-calls", 3, MID_APRIL, MID_APRIL)

    time_machine.move_to(CLOSE, tick=False)
    drafts_create(now=CLOSE)
    held_draft = Invoice.objects.get(customer=held, period_start=APRIL)
    invoice_hold(invoice=held_draft, hold=True, now=CLOSE, actor="test")
    return list(
        Invoice.objects.filter(status=Invoice.Status.DRAFT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _one_at_a_time(ids: list[int]) -> None:
    for pk in ids:
        draft = Invoice.objects.get(pk=pk)
        if draft.on_hold:  # period close leaves it alone
            continue
        with suppress(ValidationError):  # its period has not ended
            invoice_finalize(invoice=draft, now=CLOSE, actor=SYSTEM)


def _batch(ids: list[int]) -> None:
    invoice_finalize_batch(invoices=ids, now=CLOSE, actor=SYSTEM)


SNAPSHOT = (
    "status", "sequence", "number", "customer_id", "period_start", "period_end", "usage_end",
    "usage_cutoff", "issue_date", "due_date", "net_terms_days", "customer_name",
    "customer_external_id", "customer_email", "customer_address", "seller_name",
    "seller_address", "plan_name", "billing_period", "currency", "total", "finalized_at",
    "on_hold",
)  # fmt: skip
LINE = (
    "position", "kind", "meter_id", "section", "section_detail", "dimensions", "description",
    "quantity", "unit_price", "explanation", "exact_amount", "amount", "late_for__number",
    "late_through",
)  # fmt: skip


def _stored(ids: list[int]) -> list[object]:
    """Everything stored about the drafts `ids`, in id order."""
    return [
        (
            row,
            list(InvoiceLine.objects.filter(invoice=pk).order_by("position").values_list(*LINE)),
            list(
                InvoiceStatusChange.objects.filter(invoice=pk)
                .order_by("pk")
                .values_list("from_status", "to_status", "at", "actor", "note")
            ),
        )
        for pk, *row in Invoice.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", *SNAPSHOT)
    ]


def _outcome(ids: list[int], finalize: Callable[[list[int]], None]) -> list[object]:
    """What `finalize` stores, rolled back afterwards."""
    with transaction.atomic():
        finalize(ids)
        stored = _stored(ids)
        transaction.set_rollback(True)
    return stored


def test_a_batch_stores_what_finalizing_one_at_a_time_stores(mix: list[int]) -> None:
    alone = _outcome(mix, _one_at_a_time)
    together = _outcome(mix, _batch)
    assert together == alone
    # What the mix was for: each case is there.
    issued = [row for row in together if row[0][0] == "open"]  # type: ignore[index]
    assert len(issued) == 3  # April's of the guide, plain and fee payer; not held, not May
    kinds = {row[0][12]: [line[1] for line in row[1]] for row in issued}  # type: ignore[index]
    assert kinds == {
        "test-customer": ["usage", "late_usage"],
        "plain": ["usage", "usage"],
        "fee-payer": ["usage", "base_fee", "minimum"],  # prorated to 20 April
    }


def test_a_batch_numbers_its_invoices_without_gaps_in_id_order(mix: list[int]) -> None:
    issued = invoice_finalize_batch(invoices=mix, now=CLOSE, actor=SYSTEM)
    assert [i.pk for i in issued] == sorted(i.pk for i in issued)
    # March's invoice took 1.
    assert [i.sequence for i in issued] == [2, 3, 4]
    stored = Invoice.objects.exclude(status="draft").order_by("pk")
    assert list(stored.values_list("sequence", flat=True)) == [1, 2, 3, 4]
    assert Invoice.objects.filter(on_hold=True, status="draft").count() == 1
    # Finalizing again issues nothing more.
    assert invoice_finalize_batch(invoices=mix, now=CLOSE, actor=SYSTEM) == []
    assert NumberSequence.objects.get(name="invoice").next_value == 5


def _customers_on_the_guide_plan(guide: Guide, count: int, offset: int) -> list[int]:
    for n in range(offset, offset + count):
        customer = _customer(f"Batch {n}")
        plan_assign(customer=customer, plan=guide.plan, start_at=APRIL)
        _ingest(customer.customer_id, "api-calls", n + 1, MID_APRIL, MID_APRIL)
        _ingest(customer.customer_id, "llm-tokens", 1_000, MID_APRIL, MID_APRIL)
    drafts_create(now=CLOSE)
    return list(
        Invoice.objects.filter(
            status="draft", period_start=APRIL, customer__name__startswith="Batch"
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _queries(ids: list[int]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        issued = invoice_finalize_batch(invoices=ids, now=CLOSE, actor=SYSTEM)
    assert len(issued) == len(ids)
    return [query["sql"] for query in captured.captured_queries]


def test_a_batch_of_50_costs_the_statements_of_a_batch_of_10(
    db: None, time_machine: TimeMachineFixture
) -> None:
    NumberSequence.objects.get_or_create(name="invoice")
    time_machine.move_to(MID_APRIL, tick=False)
    guide = guide_setup(MID_APRIL, start_at=APRIL, events=False)
    ten = _customers_on_the_guide_plan(guide, 10, 0)
    fifty = [pk for pk in _customers_on_the_guide_plan(guide, 50, 10) if pk not in ten]
    assert len(fifty) == 50
    small, big = _queries(ten), _queries(fifty)

    # On PostgreSQL every statement is one per batch; elsewhere each invoice's
    # row is written by its own UPDATE (a save each), and nothing else grows.
    def row_update(sql: str) -> bool:
        return sql.startswith('UPDATE "invoices_invoice"')

    if connection.vendor == "postgresql":
        assert len(small) == len(big)
    else:
        assert (sum(map(row_update, small)), sum(map(row_update, big))) == (10, 50)
        assert len([q for q in small if not row_update(q)]) == len(
            [q for q in big if not row_update(q)]
        )
