from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed


class PricingConfig(AppConfig):
    name = "pricing"
    verbose_name = "Pricing"

    def ready(self) -> None:
        checks.register(seller_locale_check)
        setting_changed.connect(_seller_locale_changed)
        _use_seller_locale()


def _use_seller_locale() -> None:
    """Money, numbers and dates are written in the seller's locale wherever
    no customer's applies (pricing.money.formatting_locale)."""
    from pricing.locales import canonical_locale
    from pricing.money import DEFAULT_LOCALE, set_default_locale

    set_default_locale(canonical_locale(settings.SELLER_LOCALE) or DEFAULT_LOCALE)


def _seller_locale_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "SELLER_LOCALE":
        _use_seller_locale()


def seller_locale_check(**kwargs: Any) -> list[checks.CheckMessage]:
    from pricing.locales import locale_problem

    problem = locale_problem(settings.SELLER_LOCALE) if settings.SELLER_LOCALE.strip() else "empty"
    if not problem:
        return []
    return [
        checks.Error(
            f"SELLER_LOCALE: {problem}",
            hint="Set SELLER_LOCALE to a CLDR locale such as en_US, de_DE or ja_JP.",
            id="pricing.E001",
        )
    ]
