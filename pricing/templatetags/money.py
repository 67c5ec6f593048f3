"""Template filters for money, loaded as builtins (settings.TEMPLATES)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from pricing.money import format_money, format_quantity, format_unit_price

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_money(amount, currency)


@register.filter
def unit_price(price: Decimal | None, currency: str) -> str:
    return "" if price is None else format_unit_price(price, currency)


@register.filter
def quantity(value: Decimal | int | None) -> str:
    return "" if value is None else format_quantity(Decimal(value))
