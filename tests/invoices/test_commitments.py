"""Prepaid commitments: bought up front on their own numbered invoice, at a
discount and taxed, then drawn down by the assignment's usage invoices
before tax, with the overage billed as priced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from invoices.closing import close_periods
from invoices.commitments import commitment_create
from invoices.models import Commitment, Invoice
from invoices.pdf import render_invoice_pdf
from invoices.selectors import stored_content
from invoices.services import invoice_void
from tests.factories import Guide
from tests.invoices.test_invoice_steps_wired import in_gb, vat

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
ACTOR = "operator"


def commit(guide: Guide, amount: str, discount: str = "15", **given: object) -> Commitment:
    fields: dict[str, object] = {
        "assignment": guide.assignment,
        "amount": amount,
        "discount_percent": discount,
        "starts_at": MARCH,
        "ends_at": JUNE,
        "now": MID_MARCH,
        "actor": ACTOR,
    }
    return commitment_create(**(fields | given))  # type: ignore[arg-type]


def march(guide: Guide) -> Invoice:
    close_periods(now=APRIL + timedelta(days=1, hours=1))
    return Invoice.objects.get(
        kind=Invoice.Kind.USAGE, assignment=guide.assignment, period_start=MARCH
    )


def test_the_commitment_is_invoiced_up_front_at_its_discount(guide: Guide) -> None:
    bought = commit(guide, "12000.00").invoice
    assert (bought.kind, bought.status, bought.number) == ("commitment", "open", "TAL-2025-000001")
    assert (bought.total, bought.amount_due) == (Decimal("10200.00"), Decimal("10200.00"))
    assert (bought.period_start, bought.period_end, bought.issue_date.isoformat()) == (
        MARCH,
        JUNE,
        "2025-03-15",
    )
    steps = stored_content(bought).steps
    assert steps is not None
    assert [(f.description, f.amount) for f in steps.fees] == [
        ("Prepaid commitment: $12,000.00 for 1 Mar 2025 – 1 Jun 2025", Decimal("12000.00"))
    ]
    assert [(d.description, d.amount) for d in steps.discounts] == [
        ("Commitment discount 15%", Decimal("1800.00"))
    ]
    assert render_invoice_pdf(stored_content(bought))[:4] == b"%PDF"


def test_usage_draws_the_commitment_down_before_anything_is_due(guide: Guide) -> None:
    commit(guide, "12000.00")
    issued = march(guide)
    assert issued.total == Decimal("0.00")
    steps = stored_content(issued).steps
    assert steps is not None and steps.commitment_drawn == Decimal("0.14")
    assert sorted(issued.adjustments.values_list("kind", "amount")) == sorted(
        ("commitment", Decimal(a)) for a in ("0.10", "0.01", "0.02", "0.01")
    )


def test_overage_is_billed_as_priced_and_taxed_while_the_commitment_was_taxed_when_bought(
    guide: Guide,
) -> None:
    vat(guide)
    in_gb(guide)
    bought = commit(guide, "0.10").invoice
    # 15% off $0.10 is $0.015 → $0.02 (half up), leaving $0.08; VAT 20% on
    # it: $0.016 → $0.02.
    assert bought.total == Decimal("0.10")
    issued = march(guide)
    # $0.14 of usage: $0.10 from the commitment, shared by the lines in
    # whole cents ($0.07, $0.01, $0.01, $0.01), leaving $0.03, $0, $0.01, $0;
    # VAT per line on what is left: $0.006 → $0.01, $0.002 → $0.00.
    assert issued.total == Decimal("0.05")
    steps = stored_content(issued).steps
    assert steps is not None
    assert (steps.commitment_drawn, steps.subtotal, steps.tax_added) == (
        Decimal("0.10"),
        Decimal("0.04"),
        Decimal("0.01"),
    )


def test_a_voided_commitment_pays_nothing(guide: Guide) -> None:
    bought = commit(guide, "12000.00").invoice
    invoice_void(invoice=bought, reason="signed by mistake", now=MID_MARCH, actor=ACTOR)
    assert march(guide).total == Decimal("0.14")


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"discount_percent": "100"}, "discount_percent"),
        ({"discount_percent": "1.23456"}, "discount_percent"),
        ({"starts_at": MARCH - timedelta(days=1)}, "starts_at"),
        ({"ends_at": MARCH}, "ends_at"),
    ],
)
def test_a_commitment_breaking_a_rule_is_refused_on_its_field(
    guide: Guide, given: dict[str, object], field: str
) -> None:
    fields: dict[str, object] = {"amount": "100.00"} | given
    amount = fields.pop("amount")
    with pytest.raises(ValidationError) as refused:
        commit(guide, str(amount), **fields)
    assert field in refused.value.message_dict
    assert not Invoice.objects.filter(kind=Invoice.Kind.COMMITMENT).exists()


def test_commitments_of_one_assignment_do_not_overlap(guide: Guide) -> None:
    commit(guide, "100.00")
    with pytest.raises(ValidationError, match="already has a commitment"):
        commit(guide, "50.00", starts_at=APRIL, ends_at=JUNE + timedelta(days=30))
    assert Commitment.objects.count() == 1
