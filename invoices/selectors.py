"""Reads of stored invoices: an issued invoice as the page and the PDF show
it, rebuilt from its stored lines and snapshot only (nothing live)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from django.db.models import Count, F, Q
from django_countries import countries

from customers.models import Customer, PlanAssignment
from invoices.adjustments import coupon_uses, invoice_summary, with_steps
from invoices.builder import (
    Header,
    InvoiceSection,
    SectionedLines,
    build_invoice,
    stored_period,
)
from invoices.builder import Invoice as InvoiceContent
from invoices.credits import CustomerCredit, customer_credit
from invoices.late_usage import pending_late_usage, with_late_usage
from invoices.models import (
    CouponRedemption,
    CreditGrant,
    CreditLedgerEntry,
    Invoice,
    InvoiceLine,
)
from pricing.costing import ZERO, LineCost
from pricing.coupons import describe
from pricing.invoice_steps import TAX_NOTES, DiscountKind, StepsSummary, TaxStatus
from pricing.models import Coupon
from pricing.money import DEFAULT_LOCALE, exact_sum
from pricing.rating import LineKind, PricedLine, UnpricedUsage


@dataclass(frozen=True)
class StoredContent(SectionedLines):
    """Shaped like invoices.builder.Invoice, so one template shows both."""

    header: Header
    currency: str
    sections: list[InvoiceSection]
    total: Decimal
    unpriced: tuple[UnpricedUsage, ...] = ()
    # Prepaid credit drawn at finalization (its ledger entries), and what is
    # left to pay (Invoice.due); returned: voiding gave the credit back.
    credits: tuple[AppliedCredit, ...] = ()
    amount_due: Decimal | None = None
    credits_returned: bool = False
    steps: StepsSummary | None = None
    kind: str = Invoice.Kind.USAGE

    @property
    def plan_name(self) -> str:
        return self.header.plan_name

    @property
    def credits_applied(self) -> Decimal:
        return exact_sum(credit.amount for credit in self.credits)


@dataclass(frozen=True)
class AppliedCredit:
    """One grant's part of the credit an invoice drew."""

    grant_id: int
    description: str
    amount: Decimal


def applied_credits(invoice: Invoice) -> tuple[tuple[AppliedCredit, ...], bool]:
    """The credit the invoice drew, grant by grant (oldest grant first), and
    whether voiding it gave that credit back: one query."""
    entries = (
        CreditLedgerEntry.objects.filter(
            invoice=invoice,
            kind__in=[CreditLedgerEntry.Kind.DRAWN, CreditLedgerEntry.Kind.RETURNED],
        )
        .select_related("grant")
        .order_by("grant_id", "pk")
    )
    drawn, returned = [], False
    for entry in entries:
        if entry.kind == CreditLedgerEntry.Kind.RETURNED:
            returned = True
        else:
            drawn.append(AppliedCredit(entry.grant_id, entry.grant.description, entry.amount))
    return tuple(drawn), returned


def stored_cost(line: PricedLine, row: InvoiceLine) -> LineCost:
    """A stored line's cost as finalization kept it: the known part, and no
    cost known when some usage had none (cost_unknown_quantity set) or when
    the line was issued before costs were kept (cost null): never $0.00."""
    if row.cost is None:
        unknown = row.quantity if line.kind in (LineKind.USAGE, LineKind.LATE_USAGE) else ZERO
        return LineCost(line, None, ZERO, unknown)
    if row.cost_unknown_quantity is not None:
        return LineCost(line, None, row.cost, row.cost_unknown_quantity)
    return LineCost(line, row.cost, row.cost, ZERO)


