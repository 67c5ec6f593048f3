"""Admin for customers and their plan assignments.

The admin holds changes to the rules the pages and the APIs use, by calling
the same code rather than restating it: a customer's ID, name, billing
address and payment terms are checked by customers.customer_rules; assignments by customers.services
(overlapping_assignments, spans_overlap, overlap_message, END_BEFORE_START).

Invariant: one customer's assignments never overlap. The database refuses an
overlap with an IntegrityError (migration 0002), which the admin would show as
a 500, so the forms below find the clash first and show it as a form error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from customers.customer_rules import (
    clean_locale,
    clean_tax_id,
    customer_id_problem,
    customer_name_problem,
    locale_problems,
    tax_problems,
)
from customers.forms import BillingRules, tax_status_field
from customers.models import Customer, PlanAssignment
from customers.services import (
    END_BEFORE_START,
    overlap_message,
    overlapping_assignments,
    spans_overlap,
)


def _first_clash(
    customer: Customer, start_at: datetime, end_at: datetime | None, *, ignore: set[int]
) -> PlanAssignment | None:
    """A stored assignment of `customer` (other than those in `ignore`) that
    shares an instant with [start_at, end_at)."""
    if customer.pk is None:  # a customer being added has no stored assignments
        return None
    clashes = overlapping_assignments(customer, start_at, end_at)
    return next((a for a in clashes if a.pk not in ignore), None)


class AssignmentSpanForm(forms.ModelForm):  # type: ignore[type-arg]
    """Checks the dates of one assignment on their own."""

    class Meta:
        model = PlanAssignment
        fields = ["customer", "plan", "start_at", "end_at"]

    def span(self) -> tuple[datetime, datetime | None] | None:
        """The cleaned [start_at, end_at), or None when the dates are invalid."""
        data = self.cleaned_data
        start_at, end_at = data.get("start_at"), data.get("end_at")
        if start_at is None or "end_at" in self.errors:
            return None
        return start_at, end_at

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start_at, end_at = data.get("start_at"), data.get("end_at")
        # Said here in words; the model's check constraint would only name itself.
        if start_at is not None and end_at is not None and end_at <= start_at:
            self.add_error("end_at", END_BEFORE_START)
        return data


class PlanAssignmentForm(AssignmentSpanForm):
    """One assignment edited on its own page: checked against the stored ones."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        customer, span = data.get("customer"), self.span()
        if customer is not None and span is not None:
            clash = _first_clash(customer, *span, ignore={self.instance.pk})
            if clash is not None:
                self.add_error("start_at", overlap_message(clash))
        return data


class PlanAssignmentFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """A customer's assignments edited together on the customer page.

    Django saves the changed existing rows first (in form order), then the new
    ones, and the database checks every row as it is written. So: the rows'
    final dates must not overlap each other; a changed existing row must not
    overlap any other row as stored now (it may be written before that row);
    a new row must not overlap stored rows that are not in this list.
    """

    def clean(self) -> None:
        super().clean()
        kept: list[tuple[AssignmentSpanForm, tuple[datetime, datetime | None]]] = []
        for form in self.forms:
            if not isinstance(form, AssignmentSpanForm) or form.errors:
                continue
            if self.can_delete and form.cleaned_data.get("DELETE"):
                continue
            span = form.span()
            if span is not None:
                kept.append((form, span))
        for index, (form, span) in enumerate(kept):
            if any(spans_overlap(span, other) for _, other in kept[:index]):
                form.add_error("start_at", "This overlaps another assignment in this list.")
                continue
            self._check_stored(form, span)

    def _check_stored(
        self, form: AssignmentSpanForm, span: tuple[datetime, datetime | None]
    ) -> None:
        listed = {f.instance.pk for f in self.forms if f.instance.pk is not None}
        if form.instance.pk is None:
            ignore = listed
        elif form.has_changed():
            ignore = {form.instance.pk}
        else:
            return
        clash = _first_clash(self.instance, *span, ignore=ignore)
        if clash is not None:
            form.add_error("start_at", overlap_message(clash))


class PlanAssignmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PlanAssignment
    form = AssignmentSpanForm
    formset = PlanAssignmentFormSet
    fields = ["plan", "start_at", "end_at", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    show_change_link = True


class CustomerAdminForm(BillingRules, forms.ModelForm):  # type: ignore[type-arg]
    """The customer's ID, name, billing address and payment terms checked by
    the rules the create page and the APIs use (the ID field is only on the
    add page)."""

    tax_status = tax_status_field()

    class Meta:
        model = Customer
        fields = "__all__"

    def clean_customer_id(self) -> str:
        customer_id: str = self.cleaned_data["customer_id"].strip()
        if problem := customer_id_problem(customer_id):
            raise forms.ValidationError(problem)
        return customer_id

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if problem := customer_name_problem(name):
            raise forms.ValidationError(problem)
        return name

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        country = str(data.get("country") or "").upper()
        tax_id = clean_tax_id(str(data.get("tax_id") or ""), country)
        tax_status = str(data.get("tax_status") or "")
        data["tax_id"] = tax_id
        data["locale"] = locale = clean_locale(str(data.get("locale") or ""))
        for field, message in (
            tax_problems(country=country, tax_id=tax_id, tax_status=tax_status)
            | locale_problems(locale=locale)
        ).items():
            if field not in self.errors:
                self.add_error(field, message)
        return data


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = CustomerAdminForm
    list_display = ["name", "customer_id", "email", "net_terms_days", "created_at"]
    search_fields = ["name", "customer_id", "email"]
    date_hierarchy = "created_at"
    inlines = [PlanAssignmentInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> list[str]:
        # Usage events carry the customer ID as text: changing it would orphan
        # the customer's stored usage.
        return ["customer_id", "created_at"] if obj else ["created_at"]


@admin.register(PlanAssignment)
class PlanAssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PlanAssignmentForm
    list_display = ["customer", "plan", "start_at", "end_at"]
    list_filter = ["plan"]
    search_fields = ["customer__name", "customer__customer_id", "plan__name"]
    list_select_related = ["customer", "plan"]
    date_hierarchy = "start_at"
    # Customers can be many, so they get a search box; plans are few, and a
    # plain select needs no search set up on the plan admin.
    autocomplete_fields = ["customer"]
    readonly_fields = ["created_at"]
