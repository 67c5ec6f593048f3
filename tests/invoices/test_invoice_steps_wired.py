"""The invoice steps on real invoices: a coupon, VAT, an invoice minimum and a
setup fee through a customer's months, stored per line at finalization, shown
on drafts as they stand, and never changed once issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from time_machine import TimeMachineFixture

from customers.services import customer_update
from invoices.adjustments import Adjuster
from invoices.closing import close_periods
from invoices.credits import credit_grant_create
from invoices.discounts import coupon_redeem, coupon_remove
from invoices.models import Invoice, InvoiceAdjustment
from invoices.selectors import draft_content, stored_content
from invoices.services import (
    CreditRequest,
    billed_by_line,
    credit_note_create,
    draft_ensure,
    invoice_finalize,
    invoice_void,
)
from meters.services import events_ingest
from pricing.models import Coupon, TaxRate
from pricing.services import plan_charges_save
from pricing.taxes import plan_tax_rates_set, tax_rate_create
from tests.factories import Guide, coupon_make, guide_records, guide_setup

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
ACTOR = "operator"


def coupon(code: str = "WELCOME10", **given: object) -> Coupon:
    return coupon_make(MID_MARCH, code, **given)


def vat(guide: Guide, **given: object) -> TaxRate:
    fields: dict[str, object] = {
        "code": "uk-vat",
        "name": "VAT",
        "percentage": "20",
        "country": "GB",
    }
    rate = tax_rate_create(**(fields | given))  # type: ignore[arg-type]
    plan_tax_rates_set(plan=guide.plan, rates=[rate])
    return rate


def in_gb(guide: Guide) -> None:
    c = guide.customer
    customer_update(customer=c, name=c.name, email=c.email, country="GB")


def issue(guide: Guide, start: datetime = MARCH) -> Invoice:
    close_periods(now=start + timedelta(days=32, hours=1))
    return Invoice.objects.get(assignment=guide.assignment, period_start=start)


def adjustments(invoice: Invoice) -> list[tuple[str, str, str, Decimal]]:
    return [
        (a.kind, a.line_key, a.description, a.amount)
        for a in invoice.adjustments.order_by("position")
    ]


def every_step(guide: Guide) -> None:
    """The guide's plan with a $500 setup fee and a $50 invoice minimum, VAT
    at 20% for a customer in GB, and a 10% coupon once."""
    plan_charges_save(
        plan=guide.plan,
        invoice_minimum="50.00",
        one_time_fees=[{"description": "Setup fee", "amount": "500.00"}],
        starts="current_period",
    )
    vat(guide)
    in_gb(guide)
    coupon_redeem(coupon=coupon(), customer=guide.customer, now=MID_MARCH, actor=ACTOR)


# The guide's March lines are $0.10, $0.01, $0.02 and $0.01. Each step, per
# line, rounded half up to the cent:
#   10% off:   0.01, 0.001→0.00, 0.002→0.00, 0.001→0.00; the fee 50.00
#   minimum:   charges after discounts 0.13 (fees do not count) → true-up 49.87
#   VAT 20%:   0.09→0.018→0.02, 0.01→0.00, 0.02→0.00, 0.01→0.00; fee 450→90.00;
#              true-up 49.87→9.974→9.97
#   subtotal 0.13 + 450.00 + 49.87 = 500.00; tax 99.99; total 599.99
MARCH_STEPS = [
    ("discount", "line:1", "Welcome offer (WELCOME10)", Decimal("0.01")),
    ("tax", "line:1", "VAT", Decimal("0.02")),
    ("tax", "line:2", "VAT", Decimal("0")),
    ("tax", "line:3", "VAT", Decimal("0")),
    ("tax", "line:4", "VAT", Decimal("0")),
    ("one_time_fee", "fee:1", "Setup fee", Decimal("500.00")),
    ("discount", "fee:1", "Welcome offer (WELCOME10)", Decimal("50.00")),
    ("tax", "fee:1", "VAT", Decimal("90.00")),
    ("minimum_true_up", "invoice-minimum-true-up", "Invoice minimum true-up", Decimal("49.87")),
    ("tax", "invoice-minimum-true-up", "VAT", Decimal("9.97")),
]


def test_every_step_is_stored_per_line_and_totals_to_the_cent(guide: Guide) -> None:
    every_step(guide)
    march = issue(guide)
    assert adjustments(march) == MARCH_STEPS
    assert (march.total, march.amount_due) == (Decimal("599.99"), Decimal("599.99"))
    steps = stored_content(march).steps
    assert steps is not None and steps.shown
    assert steps.charges == Decimal("0.14")
    assert [(f.description, f.amount) for f in steps.fees] == [("Setup fee", Decimal("500.00"))]
    assert [(d.description, d.amount) for d in steps.discounts] == [
        ("Welcome offer (WELCOME10)", Decimal("50.01"))
    ]
    assert steps.minimum_true_up == Decimal("49.87")
    assert steps.subtotal == Decimal("500.00")
    [tax] = steps.taxes
    assert (tax.name, tax.percentage, tax.jurisdiction, tax.base, tax.tax) == (
        "VAT",
        Decimal("20"),
        "GB",
        Decimal("500.00"),
        Decimal("99.99"),
    )
    assert steps.total == Decimal("599.99")


def test_the_draft_shows_what_will_be_issued(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    every_step(guide)
    time_machine.move_to(APRIL + timedelta(hours=1), tick=False)
    draft = draft_ensure(assignment=guide.assignment, start=MARCH, end=APRIL)
    before = draft_content(draft, APRIL + timedelta(hours=1)).steps
    issued = stored_content(issue(guide)).steps
    assert before == issued


def test_a_coupon_once_discounts_one_invoice_and_the_fee_is_charged_once(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    every_step(guide)
    issue(guide)
    time_machine.move_to(MAY + timedelta(hours=30), tick=False)
    april = issue(guide, APRIL)
    # No usage in April: nothing to discount, no fee; the minimum is trued up
    # in full, and taxed: 50.00 + 10.00.
    assert adjustments(april) == [
        ("tax", "line:1", "VAT", Decimal("0")),
        ("minimum_true_up", "invoice-minimum-true-up", "Invoice minimum true-up", Decimal("50.00")),
        ("tax", "invoice-minimum-true-up", "VAT", Decimal("10.00")),
    ]
    assert april.total == Decimal("60.00")
    assert not april.adjustments.filter(kind="discount").exists()


def test_a_repeating_coupon_in_one_batch_discounts_only_as_many_invoices(
    db: None, time_machine: TimeMachineFixture
) -> None:
    february = datetime(2025, 2, 1, tzinfo=UTC)
    mid_feb = datetime(2025, 2, 15, 12, tzinfo=UTC)
    time_machine.move_to(mid_feb, tick=False)
    guide = guide_setup(mid_feb, start_at=february)
    coupon_redeem(
        coupon=coupon(kind="percentage", value=50),
        customer=guide.customer,
        now=mid_feb,
        actor=ACTOR,
    )
    time_machine.move_to(MID_MARCH, tick=False)
    events_ingest(
        records=[{**r, "uniqueId": f"{r['uniqueId']}-march"} for r in guide_records(MID_MARCH)],
        now=MID_MARCH,
    )
    # February's and March's drafts are finalized together, in one batch.
    close_periods(now=APRIL + timedelta(days=1, hours=1))
    feb, march = (
        Invoice.objects.get(assignment=guide.assignment, period_start=start)
        for start in (february, MARCH)
    )
    # Half of each line, rounded half up: 0.05 + 0.005→0.01 + 0.01 + 0.005→0.01.
    assert feb.total == Decimal("0.14") - Decimal("0.08")
    assert march.total == Decimal("0.14")


def test_a_removed_coupon_no_longer_discounts(guide: Guide) -> None:
    redemption = coupon_redeem(coupon=coupon(), customer=guide.customer, now=MID_MARCH, actor=ACTOR)
    coupon_remove(redemption=redemption, now=MID_MARCH, actor=ACTOR)
    assert issue(guide).total == Decimal("0.14")


def test_reverse_charge_stores_the_tax_rate_at_zero(guide: Guide) -> None:
    vat(guide, country="DE", code="de-vat", name="MwSt", percentage="19")
    c = guide.customer
    customer_update(
        customer=c,
        name=c.name,
        email=c.email,
        country="DE",
        tax_id="DE136695976",
        tax_status="reverse_charge",
    )
    march = issue(guide)
    assert march.total == Decimal("0.14")
    assert {a.amount for a in march.adjustments.all()} == {Decimal(0)}
    assert "Reverse charge" in stored_content(march).header.tax_note


def test_a_tax_rate_of_another_country_does_not_apply(guide: Guide) -> None:
    vat(guide)  # GB; the guide's customer has no country
    assert issue(guide).total == Decimal("0.14")


def test_finalizing_twice_changes_nothing(guide: Guide) -> None:
    every_step(guide)
    march = issue(guide)
    again = invoice_finalize(invoice=march, now=APRIL + timedelta(days=3), actor=ACTOR)
    assert (again.total, adjustments(again)) == (Decimal("599.99"), MARCH_STEPS)


def test_a_voided_invoice_keeps_its_adjustments_and_gives_the_coupon_use_back(
    guide: Guide,
) -> None:
    every_step(guide)
    march = issue(guide)
    invoice_void(invoice=march, reason="wrong plan", now=APRIL + timedelta(days=3), actor=ACTOR)
    assert adjustments(march) == MARCH_STEPS
    adjuster = Adjuster([guide.customer.pk], [guide.plan.pk], lock=False)
    assert list(adjuster.used.values()) == [0]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE invoices_invoiceadjustment SET amount = 0",
        "DELETE FROM invoices_invoiceadjustment",
    ],
)
def test_the_database_refuses_to_change_stored_adjustments(guide: Guide, sql: str) -> None:
    every_step(guide)
    issue(guide)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert InvoiceAdjustment.objects.count() == len(MARCH_STEPS)


def test_a_line_is_credited_up_to_what_was_charged_for_it(guide: Guide) -> None:
    every_step(guide)
    march = issue(guide)
    first = march.lines.get(position=1)
    # $0.10, less its 10% ($0.01), plus its VAT ($0.02): $0.11 was charged.
    assert billed_by_line(march)[first.pk] == Decimal("0.11")
    later = APRIL + timedelta(days=3)
    with pytest.raises(ValidationError, match=r"at most \$0\.11"):
        credit_note_create(
            invoice=march,
            requests=[CreditRequest(first, Decimal("0.12"))],
            reason="overcharged",
            now=later,
            actor=ACTOR,
        )
    note = credit_note_create(
        invoice=march,
        requests=[CreditRequest(first, Decimal("0.11"))],
        reason="overcharged",
        now=later,
        actor=ACTOR,
    )
    assert note.total == Decimal("0.11")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    percent=st.integers(min_value=0, max_value=100),
    minimum=st.integers(min_value=0, max_value=300),
    fee=st.integers(min_value=0, max_value=500),
    tax=st.integers(min_value=0, max_value=27),
    inclusive=st.booleans(),
    credit=st.integers(min_value=0, max_value=700),
)
def test_a_stored_invoice_adds_up_and_finalizing_it_again_changes_nothing(
    db: None,
    time_machine: TimeMachineFixture,
    percent: int,
    minimum: int,
    fee: int,
    tax: int,
    inclusive: bool,
    credit: int,
) -> None:
    """For any coupon, minimum, setup fee, tax and credit: the stored lines
    and adjustments add up to the total, the credit drawn to the amount due,
    to the cent; and finalizing the issued invoice again changes nothing."""
    with transaction.atomic():
        time_machine.move_to(MID_MARCH, tick=False)
        guide = guide_setup(MID_MARCH)
        plan_charges_save(
            plan=guide.plan,
            invoice_minimum=str(minimum),
            one_time_fees=[{"description": "Setup fee", "amount": str(fee)}] if fee else [],
            starts="current_period",
        )
        vat(guide, percentage=str(tax), inclusive=inclusive)
        in_gb(guide)
        if percent:
            coupon_redeem(
                coupon=coupon(value=Decimal(percent)),
                customer=guide.customer,
                now=MID_MARCH,
                actor=ACTOR,
            )
        if credit:
            credit_grant_create(
                customer=guide.customer,
                amount=Decimal(credit),
                currency="USD",
                description="Credit",
                effective_at=MARCH,
                now=MID_MARCH,
                actor=ACTOR,
            )
        march = issue(guide)
        rows = list(march.adjustments.order_by("position"))
        signed = {"one_time_fee": 1, "minimum_true_up": 1, "discount": -1, "commitment": -1}
        lines = sum((line.amount for line in march.lines.all()), Decimal(0))
        steps = sum((signed.get(a.kind, 0) * a.amount for a in rows), Decimal(0))
        added = sum((a.amount for a in rows if a.kind == "tax" and not a.inclusive), Decimal(0))
        assert lines + steps + added == march.total
        assert march.total - march.credits_applied == march.amount_due >= 0
        again = invoice_finalize(invoice=march, now=APRIL + timedelta(days=5), actor=ACTOR)
        assert (again.total, again.amount_due, adjustments(again)) == (
            march.total,
            march.amount_due,
            [(a.kind, a.line_key, a.description, a.amount) for a in rows],
        )
        transaction.set_rollback(True)
