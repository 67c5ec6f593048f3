from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from django import forms

from customers.customer_rules import (
    MAX_BILLING_ADDRESS,
    MAX_CUSTOMER_NAME,
    MAX_TAX_ID,
    billing_address_problem,
    clean_billing_address,
    customer_id_problem,
    customer_name_problem,
    net_terms_days_problem,
)
from customers.models import Customer
from pricing.invoice_steps import TaxStatus
from pricing.locales import locale_choices, locale_label
from pricing.models import Plan
from pricing.money import default_locale
from pricing.schema import MAX_NET_TERMS_DAYS

DATETIME_INPUT = "%Y-%m-%dT%H:%M"
BILLING_FIELDS = (
    "billing_address",
    "net_terms_days",
    "country",
    "tax_id",
    "tax_status",
    "locale",
)


def _billing_address_field() -> forms.CharField:
    return forms.CharField(
        label="Billing address",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BILLING_ADDRESS}),
        help_text="Printed on invoices, as many lines as needed. An issued invoice keeps "
        "the address it was issued with.",
    )


def _net_terms_days_field() -> forms.IntegerField:
    # No min_value/max_value: the range is the rule's (customers.customer_rules),
    # said in its words; the attributes only help the browser.
    return forms.IntegerField(
        label="Payment terms (days)",
        required=False,
        widget=forms.NumberInput(
            attrs={"min": 0, "max": MAX_NET_TERMS_DAYS, "step": 1, "inputmode": "numeric"}
        ),
        help_text="Days from an invoice's issue to its due date, for this customer only. "
        "Leave empty to use the terms of the customer's plan.",
    )


def _country_field() -> forms.Field:
    field = Customer._meta.get_field("country").formfield(required=False)
    assert field is not None
    field.help_text = (
        "Where the customer is, for tax; in the EU the tax ID is checked as a VAT number."
    )
    return field


def _tax_id_field() -> forms.CharField:
    return forms.CharField(
        label="Tax ID",
        required=False,
        max_length=MAX_TAX_ID,
        help_text="The customer's VAT or tax number, printed on invoices (required for "
        "reverse charge).",
    )


def _locale_options() -> list[tuple[str, str]]:
    return [("", f"Yours: {locale_label(default_locale())}"), *locale_choices()]


def _locale_field() -> forms.ChoiceField:
    # Any CLDR locale (pricing.locales); customers.services checks it, so a
    # locale the list lacks is refused in the rule's words, on this field.
    return forms.ChoiceField(
        label="Invoice locale",
        required=False,
        choices=_locale_options,
        help_text="How amounts, numbers and dates are written on this customer's invoices "
        "and PDFs, e.g. 1.234,56 € for German (Germany). An issued invoice keeps its locale.",
    )


def tax_status_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Tax status",
        required=False,  # none chosen: as stored, else taxable (BillingRules)
        choices=[(s.value, s.label) for s in TaxStatus],
        initial=TaxStatus.TAXABLE,
        widget=forms.RadioSelect,
        help_text="Exempt and reverse-charge customers are charged no tax; reverse charge "
        "notes on the invoice that the customer accounts for it.",
    )


class BillingRules:
    """The billing address and payment terms checked by customers.customer_rules
    (a mixin of the create and edit forms)."""

    cleaned_data: dict[str, Any]

    def clean_billing_address(self) -> str:
        address = clean_billing_address(self.cleaned_data["billing_address"])
        if problem := billing_address_problem(address):
            raise forms.ValidationError(problem)
        return address

    initial: MutableMapping[str, Any]

    def clean_tax_status(self) -> str:
        chosen: str = self.cleaned_data["tax_status"]
        return chosen or str(self.initial.get("tax_status") or TaxStatus.TAXABLE)

    def clean_net_terms_days(self) -> int | None:
        days: int | None = self.cleaned_data["net_terms_days"]
        if problem := net_terms_days_problem(days):
            raise forms.ValidationError(problem)
        return days


class CustomerForm(BillingRules, forms.ModelForm[Customer]):
    """The create page. The tax details' rules need each other (a VAT number
    is checked for the country), so customers.services.customer_create checks
    them, and the view puts each problem on its field."""

    billing_address = _billing_address_field()
    net_terms_days = _net_terms_days_field()
    country = _country_field()
    tax_id = _tax_id_field()
    tax_status = tax_status_field()
    locale = _locale_field()

    class Meta:
        model = Customer
        fields = ["name", "customer_id", "email", *BILLING_FIELDS]
        widgets = {
            "name": forms.TextInput(
                attrs={"data-slug-source": "id_customer_id", "autofocus": True}
            ),
            "customer_id": forms.TextInput(attrs={"data-slug-target": "1"}),
        }

    # The rules every door shares (customers.customer_rules).
    def clean_customer_id(self) -> str:
        value: str = self.cleaned_data["customer_id"].strip()
        if problem := customer_id_problem(value):
            raise forms.ValidationError(problem)
        return value

    def clean_name(self) -> str:
        value: str = self.cleaned_data["name"].strip()
        if problem := customer_name_problem(value):
            raise forms.ValidationError(problem)
        return value


class CustomerEditForm(BillingRules, forms.Form):
    """A customer's name, email, billing address and payment terms;
    customers.services.customer_update checks them by the rules the create
    page and the APIs share.

    The billing fields are edited only when `initial` gives their stored
    values (initial_for): a field shown empty would be saved empty, wiping
    what is stored, so without them the form leaves them out and
    customer_update keeps them."""

    name = forms.CharField(
        label="Customer name",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": MAX_CUSTOMER_NAME, "autofocus": True}),
    )
    email = forms.CharField(
        required=False,
        help_text="Optional.",
        widget=forms.EmailInput(attrs={"maxlength": 254}),
    )
    billing_address = _billing_address_field()
    net_terms_days = _net_terms_days_field()
    country = _country_field()
    tax_id = _tax_id_field()
    tax_status = tax_status_field()
    locale = _locale_field()

    def __init__(self, *args: Any, sees_costs: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in BILLING_FIELDS:
            if name not in self.initial:
                del self.fields[name]
        if sees_costs:
            # Only for those who may see costs (pricing.see_costs): which cost
            # plan costs the customer's usage is cost data.
            self.fields["cost_plan"] = forms.ModelChoiceField(
                label="Cost plan",
                queryset=Plan.objects.filter(kind=Plan.Kind.COST).order_by("name"),
                required=False,
                empty_label="Default cost plan",
                help_text="What this customer's usage costs you, for their margins: the "
                "default cost plan, or their own (a dedicated deployment, say).",
            )

    @staticmethod
    def initial_for(customer: Customer) -> dict[str, object]:
        """The customer's stored values, to edit."""
        fields = ["name", "email", *BILLING_FIELDS]
        return {name: getattr(customer, name) for name in fields} | {
            "cost_plan": customer.cost_plan_id
        }


class AssignPlanForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(kind=Plan.Kind.PRICE).order_by("name"), empty_label=None
    )
    start_at = forms.DateTimeField(
        label="Start date",
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text="Billing periods start here and repeat by the plan's period.",
    )
    end_at = forms.DateTimeField(
        label="End date",
        required=False,
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text="Optional; leave empty for an open-ended assignment.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_at"), data.get("end_at")
        if start and end and end <= start:
            self.add_error("end_at", "The end date must be after the start date.")
        return data


class EndAssignmentForm(forms.Form):
    end_at = forms.DateTimeField(
        label="End on",
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
    )
