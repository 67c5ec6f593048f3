from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms

from customers.forms import DATETIME_INPUT
from invoices.models import Invoice
from pricing.models import Plan


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
        field.queryset = Plan.objects.exclude(pk=current.pk).order_by("name")
