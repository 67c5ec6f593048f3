"""Stored invoices: one per (assignment, billing period).

Invariants (each enforced by the database, migration 0002, as well as by
invoices/services.py):
- one invoice per (assignment, period start);
- a finalized invoice (any status but draft) never changes, except its
  lifecycle columns (LIFECYCLE_FIELDS) moving along ALLOWED_TRANSITIONS, and
  is never deleted; paid and void invoices do not change at all;
- lines, status changes, stored PDFs and credit notes are written once and
  never updated or deleted; lines are only added to a draft, at finalization;
- invoice and credit-note numbers come from a locked counter row
  (NumberSequence), so they are gapless and never reused.

A draft stores no lines: while it is a draft its lines are computed from
usage (invoices/builder.py); finalization stores them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.urls import reverse

from customers.models import Customer, PlanAssignment
from meters.fields import ExactDecimalField
from meters.models import Meter
from pricing.locales import MAX_LOCALE, language_tag
from pricing.models import Coupon, Plan
from pricing.money import DEFAULT_LOCALE
from pricing.rating import LineKind


def _amount(**kwargs: object) -> ExactDecimalField:
    """A rounded money amount: the currency's minor unit, at most 3 places (KWD)."""
    return ExactDecimalField(max_digits=60, decimal_places=3, **kwargs)  # type: ignore[arg-type]


