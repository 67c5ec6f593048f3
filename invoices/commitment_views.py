"""The Prepaid commitments card of a customer's billing region: the
customer's commitments (each with its invoice, what it has paid and what is
left), and the form that makes one (invoices.commitments)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_POST

from customers.models import Customer
from invoices.commitment_forms import CommitmentForm, commitments_context
from invoices.commitments import commitment_create
from invoices.views import _actor, _form_error, card_answer
from pricing.money import format_money

CARD = "invoices/_commitments.html"


@require_POST
@permission_required("invoices.add_commitment", raise_exception=True)
def commitment_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    assignments = list(customer.assignments.select_related("plan").order_by("start_at"))
    form: CommitmentForm | None = CommitmentForm(request.POST, assignments=assignments)
    assert form is not None
    done = ""
    if form.is_valid():
        try:
            commitment = commitment_create(
                **form.service_arguments(),  # type: ignore[arg-type]
                now=timezone.now(),
                actor=_actor(request),
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            amount = format_money(commitment.amount, commitment.currency)
            done = f"Commitment of {amount} made; invoice {commitment.invoice.number} issued."
            form = None
    return card_answer(
        request,
        customer,
        card="commitments",
        template=CARD,
        context=commitments_context(customer, timezone.now(), form),
        failed=form is not None,
        done=done,
        changes_invoice=True,  # the preview shows what the commitment pays
    )
