"""Coupons: what a discount is (pricing.models.Coupon). Giving one to a
customer is invoices.discounts. Each write is atomic and keyword-only.

The rules (docs/PRICING.md, "Discounts"):
- A code of letters, digits, - and _ (unique ignoring case), a name printed
  on invoices.
- A percentage above 0 and at most 100 (at most 4 decimal places), or a
  fixed amount above 0 in a currency's minor unit, below MAX_AMOUNT; a fixed
  amount discounts only invoices in its currency.
- Once (one invoice), repeating (N ≥ 1 invoices) or forever.
- On the whole invoice, or on the charges of chosen meters.
- Optionally at most N redemptions, and a date after which it cannot be
  given (given ones keep applying).
Its terms never change once made: archiving stops new redemptions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from meters.models import Meter
from pricing.invoice_steps import DiscountDuration, DiscountKind
from pricing.models import Coupon
from pricing.money import (
    CURRENCIES,
    MAX_AMOUNT,
    format_money,
    format_quantity,
    in_minor_units,
    minor_unit_exponent,
)
from pricing.schema import EXACT, unstorable_text_problem

CODE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
MAX_PERCENT_PLACES = 4
MAX_PERIODS = 1_000
MAX_REDEMPTIONS = 2_147_483_647  # what the column holds on every engine


def code_taken(code: str) -> str:
    return f"A coupon with the code “{code}” already exists."


def _value(
    raw: object, kind: DiscountKind | None, currency: str, errors: dict[str, str]
) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        errors["value"] = "Enter a number."
        return None
    if not value.is_finite() or value <= 0:
        errors["value"] = "Enter a value greater than zero."
        return None
    if kind is DiscountKind.PERCENTAGE:
        if value > 100:
            errors["value"] = "A percentage is at most 100."
        elif -value.normalize(EXACT).as_tuple().exponent > MAX_PERCENT_PLACES:  # type: ignore[operator]
            errors["value"] = f"Use at most {MAX_PERCENT_PLACES} decimal places."
        else:
            return value
        return None
    if kind is DiscountKind.FIXED and currency in CURRENCIES:
        if value >= MAX_AMOUNT:
            errors["value"] = f"Use an amount below {MAX_AMOUNT:,}."
        elif not in_minor_units(value, currency):
            places = minor_unit_exponent(currency)
            errors["value"] = f"Use at most {places} decimal places in {currency}."
        else:
            return value
    return None


@transaction.atomic
def coupon_create(
    *,
    code: str,
    name: str,
    kind: str,
    value: Decimal | str,
    currency: str = "",
    duration: str = DiscountDuration.ONCE,
    duration_periods: int | None = None,
    meters: Sequence[Meter] = (),
    max_redemptions: int | None = None,
    redeem_by: datetime | None = None,
    now: datetime,
) -> Coupon:
    """Make a coupon, or ValidationError keyed by field with nothing stored."""
    errors: dict[str, str] = {}
    code, name, currency = code.strip(), name.strip(), (currency or "").strip().upper()
    if not CODE.match(code):
        errors["code"] = "Use 1 to 50 letters, digits, - and _, like WELCOME10."
    elif Coupon.objects.filter(code__iexact=code).exists():
        errors["code"] = code_taken(code)
    if not name:
        errors["name"] = "Name the discount as invoices print it, like Welcome offer."
    elif len(name) > 100:
        errors["name"] = "Use at most 100 characters."
    elif problem := unstorable_text_problem(name):
        errors["name"] = f"A name {problem}."
    chosen = DiscountKind(kind) if kind in DiscountKind else None
    if chosen is None:
        errors["kind"] = "Choose a percentage or a fixed amount."
    if chosen is DiscountKind.FIXED and currency not in CURRENCIES:
        errors["currency"] = f"A fixed amount needs its currency: one of {', '.join(CURRENCIES)}."
    if chosen is DiscountKind.PERCENTAGE:
        currency = ""  # a percentage is in no currency
    amount = _value(value, chosen, currency, errors)
    period = DiscountDuration(duration) if duration in DiscountDuration else None
    if period is None:
        errors["duration"] = "Choose once, for N invoices, or forever."
    elif period is DiscountDuration.REPEATING:
        if duration_periods is None or not 1 <= duration_periods <= MAX_PERIODS:
            errors["duration_periods"] = f"Say for how many invoices: 1 to {MAX_PERIODS}."
    else:
        duration_periods = None
    if max_redemptions is not None and not 1 <= max_redemptions <= MAX_REDEMPTIONS:
        errors["max_redemptions"] = (
            f"From 1 to {MAX_REDEMPTIONS:,}, or leave it blank for no limit."
        )
    if redeem_by is not None and redeem_by <= now:
        errors["redeem_by"] = "Choose a time in the future, or leave it blank."
    if errors or amount is None or chosen is None or period is None:
        raise ValidationError(errors)
    coupon = Coupon(
        code=code,
        name=name,
        kind=chosen,
        value=amount,
        currency=currency,
        duration=period,
        duration_periods=duration_periods,
        max_redemptions=max_redemptions,
        redeem_by=redeem_by,
    )
    try:
        with transaction.atomic():
            coupon.save()
    except IntegrityError as exc:
        raise ValidationError({"code": code_taken(code)}) from exc
    coupon.meters.set(meters)
    return coupon


@transaction.atomic
def coupon_archive(*, coupon: Coupon, now: datetime) -> Coupon:
    """Stop giving the coupon out (idempotent); those given keep applying."""
    locked = Coupon.objects.select_for_update().get(pk=coupon.pk)
    if locked.archived_at is None:
        locked.archived_at = now
        locked.save(update_fields=["archived_at"])
    return locked


def describe(coupon: Coupon) -> str:
    """“10% off, once” or “$5.00 off, for 3 invoices” (which meters it
    covers is the coupon's `meters`, shown beside it)."""
    if coupon.kind == DiscountKind.PERCENTAGE:
        what = f"{format_quantity(coupon.value)}% off"
    else:
        what = f"{format_money(coupon.value, coupon.currency)} off"
    duration = DiscountDuration(coupon.duration)
    when = {
        DiscountDuration.ONCE: "once",
        DiscountDuration.REPEATING: f"for {coupon.duration_periods} invoices",
        DiscountDuration.FOREVER: "forever",
    }[duration]
    return f"{what}, {when}"