def stored_content(invoice: Invoice) -> StoredContent:
    """An issued invoice exactly as issued: one query for its lines, one for
    the credit it drew."""
    assert invoice.total is not None and invoice.usage_end is not None
    sections = []
    rows = invoice.lines.order_by("position")
    for (meter_id, label, detail), group in groupby(
        rows, key=lambda r: (r.meter_id, r.section, r.section_detail)
    ):
        stored = list(group)
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
            for r in stored
        ]
        subtotal = exact_sum(line.amount for line in lines)
        costs = tuple(stored_cost(line, r) for line, r in zip(lines, stored, strict=True))
        sections.append(InvoiceSection(meter_id, label, detail, lines, subtotal, costs=costs))
    header = Header(
        customer_name=invoice.customer_name,
        customer_id=invoice.customer_external_id,
        customer_email=invoice.customer_email,
        customer_address=invoice.customer_address,
        customer_country=str(countries.name(invoice.customer_country or "")),
        customer_tax_id=invoice.customer_tax_id or "",
        tax_note=TAX_NOTES[TaxStatus(invoice.customer_tax_status or TaxStatus.TAXABLE)],
        locale=invoice.customer_locale or DEFAULT_LOCALE,
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
    credits, returned = applied_credits(invoice)
    charges = exact_sum(section.subtotal for section in sections)
    return StoredContent(
        header,
        invoice.currency,
        sections,
        invoice.total,
        credits=credits,
        amount_due=invoice.due,
        credits_returned=returned,
        steps=invoice_summary(invoice, charges),
        kind=invoice.kind,
    )


def negative_margin_issued(invoice: Invoice) -> bool:
    """Whether an issued invoice has a line whose stored cost (all of it
    known) is above its amount: one query."""
    lines = invoice.lines.filter(
        cost__isnull=False, cost_unknown_quantity__isnull=True
    ).values_list("amount", "cost")
    return any(cost is not None and cost > amount for amount, cost in lines)


def draft_content(invoice: Invoice, now: datetime) -> InvoiceContent:
    """A draft as it stands: its period's usage so far, plus the late usage of
    earlier issued invoices it will bill. The page, the PDF and the API show this."""
    ref = stored_period(invoice.assignment, invoice.period_start, invoice.period_end, now)
    late = pending_late_usage(invoice.customer, before=invoice.period_start, until=now, now=now)
    return with_steps(with_late_usage(build_invoice(invoice.customer, ref), late))


# Prepaid credit on the customer page -----------------------------------------------


# The pill each state of a grant wears (invoices.credits.GrantView.state).
GRANT_PILL = {"active": "ok", "scheduled": "warn", "expired": "", "voided": "", "used up": ""}


@dataclass(frozen=True)
class GrantRow:
    grant: CreditGrant
    balance: Decimal
    state: str
    entries: list[CreditLedgerEntry]

    @property
    def pill(self) -> str:
        return GRANT_PILL[self.state]

    @property
    def can_void(self) -> bool:
        return self.state != "voided" and self.balance > 0

    @property
    def ledger(self) -> list[tuple[CreditLedgerEntry, int]]:
        """Each entry with what it does to the balance: +1 or -1."""
        sign = CreditLedgerEntry.SIGN
        return [(entry, sign[CreditLedgerEntry.Kind(entry.kind)]) for entry in self.entries]


@dataclass(frozen=True)
class CreditCard:
    """What the customer page's Credit card shows."""

    rows: list[GrantRow]
    available: list[tuple[str, Decimal]]  # usable now, by currency
    currencies: list[str]  # the customer's plans' currencies, latest plan first


def customer_assignments(customer: Customer) -> list[PlanAssignment]:
    """The customer's plan assignments with their plans, latest first: read
    once for the billing region's cards (one query)."""
    return list(customer.assignments.select_related("plan").order_by("-start_at", "-pk"))


def credit_card(
    customer: Customer, now: datetime, assignments: list[PlanAssignment] | None = None
) -> CreditCard:
    """The customer's grants with their state and ledger, and what is usable
    now: three queries, whatever the number of grants and entries (and one
    for the assignments unless given, from `customer_assignments`)."""
    credit: CustomerCredit = customer_credit(customer, now)
    rows = [GrantRow(v.grant, v.balance, v.state(now), v.entries) for v in credit.grants]
    if assignments is None:
        assignments = customer_assignments(customer)
    latest_first = [a.plan.currency for a in assignments]
    return CreditCard(rows, sorted(credit.available.items()), list(dict.fromkeys(latest_first)))


# Coupons on the customer page ------------------------------------------------


@dataclass(frozen=True)
class RedemptionRow:
    """One coupon given to the customer, with how many issued (not void)
    invoices it has discounted so far."""

    redemption: CouponRedemption
    used: int

    @property
    def coupon(self) -> Coupon:
        return self.redemption.coupon

    @property
    def terms(self) -> str:
        return describe(self.redemption.coupon)

    @property
    def state(self) -> str:
        """Removed; used up (its duration has run out: it discounts no more
        invoices, as invoices.adjustments.Adjuster decides); or active."""
        if self.redemption.removed_at is not None:
            return "removed"
        return "active" if self.coupon.spec.applies(self.used) else "used up"

    @property
    def pill(self) -> str:
        return "ok" if self.state == "active" else ""


@dataclass(frozen=True)
class CouponCard:
    """What the customer page's Coupons card shows."""

    rows: list[RedemptionRow]
    givable: list[Coupon]  # what the "Give a coupon" select offers
    assignments: list[PlanAssignment]  # latest first


def coupon_card(
    customer: Customer, now: datetime, assignments: list[PlanAssignment] | None = None
) -> CouponCard:
    """The coupons given to the customer (latest first) with the invoices each
    discounted, and those that can still be given to them: three queries,
    whatever the number of coupons, redemptions and invoices.

    The select leaves out a coupon the customer holds, one that is archived,
    past its redeem-by time or given its maximum number of times, and a fixed
    amount in a currency none of the customer's plans bill in; coupon_redeem
    checks the same rules again (the page may be stale)."""
    redemptions = (
        customer.coupon_redemptions.select_related("coupon", "assignment__plan")
        .annotate(used=coupon_uses())
        .order_by("-redeemed_at", "-pk")
    )
    rows = [RedemptionRow(r, r.used) for r in redemptions]
    if assignments is None:
        assignments = customer_assignments(customer)
    currencies = {a.plan.currency for a in assignments}
    held = [r.redemption.coupon_id for r in rows if r.redemption.removed_at is None]
    givable = (
        Coupon.objects.filter(archived_at__isnull=True)
        .filter(Q(redeem_by__isnull=True) | Q(redeem_by__gt=now))
        .filter(Q(kind=DiscountKind.PERCENTAGE) | Q(currency__in=currencies))
        .exclude(pk__in=held)
        .annotate(given=Count("redemptions"))
        .filter(Q(max_redemptions__isnull=True) | Q(given__lt=F("max_redemptions")))
        .order_by("code")
    )
    return CouponCard(rows, list(givable), assignments)
