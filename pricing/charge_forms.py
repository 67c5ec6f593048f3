"""Forms of the plan page's "Invoice charges" and "Taxes" cards.

The charges form builds the document pricing.schema.read_invoice_charges
reads (an invoice minimum, a list of fees) from what was typed, and
pricing.services.plan_charges_save decides whether it is valid, so the page,
a plan file and the API hold charges to the same rules. The service's
ValidationError is keyed by the document's paths (`invoice_minimum`,
`one_time_fees[0].amount`); `place` puts each message next to its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from pricing.forms import ChangeStartForm
from pricing.models import TaxRate
from pricing.money import format_quantity, minor_unit_exponent
from pricing.rate_forms import friendly
from pricing.schema import MAX_ONE_TIME_FEES, InvoiceCharges

# A new fee needs rows to type into: the form shows at least this many.
MIN_FEE_ROWS = 3
FEE_PATH = re.compile(r"one_time_fees\[(\d+)\]\.(description|amount)")


def plain_amount(amount: Decimal, currency: str) -> str:
    """An amount as typed back into an input: `500.00` in USD (stored amounts
    are in the currency's minor unit), without grouping commas."""
    return f"{amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency))):f}"


# pricing.schema's messages about charges, as the form words them.
WORDING = {
    ("description", "is required: the customer reads it on the invoice"): "Describe the fee: "
    "the customer reads it on the invoice.",
    ("amount", "is required"): "Enter the fee's amount.",
    ("amount", "must be greater than zero"): "Enter an amount greater than zero.",
    ("amount", "must not be negative"): "An amount cannot be negative.",
    ("invoice_minimum", "must not be negative"): "A minimum cannot be negative.",
}


def charge_message(name: str, message: str) -> str:
    """The rate editor's wording (pricing.rate_forms.friendly) for what the
    charges share with prices, and WORDING's for the rest."""
    return WORDING.get((name, message)) or friendly(name, message.split(" (got ", 1)[0])


@dataclass
class FeeRow:
    """One fee's inputs (`fee-<index>-description`, `fee-<index>-amount`)."""

    index: int
    description: str = ""
    amount: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_blank(self) -> bool:
        return not self.description.strip() and not self.amount.strip()

    @property
    def description_errors(self) -> list[str]:
        return self.errors.get("description", [])

    @property
    def amount_errors(self) -> list[str]:
        return self.errors.get("amount", [])

    def document(self) -> dict[str, str]:
        return {"description": self.description, "amount": self.amount.strip()}


def _posted_rows(data: QueryDict) -> list[FeeRow]:
    return [
        FeeRow(i, str(data.get(f"fee-{i}-description", "")), str(data.get(f"fee-{i}-amount", "")))
        for i in range(MAX_ONE_TIME_FEES)
        if f"fee-{i}-description" in data or f"fee-{i}-amount" in data
    ]


class PlanChargesForm(ChangeStartForm):
    """The invoice minimum and one-time fees of a plan's current prices. With
    `in_use` (customers are on the plan) it asks when a change takes effect;
    `add_row` (the "Add another fee" button) adds an empty fee row."""

    invoice_minimum = forms.CharField(
        label="Invoice minimum",
        required=False,
        help_text="Per billing period, fees and usage together after discounts: an invoice "
        "below it is trued up to it. Leave it empty for none.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    field_order = ["invoice_minimum", "starts"]

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        charges: InvoiceCharges,
        currency: str,
        in_use: bool,
        add_row: bool = False,
    ) -> None:
        minimum = charges.invoice_minimum
        initial = {"invoice_minimum": "" if minimum is None else plain_amount(minimum, currency)}
        super().__init__(data, initial=initial, auto_id="id_charges-%s")
        if not in_use:
            del self.fields["starts"]
        if data is None:
            self.rows = [
                FeeRow(i, fee.description, plain_amount(fee.amount, currency))
                for i, fee in enumerate(charges.one_time_fees)
            ]
        else:
            self.rows = _posted_rows(data)
        wanted = max(MIN_FEE_ROWS, len(self.rows) + (1 if add_row or data is None else 0))
        while len(self.rows) < min(wanted, MAX_ONE_TIME_FEES):
            self.rows.append(FeeRow(max((row.index for row in self.rows), default=-1) + 1))
        self.sent_rows: list[FeeRow] = []

    @property
    def asks_start(self) -> bool:
        return "starts" in self.fields

    @property
    def can_add_row(self) -> bool:
        return len(self.rows) < MAX_ONE_TIME_FEES

    @property
    def has_fee_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    def charges_document(self) -> dict[str, Any]:
        """What plan_charges_save takes: the typed minimum (None when empty)
        and the fee rows that are not left empty."""
        self.sent_rows = [row for row in self.rows if not row.is_blank]
        minimum = str(self.cleaned_data.get("invoice_minimum") or "").strip()
        return {
            "invoice_minimum": minimum or None,
            "one_time_fees": [row.document() for row in self.sent_rows],
        }

    def place(self, exc: ValidationError) -> None:
        """Put each of the service's messages next to the input it is about."""
        for path, messages in exc.message_dict.items():
            fee = FEE_PATH.fullmatch(path)
            if fee is not None and int(fee.group(1)) < len(self.sent_rows):
                row, name = self.sent_rows[int(fee.group(1))], fee.group(2)
                row.errors.setdefault(name, []).extend(charge_message(name, m) for m in messages)
            elif path in self.fields:
                self.add_error(path, [charge_message(path, m) for m in messages])
            else:
                self.add_error(None, [charge_message(path, m) for m in messages])
        if self.has_fee_errors:
            self.add_error(None, "The charges were not saved: see the messages below.")


def tax_rate_label(rate: TaxRate) -> str:
    """`VAT 20% · United Kingdom · tax-exclusive`."""
    where = rate.country.name if rate.country else "everywhere"
    prices = "tax-inclusive" if rate.inclusive else "tax-exclusive"
    return f"{rate.name} {format_quantity(rate.percentage)}% · {where} · {prices}"


class TaxRateChoiceField(forms.ModelMultipleChoiceField[TaxRate]):
    def label_from_instance(self, obj: TaxRate) -> str:
        return tax_rate_label(obj)


class PlanTaxesForm(forms.Form):
    """Which tax rates a plan's invoices charge: any of the active ones
    (pricing.taxes.plan_tax_rates_set checks they do not mix inclusive and
    exclusive)."""

    tax_rates = TaxRateChoiceField(
        queryset=TaxRate.objects.filter(archived_at__isnull=True),
        required=False,
        label="Tax rates",
        widget=forms.CheckboxSelectMultiple,
        help_text="A customer is charged the chosen rates of their country and those that "
        "apply everywhere. All chosen rates are tax-exclusive, or all tax-inclusive.",
        error_messages={
            "invalid_choice": "Choose tax rates from the list; archived ones no longer apply."
        },
    )

    def __init__(self, data: QueryDict | None = None, *, chosen: list[TaxRate]) -> None:
        active = [rate.pk for rate in chosen if rate.archived_at is None]
        super().__init__(data, initial={"tax_rates": active}, auto_id="id_taxes-%s")
