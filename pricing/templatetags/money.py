"""Template filters for money, numbers and dates, loaded as builtins
(settings.TEMPLATES). Each writes in the locale in force
(pricing.money.current_locale): an invoice's customer's inside
`{% in_locale %}`, else the seller's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pricing.locales import format_day, is_right_to_left, text_direction
from pricing.money import (
    current_locale,
    format_money,
    format_number,
    format_unit_price,
    formatting_locale,
)

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_money(amount, currency)


@register.filter
def unit_price(price: Decimal | None, currency: str) -> str:
    return "" if price is None else format_unit_price(price, currency)


@register.filter
def quantity(value: Decimal | int | None) -> str:
    return "" if value is None else format_number(Decimal(value))


@register.filter
def day(value: date | datetime | None) -> str | SafeString:
    """A date (a moment: its date where Tally bills) as the locale writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    locale = current_locale()
    written = format_day(value, locale)
    if is_right_to_left(locale):
        # A Hebrew date (1 במרץ 2025) read in its own order inside a
        # left-to-right invoice.
        return format_html('<span dir="rtl">{}</span>', written)
    return written


@register.filter
def text_dir(value: object) -> str:
    """`dir="{{ name|text_dir }}"`: a customer's name or address read in its
    own direction (pricing.locales.text_direction)."""
    return text_direction(str(value))


@register.tag
def in_locale(parser: template.base.Parser, token: template.base.Token) -> InLocaleNode:
    """`{% in_locale header.locale %}…{% endin_locale %}`: money, numbers and
    dates inside are written in that locale (an invoice in its customer's)."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("in_locale takes one argument: the locale")
    nodelist = parser.parse(("endin_locale",))
    parser.delete_first_token()
    return InLocaleNode(parser.compile_filter(bits[1]), nodelist)


class InLocaleNode(template.Node):
    def __init__(self, locale: template.base.FilterExpression, nodelist: template.NodeList):
        self.locale, self.nodelist = locale, nodelist

    def render(self, context: template.Context) -> str:
        with formatting_locale(str(self.locale.resolve(context) or current_locale())):
            return str(self.nodelist.render(context))
