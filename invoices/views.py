from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from customers.models import Customer
from invoices.builder import build_invoice, customer_periods
from invoices.pdf import render_invoice_pdf
from invoices.selection import selected_period


@require_GET
@permission_required("customers.view_customer", raise_exception=True)
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice the customer page shows, as a PDF download."""
    customer = get_object_or_404(Customer, pk=pk)
    now = timezone.now()
    ref = selected_period(customer, request.GET.get("period"), customer_periods(customer, now), now)
    if ref is None:
        raise Http404("This customer has no invoice yet.")
    invoice = build_invoice(customer, ref)
    pdf = render_invoice_pdf(invoice, simplified=request.GET.get("view") == "simplified")
    filename = f"invoice-{slugify(customer.customer_id)}-{ref.period.start:%Y-%m-%d}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