def _exact(**kwargs: object) -> ExactDecimalField:
    """An unrounded amount: a 30-digit price times a 40-digit quantity fits."""
    return ExactDecimalField(max_digits=80, decimal_places=30, **kwargs)  # type: ignore[arg-type]


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"  # finalized, awaiting payment
        PAID = "paid", "Paid"
        VOID = "void", "Void"
        UNCOLLECTIBLE = "uncollectible", "Uncollectible"

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"  # a billing period's invoice, in arrears
        COMMITMENT = "commitment", "Prepaid commitment"  # a commitment's purchase, up front

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    assignment = models.ForeignKey(
        PlanAssignment, on_delete=models.PROTECT, related_name="invoices"
    )
    # A usage invoice covers one billing period of the assignment; a
    # commitment invoice covers the commitment's term, and is issued when the
    # commitment is made (invoices.commitments).
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.USAGE)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    on_hold = models.BooleanField(
        default=False, help_text="Held for review: period close does not finalize it."
    )
    currency = models.CharField(max_length=3)

    # Set at finalization, frozen from then on.
    number = models.CharField(max_length=64, unique=True, null=True, blank=True)
    sequence = models.BigIntegerField(unique=True, null=True, blank=True)
    usage_end = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The end of the billed usage (the assignment may end early).",
    )
    usage_cutoff = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Events received up to this instant are on the invoice; later ones are late.",
    )
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    net_terms_days = models.PositiveIntegerField(null=True, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_external_id = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    customer_address = models.TextField(blank=True)
    # How the customer was taxed when the invoice was issued. Null on
    # invoices issued before customers carried it (added by ALTER TABLE, so
    # the immutability triggers stay; migration 0005).
    customer_country = models.CharField(max_length=2, null=True, blank=True)
    customer_tax_id = models.CharField(max_length=64, null=True, blank=True)
    customer_tax_status = models.CharField(max_length=20, null=True, blank=True)
    # The locale the invoice is written in (pricing.locales): the customer's,
    # else the seller's, when it was issued. Null on invoices issued before
    # there were locales: they were written in en_US (migration 0009).
    customer_locale = models.CharField(max_length=MAX_LOCALE, null=True, blank=True)
    seller_name = models.CharField(max_length=200, blank=True)
    seller_address = models.TextField(blank=True)
    plan_name = models.CharField(max_length=200, blank=True)
    billing_period = models.CharField(max_length=20, blank=True)
    plan_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The number of the plan's price version that priced it."
    )
    total = _amount(null=True, blank=True)
    # Prepaid credit drawn at finalization (CreditLedgerEntry), and what is
    # left to pay: total − credits_applied. Empty on a draft.
    credits_applied = _amount(null=True, blank=True)
    amount_due = _amount(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    # Lifecycle after finalization (LIFECYCLE_FIELDS).
    paid_at = models.DateField(null=True, blank=True)
    payment_reference = models.CharField(max_length=200, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    uncollectible_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "period_start"],
                condition=Q(kind="usage"),
                name="invoices_invoice_one_per_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="invoices_invoice_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(number__isnull=False)
                    & Q(sequence__isnull=False)
                    & Q(total__isnull=False)
                    & Q(issue_date__isnull=False)
                    & Q(due_date__isnull=False)
                    & Q(finalized_at__isnull=False)
                ),
                name="invoices_invoice_finalized_is_complete",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "open", "paid", "void", "uncollectible"]),
                name="invoices_invoice_status_known",
            ),
        ]
        indexes = [models.Index(fields=["status", "period_end"], name="invoices_status_end")]
        permissions = [
            ("finalize_invoice", "Can finalize and hold drafts, and record payments"),
            ("correct_invoice", "Can void invoices, mark them uncollectible, issue credit notes"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {self.period_start:%Y-%m-%d} for {self.customer_id}"

    def get_absolute_url(self) -> str:
        return reverse("invoices:detail", args=[self.pk])

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def due(self) -> Decimal | None:
        """What the invoice asks to be paid: its total less the credit it
        drew (an invoice issued before credit existed asks its total)."""
        due: Decimal | None = self.amount_due if self.amount_due is not None else self.total
        return due

    @property
    def locale(self) -> str:
        """The locale it is written in: as issued (en_US, for invoices issued
        before locales), or for a draft the customer's now."""
        if self.is_draft:
            return self.customer.invoice_locale
        return self.customer_locale or DEFAULT_LOCALE

    @property
    def language(self) -> str:
        return language_tag(self.locale)


# The columns a finalized invoice may still change, and the moves allowed.
LIFECYCLE_FIELDS = (
    "status",
    "paid_at",
    "payment_reference",
    "voided_at",
    "void_reason",
    "uncollectible_at",
)
ALLOWED_TRANSITIONS = {
    Invoice.Status.DRAFT: {Invoice.Status.OPEN},
    Invoice.Status.OPEN: {Invoice.Status.PAID, Invoice.Status.VOID, Invoice.Status.UNCOLLECTIBLE},
    Invoice.Status.UNCOLLECTIBLE: {Invoice.Status.PAID, Invoice.Status.VOID},
    Invoice.Status.PAID: set(),
    Invoice.Status.VOID: set(),
}


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(
        max_length=20, choices=[(k.value, k.value.replace("_", " ").capitalize()) for k in LineKind]
    )
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    section = models.CharField(max_length=200, help_text="The meter's label when invoiced.")
    section_detail = models.CharField(max_length=100, blank=True, help_text="The rate's model.")
    dimensions = models.JSONField(default=list, help_text="[[name, value], …]")
    description = models.TextField()
    quantity = ExactDecimalField(max_digits=40, decimal_places=9)
    unit_price = ExactDecimalField(max_digits=30, decimal_places=15, null=True, blank=True)
    explanation = models.TextField(blank=True)
    exact_amount = _exact()
    amount = _amount()
    # A late-usage line: the earlier invoice whose period the usage belongs to,
    # and the last instant of receipt it covers (the next one starts there).
    late_for = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="late_lines"
    )
    late_through = models.DateTimeField(null=True, blank=True)
    # What the line's usage cost at finalization (invoices.margins): the
    # known part, and how much usage had no known cost (null: all known).
    # Both null: issued before costs were kept. Never shown to customers.
    cost = _amount(null=True, blank=True)
    cost_unknown_quantity = ExactDecimalField(
        max_digits=40, decimal_places=9, null=True, blank=True
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoices_invoiceline_one_per_position"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceStatusChange(models.Model):
    """The invoice's history, written once per change, never edited."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.CharField(max_length=200, help_text="Who: a username, or the system job.")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"


class InvoiceDocument(models.Model):
    """The PDF sent to the customer, rendered once from the stored invoice."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="document")
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"PDF of {self.invoice_id}"


class CreditNote(models.Model):
    """A correction of a finalized invoice: the amount credited back, whole or
    by line. Written once, never changed; its own gapless numbers."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=64, unique=True)
    sequence = models.BigIntegerField(unique=True)
    issued_at = models.DateTimeField()
    reason = models.TextField()
    currency = models.CharField(max_length=3)
    total = _amount()
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="invoices_creditnote_positive"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("invoices:credit_note", args=[self.pk])


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="credits"
    )
    description = models.TextField()
    amount = _amount()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="invoices_creditnoteline_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNoteDocument(models.Model):
    credit_note = models.OneToOneField(
        CreditNote, on_delete=models.PROTECT, related_name="document"
    )
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"PDF of {self.credit_note_id}"


class NumberSequence(models.Model):
    """A counter row per document kind. The finalizing transaction locks it
    (SELECT … FOR UPDATE; SQLite's IMMEDIATE transactions serialize writers),
    takes `next_value`, and increments it before committing, so a number is
    used exactly once and none is skipped: a rolled-back finalization rolls
    the increment back too."""

    name = models.CharField(max_length=30, primary_key=True)
    next_value = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.name}: next {self.next_value}"


ZERO = Decimal(0)


class CreditGrant(models.Model):
    """Prepaid or promotional credit for a customer, in one currency, drawn by
    their invoices at finalization (invoices/credits.py). Written once: what
    happens to it afterwards (drawn, returned, expired, voided) is its ledger."""

    class Kind(models.TextChoices):
        PAID = "paid", "Paid"  # bought by the customer
        PROMOTIONAL = "promotional", "Promotional"  # given

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_grants")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROMOTIONAL)
    currency = models.CharField(max_length=3)
    amount = _amount()
    description = models.CharField(max_length=200)
    # For a paid grant: the purchase it came from (an order or invoice number).
    purchase_reference = models.CharField(max_length=200, blank=True)
    effective_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    # 0-100, lower drawn first among grants expiring together (Stripe's convention).
    priority = models.PositiveSmallIntegerField(default=50)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoices_creditgrant_positive"),
            models.CheckConstraint(
                condition=Q(priority__lte=100), name="invoices_creditgrant_priority_range"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("effective_at")),
                name="invoices_creditgrant_expires_after_effective",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.amount} {self.currency})"

    def get_absolute_url(self) -> str:
        return f"{self.customer.get_absolute_url()}#credit"


class CreditLedgerEntry(models.Model):
    """One movement of a grant's balance. Append-only (migration 0004): the
    balance is the sum of the entries, and never goes below zero (services
    draw under a lock on the grant row)."""

    class Kind(models.TextChoices):
        GRANTED = "granted", "Granted"
        DRAWN = "drawn", "Drawn by an invoice"
        RETURNED = "returned", "Returned by a voided invoice"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided"

    # What each kind does to the balance.
    SIGN = {
        Kind.GRANTED: 1,
        Kind.RETURNED: 1,
        Kind.DRAWN: -1,
        Kind.EXPIRED: -1,
        Kind.VOIDED: -1,
    }

    grant = models.ForeignKey(CreditGrant, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = _amount()
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries"
    )
    at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="invoices_creditledgerentry_positive"
            ),
            # An invoice draws from a grant once, and gives it back once.
            models.UniqueConstraint(
                fields=["grant", "invoice", "kind"],
                condition=Q(kind__in=["drawn", "returned"]),
                name="invoices_creditledgerentry_once_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["grant"],
                condition=Q(kind="granted"),
                name="invoices_creditledgerentry_granted_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class CouponRedemption(models.Model):
    """A coupon given to a customer (every invoice of theirs in its currency)
    or to one of their assignments (that assignment's invoices). It discounts
    the invoices of periods ending after it was given, as its duration says
    (invoices.discounts); removing it stops it for invoices not yet issued."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="coupon_redemptions"
    )
    assignment = models.ForeignKey(
        PlanAssignment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupon_redemptions",
    )
    redeemed_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-redeemed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "customer"],
                condition=Q(removed_at__isnull=True),
                name="invoices_couponredemption_once_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} for {self.customer_id}"


class InvoiceAdjustment(models.Model):
    """One step between an issued invoice's lines and its total
    (pricing.invoice_steps), on one line: a one-time fee, the invoice
    minimum's true-up, a discount's share, or a tax. Written at finalization
    with the lines, never changed (migration 0006)."""

    class Kind(models.TextChoices):
        ONE_TIME_FEE = "one_time_fee", "One-time fee"
        MINIMUM_TRUE_UP = "minimum_true_up", "Invoice minimum true-up"
        DISCOUNT = "discount", "Discount"
        COMMITMENT = "commitment", "Paid from a prepaid commitment"
        TAX = "tax", "Tax"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The line it is on: "line:N" (InvoiceLine N), "fee:N", or the true-up's key.
    line_key = models.CharField(max_length=40)
    description = models.CharField(max_length=300)
    amount = _amount()
    # A tax: the amount it was computed on; a true-up: the charges it topped up.
    base = _amount(null=True, blank=True)
    percentage = ExactDecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    jurisdiction = models.CharField(max_length=2, blank=True)
    inclusive = models.BooleanField(default=False)
    redemption = models.ForeignKey(
        CouponRedemption,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustments",
    )
    commitment = models.ForeignKey(
        "Commitment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustments",
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "position"], name="invoices_invoiceadjustment_one_per_position"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="invoices_invoiceadjustment_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description}"


class Commitment(models.Model):
    """A prepaid commitment: the customer pays `amount` up front (less
    `discount_percent`) on a commitment invoice, and the usage invoices of
    the assignment's periods within the term draw it down before tax; what it
    cannot pay is overage, billed at the plan's rates (invoices.commitments).
    Written once; what it has paid is its invoices' adjustments."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="commitments")
    assignment = models.ForeignKey(
        PlanAssignment, on_delete=models.PROTECT, related_name="commitments"
    )
    currency = models.CharField(max_length=3)
    amount = _amount()
    discount_percent = ExactDecimalField(max_digits=9, decimal_places=4, default=0)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="commitment_bought"
    )
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoices_commitment_positive"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lt=100),
                name="invoices_commitment_discount_range",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="invoices_commitment_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Commitment of {self.amount} {self.currency} ({self.pk})"
