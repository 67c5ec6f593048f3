from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from customers.forms import AssignPlanForm, CustomerEditForm, CustomerForm, EndAssignmentForm
from customers.models import Customer, PlanAssignment
from customers.selectors import customers_with_current_plan
from customers.services import (
    assignment_end,
    customer_cost_plan_set,
    customer_create,
    customer_update,
    plan_assign,
)
from customers.tables import CustomerTable


def _get_customer(pk: int) -> Customer:
    return get_object_or_404(Customer, pk=pk)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
@vary_on_headers("HX-Request")
def customer_list(request: HttpRequest) -> HttpResponse:
    table = CustomerTable(customers_with_current_plan(timezone.now()))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = page_or_partial(request, "customers/list.html", "customer-table")
    return render(request, template, {"table": table})


@require_http_methods(["GET", "POST"])
@permission_required("customers.add_customer", raise_exception=True)
@vary_on_headers("HX-Request")
def customer_create_view(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = customer_create(**form.cleaned_data)
        except ValidationError as exc:  # e.g. the same ID created a moment ago
            form.add_error(None, exc)
        else:
            messages.success(request, f"Customer “{customer.name}” created.")
            return redirect_after_write(request, customer.get_absolute_url())
    template = page_or_partial(request, "customers/create.html", "customer-form")
    return render(request, template, {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required("customers.change_customer", raise_exception=True)
@vary_on_headers("HX-Request")
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a customer's name and email; the customer ID stays
    (customers.services.customer_update)."""
    customer = _get_customer(pk)
    form = CustomerEditForm(
        request.POST or None,
        initial=CustomerEditForm.initial_for(customer),
        sees_costs=request.user.has_perm("pricing.see_costs"),
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        changes_cost_plan = "cost_plan" in data
        cost_plan = data.pop("cost_plan", None)
        try:
            with transaction.atomic():
                customer_update(customer=customer, **data)
                if changes_cost_plan:
                    customer_cost_plan_set(customer=customer, plan=cost_plan)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Customer “{customer.name}” saved.")
            return redirect_after_write(request, customer.get_absolute_url())
    template = page_or_partial(request, "customers/edit.html", "customer-edit-form")
    return render(request, template, {"customer": customer, "form": form})


def _detail_context(customer: Customer, **extra: Any) -> dict[str, Any]:
    """The customer and their plans; the billing region (usage to date and
    invoices) is the invoices app's, loaded into the page by HTMX."""
    now = timezone.now()
    assign_form = extra.pop("assign_form", None) or AssignPlanForm(
        initial={"start_at": timezone.localtime(now).replace(second=0, microsecond=0)}
    )
    return {
        "customer": customer,
        "assignments": customer.assignments.select_related("plan").order_by("-start_at"),
        "assign_form": assign_form,
        "billing_time_zone": timezone.get_current_timezone_name(),
        **extra,
    }


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _get_customer(pk)
    return render(request, "customers/detail.html", _detail_context(customer))


@require_POST
@permission_required("customers.add_planassignment", raise_exception=True)
def assign_plan(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _get_customer(pk)
    form = AssignPlanForm(request.POST)
    if form.is_valid():
        try:
            assignment = plan_assign(customer=customer, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{customer.name} is now on {assignment.plan.name}.")
            return redirect_after_write(request, customer.get_absolute_url())
    template = "customers/detail.html#plans" if request.htmx else "customers/detail.html"  # type: ignore[attr-defined]
    context = _detail_context(customer, assign_form=form)
    return render(request, template, context, status=200 if request.htmx else 400)  # type: ignore[attr-defined]


@require_POST
@permission_required("customers.change_planassignment", raise_exception=True)
def end_assignment(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    customer = _get_customer(pk)
    assignment = get_object_or_404(PlanAssignment, pk=assignment_pk, customer=customer)
    form = EndAssignmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a valid end date.")
        return redirect(customer)
    try:
        assignment_end(assignment=assignment, end_at=form.cleaned_data["end_at"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The assignment to {assignment.plan.name} now ends.")
    return redirect(customer)
