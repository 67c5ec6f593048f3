"""Coupons given to customers: giving and removing them. What a coupon is
lives in pricing.coupons; what it discounts is decided at each invoice by
invoices.adjustments. Each write is atomic and keyword-only.

The rules (docs/PRICING.md, "Discounts"):
- A coupon is given to a customer (all their invoices in its currency) or
  to one of their assignments (that assignment's invoices).
- It can be given while it is not archived, before its redeem-by time, and
  while it has been given fewer times than its maximum (counted under a lock
  on the coupon row, so two at once cannot pass the last one); a fixed
  amount only to a customer billed in its currency.
- A customer holds a coupon once at a time (the database backs it).
- It discounts the invoices of periods that end after it was given, as many
  as its duration says; removing it stops it for invoices not yet issued.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer, PlanAssignment
from invoices.models import CouponRedemption
from pricing.invoice_steps import DiscountKind
from pricing.models import Coupon


def already_given(coupon: Coupon, customer: Customer) -> str:
    return f"{customer.name} already has the coupon {coupon.code}."


@transaction.atomic
def coupon_redeem(
    *,
    coupon: Coupon,
    customer: Customer,
    assignment: PlanAssignment | None = None,
    now: datetime,
    actor: str,
) -> CouponRedemption:
    """Give the customer (or one of their assignments) the coupon.
    ValidationError on `coupon` or `assignment`, nothing stored, when a rule
    above is broken."""
    locked = Coupon.objects.select_for_update().get(pk=coupon.pk)
    errors: dict[str, str] = {}
    if locked.archived_at is not None:
        errors["coupon"] = f"The coupon {locked.code} is archived: it can no longer be given."
    elif locked.redeem_by is not None and now >= locked.redeem_by:
        errors["coupon"] = (
            f"The coupon {locked.code} could be given until {locked.redeem_by:%-d %b %Y}."
        )
    elif (
        locked.max_redemptions is not None and locked.redemptions.count() >= locked.max_redemptions
    ):
        errors["coupon"] = (
            f"The coupon {locked.code} has been given its maximum of "
            f"{locked.max_redemptions} times."
        )
    elif customer.coupon_redemptions.filter(coupon=locked, removed_at__isnull=True).exists():
        errors["coupon"] = already_given(locked, customer)
    if assignment is not None and assignment.customer_id != customer.pk:
        errors["assignment"] = "Choose one of this customer's plan assignments."
    elif locked.kind == DiscountKind.FIXED and "coupon" not in errors:
        currencies = (
            {assignment.plan.currency}
            if assignment is not None
            else set(customer.assignments.values_list("plan__currency", flat=True))
        )
        if locked.currency not in currencies:
            billed = ", ".join(sorted(currencies)) or "no currency yet (assign a plan first)"
            errors["coupon"] = (
                f"{locked.code} takes {locked.currency} off, and {customer.name} is billed in "
                f"{billed}: it could discount nothing."
            )
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return CouponRedemption.objects.create(
                coupon=locked,
                customer=customer,
                assignment=assignment,
                redeemed_at=now,
                created_by=actor,
            )
    except IntegrityError as exc:  # given at the same moment by another request
        raise ValidationError({"coupon": already_given(locked, customer)}) from exc


@transaction.atomic
def coupon_remove(*, redemption: CouponRedemption, now: datetime, actor: str) -> CouponRedemption:
    """Stop the coupon for the customer's invoices not yet issued (idempotent)."""
    locked = CouponRedemption.objects.select_for_update().get(pk=redemption.pk)
    if locked.removed_at is None:
        locked.removed_at = now
        locked.removed_by = actor
        locked.save(update_fields=["removed_at", "removed_by"])
    return locked
