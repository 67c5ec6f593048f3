from __future__ import annotations

from typing import Any

from django import forms

from customers.customer_rules import (
    MAX_CUSTOMER_NAME,
    customer_id_problem,
    customer_name_problem,
)
from customers.models import Customer
from pricing.models import Plan

DATETIME_INPUT = "%Y-%m-%dT%H:%M"


class CustomerForm(forms.ModelForm[Customer]):
    class Meta:
        model = Customer
        fields = ["name", "customer_id", "email"]
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


class CustomerEditForm(forms.Form):
    """A customer's name and email; customers.services.customer_update checks
    them by the rules the create page and the APIs share."""

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


class AssignPlanForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("name"), empty_label=None)
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
