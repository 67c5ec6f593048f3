"""The Prepaid commitments card of a customer's billing region: its context,
and the form that makes a commitment. The rules are
invoices.commitments.commitment_create's, whose errors land on the form's
fields (they carry its argument names; dates are days)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from django import forms

from customers.models import Customer, PlanAssignment
from invoices.builder import billing_tz
from invoices.commitments import customer_commitments


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the billing time zone."""
    return datetime.combine(day, time(), tzinfo=billing_tz())


def _day(instant: datetime) -> str:
    return f"{instant.astimezone(billing_tz()):%-d %b %Y}"


class CommitmentForm(forms.Form):
    # Its fields share names with the Credit card's form on the same page;
    # the prefix keeps their element ids (and so their labels) apart.
    prefix = "commitment"

    assignment = forms.TypedChoiceField(
        label="Plan assignment", coerce=int, choices=[], help_text="The plan it prepays."
    )
    amount = forms.DecimalField(
        max_digits=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text="What usage it pays for, in the plan's currency, e.g. 12000.00.",
    )
    discount_percent = forms.DecimalField(
        label="Discount (%)",
        required=False,
        initial=0,
        max_digits=9,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text="Off the price the customer pays up front, e.g. 15.",
    )
    starts_at = forms.DateField(
        label="Term starts", widget=forms.DateInput(attrs={"type": "date"}), help_text="At 00:00."
    )
    ends_at = forms.DateField(
        label="Term ends",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="At 00:00: the day after its last day.",
    )

    def __init__(self, *args: object, assignments: Sequence[PlanAssignment], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.assignments = {a.pk: a for a in assignments}
        field = self.fields["assignment"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (a.pk, f"{a.plan.name} ({a.plan.currency}) from {_day(a.start_at)}")
            for a in assignments
        ]

    def service_arguments(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            "assignment": self.assignments[data["assignment"]],
            "amount": data["amount"],
            "discount_percent": data["discount_percent"] or 0,
            "starts_at": day_start(data["starts_at"]),
            "ends_at": day_start(data["ends_at"]),
        }


def commitments_context(
    customer: Customer,
    now: datetime,
    form: CommitmentForm | None = None,
    assignments: list[PlanAssignment] | None = None,
) -> dict[str, Any]:
    """The card: one query, whatever the number of commitments (and one for
    the customer's assignments unless given)."""
    if assignments is None:
        assignments = list(customer.assignments.select_related("plan"))
    assignments = sorted(assignments, key=lambda a: (a.start_at, a.pk))
    if form is None:
        form = CommitmentForm(assignments=assignments)
    return {
        "customer": customer,
        "commitments": customer_commitments(customer, now),
        "commitment_form": form,
        "can_commit": bool(assignments),
    }
