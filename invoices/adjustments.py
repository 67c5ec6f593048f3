"""The invoice steps on real invoices: from a draft's or a finalizing
invoice's priced lines to its total, through the pure core
(pricing.invoice_steps), with the inputs read from the database here.

For one invoice, the inputs are:
- its lines (the period's usage, base fees and per-rate minimums, and the
  late usage it bills), each keyed "line:N" in the order they are stored;
- the one-time fees of its plan version, on the first invoice of an
  assignment (the period that starts when the assignment does);
- its plan version's invoice minimum, prorated like base fees;
- the coupons given to the customer, or to the invoice's assignment, before
  its period ended and not removed, in its currency (a percentage is in
  every currency), that still discount one more invoice (their duration,
  counted in issued invoices they discounted; void ones do not count);
- its plan's tax rates for the customer's country, and the customer's tax
  status.
`Adjuster` reads them for many invoices at a fixed number of queries. At
finalization it locks the coupons given (in id order, before the credit
grants) and counts each invoice it discounts, so two invoices finalized at
once, or in one batch, cannot both take a coupon's last use.

What the steps did is stored per line as InvoiceAdjustment rows, written
with the lines and frozen like them; `stored_summary` reads them back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from django.db.models import Count, Q, Sum

from customers.models import Customer
from invoices.builder import Invoice as InvoiceContent
from invoices.builder import InvoiceSection, PeriodRef
from invoices.models import Commitment, CouponRedemption, Invoice, InvoiceAdjustment, InvoiceLine
from pricing.invoice_steps import (
    Charge,
    Discount,
    DiscountKind,
    InvoiceSteps,
    LineSource,
    StepsSummary,
    SummaryRow,
    SummaryTax,
    TaxStatus,
    invoice_steps,
    summarize,
)
from pricing.models import Plan, TaxRate
from pricing.money import exact_sum, round_money
from pricing.rating import LineKind, PricedLine
from pricing.schema import InvoiceCharges
from pricing.taxes import applicable_tax_rates

Kind = InvoiceAdjustment.Kind
COUPON_PREFIX = "coupon:"


LINE_PREFIX = "line:"


def line_key(position: int) -> str:
    """How an adjustment names the stored line it is on."""
    return f"{LINE_PREFIX}{position}"


def charges_of_lines(lines: Sequence[InvoiceLine]) -> list[Charge]:
    """The stored (or about to be stored) lines as the steps see them."""
    return [
        Charge(
            line_key(line.position),
            line.description,
            line.amount,
            LineKind(line.kind),
            None,
            line.meter_id,
        )
        for line in lines
    ]


def charges_of_sections(sections: Sequence[InvoiceSection]) -> list[Charge]:
    """A draft's lines, keyed as finalization will store them."""
    pairs: list[tuple[InvoiceSection, PricedLine]] = [
        (section, line) for section in sections for line in section.lines
    ]
    return [
        Charge.from_priced_line(line_key(n), line, section.meter_id)
        for n, (section, line) in enumerate(pairs, start=1)
    ]


def one_time_fees(ref: PeriodRef, charges: InvoiceCharges) -> list[Charge]:
    """The version's one-time fees, on the assignment's first period only."""
    if ref.period.start != ref.assignment.start_at:
        return []
    return [
        Charge(f"fee:{n}", fee.description, fee.amount, LineKind.BASE_FEE)
        for n, fee in enumerate(charges.one_time_fees, start=1)
    ]


def prorated_minimum(ref: PeriodRef, charges: InvoiceCharges, currency: str) -> Decimal | None:
    """The invoice minimum for the share of the period the assignment covers
    (as base fees are prorated), rounded by the one rule."""
    if charges.invoice_minimum is None:
        return None
    return round_money(Fraction(charges.invoice_minimum) * ref.coverage, currency)


def _issued(kind: str) -> Q:
    """A CouponRedemption's or Commitment's adjustments of `kind` on issued
    invoices that are not void: what counts as used or drawn."""
    return Q(adjustments__kind=kind) & ~Q(
        adjustments__invoice__status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID]
    )


def coupon_uses() -> Count:
    """Annotates a CouponRedemption with how many invoices it has discounted:
    the count its duration is measured in."""
    return Count("adjustments__invoice", filter=_issued(Kind.DISCOUNT), distinct=True)


def commitment_drawn() -> Sum:
    """Annotates a Commitment with what usage invoices have drawn from it
    (None when nothing)."""
    return Sum("adjustments__amount", filter=_issued(Kind.COMMITMENT))


