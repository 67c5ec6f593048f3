"""Invoice pages: the list across customers, one invoice with its history and
actions, a customer's billing region, the PDFs. Writes go through
invoices/services.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig
from django_tables2.export import TableExport

from billing_site.htmx import page_or_partial
from customers.models import Customer, PlanAssignment
from invoices.adjustments import with_steps
from invoices.builder import (
    billing_tz,
    build_invoice,
    customer_periods,
    unassigned_usage,
)
from invoices.commitment_forms import commitments_context
from invoices.credits import credit_grant_create, credit_grant_void, customer_credit
from invoices.discounts import coupon_redeem, coupon_remove
from invoices.forms import (
    CouponRedeemForm,
    CreditGrantForm,
    CreditNoteForm,
    InvoiceFilterForm,
    PayForm,
    PlanChangeForm,
    VoidForm,
)
from invoices.late_usage import pending_late_usage, with_late_usage
from invoices.margin_report import LineTotals, line_totals
from invoices.margins import with_costs
from invoices.models import CouponRedemption, CreditGrant, CreditNote, Invoice
from invoices.pdf import render_invoice_pdf
from invoices.plan_change import preview_plan_change
from invoices.selection import selected_period
from invoices.selectors import (
    coupon_card,
    credit_card,
    customer_assignments,
    draft_content,
    negative_margin_issued,
    stored_content,
)
from invoices.services import (
    CreditRequest,
    credit_note_create,
    credit_note_document_store,
    credited_by_line,
    invoice_document_store,
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_void,
    plan_change,
    settles_at,
)
from invoices.tables import InvoiceTable
from meters.sqlite_functions import ExactSum
from pricing.coupons import describe
from pricing.money import exact_sum, format_money

# The invoice page shows several forms at once: each keeps its own element ids.
PAY_ID, VOID_ID, CREDIT_ID = "pay-%s", "void-%s", "credit-%s"
# The event a coupon given or removed sends the billing region (HX-Trigger).
# Sent (HX-Trigger) after a write that changes what the usage-to-date
# preview shows (a coupon, a commitment): #invoice reloads on it.
BILLING_CHANGED = "billing-changed"


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _actor(request: HttpRequest) -> str:
    return request.user.get_username()


# /invoices/ ------------------------------------------------------------------


def _filtered(form: InvoiceFilterForm) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("customer")
    if not form.is_valid():
        return invoices
    data = form.cleaned_data
    if data["status"]:
        invoices = invoices.filter(status=data["status"])
    if data["customer"]:
        who = data["customer"]
        invoices = invoices.filter(
            Q(customer__name__icontains=who) | Q(customer__customer_id__icontains=who)
        )
    if data["period"]:
        day = datetime.combine(data["period"], datetime.min.time(), tzinfo=billing_tz())
        invoices = invoices.filter(period_start__lte=day, period_end__gt=day)
    return invoices


@require_GET
@permission_required("invoices.view_invoice", raise_exception=True)
@vary_on_headers("HX-Request")
def invoice_list(request: HttpRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET or None)
    invoices = _filtered(form)
    table = InvoiceTable(invoices)
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    export = request.GET.get("_export")
    if export == "csv":
        exported: HttpResponse = TableExport("csv", table).response("invoices.csv")
        return exported
    # Issued, not void: what customers were asked to pay, per currency, summed
    # exactly by the database.
    totals = (
        invoices.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .values("currency")
        .annotate(count=Count("pk"), total=ExactSum("total"))
        .order_by("currency")
    )
    template = page_or_partial(request, "invoices/list.html", "invoice-table")
    context = {"form": form, "table": table, "totals": totals, "query": request.GET.urlencode()}
    return render(request, template, context)


# /invoices/<pk>/ ---------------------------------------------------------------


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("customer", "assignment__plan"), pk=pk)


def sees_costs(request: HttpRequest) -> bool:
    """Whether the user may see costs and margins (pricing.see_costs)."""
    return request.user.has_perm("pricing.see_costs")


def _detail_context(invoice: Invoice, *, show_costs: bool = False, **forms: Any) -> dict[str, Any]:
    now = timezone.now()
    if invoice.is_draft:
        content: Any = draft_content(invoice, now)
        if show_costs:
            content = with_costs(content)
        settles = settles_at(invoice)
    else:
        content, settles = stored_content(invoice), None
    credited = credited_by_line(invoice) if not invoice.is_draft else {}
    credit_total = exact_sum(credited.values())
    # A draft draws prepaid credit only when finalized: the page says what is
    # usable now, as a hint, not as a number on the invoice.
    available = None
    if invoice.is_draft:
        available = customer_credit(invoice.customer, now).available.get(invoice.currency)
    credit_form = forms.pop("credit_form", None)
    if credit_form is None and not invoice.is_draft:
        credit_form = CreditNoteForm(invoice=invoice, credited=credited, auto_id=CREDIT_ID)
    return {
        "record": invoice,
        "invoice": content,
        "header": content.header,
        "settles_at": settles,
        "period_open": invoice.is_draft and now < content.header.usage_end,
        "changes": invoice.changes.all(),
        "credit_notes": invoice.credit_notes.all(),
        "credited": credit_total,
        "remaining": (invoice.total or Decimal(0)) - credit_total,
        "credit_available": available,
        "void_form": forms.pop("void_form", None) or VoidForm(auto_id=VOID_ID),
        "pay_form": forms.pop("pay_form", None) or PayForm(auto_id=PAY_ID),
        "credit_form": credit_form,
        "simplified": False,
        "show_costs": show_costs,
        "cost_totals": _cost_totals(content) if show_costs else None,
    }


def _latest_issued_negative(invoices: list[Invoice]) -> bool:
    """Whether the latest issued (not void) of `invoices` (latest first) has
    a line costing more than it earned: one query, none without one."""
    issued = [i for i in invoices if i.status not in (Invoice.Status.DRAFT, Invoice.Status.VOID)]
    return bool(issued) and negative_margin_issued(issued[0])


def _cost_totals(content: Any) -> LineTotals:
    return line_totals(cost for section in content.sections for cost in section.costs)


@require_GET
@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    context = _detail_context(invoice, show_costs=sees_costs(request))
    return render(request, "invoices/detail.html", context)


def _act(
    request: HttpRequest, pk: int, action: Callable[[Invoice], object], done: str
) -> HttpResponse:
    """Run one lifecycle service on the invoice; its refusal becomes a message."""
    invoice = _invoice(pk)
    try:
        action(invoice)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect(invoice)


@require_POST
@permission_required("invoices.finalize_invoice", raise_exception=True)
def invoice_finalize_view(request: HttpRequest, pk: int) -> HttpResponse:
    def finalize(invoice: Invoice) -> None:
        issued = invoice_finalize(invoice=invoice, now=timezone.now(), actor=_actor(request))
        invoice_document_store(invoice=issued)

    return _act(request, pk, finalize, "Invoice finalized: it has its number and will not change.")


@require_POST
@permission_required("invoices.finalize_invoice", raise_exception=True)
def invoice_hold_view(request: HttpRequest, pk: int) -> HttpResponse:
    hold = request.POST.get("hold") == "1"
    return _act(
        request,
        pk,
        lambda i: invoice_hold(invoice=i, hold=hold, now=timezone.now(), actor=_actor(request)),
        "Draft held for review: period close leaves it alone."
        if hold
        else "Draft released: period close finalizes it after its grace period.",
    )


def _write_with_form(
    request: HttpRequest,
    invoice: Invoice,
    form: forms.Form,
    key: str,
    write: Callable[[dict[str, Any]], tuple[Any, str]],
) -> HttpResponse:
    """A form on the invoice page: run `write` with the cleaned data (it
    returns where to go and what to say); a refusal is shown on the form, on
    the invoice page, with status 400."""
    if form.is_valid():
        try:
            target, done = write(form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(target)
    context = _detail_context(invoice, show_costs=sees_costs(request), **{key: form})
    return render(request, "invoices/detail.html", context, status=400)


@require_POST
@permission_required("invoices.finalize_invoice", raise_exception=True)
def invoice_pay_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)

    def pay(data: dict[str, Any]) -> tuple[Invoice, str]:
        paid = invoice_mark_paid(
            invoice=invoice,
            paid_on=data["paid_on"],
            reference=data["reference"],
            now=timezone.now(),
            actor=_actor(request),
        )
        return paid, f"{paid.number} marked paid."

    form = PayForm(request.POST, auto_id=PAY_ID)
    return _write_with_form(request, invoice, form, "pay_form", pay)


@require_POST
@permission_required("invoices.correct_invoice", raise_exception=True)
def invoice_uncollectible_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda i: invoice_mark_uncollectible(invoice=i, now=timezone.now(), actor=_actor(request)),
        "Invoice marked uncollectible.",
    )


def _form_error(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_POST
@permission_required("invoices.correct_invoice", raise_exception=True)
def invoice_void_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)

    def void(data: dict[str, Any]) -> tuple[Invoice, str]:
        voided = invoice_void(
            invoice=invoice, reason=data["reason"], now=timezone.now(), actor=_actor(request)
        )
        return voided, f"{voided.number} voided. Its number stays used."

    form = VoidForm(request.POST, auto_id=VOID_ID)
    return _write_with_form(request, invoice, form, "void_form", void)


@require_POST
@permission_required("invoices.correct_invoice", raise_exception=True)
def credit_note_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    if invoice.is_draft:
        raise Http404("A draft has nothing to credit.")
    form = CreditNoteForm(
        request.POST, invoice=invoice, credited=credited_by_line(invoice), auto_id=CREDIT_ID
    )

    def credit(data: dict[str, Any]) -> tuple[CreditNote, str]:
        requests = [
            CreditRequest(line, data[name]) for line, name in form.line_fields if data[name]
        ]
        if data["whole"]:
            requests.append(CreditRequest(None, data["whole"]))
        note = credit_note_create(
            invoice=invoice,
            requests=requests,
            reason=data["reason"],
            now=timezone.now(),
            actor=_actor(request),
        )
        return note, f"Credit note {note.number} issued."

    return _write_with_form(request, invoice, form, "credit_form", credit)


@require_GET
@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_document(request: HttpRequest, pk: int) -> HttpResponse:
    """The issued invoice's stored PDF (rendered and kept on first need), or
    a draft's PDF computed now."""
    invoice = _invoice(pk)
    if invoice.is_draft:
        pdf = render_invoice_pdf(draft_content(invoice, timezone.now()))
        name = f"draft-{slugify(invoice.customer.customer_id)}-{invoice.period_start:%Y-%m-%d}.pdf"
        return _pdf(pdf, name)
    document = invoice_document_store(invoice=invoice)
    return _pdf(bytes(document.content), f"{invoice.number}.pdf")


