"""Tax rates and coupons as JSON (mounted by billing_site/api.py beside
pricing.rest): listing, making and archiving them. pricing.taxes and
pricing.coupons decide every rule; a broken one is a 400 naming its field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import StrictInt

from meters.models import Meter
from meters.rest import aware
from pricing.coupons import coupon_archive, coupon_create
from pricing.coupons import describe as describe_coupon
from pricing.invoice_steps import DiscountDuration
from pricing.models import Coupon, TaxRate
from pricing.money import round_money
from pricing.rest import ObjectId
from pricing.schema import EXACT, shown
from pricing.taxes import tax_rate_archive, tax_rate_create

router = Router(tags=["taxes"])


# /tax-rates


class TaxRateIn(Schema):
    code: str = Field(description="How plan files and the API name it: letters, digits, - and _.")
    name: str = Field(description="Printed on invoices, e.g. VAT.")
    percentage: str | Decimal = Field(description='"20" for 20%: 0 to 100, at most 4 decimals.')
    country: str = Field(
        "",
        description='The jurisdiction (ISO 3166, e.g. "GB"): it taxes customers there. "": '
        "everywhere.",
    )
    inclusive: bool = Field(False, description="Whether the plan's prices already include it.")


class TaxRateOut(Schema):
    id: int
    code: str
    name: str
    percentage: str
    country: str  # "" for everywhere
    inclusive: bool
    archived_at: datetime | None  # no longer applies to invoices not yet issued
    created_at: datetime


def exact_text(value: Decimal) -> str:
    """A percentage or unit value with its significant digits: "20", "7.5"."""
    return format(value.normalize(EXACT), "f")


def tax_rate_json(rate: TaxRate) -> dict[str, Any]:
    return {
        "id": rate.pk,
        "code": rate.code,
        "name": rate.name,
        "percentage": exact_text(rate.percentage),
        "country": str(rate.country.code or ""),
        "inclusive": rate.inclusive,
        "archived_at": rate.archived_at,
        "created_at": rate.created_at,
    }


def _tax_rate(pk: int) -> TaxRate:
    rate = TaxRate.objects.filter(pk=pk).first()
    if rate is None:
        raise Http404(f"No tax rate with id {pk}.")
    return rate


@router.get("/tax-rates", response=list[TaxRateOut], tags=["taxes"], summary="List tax rates")
def tax_rate_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Every tax rate, archived ones too, by code."""
    return [tax_rate_json(rate) for rate in TaxRate.objects.order_by("code")]


@router.post("/tax-rates", response={201: TaxRateOut}, tags=["taxes"], summary="Create a tax rate")
def tax_rate_add(request: HttpRequest, payload: TaxRateIn) -> Status[dict[str, Any]]:
    """Make a tax rate; give it to plans with PUT /plans/{id}/tax-rates. Its
    percentage and inclusiveness never change: to change them, make a new
    rate and archive this one. A code already taken (ignoring case), an
    empty name, a percentage outside 0-100 or finer than 4 places, or an
    unknown country is a 400 naming the field."""
    rate = tax_rate_create(
        code=payload.code,
        name=payload.name,
        percentage=payload.percentage,
        country=payload.country,
        inclusive=payload.inclusive,
    )
    return Status(201, tax_rate_json(rate))


@router.get("/tax-rates/{id}", response=TaxRateOut, tags=["taxes"], summary="Get a tax rate")
def tax_rate_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    return tax_rate_json(_tax_rate(pk))


