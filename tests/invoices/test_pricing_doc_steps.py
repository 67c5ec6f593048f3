"""docs/PRICING.md works the guide's March invoice through every step (a
coupon, a setup fee, an invoice minimum, VAT) in two tables. This finalizes
that invoice for real and checks the tables' numbers against what was
stored, so the document cannot drift from what customers are billed."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from time_machine import TimeMachineFixture

from invoices.adjustments import line_key
from invoices.models import Invoice
from invoices.selectors import stored_content
from pricing.money import format_quantity
from tests.factories import guide_setup
from tests.invoices.test_invoice_steps_wired import MID_MARCH, every_step, issue

DOC = Path(__file__).resolve().parents[2] / "docs" / "PRICING.md"
MARKER = "<!-- tests/invoices/test_pricing_doc_steps.py"
FEE_SUFFIX = " (one-time)"

Table = list[list[str]]


def doc_tables() -> tuple[Table, Table]:
    """The two tables after the marker: per line, then the summary (header
    and separator rows dropped, cells stripped of bold)."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, "the worked example's marker is missing from docs/PRICING.md"
    tables: list[Table] = []
    current: Table = []
    for line in text.split(MARKER, 1)[1].splitlines()[1:]:
        if line.startswith("|"):
            current.append([cell.strip().strip("*") for cell in line.strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
            if len(tables) == 2:
                break
    assert len(tables) == 2, "expected a table per line and a summary table"
    return tables[0][2:], tables[1][2:]


def money(cell: str) -> Decimal:
    """`$1,234.50`, `−$50.01`, or blank (nothing) as a Decimal."""
    if not cell:
        return Decimal(0)
    match = re.fullmatch(r"([−-]?)\$([\d,]+\.\d\d)", cell)
    assert match, f"not an amount in dollars: {cell!r}"
    value = Decimal(match.group(2).replace(",", ""))
    return -value if match.group(1) else value


@pytest.fixture
def march(db: None, time_machine: TimeMachineFixture) -> Invoice:
    time_machine.move_to(MID_MARCH, tick=False)
    guide = guide_setup(MID_MARCH)
    every_step(guide)
    return issue(guide)


def test_the_per_line_table_is_what_finalization_stores(march: Invoice) -> None:
    per_line, _ = doc_tables()
    keys = {line.description: line_key(line.position) for line in march.lines.all()}
    amounts = {line_key(line.position): line.amount for line in march.lines.all()}
    for adjustment in march.adjustments.filter(kind__in=["one_time_fee", "minimum_true_up"]):
        name = adjustment.description
        keys[name + FEE_SUFFIX if adjustment.kind == "one_time_fee" else name] = adjustment.line_key
        amounts[adjustment.line_key] = adjustment.amount
    adjustments = list(march.adjustments.all())

    shown = []
    for description, amount, discount, taxable, vat in per_line:
        key = keys[description]
        [tax] = [a for a in adjustments if a.kind == "tax" and a.line_key == key]
        discounts = [a.amount for a in adjustments if a.kind == "discount" and a.line_key == key]
        assert (money(amount), money(discount), money(taxable), money(vat)) == (
            amounts[key],
            sum(discounts, Decimal(0)),
            tax.base,
            tax.amount,
        ), description
        assert (tax.description, tax.percentage) == ("VAT", Decimal(20))
        shown.append(key)
    # Every line of the invoice is in the table, once, in the stored order.
    assert shown == list(dict.fromkeys(a.line_key for a in adjustments))


def test_the_summary_table_is_the_issued_invoices_steps(march: Invoice) -> None:
    _, summary = doc_tables()
    steps = stored_content(march).steps
    assert steps is not None
    [tax] = steps.taxes
    [discount] = steps.discounts
    expected = {
        "Charges": steps.charges,
        "One-time fees": sum((fee.amount for fee in steps.fees), Decimal(0)),
        f"Discount: {discount.description}": -discount.amount,
        "Invoice minimum true-up": steps.minimum_true_up,
        "Subtotal": steps.subtotal,
        f"{tax.name} {format_quantity(tax.percentage)}% ({tax.jurisdiction})": tax.tax,
        "Total": steps.total,
    }

    assert {step: money(amount) for step, amount in summary} == expected
    assert [step for step, _ in summary] == list(expected)
    assert (march.total, march.amount_due) == (steps.total, steps.total)
