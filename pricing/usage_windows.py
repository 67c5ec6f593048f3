"""What the rate editor's preview needs to price a customer's usage so far
this period, without importing the apps that know it.

Customers and their billing periods (plan assignments, periods cut short where
an assignment ends) belong to customers and invoices, which sit above pricing
(docs/ARCHITECTURE.md, "Which app may import which"). So pricing states here
what the preview needs, and settings.PREVIEW_USAGE_WINDOWS names the class that
provides it (invoices.preview_usage.InvoicePeriods, the periods invoices are
built for), loaded the way Django loads EMAIL_BACKEND.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PreviewCustomer:
    pk: int  # what the preview's picker posts
    name: str
    customer_id: str  # what the customer's events carry


@dataclass(frozen=True)
class UsageWindow:
    """A customer's current billing period, as an invoice for it would count it.

    Times are aware, in the billing time zone (so they read as the invoice's
    dates): usage counts from `start` until `usage_end`, which is `end` unless
    the plan assignment ends inside the period; `coverage` is the share of the
    period it covers (base fees and minimums are prorated by it)."""

    start: datetime
    end: datetime
    usage_end: datetime
    coverage: Fraction
    plan_name: str


class UsageWindows(Protocol):
    def customers(self) -> list[PreviewCustomer]:
        """Every customer, in the order the preview's picker lists them."""
        ...

    def current(self, customer: PreviewCustomer, now: datetime) -> UsageWindow | None:
        """The customer's billing period running at `now`; None when they are
        on no plan then."""
        ...


def usage_windows() -> UsageWindows:
    """The provider settings.PREVIEW_USAGE_WINDOWS names (read on each call, so
    override_settings applies; the class is loaded once per path)."""
    return _load(settings.PREVIEW_USAGE_WINDOWS)


@cache
def _load(path: str) -> UsageWindows:
    windows: UsageWindows = import_string(path)()
    return windows