class Adjuster:
    """The inputs of the invoice steps for the invoices of `customers` on
    `plans`: three queries (four when `lock`ing), however many invoices."""

    def __init__(self, customers: Iterable[int], plans: Iterable[int], *, lock: bool) -> None:
        active = CouponRedemption.objects.filter(
            customer_id__in=set(customers), removed_at__isnull=True
        )
        if lock:
            ids = list(active.select_for_update().order_by("pk").values_list("pk", flat=True))
            active = CouponRedemption.objects.filter(pk__in=ids)
        redemptions = (
            active.select_related("coupon")
            .prefetch_related("coupon__meters")
            .annotate(used=coupon_uses())
            .order_by("pk")
        )
        self.redemptions: dict[int, list[CouponRedemption]] = defaultdict(list)
        self.used: dict[int, int] = {}
        for redemption in redemptions:
            self.redemptions[redemption.customer_id].append(redemption)
            self.used[redemption.pk] = redemption.used
        self._commitments(set(customers), lock=lock)
        self.tax_rates: dict[int, list[TaxRate]] = defaultdict(list)
        links = Plan.tax_rates.through.objects.filter(plan_id__in=set(plans)).select_related(
            "taxrate"
        )
        for link in links.order_by("taxrate__code"):
            self.tax_rates[link.plan_id].append(link.taxrate)

    def _commitments(self, customers: set[int], *, lock: bool) -> None:
        """The customers' commitments whose invoice is not void, by
        assignment, and what issued (non-void) invoices have drawn from each."""
        found = Commitment.objects.filter(customer_id__in=customers).exclude(
            invoice__status=Invoice.Status.VOID
        )
        if lock:
            ids = list(found.select_for_update().order_by("pk").values_list("pk", flat=True))
            found = Commitment.objects.filter(pk__in=ids)
        rows = found.annotate(drawn=commitment_drawn()).order_by("pk")
        self.commitments: dict[int, list[Commitment]] = defaultdict(list)
        self.drawn: dict[int, Decimal] = {}
        for commitment in rows:
            self.commitments[commitment.assignment_id].append(commitment)
            self.drawn[commitment.pk] = Decimal(commitment.drawn or 0)

    def commitment(self, ref: PeriodRef) -> Commitment | None:
        """The commitment whose term the period starts in, if any."""
        for commitment in self.commitments.get(ref.assignment.pk, []):
            if commitment.starts_at <= ref.period.start < commitment.ends_at:
                return commitment
        return None

    def discounts(
        self, customer: Customer, assignment_id: int, currency: str, period_end: datetime
    ) -> list[Discount]:
        """The coupons that discount this invoice, in the order they were given."""
        found = []
        for redemption in self.redemptions.get(customer.pk, []):
            coupon = redemption.coupon
            if (
                redemption.assignment_id not in (None, assignment_id)
                or redemption.redeemed_at >= period_end
                or (coupon.kind == DiscountKind.FIXED and coupon.currency != currency)
                or not coupon.spec.applies(self.used[redemption.pk])
            ):
                continue
            found.append(
                Discount(
                    f"{COUPON_PREFIX}{redemption.pk}",
                    f"{coupon.name} ({coupon.code})",
                    DiscountKind(coupon.kind),
                    coupon.value,
                    coupon.currency or None,
                    meter_ids=frozenset(meter.pk for meter in coupon.meters.all()),
                )
            )
        return found

    def run(
        self,
        *,
        customer: Customer,
        ref: PeriodRef,
        currency: str,
        charges: list[Charge],
        invoice_charges: InvoiceCharges,
        commit: bool,
    ) -> Adjusted:
        """The steps of one invoice. With `commit` (finalization), each coupon
        that discounted it counts one more use, and what it drew from a
        commitment is taken off the commitment, for the invoices after it."""
        commitment = self.commitment(ref)
        balance = None
        if commitment is not None:
            balance = max(Decimal(0), commitment.amount - self.drawn[commitment.pk])
        steps = invoice_steps(
            currency=currency,
            charges=charges,
            issued_at=ref.period.end,
            one_time_fees=one_time_fees(ref, invoice_charges),
            discounts=self.discounts(customer, ref.assignment.pk, currency, ref.period.end),
            minimum=prorated_minimum(ref, invoice_charges, currency),
            tax_rates=applicable_tax_rates(
                self.tax_rates.get(ref.assignment.plan_id, []), str(customer.country.code or "")
            ),
            tax_status=TaxStatus(customer.tax_status),
            commitment_balance=balance,
        )
        if commit:
            for applied in steps.discounts:
                if applied.applied:
                    self.used[redemption_id(applied.discount.id)] += 1
            if commitment is not None:
                self.drawn[commitment.pk] += steps.commitment_drawn
        return Adjusted(steps, commitment.pk if commitment else None)


@dataclass(frozen=True)
class Adjusted:
    """An invoice's steps, and the commitment they drew from (if any)."""

    steps: InvoiceSteps
    commitment_id: int | None

    def rows(self, invoice: Invoice) -> list[InvoiceAdjustment]:
        return adjustment_rows(invoice, self.steps, self.commitment_id)


