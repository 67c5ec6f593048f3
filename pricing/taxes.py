"""Tax rates and the taxes a plan charges. Each write is atomic and
keyword-only; the pages, the API, the plan import and the admin call these.

The rules (docs/PRICING.md, "Tax"):
- A tax rate has a code (how files and the API name it), a name printed on
  invoices, a percentage from 0 to 100 with at most 4 decimal places, a
  jurisdiction (a country, or none: everywhere), and whether prices include
  it. Its percentage and inclusiveness never change: a new rate replaces it,
  and the old one is archived (it stops applying to invoices not yet issued).
- A plan's invoices are taxed by those of its tax rates whose country is the
  customer's (or that have none), on each line after discounts
  (pricing.invoice_steps). A plan's rates are all tax-inclusive or all
  tax-exclusive, so each line's price means one thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from django_countries import countries

from pricing.invoice_steps import TaxRate as TaxSpec
from pricing.models import Plan, TaxRate
from pricing.schema import EXACT, unstorable_text_problem

MAX_PERCENT_PLACES = 4


def tax_spec(rate: TaxRate) -> TaxSpec:
    """The rate as the pure invoice steps take it."""
    return TaxSpec(rate.name, rate.percentage, str(rate.country.code or ""), rate.inclusive)


def code_taken(code: str) -> str:
    return f"A tax rate with the code “{code}” already exists."


def _percentage(raw: object, errors: dict[str, str]) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        errors["percentage"] = "Enter a number, like 20 for 20%."
        return None
    if not value.is_finite() or not 0 <= value <= 100:
        errors["percentage"] = "Enter a percentage from 0 to 100."
        return None
    if value and -value.normalize(EXACT).as_tuple().exponent > MAX_PERCENT_PLACES:  # type: ignore[operator]
        errors["percentage"] = f"Use at most {MAX_PERCENT_PLACES} decimal places."
        return None
    return value


@transaction.atomic
def tax_rate_create(
    *,
    code: str,
    name: str,
    percentage: Decimal | str,
    country: str = "",
    inclusive: bool = False,
) -> TaxRate:
    """Make a tax rate. ValidationError keyed by field, nothing stored, when
    the code is not a slug or is taken (checked, and by the unique constraint
    for two at once), the name is empty or too long, the percentage is out of
    0-100 or finer than 4 places, or the country is not one."""
    errors: dict[str, str] = {}
    code, name, country = code.strip(), name.strip(), country.strip().upper()
    if not code or slugify(code) != code.lower() or len(code) > 50:
        errors["code"] = "Use letters, digits, - and _ (at most 50), like uk-vat."
    elif TaxRate.objects.filter(code__iexact=code).exists():
        errors["code"] = code_taken(code)
    if not name:
        errors["name"] = "Name the tax as invoices print it, like VAT."
    elif len(name) > 100:
        errors["name"] = "Use at most 100 characters."
    elif problem := unstorable_text_problem(name):
        errors["name"] = f"A name {problem}."
    value = _percentage(percentage, errors)
    if country and country not in countries:
        errors["country"] = f"“{country}” is not a country code (ISO 3166, like GB)."
    if errors or value is None:
        raise ValidationError(errors)
    rate = TaxRate(code=code, name=name, percentage=value, country=country, inclusive=inclusive)
    try:
        with transaction.atomic():
            rate.save()
    except IntegrityError as exc:
        raise ValidationError({"code": code_taken(code)}) from exc
    return rate


@transaction.atomic
def tax_rate_archive(*, rate: TaxRate, now: datetime) -> TaxRate:
    """Stop the rate applying to invoices not yet issued (idempotent). Issued
    invoices keep the tax they charged; plans keep listing it, archived."""
    locked = TaxRate.objects.select_for_update().get(pk=rate.pk)
    if locked.archived_at is None:
        locked.archived_at = now
        locked.save(update_fields=["archived_at"])
    return locked


def tax_rates_problem(rates: Sequence[TaxRate]) -> str:
    """Why these rates cannot be one plan's, or ""."""
    if len({rate.inclusive for rate in rates}) > 1:
        return (
            "A plan's tax rates are all tax-inclusive or all tax-exclusive, so its prices "
            "mean one thing."
        )
    return ""


@transaction.atomic
def plan_tax_rates_set(*, plan: Plan, rates: Sequence[TaxRate]) -> Plan:
    """Set the taxes the plan's invoices charge (ValidationError on
    `tax_rates` when they mix inclusive and exclusive). Invoices not yet
    issued are taxed by the new set; issued ones keep theirs."""
    if problem := tax_rates_problem(rates):
        raise ValidationError({"tax_rates": problem})
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    plan.tax_rates.set(rates)
    return plan


def applicable_tax_rates(rates: Sequence[TaxRate], country: str) -> tuple[TaxSpec, ...]:
    """Of a plan's tax rates, those that tax a customer in `country` ("" for
    unknown): not archived, and of that country or of none."""
    return tuple(
        tax_spec(rate)
        for rate in rates
        if rate.archived_at is None and str(rate.country.code or "") in ("", country)
    )