@router.post(
    "/tax-rates/{id}/archive", response=TaxRateOut, tags=["taxes"], summary="Archive a tax rate"
)
def tax_rate_archive_endpoint(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """Stop the rate applying to invoices not yet issued (archiving twice
    changes nothing). Issued invoices keep the tax they charged; plans keep
    listing it."""
    return tax_rate_json(tax_rate_archive(rate=_tax_rate(pk), now=timezone.now()))


# /coupons


# The largest whole number the database stores for a count (a
# PositiveIntegerField on PostgreSQL); above it, a 422 naming the field.
MAX_STORED_INT = 2_147_483_647


class CouponIn(Schema):
    code: str = Field(description="What customers and the API name it: WELCOME10.")
    name: str = Field(description="Printed on invoices.")
    kind: str = Field(description="`percentage` or `fixed` (an amount off).")
    value: str | Decimal = Field(
        description='"10" for 10% off, or for a fixed amount "5.00" in `currency`.'
    )
    currency: str = Field(
        "", description="A fixed amount's currency; it discounts only invoices in it."
    )
    duration: str = Field(
        DiscountDuration.ONCE.value,
        description="`once` (one invoice), `repeating` (`duration_periods` invoices) or `forever`.",
    )
    duration_periods: StrictInt | None = Field(
        None, le=MAX_STORED_INT, description="For a repeating coupon: how many invoices."
    )
    meters: list[str] = Field(
        [], description="Discount only these meters' charges (API names). []: the whole invoice."
    )
    max_redemptions: StrictInt | None = Field(
        None, le=MAX_STORED_INT, description="How many customers may be given it. null: no limit."
    )
    redeem_by: datetime | None = Field(
        None,
        description="It can be given until then (given ones keep applying). Without an "
        "offset: the billing time zone.",
    )


class CouponOut(Schema):
    id: int
    code: str
    name: str
    description: str  # "10% off, once"
    kind: str
    value: str
    currency: str  # "" for a percentage
    duration: str
    duration_periods: int | None
    meters: list[str]  # API names; [] for the whole invoice
    max_redemptions: int | None
    redemptions: int  # how many times it has been given
    redeem_by: datetime | None
    archived_at: datetime | None
    created_at: datetime


def coupon_json(coupon: Coupon, redemptions: int) -> dict[str, Any]:
    value = coupon.value
    return {
        "id": coupon.pk,
        "code": coupon.code,
        "name": coupon.name,
        "description": describe_coupon(coupon),
        "kind": coupon.kind,
        "value": money_text(value, coupon.currency) if coupon.currency else exact_text(value),
        "currency": coupon.currency,
        "duration": coupon.duration,
        "duration_periods": coupon.duration_periods,
        "meters": sorted(meter.api_name for meter in coupon.meters.all()),
        "max_redemptions": coupon.max_redemptions,
        "redemptions": redemptions,
        "redeem_by": coupon.redeem_by,
        "archived_at": coupon.archived_at,
        "created_at": coupon.created_at,
    }


def money_text(value: Decimal, currency: str) -> str:
    return format(round_money(value, currency), "f")


def _coupons() -> QuerySet[Coupon]:
    """Coupons with their meters and how many times each was given: two
    queries for any number."""
    return Coupon.objects.prefetch_related("meters").annotate(given=Count("redemptions"))


def _coupon_out(coupon: Coupon) -> dict[str, Any]:
    return coupon_json(coupon, coupon.given)  # type: ignore[attr-defined]


def _coupon(pk: int) -> Coupon:
    coupon = _coupons().filter(pk=pk).first()
    if coupon is None:
        raise Http404(f"No coupon with id {pk}.")
    return coupon


@router.get("/coupons", response=list[CouponOut], tags=["discounts"], summary="List coupons")
def coupon_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Every coupon, archived ones too, by code; give one to a customer with
    POST /customers/{id}/coupons."""
    return [_coupon_out(coupon) for coupon in _coupons().order_by("code")]


@router.post("/coupons", response={201: CouponOut}, tags=["discounts"], summary="Create a coupon")
def coupon_add(request: HttpRequest, payload: CouponIn) -> Status[dict[str, Any]]:
    """Make a coupon. Its terms never change once made; archive it to stop
    giving it out. A taken code (ignoring case), a percentage above 100 or a
    fixed amount finer than its currency's minor unit, a repeating coupon
    without `duration_periods`, a `redeem_by` in the past, or an unknown
    meter is a 400 naming the field."""
    # Matched in memory (there are few meters), so a name the database could
    # not even be asked about is simply unknown.
    known = {meter.api_name: meter for meter in Meter.objects.all()}
    unknown = [name for name in payload.meters if name not in known]
    if unknown:
        names = ", ".join(map(shown, unknown))
        raise ValidationError({"meters": f"no meter with the API name {names}"})
    coupon = coupon_create(
        code=payload.code,
        name=payload.name,
        kind=payload.kind,
        value=payload.value,
        currency=payload.currency,
        duration=payload.duration,
        duration_periods=payload.duration_periods,
        meters=[known[name] for name in dict.fromkeys(payload.meters)],
        max_redemptions=payload.max_redemptions,
        redeem_by=aware(payload.redeem_by) if payload.redeem_by else None,
        now=timezone.now(),
    )
    return Status(201, _coupon_out(_coupon(coupon.pk)))


@router.get("/coupons/{id}", response=CouponOut, tags=["discounts"], summary="Get a coupon")
def coupon_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    return _coupon_out(_coupon(pk))


@router.post(
    "/coupons/{id}/archive", response=CouponOut, tags=["discounts"], summary="Archive a coupon"
)
def coupon_archive_endpoint(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """Stop giving the coupon out (archiving twice changes nothing); those
    already given keep applying."""
    coupon_archive(coupon=_coupon(pk), now=timezone.now())
    return _coupon_out(_coupon(pk))