def redemption_id(discount_id: str) -> int:
    return int(discount_id.removeprefix(COUPON_PREFIX))


def adjustment_rows(
    invoice: Invoice, steps: InvoiceSteps, commitment_id: int | None = None
) -> list[InvoiceAdjustment]:
    """What the steps did, line by line, as rows to store with the lines
    (`commitment_id`: the commitment the steps drew from, if any)."""
    rows: list[InvoiceAdjustment] = []
    descriptions = {d.discount.id: d.discount.description for d in steps.discounts}

    def add(kind: str, key: str, description: str, amount: Decimal, **extra: object) -> None:
        rows.append(
            InvoiceAdjustment(
                invoice=invoice,
                position=len(rows) + 1,
                kind=kind,
                line_key=key,
                description=description[:300],
                amount=amount,
                **extra,
            )
        )

    for line in steps.lines:
        key = line.charge.key
        if line.source is LineSource.ONE_TIME_FEE:
            add(Kind.ONE_TIME_FEE, key, line.charge.description, line.charge.amount)
        elif line.source is LineSource.MINIMUM_TRUE_UP:
            assert steps.minimum is not None
            add(
                Kind.MINIMUM_TRUE_UP,
                key,
                line.charge.description,
                line.charge.amount,
                base=steps.minimum.spend,
            )
        for part in line.discounts:
            coupon = part.discount_id.startswith(COUPON_PREFIX)
            add(
                Kind.DISCOUNT,
                key,
                descriptions[part.discount_id],
                part.amount,
                redemption_id=redemption_id(part.discount_id) if coupon else None,
            )
        if line.commitment:
            add(
                Kind.COMMITMENT,
                key,
                "Paid from the prepaid commitment",
                line.commitment,
                commitment_id=commitment_id,
            )
        for tax in line.taxes:
            add(
                Kind.TAX,
                key,
                tax.rate.name,
                tax.tax,
                base=tax.base,
                percentage=tax.rate.percentage,
                jurisdiction=tax.rate.jurisdiction,
                inclusive=tax.rate.inclusive,
            )
    return rows


def with_steps(content: InvoiceContent) -> InvoiceContent:
    """A computed invoice (a draft, or a period's invoice to date) with what
    the steps make of it as things stand: nothing is locked or counted."""
    ref = content.ref
    adjuster = Adjuster([content.customer.pk], [ref.assignment.plan_id], lock=False)
    adjusted = adjuster.run(
        customer=content.customer,
        ref=ref,
        currency=content.currency,
        charges=charges_of_sections(content.sections),
        invoice_charges=content.charges,
        commit=False,
    )
    return replace(content, steps=summarize(adjusted.steps))


def invoice_summary(invoice: Invoice, charges: Decimal) -> StepsSummary:
    """An issued invoice's steps (one query)."""
    assert invoice.total is not None
    return stored_summary(charges, list(invoice.adjustments.order_by("position")), invoice.total)


def stored_summary(
    charges: Decimal, adjustments: Sequence[InvoiceAdjustment], total: Decimal
) -> StepsSummary:
    """An issued invoice's steps from its stored rows (in position order)."""
    fees = [SummaryRow(a.description, a.amount) for a in adjustments if a.kind == Kind.ONE_TIME_FEE]
    discounts: dict[str, Decimal] = {}
    taxes: dict[tuple[str, Decimal, str, bool], tuple[Decimal, Decimal]] = {}
    true_up = drawn = Decimal(0)
    for a in adjustments:
        if a.kind == Kind.COMMITMENT:
            drawn += a.amount
        elif a.kind == Kind.DISCOUNT:
            discounts[a.description] = discounts.get(a.description, Decimal(0)) + a.amount
        elif a.kind == Kind.MINIMUM_TRUE_UP:
            true_up += a.amount
        elif a.kind == Kind.TAX:
            assert a.percentage is not None and a.base is not None
            key = (a.description, a.percentage, a.jurisdiction, a.inclusive)
            base, tax = taxes.get(key, (Decimal(0), Decimal(0)))
            taxes[key] = (base + a.base, tax + a.amount)
    summary_taxes = tuple(
        SummaryTax(name, pct, where, inclusive, base, tax)
        for (name, pct, where, inclusive), (base, tax) in taxes.items()
    )
    tax_added = exact_sum(t.tax for t in summary_taxes if not t.inclusive)
    return StepsSummary(
        charges=charges,
        fees=tuple(fees),
        discounts=tuple(SummaryRow(d, amount) for d, amount in discounts.items()),
        minimum_true_up=true_up,
        commitment_drawn=drawn,
        subtotal=total - tax_added,
        taxes=summary_taxes,
        tax_added=tax_added,
        tax_included=exact_sum(t.tax for t in summary_taxes if t.inclusive),
        total=total,
    )
