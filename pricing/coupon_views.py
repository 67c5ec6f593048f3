"""The coupons page: every coupon, a form making one, and archiving.

A coupon's terms never change once made (pricing.coupons); archiving stops
it being given, and those given keep applying. Giving one to a customer is on
the customer's page (invoices.discounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing_site.htmx import page_or_partial
from pricing.catalog_forms import CouponForm
from pricing.coupons import coupon_archive, coupon_create, describe
from pricing.models import Coupon
from pricing.views import redirect_to_part

TEMPLATE = "pricing/coupons.html"
REGION = "coupons"


@dataclass(frozen=True)
class CouponRow:
    """One coupon as the page lists it; `redeemed` counts every time it was
    given, removed ones included (the count its max_redemptions limits)."""

    coupon: Coupon
    terms: str
    meters: str
    redeemed: int
    state: str

    @property
    def is_active(self) -> bool:
        return self.state == "Active"


def coupon_state(coupon: Coupon, redeemed: int, now: datetime) -> str:
    """Whether it can be given now, and if not why."""
    if coupon.archived_at is not None:
        return "Archived"
    if coupon.redeem_by is not None and now >= coupon.redeem_by:
        return "Expired"
    if coupon.max_redemptions is not None and redeemed >= coupon.max_redemptions:
        return "Used up"
    return "Active"


def _rows(now: datetime) -> list[CouponRow]:
    coupons = (
        Coupon.objects.annotate(redeemed=Count("redemptions"))
        .prefetch_related("meters")
        .order_by("code")  # a GROUP BY query keeps no Meta.ordering
    )
    return [
        CouponRow(
            coupon,
            describe(coupon),
            ", ".join(m.label for m in coupon.meters.all()),
            coupon.redeemed,
            coupon_state(coupon, coupon.redeemed, now),
        )
        for coupon in coupons
    ]


def _context(form: CouponForm) -> dict[str, Any]:
    return {"rows": _rows(timezone.now()), "form": form}


@require_http_methods(["GET", "POST"])
@permission_required("pricing.view_coupon", raise_exception=True)
@vary_on_headers("HX-Request")
def coupon_list(request: HttpRequest) -> HttpResponse:
    """GET lists the coupons; POST makes one (Admin)."""
    if request.method == "POST" and not request.user.has_perm("pricing.add_coupon"):
        raise PermissionDenied  # every role sees the coupons, an Admin makes them
    form = CouponForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            coupon = coupon_create(**form.cleaned_data, now=timezone.now())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Coupon {coupon.code} created: {describe(coupon)}. Give it to a customer "
                "on their page.",
            )
            return redirect_to_part(request, reverse("pricing:coupons"), f"coupon-{coupon.pk}")
    template = page_or_partial(request, TEMPLATE, REGION)
    return render(request, template, _context(form))


@require_POST
@permission_required("pricing.change_coupon", raise_exception=True)
def coupon_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    coupon = coupon_archive(coupon=get_object_or_404(Coupon, pk=pk), now=timezone.now())
    messages.success(
        request,
        f"Coupon {coupon.code} archived: it can no longer be given; customers who have it "
        "keep their discount.",
    )
    return redirect_to_part(request, reverse("pricing:coupons"), f"coupon-{coupon.pk}")