# /credit-notes/<pk>/ ---------------------------------------------------------------


@require_GET
@permission_required("invoices.view_creditnote", raise_exception=True)
def credit_note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(CreditNote.objects.select_related("invoice"), pk=pk)
    return render(request, "invoices/credit_note.html", {"note": note, "lines": note.lines.all()})


@require_GET
@permission_required("invoices.view_creditnote", raise_exception=True)
def credit_note_document(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(CreditNote.objects.select_related("invoice"), pk=pk)
    document = credit_note_document_store(credit_note=note)
    return _pdf(bytes(document.content), f"{note.number}.pdf")


# /customers/<pk>/billing/ -------------------------------------------------------------


def _billing_context(
    request: HttpRequest, customer: Customer, *, cards: bool = True
) -> dict[str, Any]:
    """The billing region; without `cards` (only #invoice is swapped), not
    the Credit, Coupons and Prepaid commitments cards, whose queries it
    would not show."""
    now = timezone.now()
    periods = customer_periods(customer, now)
    ref = selected_period(customer, request.GET.get("period"), periods, now)
    invoices = customer.invoices.select_related("assignment").order_by("-period_start", "-pk")[:50]
    late = pending_late_usage(customer, before=now, until=now, now=now)
    content = None
    issued = None
    if ref is not None:
        content = build_invoice(customer, ref)
        if ref.is_current:
            earlier = [item for item in late if item.invoice.period_start < ref.period.start]
            content = with_late_usage(content, earlier)
        else:
            issued = (
                customer.invoices.exclude(status=Invoice.Status.DRAFT)
                .filter(assignment=ref.assignment, period_start=ref.period.start)
                .first()
            )
        content = with_steps(content)
    simplified = request.GET.get("view") == "simplified"
    show_costs = content is not None and sees_costs(request) and not simplified
    totals = None
    if show_costs and content is not None:
        content = with_costs(content)
        totals = _cost_totals(content)
    context = {
        "customer": customer,
        "periods": periods,
        "selected": ref,
        "invoice": content,
        "issued": issued,
        "late_usage": late,
        "simplified": simplified,
        "show_costs": show_costs,
        "cost_totals": totals,
        "invoices": invoices,
        "unassigned": unassigned_usage(customer),
    }
    if cards:
        # The region lists the invoices anyway: read once, for the margin flag too.
        listed = context["invoices"] = list(invoices)
        if sees_costs(request):
            current = totals is not None and ref is not None and ref.is_current
            draft_negative = current and totals is not None and totals.negative
            context["negative_margin"] = draft_negative or _latest_issued_negative(listed)
        assignments = customer_assignments(customer)
        context |= (
            _credit_context(customer, now, assignments=assignments)
            | _coupon_context(customer, now, assignments=assignments)
            | commitments_context(customer, now, assignments=assignments)
        )
    return context


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def customer_billing(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer's usage to date and their invoices: a region of the
    customer page (loaded by HTMX), or a page of its own without JavaScript."""
    customer = get_object_or_404(Customer, pk=pk)
    # The period picker and the tabs swap only the #invoice region inside.
    htmx = getattr(request, "htmx", None)
    region = "invoice" if htmx and htmx.target == "invoice" else "billing"
    template = page_or_partial(request, "invoices/customer_billing.html", region)
    only_invoice = template.endswith("#invoice")
    context = _billing_context(request, customer, cards=not only_invoice)
    return render(request, template, context)


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The period the billing region shows, computed now, as a PDF."""
    customer = get_object_or_404(Customer, pk=pk)
    now = timezone.now()
    ref = selected_period(customer, request.GET.get("period"), customer_periods(customer, now), now)
    if ref is None:
        raise Http404("This customer has no invoice yet.")
    invoice = with_steps(build_invoice(customer, ref))
    pdf = render_invoice_pdf(invoice, simplified=request.GET.get("view") == "simplified")
    return _pdf(pdf, f"invoice-{slugify(customer.customer_id)}-{ref.period.start:%Y-%m-%d}.pdf")


# /customers/<pk>/credit-grants/, /credit-grants/<pk>/void/ -----------------------------


def _credit_context(
    customer: Customer,
    now: datetime,
    grant_form: CreditGrantForm | None = None,
    assignments: list[PlanAssignment] | None = None,
) -> dict[str, Any]:
    """The Credit card of the billing region (#credit): a constant number of
    queries, whatever the number of grants."""
    card = credit_card(customer, now, assignments)
    if grant_form is None:
        start = timezone.localtime(now).replace(second=0, microsecond=0)
        grant_form = CreditGrantForm(currencies=card.currencies, initial={"effective_at": start})
    return {"customer": customer, "credit": card, "grant_form": grant_form}


def card_answer(
    request: HttpRequest,
    customer: Customer,
    *,
    card: str,
    template: str,
    context: dict[str, Any],
    failed: bool,
    done: str,
    done_key: str = "done",
    changes_invoice: bool = False,
) -> HttpResponse:
    """After a form of a card of the billing region (#credit, #coupons,
    #commitments): HTMX gets the card again from `template` and `context`
    (with the form's errors, or `done` and a blank form; with
    `changes_invoice`, a done write also tells the usage-to-date preview to
    reload); a plain POST gets the customer page at the card with `done` as
    a message, or, when the form `failed`, the billing page with the errors
    and status 400."""
    if getattr(request, "htmx", False):
        response = render(request, template, context | {done_key: done})
        if changes_invoice and not failed:
            response["HX-Trigger"] = BILLING_CHANGED
        return response
    if not failed:
        if done:
            messages.success(request, done)
        return redirect(f"{customer.get_absolute_url()}#{card}")
    context = _billing_context(request, customer) | context
    return render(request, "invoices/customer_billing.html", context, status=400)


def _credit_answer(
    request: HttpRequest, customer: Customer, form: CreditGrantForm | None, done: str
) -> HttpResponse:
    return card_answer(
        request,
        customer,
        card="credit",
        template="invoices/customer_billing.html#credit",
        context=_credit_context(customer, timezone.now(), form),
        failed=form is not None and bool(form.errors),
        done=done,
    )


@require_POST
@permission_required("invoices.add_creditgrant", raise_exception=True)
def credit_grant_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    currencies = credit_card(customer, timezone.now()).currencies
    form = CreditGrantForm(request.POST, currencies=currencies)
    if form.is_valid():
        try:
            grant = credit_grant_create(
                customer=customer, **form.cleaned_data, now=timezone.now(), actor=_actor(request)
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            amount = format_money(grant.amount, grant.currency)
            done = f"{amount} of {grant.get_kind_display().lower()} credit granted."
            return _credit_answer(request, customer, None, done)
    return _credit_answer(request, customer, form, "")


@require_POST
@permission_required("invoices.change_creditgrant", raise_exception=True)
def credit_grant_void_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel what is left of a grant (the panel under its Void button asks
    for the reason and confirms; no HTMX); a refusal is a message."""
    grant = get_object_or_404(CreditGrant.objects.select_related("customer"), pk=pk)
    try:
        entry = credit_grant_void(
            grant=grant,
            reason=request.POST.get("reason", ""),
            now=timezone.now(),
            actor=_actor(request),
        )
    except ValidationError as exc:
        messages.error(request, f"{grant.description}: {' '.join(exc.messages)}")
    else:
        amount = format_money(entry.amount, grant.currency)
        messages.success(request, f"{grant.description}: the {amount} left is voided.")
    return redirect(f"{grant.customer.get_absolute_url()}#credit")


# /customers/<pk>/coupons/, /coupon-redemptions/<pk>/remove/ ----------------------


def _coupon_context(
    customer: Customer,
    now: datetime,
    coupon_form: CouponRedeemForm | None = None,
    assignments: list[PlanAssignment] | None = None,
) -> dict[str, Any]:
    """The Coupons card of the billing region (#coupons): a constant number
    of queries, whatever the number of coupons given and invoices discounted."""
    card = coupon_card(customer, now, assignments)
    if coupon_form is None:
        coupon_form = CouponRedeemForm(customer=customer, card=card)
    return {"customer": customer, "coupons": card, "coupon_form": coupon_form}


def _coupon_answer(
    request: HttpRequest, customer: Customer, form: CouponRedeemForm | None, done: str
) -> HttpResponse:
    return card_answer(
        request,
        customer,
        card="coupons",
        template="invoices/customer_billing.html#coupons",
        context=_coupon_context(customer, timezone.now(), form),
        failed=form is not None and bool(form.errors),
        done=done,
        done_key="coupon_done",
        changes_invoice=True,  # the preview shows the discount
    )


@require_POST
@permission_required("invoices.add_couponredemption", raise_exception=True)
def coupon_redeem_view(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    now = timezone.now()
    form = CouponRedeemForm(request.POST, customer=customer, card=coupon_card(customer, now))
    if form.is_valid():
        try:
            given = coupon_redeem(
                customer=customer, **form.cleaned_data, now=now, actor=_actor(request)
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            to = customer.name
            if given.assignment is not None:
                to = f"{to}'s {given.assignment.plan.name} invoices"
            done = f"{given.coupon.code} ({describe(given.coupon)}) given to {to}."
            return _coupon_answer(request, customer, None, done)
    return _coupon_answer(request, customer, form, "")


@require_POST
@permission_required("invoices.change_couponredemption", raise_exception=True)
def coupon_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop a coupon for the customer's invoices not yet issued (the panel
    under its Remove button confirms); issued invoices keep their discount."""
    redemption = get_object_or_404(
        CouponRedemption.objects.select_related("coupon", "customer"), pk=pk
    )
    code = redemption.coupon.code
    if redemption.removed_at is not None:
        done = f"{code} was already removed."
    else:
        coupon_remove(redemption=redemption, now=timezone.now(), actor=_actor(request))
        done = f"{code} removed: invoices not yet issued no longer get it."
    return _coupon_answer(request, redemption.customer, None, done)


# /customers/<pk>/assignments/<assignment_pk>/change-plan/ ---------------------


@require_http_methods(["GET", "POST"])
@permission_required("customers.change_planassignment", raise_exception=True)
def plan_change_view(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    """Pick the new plan and the instant, see what each side will bill, then
    confirm (a POST with `confirm`)."""
    assignment = get_object_or_404(
        PlanAssignment.objects.select_related("customer", "plan"),
        pk=assignment_pk,
        customer_id=pk,
    )
    data = request.POST if request.method == "POST" else (request.GET or None)
    now = timezone.now()
    initial = {"at": timezone.localtime(now).replace(second=0, microsecond=0)}
    form = PlanChangeForm(data, current=assignment.plan, initial=initial)
    preview = None
    if form.is_bound and form.is_valid():
        plan, at = form.cleaned_data["plan"], form.cleaned_data["at"]
        if request.method == "POST" and "confirm" in request.POST:
            try:
                new = plan_change(assignment=assignment, plan=plan, at=at)
            except ValidationError as exc:
                _form_error(form, exc)
            else:
                messages.success(
                    request,
                    f"{assignment.customer.name} moves from {assignment.plan.name} to "
                    f"{new.plan.name} at {timezone.localtime(at):%-d %b %Y %H:%M}.",
                )
                return redirect(assignment.customer)
        if (
            form.is_valid()
            and assignment.start_at < at
            and (assignment.end_at is None or at < assignment.end_at)
        ):
            preview = preview_plan_change(assignment, plan, at, now)
        elif form.is_valid():
            form.add_error(
                "at", "Choose an instant inside the current assignment, after its start."
            )
    context = {
        "assignment": assignment,
        "customer": assignment.customer,
        "form": form,
        "preview": preview,
    }
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "invoices/plan_change.html", context, status=status)
