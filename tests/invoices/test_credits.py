"""Prepaid credit through a customer's months: granted, drawn at
finalization in the documented order, given back on void, written off when
it expires; the ledger always balances and is written once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.credits import (
    credit_grant_create,
    credit_grant_void,
    customer_credit,
    grant_balances,
)
from invoices.models import CreditGrant, CreditLedgerEntry, Invoice
from invoices.services import invoice_finalize, invoice_void
from tests.factories import Guide, guide_setup

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=25)
GUIDE_TOTAL = Decimal("0.14")
OPERATOR = "operator"


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def grant(guide: Guide, amount: str | Decimal, **given: object) -> CreditGrant:
    fields: dict[str, object] = {
        "customer": guide.customer,
        "amount": Decimal(amount),
        "currency": "USD",
        "description": f"Credit {amount}",
        "effective_at": MARCH,
        "now": MID_MARCH,
        "actor": OPERATOR,
    }
    return credit_grant_create(**(fields | given))  # type: ignore[arg-type]


def march(guide: Guide) -> Invoice:
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def balance(credit: CreditGrant) -> Decimal:
    return grant_balances([credit.pk])[credit.pk]


def ledger(credit: CreditGrant) -> list[tuple[str, Decimal]]:
    return list(credit.entries.order_by("at", "pk").values_list("kind", "amount"))


def test_finalization_draws_credit_and_the_invoice_asks_the_rest(guide: Guide) -> None:
    credit = grant(guide, "0.10")

    close_periods(now=AFTER_GRACE)

    invoice = march(guide)
    assert (invoice.total, invoice.credits_applied, invoice.amount_due) == (
        GUIDE_TOTAL,
        Decimal("0.10"),
        Decimal("0.04"),
    )
    assert invoice.due == Decimal("0.04")
    assert ledger(credit) == [("granted", Decimal("0.10")), ("drawn", Decimal("0.10"))]
    assert credit.entries.get(kind="drawn").invoice == invoice
    assert balance(credit) == 0


def test_credit_larger_than_the_invoice_pays_it_all_and_keeps_the_rest(guide: Guide) -> None:
    credit = grant(guide, "5.00")

    close_periods(now=AFTER_GRACE)

    assert (march(guide).credits_applied, march(guide).amount_due) == (GUIDE_TOTAL, 0)
    assert balance(credit) == Decimal("4.86")
    assert customer_credit(guide.customer, AFTER_GRACE).available == {"USD": Decimal("4.86")}


def test_soonest_expiry_is_drawn_first_then_the_lower_priority_number(guide: Guide) -> None:
    late = grant(guide, "0.10", description="No expiry", priority=0)
    urgent = grant(guide, "0.05", description="Ends in May", expires_at=MAY, priority=90)
    first = grant(
        guide, "0.05", description="Ends in May, priority 10", expires_at=MAY, priority=10
    )

    close_periods(now=AFTER_GRACE)

    assert (balance(first), balance(urgent), balance(late)) == (0, 0, Decimal("0.06"))
    drawn = CreditLedgerEntry.objects.filter(kind="drawn").order_by("pk")
    assert [e.grant.description for e in drawn] == [
        "Ends in May, priority 10",
        "Ends in May",
        "No expiry",
    ]
    assert march(guide).amount_due == 0


def test_credit_ending_with_the_period_pays_that_period(guide: Guide) -> None:
    """Half-open: usable until its expiry instant, so it covered all of March,
    and pays March's invoice although that is issued in the grace period."""
    credit = grant(guide, "0.10", expires_at=APRIL)

    report = close_periods(now=AFTER_GRACE)

    assert march(guide).credits_applied == Decimal("0.10")
    assert balance(credit) == 0 and report.credits_expired == 0


def test_credit_that_ended_before_the_period_did_is_written_off_not_drawn(guide: Guide) -> None:
    credit = grant(guide, "0.10", expires_at=datetime(2025, 3, 20, tzinfo=UTC))

    report = close_periods(now=AFTER_GRACE)

    assert march(guide).credits_applied == 0
    assert march(guide).amount_due == GUIDE_TOTAL
    assert report.credits_expired == 1
    assert ledger(credit) == [("granted", Decimal("0.10")), ("expired", Decimal("0.10"))]
    assert close_periods(now=AFTER_GRACE + timedelta(hours=1)).credits_expired == 0


def test_an_expired_grant_waits_for_the_draft_it_can_still_pay(guide: Guide) -> None:
    credit = grant(guide, "0.10", expires_at=APRIL)

    report = close_periods(now=APRIL + timedelta(hours=2))  # March is in its grace period

    assert report.credits_expired == 0 and balance(credit) == Decimal("0.10")


