from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from customers.forms import DATETIME_INPUT
from customers.models import Customer, PlanAssignment
from invoices.models import CreditGrant, Invoice
from invoices.selectors import CouponCard
from pricing.coupons import describe
from pricing.models import Coupon, Plan


class InvoiceFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Invoice.Status.choices], required=False
    )
    customer = forms.CharField(
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "Name or customer ID"}),
    )
    period = forms.DateField(
        required=False,
        label="Period containing",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Invoices whose billing period includes this day.",
    )


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept on the invoice's history. The number stays used.",
    )


class PayForm(forms.Form):
    paid_on = forms.DateField(
        label="Paid on", initial=date.today, widget=forms.DateInput(attrs={"type": "date"})
    )
    reference = forms.CharField(
        max_length=200, required=False, help_text="A bank or payment reference, if any."
    )


class CreditNoteForm(forms.Form):
    """One amount field per invoice line, and one off the whole invoice."""

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self,
        *args: Any,
        invoice: Invoice,
        credited: dict[int | None, Decimal] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.credited = credited or {}
        self.line_fields: list[tuple[Any, str]] = []
        for line in invoice.lines.order_by("position"):
            name = f"line-{line.pk}"
            self.fields[name] = forms.DecimalField(
                label=line.description,
                required=False,
                min_value=Decimal(0),
                max_digits=60,
                decimal_places=3,
            )
            self.line_fields.append((line, name))
        self.fields["whole"] = forms.DecimalField(
            label="Amount off the whole invoice",
            required=False,
            min_value=Decimal(0),
            max_digits=60,
            decimal_places=3,
        )

    @property
    def line_rows(self) -> list[tuple[Any, forms.BoundField, Decimal]]:
        """Each line, its amount field, and what is left to credit on it."""
        return [
            (line, self[name], line.amount - self.credited.get(line.pk, Decimal(0)))
            for line, name in self.line_fields
        ]


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.none(), empty_label=None, label="New plan")
    at = forms.DateTimeField(
        label="Change at",
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text="The old plan bills up to this instant, the new one from it.",
    )

    def __init__(self, *args: Any, current: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["plan"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Plan.objects.filter(kind=Plan.Kind.PRICE).exclude(pk=current.pk).order_by("name")
        )


def _datetime_field(**kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        **kwargs,
    )


class CreditGrantForm(forms.Form):
    """Give a customer credit. The rules (a positive amount in the currency's
    minor unit, a currency the customer is billed in, expiry after the start)
    are invoices.credits.credit_grant_create's; its errors land on these
    fields, which carry its argument names."""

    amount = forms.DecimalField(
        max_digits=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text="In the currency beside it, e.g. 100.00.",
    )
    currency = forms.ChoiceField(choices=[])
    kind = forms.ChoiceField(
        choices=CreditGrant.Kind.choices,
        initial=CreditGrant.Kind.PROMOTIONAL,
        help_text="Paid: the customer bought it. Promotional: you give it.",
    )
    description = forms.CharField(
        max_length=200, help_text="Printed on each invoice that draws it, e.g. “Welcome credit”."
    )
    purchase_reference = forms.CharField(
        label="Purchase reference",
        max_length=200,
        required=False,
        help_text="Paid credit only: the order or invoice the customer bought it with.",
    )
    effective_at = _datetime_field(
        label="Effective from", help_text="Invoices finalized from then on can draw it."
    )
    expires_at = _datetime_field(
        label="Expires at",
        required=False,
        help_text="Optional. Not drawn from this instant on; what is left is written off.",
    )
    priority = forms.IntegerField(
        initial=50,
        min_value=0,
        max_value=100,
        help_text="0–100. Credit is drawn soonest expiry first, then lower priority first.",
    )

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(c, c) for c in currencies]
        field.initial = currencies[0] if currencies else None
        field.help_text = "The currencies of the customer's plans; the latest plan's first."
        # Typed in, and shown, in the billing time zone.
        zone = timezone.get_current_timezone_name()
        self.fields["effective_at"].label = f"Effective from ({zone})"
        self.fields["expires_at"].label = f"Expires at ({zone})"


def assignment_label(assignment: PlanAssignment) -> str:
    """“Chatbot Usage Plan · 1 Mar 2025 – 1 Apr 2025” (or “from 1 Mar 2025”)."""
    start = f"{timezone.localtime(assignment.start_at):%-d %b %Y}"
    if assignment.end_at is None:
        return f"{assignment.plan.name} · from {start}"
    return f"{assignment.plan.name} · {start} – {timezone.localtime(assignment.end_at):%-d %b %Y}"


class CouponRedeemForm(forms.Form):
    """Give the customer a coupon. The rules are
    invoices.discounts.coupon_redeem's; its errors land on these fields,
    which carry its argument names.

    The select offers only the coupons that can still be given
    (invoices.selectors.coupon_card), but any coupon is accepted here: one
    archived or given out since the page loaded gets coupon_redeem's reason
    beside the field, not a bare "invalid choice"."""

    coupon = forms.ModelChoiceField(
        queryset=Coupon.objects.all(),
        empty_label="Choose a coupon",
        error_messages={
            "required": "Choose the coupon to give.",
            "invalid_choice": "Choose one of the coupons listed.",
        },
    )
    assignment = forms.ModelChoiceField(
        queryset=PlanAssignment.objects.none(),
        required=False,
        label="Applies to",
        empty_label="Whole customer",
        help_text="Whole customer: every invoice of theirs in the coupon's currency. "
        "A plan assignment: only that plan's invoices.",
        error_messages={"invalid_choice": "Choose one of this customer's plan assignments."},
    )

    def __init__(self, *args: Any, customer: Customer, card: CouponCard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        coupon = self.fields["coupon"]
        assignment = self.fields["assignment"]
        assert isinstance(coupon, forms.ModelChoiceField)
        assert isinstance(assignment, forms.ModelChoiceField)
        assignment.queryset = PlanAssignment.objects.filter(customer=customer)
        # The options come from the card's rows, already read: no query more.
        coupon.widget.choices = [
            ("", "Choose a coupon"),
            *((c.pk, f"{c.code} · {c.name} ({describe(c)})") for c in card.givable),
        ]
        assignment.widget.choices = [
            ("", "Whole customer"),
            *((a.pk, assignment_label(a)) for a in card.assignments),
        ]
