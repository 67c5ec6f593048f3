"""Forms for the tax rates and coupons pages.

They only read what was typed into the types the services take; the rules
(codes, ranges, places, which fields a choice needs) are
pricing.taxes.tax_rate_create's and pricing.coupons.coupon_create's, whose
ValidationError is keyed by these forms' field names, so each message lands
next to its field.
"""

from __future__ import annotations

from django import forms
from django_countries import countries

from meters.models import Meter
from pricing.invoice_steps import DiscountDuration, DiscountKind
from pricing.models import Coupon, TaxRate
from pricing.money import CURRENCIES

_DECIMAL = {"inputmode": "decimal", "autocomplete": "off", "class": "num"}
_WHOLE = {"inputmode": "numeric", "min": 1, "step": 1, "class": "num"}


def _help(model: type[TaxRate] | type[Coupon], name: str) -> str:
    found = model._meta.get_field(name)
    return str(getattr(found, "help_text", ""))


class TaxRateForm(forms.Form):
    code = forms.CharField(
        max_length=50,
        help_text=_help(TaxRate, "code"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "uk-vat"}),
        error_messages={"required": "Give the rate a code, like uk-vat."},
    )
    name = forms.CharField(
        max_length=100,
        help_text=_help(TaxRate, "name"),
        widget=forms.TextInput(attrs={"placeholder": "VAT"}),
        error_messages={"required": "Name the tax as invoices print it, like VAT."},
    )
    percentage = forms.CharField(
        label="Percentage",
        max_length=40,
        help_text="20 for 20%; at most 4 decimal places. It never changes once made.",
        widget=forms.TextInput(attrs=_DECIMAL),
        error_messages={"required": "Enter a percentage, like 20 for 20%."},
    )
    country = forms.ChoiceField(
        label="Jurisdiction",
        required=False,
        help_text="It taxes customers in this country; Everywhere: every customer.",
        error_messages={"invalid_choice": "Choose a country from the list, or Everywhere."},
    )
    inclusive = forms.TypedChoiceField(
        label="Prices",
        choices=[
            ("false", "Tax-exclusive: the tax is added on top of the price"),
            ("true", "Tax-inclusive: prices already include the tax"),
        ],
        coerce=lambda value: value == "true",
        initial="false",
        widget=forms.RadioSelect,
        help_text="A plan's tax rates are all exclusive or all inclusive.",
        error_messages={
            "required": "Choose whether prices include the tax.",
            "invalid_choice": "Choose whether prices include the tax.",
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        country = self.fields["country"]
        assert isinstance(country, forms.ChoiceField)
        country.choices = [("", "Everywhere"), *countries]


class CouponForm(forms.Form):
    code = forms.CharField(
        max_length=50,
        help_text=_help(Coupon, "code"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "WELCOME10"}),
        error_messages={"required": "Give the coupon a code, like WELCOME10."},
    )
    name = forms.CharField(
        max_length=100,
        help_text=_help(Coupon, "name"),
        widget=forms.TextInput(attrs={"placeholder": "Welcome offer"}),
        error_messages={"required": "Name the discount as invoices print it."},
    )
    kind = forms.ChoiceField(
        label="Discount",
        choices=[(k.value, k.label) for k in DiscountKind],
        initial=DiscountKind.PERCENTAGE.value,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a percentage or a fixed amount.",
            "invalid_choice": "Choose a percentage or a fixed amount.",
        },
    )
    value = forms.CharField(
        max_length=40,
        help_text="A percentage (10 for 10% off) or an amount (5.00 off).",
        widget=forms.TextInput(attrs=_DECIMAL),
        error_messages={"required": "Enter how much it takes off."},
    )
    currency = forms.ChoiceField(
        required=False,
        choices=[("", "Choose…"), *((c, c) for c in CURRENCIES)],
        help_text=_help(Coupon, "currency"),
        error_messages={"invalid_choice": "Choose a currency from the list."},
    )
    duration = forms.ChoiceField(
        choices=[(d.value, d.label) for d in DiscountDuration],
        initial=DiscountDuration.ONCE.value,
        widget=forms.RadioSelect,
        help_text="Which of a customer's invoices it discounts, from the first after it is given.",
        error_messages={
            "required": "Choose once, for N invoices, or forever.",
            "invalid_choice": "Choose once, for N invoices, or forever.",
        },
    )
    duration_periods = forms.IntegerField(
        label="Number of invoices",
        required=False,
        widget=forms.NumberInput(attrs=_WHOLE),
        help_text=_help(Coupon, "duration_periods"),
        error_messages={"invalid": "Enter a whole number of invoices."},
    )
    meters = forms.ModelMultipleChoiceField(
        queryset=Meter.objects.all(),
        required=False,
        label="Applies to",
        widget=forms.CheckboxSelectMultiple,
        help_text=_help(Coupon, "meters"),
        error_messages={"invalid_choice": "Choose meters from the list."},
    )
    max_redemptions = forms.IntegerField(
        label="Max redemptions",
        required=False,
        widget=forms.NumberInput(attrs=_WHOLE),
        help_text=_help(Coupon, "max_redemptions"),
        error_messages={"invalid": "Enter a whole number, or leave it blank for no limit."},
    )
    redeem_by = forms.DateTimeField(
        label="Redeem by",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_help(Coupon, "redeem_by"),
        error_messages={"invalid": "Enter a date and time, like 2026-12-31 23:59."},
    )
