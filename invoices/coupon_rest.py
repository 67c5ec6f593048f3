"""Coupons given to customers, as JSON: listing, giving and removing them
(invoices.discounts decides every rule). What a coupon is lives at /coupons
(pricing.rest). Mounted beside invoices.rest, whose shapes it shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from customers.models import PlanAssignment
from customers.rest import get_customer
from invoices.adjustments import coupon_uses
from invoices.discounts import coupon_redeem, coupon_remove
from invoices.models import CouponRedemption
from invoices.rest import ObjectId, actor_of
from pricing.coupons import CODE, describe
from pricing.models import Coupon

router = Router(tags=["discounts"])


class RedemptionOut(Schema):
    id: int
    customer_id: int
    coupon: str  # the coupon's code
    coupon_id: int
    description: str  # "10% off, once"
    assignment: int | None  # the assignment whose invoices it discounts; null: all of them
    redeemed_at: datetime
    created_by: str
    removed_at: datetime | None  # no longer discounts invoices not yet issued
    removed_by: str
    invoices_discounted: int  # issued invoices (not void) it took something off


class RedemptionIn(Schema):
    coupon: str = Field(description="The coupon's code (GET /coupons).")
    assignment: int | None = Field(
        None,
        description="One of the customer's plan assignments, for that assignment's invoices "
        "only. null: every invoice of the customer in the coupon's currency.",
    )


def _redemptions() -> QuerySet[CouponRedemption]:
    """Redemptions with their coupon and how many issued invoices each
    discounted (counted as invoices.adjustments counts a coupon's uses):
    one query for any number."""
    return CouponRedemption.objects.select_related("coupon").annotate(discounted=coupon_uses())


def redemption_json(redemption: CouponRedemption) -> dict[str, Any]:
    coupon = redemption.coupon
    return {
        "id": redemption.pk,
        "customer_id": redemption.customer_id,
        "coupon": coupon.code,
        "coupon_id": coupon.pk,
        "description": describe(coupon),
        "assignment": redemption.assignment_id,
        "redeemed_at": redemption.redeemed_at,
        "created_by": redemption.created_by,
        "removed_at": redemption.removed_at,
        "removed_by": redemption.removed_by,
        "invoices_discounted": redemption.discounted,  # type: ignore[attr-defined]
    }


def _redemption(pk: int) -> CouponRedemption:
    redemption = _redemptions().filter(pk=pk).first()
    if redemption is None:
        raise Http404(f"No coupon redemption with id {pk}.")
    return redemption


# /customers/<id>/coupons


@router.get(
    "/customers/{id}/coupons",
    response=list[RedemptionOut],
    summary="List the coupons given to a customer",
)
def customer_coupon_list(request: HttpRequest, pk: ObjectId) -> list[dict[str, Any]]:
    """The coupons given to the customer, newest first, removed ones too,
    each with how many issued invoices it has discounted so far."""
    customer = get_customer(pk)
    latest = _redemptions().filter(customer=customer).order_by("-redeemed_at", "-pk")
    return [redemption_json(r) for r in latest]


@router.post(
    "/customers/{id}/coupons",
    response={201: RedemptionOut},
    summary="Give a customer a coupon",
)
def customer_coupon_add(
    request: HttpRequest, pk: ObjectId, payload: RedemptionIn
) -> Status[dict[str, Any]]:
    """Give the customer the coupon named by its code: on all their invoices
    in its currency, or with `assignment` on that assignment's only. It
    discounts invoices of periods ending from now on, as many as its
    duration says. A 400 on `coupon` when no coupon has the code, it is
    archived, past its redeem-by time or given its maximum number of times,
    the customer already holds it, or it is a fixed amount in a currency
    they are not billed in; on `assignment` when the assignment is not the
    customer's."""
    customer = get_customer(pk)
    code = payload.coupon.strip()
    # A code no coupon could have (one with a NUL, say) is not looked up:
    # the database would refuse the query itself.
    coupon = Coupon.objects.filter(code__iexact=code).first() if CODE.match(code) else None
    if coupon is None:
        raise ValidationError({"coupon": f"No coupon has the code “{payload.coupon}”."})
    assignment = None
    if payload.assignment is not None:
        assignment = (
            PlanAssignment.objects.select_related("plan").filter(pk=payload.assignment).first()
        )
        if assignment is None:
            raise ValidationError(
                {"assignment": f"No plan assignment with id {payload.assignment}."}
            )
    redemption = coupon_redeem(
        coupon=coupon,
        customer=customer,
        assignment=assignment,
        now=timezone.now(),
        actor=actor_of(request),
    )
    return Status(201, redemption_json(_redemption(redemption.pk)))


# /coupon-redemptions


@router.post(
    "/coupon-redemptions/{id}/remove",
    response=RedemptionOut,
    summary="Take a coupon back from a customer",
)
def coupon_redemption_remove(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """Stop the coupon discounting the customer's invoices not yet issued
    (removing twice changes nothing). Issued invoices keep their discount;
    the coupon can be given to the customer again."""
    coupon_remove(redemption=_redemption(pk), now=timezone.now(), actor=actor_of(request))
    return redemption_json(_redemption(pk))