def test_credit_granted_during_the_grace_period_pays_the_waiting_invoice(guide: Guide) -> None:
    close_periods(now=MID_MARCH)
    grant(guide, "0.04", effective_at=APRIL + timedelta(hours=3), now=APRIL + timedelta(hours=3))

    close_periods(now=AFTER_GRACE)

    assert march(guide).amount_due == Decimal("0.10")


def test_voiding_the_invoice_gives_the_credit_back(guide: Guide) -> None:
    credit = grant(guide, "0.10")
    close_periods(now=AFTER_GRACE)

    invoice_void(invoice=march(guide), reason="wrong customer", now=AFTER_GRACE, actor=OPERATOR)

    assert balance(credit) == Decimal("0.10")
    assert ledger(credit)[-1] == ("returned", Decimal("0.10"))
    assert march(guide).amount_due == Decimal("0.04")  # the issued invoice is unchanged


def test_credit_given_back_to_a_voided_grant_is_written_off_again(guide: Guide) -> None:
    credit = grant(guide, "0.20")
    close_periods(now=AFTER_GRACE)
    credit_grant_void(grant=credit, reason="goodwill ended", now=AFTER_GRACE, actor=OPERATOR)

    invoice_void(invoice=march(guide), reason="duplicate", now=AFTER_GRACE, actor=OPERATOR)

    assert balance(credit) == 0
    assert [kind for kind, _ in ledger(credit)] == [
        "granted",
        "drawn",
        "voided",
        "returned",
        "voided",
    ]


def test_voiding_a_grant_cancels_what_is_left_only(guide: Guide) -> None:
    credit = grant(guide, "0.20")
    close_periods(now=AFTER_GRACE)

    credit_grant_void(grant=credit, reason="goodwill ended", now=AFTER_GRACE, actor=OPERATOR)

    assert ledger(credit)[-1] == ("voided", Decimal("0.06"))
    assert balance(credit) == 0
    with pytest.raises(ValidationError, match="already voided"):
        credit_grant_void(grant=credit, reason="again", now=AFTER_GRACE, actor=OPERATOR)


def test_finalizing_twice_draws_once(guide: Guide) -> None:
    credit = grant(guide, "1.00")
    close_periods(now=MID_MARCH)
    draft = march(guide)

    invoice_finalize(invoice=draft, now=AFTER_GRACE, actor=OPERATOR)
    invoice_finalize(invoice=draft, now=AFTER_GRACE, actor=OPERATOR)

    assert ledger(credit) == [("granted", Decimal("1.00")), ("drawn", GUIDE_TOTAL)]


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        (
            {"currency": "EUR"},
            {"currency": ["Test Customer is billed in USD: credit in EUR could pay nothing."]},
        ),
        ({"price": Decimal("0.001")}, {"amount": ["Use at most 2 decimal places in USD."]}),
        ({"price": Decimal("0")}, {"amount": ["Grant an amount greater than zero."]}),
        (
            {"expires_at": MARCH},
            {"expires_at": ["The credit must expire after it becomes effective."]},
        ),
        ({"priority": 101}, {"priority": ["Priority runs from 0 (drawn first) to 100."]}),
        (
            {"description": "  "},
            {"description": ["Say what the credit is for; the customer reads it on invoices."]},
        ),
        (
            {"purchase_reference": "PO-1"},
            {"purchase_reference": ["Only paid credit has a purchase."]},
        ),
    ],
)
def test_a_grant_that_could_not_be_honoured_is_refused_on_its_field(
    guide: Guide, given: dict[str, object], errors: dict[str, list[str]]
) -> None:
    amount = given.pop("price", Decimal("0.10"))
    with pytest.raises(ValidationError) as refused:
        grant(guide, amount, **given)  # type: ignore[arg-type]

    assert refused.value.message_dict == errors
    assert not CreditGrant.objects.exists()


def test_the_ledger_is_written_once(guide: Guide) -> None:
    credit = grant(guide, "0.10")
    entry = credit.entries.get()
    for statement, pk in (
        ("UPDATE invoices_creditledgerentry SET amount = '9' WHERE id = %s", entry.pk),
        ("DELETE FROM invoices_creditledgerentry WHERE id = %s", entry.pk),
        ("UPDATE invoices_creditgrant SET amount = '9' WHERE id = %s", credit.pk),
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [pk])
    assert balance(credit) == Decimal("0.10")


def test_an_issued_invoices_credit_cannot_be_rewritten(guide: Guide) -> None:
    grant(guide, "0.10")
    close_periods(now=AFTER_GRACE)

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE invoices_invoice SET amount_due = '0' WHERE id = %s", [march(guide).pk]
        )
    assert march(guide).amount_due == Decimal("0.04")
