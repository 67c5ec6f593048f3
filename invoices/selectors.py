"""Reads of stored invoices: an issued invoice as the page and the PDF show
it, rebuilt from its stored lines and snapshot only (nothing live)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from invoices.builder import (
    Header,
    InvoiceSection,
    SectionedLines,
    build_invoice,
    stored_period,
)
from invoices.builder import Invoice as InvoiceContent
from invoices.late_usage import pending_late_usage, with_late_usage
from invoices.models import Invoice
from pricing.money import exact_sum
from pricing.rating import LineKind, PricedLine, UnpricedUsage


@dataclass(frozen=True)
class StoredContent(SectionedLines):
    """Shaped like invoices.builder.Invoice, so one template shows both."""

    header: Header
    currency: str
    sections: list[InvoiceSection]
    total: Decimal
    unpriced: tuple[UnpricedUsage, ...] = ()

    @property
    def plan_name(self) -> str:
        return self.header.plan_name


def stored_content(invoice: Invoice) -> StoredContent:
    """An issued invoice exactly as issued: one query for its lines."""
    assert invoice.total is not None and invoice.usage_end is not None
    sections = []
    rows = invoice.lines.order_by("position")
    for (meter_id, label, detail), group in groupby(
        rows, key=lambda r: (r.meter_id, r.section, r.section_detail)
    ):
        lines = [
            PricedLine(
                rate_id=0,
                description=r.description,
                dimensions=tuple((str(n), str(v)) for n, v in r.dimensions),
                quantity=r.quantity,
                unit_price=r.unit_price,
                exact_amount=r.exact_amount,
                amount=r.amount,
                kind=LineKind(r.kind),
                explanation=r.explanation,
            )
            for r in group
        ]
        subtotal = exact_sum(line.amount for line in lines)
        sections.append(InvoiceSection(meter_id, label, detail, lines, subtotal))
    header = Header(
        customer_name=invoice.customer_name,
        customer_id=invoice.customer_external_id,
        customer_email=invoice.customer_email,
        customer_address=invoice.customer_address,
        plan_name=invoice.plan_name,
        period_start=invoice.period_start,
        usage_end=invoice.usage_end,
        number=invoice.number or "",
        status=invoice.status,
        status_label=invoice.get_status_display(),
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        seller_name=invoice.seller_name,
        seller_address=invoice.seller_address,
        plan_version=invoice.plan_version,
    )
    return StoredContent(header, invoice.currency, sections, invoice.total)


def draft_content(invoice: Invoice, now: datetime) -> InvoiceContent:
    """A draft as it stands: its period's usage so far, plus the late usage of
    earlier issued invoices it will bill. The page, the PDF and the API show this."""
    ref = stored_period(invoice.assignment, invoice.period_start, invoice.period_end, now)
    late = pending_late_usage(invoice.customer, before=invoice.period_start, until=now, now=now)
    return with_late_usage(build_invoice(invoice.customer, ref), late)
