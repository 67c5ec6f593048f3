"""The rules a customer's fields follow, whichever door they come through
(the create and edit pages, the native API, the Amberflo-compatible API, the
admin). Pure, no ORM.

A customer ID is what usage events send as customerId, and ingestion strips
it and allows at most MAX_CUSTOMER_ID characters (meters.validation): so a
stored ID is stripped too (one with surrounding spaces could never be
matched), never empty, within that length, and without control characters
(PostgreSQL refuses NUL; the others cannot be typed or seen) or lone
surrogates (not Unicode: no database driver can send them).

A billing address is printed on invoices and kept in each issued invoice's
snapshot: several lines (each line break stored as "\\n"), at most
MAX_BILLING_ADDRESS characters, no other control characters. Payment terms
are a plan's rule (pricing.schema: a whole number of days up to
MAX_NET_TERMS_DAYS), or none, to use the plan's.

How the customer is taxed: a country (ISO 3166-1, django-countries), a tax
ID (at most MAX_TAX_ID characters; for a customer in an EU member state, a
valid EU VAT number, checked and stored compact by python-stdnum), and a tax
status (pricing.invoice_steps.TaxStatus); a reverse-charge customer needs a
tax ID, which the invoice must show.

How the customer reads their invoices: a locale (pricing.locales), or none,
for the seller's.
"""

from __future__ import annotations

import re

from django_countries import countries
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as NumberError

from meters.meter_rules import has_control_characters
from meters.validation import MAX_ID_LENGTH, UNSTORABLE
from pricing.invoice_steps import TaxStatus
from pricing.locales import canonical_locale, locale_problem
from pricing.schema import MAX_NET_TERMS_DAYS, net_terms_problem

MAX_CUSTOMER_ID = MAX_ID_LENGTH
MAX_CUSTOMER_NAME = 200  # Customer.name's column
MAX_BILLING_ADDRESS = 1_000  # long enough for any postal address, short enough to print
MAX_TAX_ID = 64  # Customer.tax_id's column

LINE_BREAK = re.compile(r"\r\n?")


def _is_unicode(text: str) -> bool:
    """Whether `text` has no lone surrogate (checked after control
    characters, which include NUL, the other character UNSTORABLE finds)."""
    return UNSTORABLE.search(text) is None


def customer_id_problem(customer_id: str) -> str:
    """Why `customer_id` (already stripped) cannot be stored; "" if it can."""
    if not customer_id:
        return "A customer ID is required."
    if len(customer_id) > MAX_CUSTOMER_ID:
        return f"A customer ID has at most {MAX_CUSTOMER_ID} characters."
    if has_control_characters(customer_id):
        return "A customer ID must not contain control characters."
    if not _is_unicode(customer_id):
        return "A customer ID must be Unicode text (it holds a lone surrogate)."
    return ""


def customer_name_problem(name: str) -> str:
    """Why `name` (already stripped) cannot be stored; "" if it can."""
    if not name:
        return "A customer name is required."
    if len(name) > MAX_CUSTOMER_NAME:
        return f"A customer name has at most {MAX_CUSTOMER_NAME} characters."
    if has_control_characters(name):
        return "A customer name must not contain control characters."
    if not _is_unicode(name):
        return "A customer name must be Unicode text (it holds a lone surrogate)."
    return ""


def customer_problems(*, customer_id: str, name: str) -> dict[str, str]:
    """Each broken rule's message by field name, for stripped values."""
    problems = {
        "customer_id": customer_id_problem(customer_id),
        "name": customer_name_problem(name),
    }
    return {field: message for field, message in problems.items() if message}


def clean_billing_address(address: str) -> str:
    """The address as it is stored: stripped, each line break a "\\n" (a
    browser's text area sends "\\r\\n")."""
    return LINE_BREAK.sub("\n", address).strip()


def billing_address_problem(address: str) -> str:
    """Why `address` (already cleaned) cannot be stored; "" if it can."""
    if len(address) > MAX_BILLING_ADDRESS:
        return f"A billing address has at most {MAX_BILLING_ADDRESS:,} characters."
    if has_control_characters(address.replace("\n", "")):
        return "A billing address must not contain control characters (line breaks are fine)."
    if not _is_unicode(address):
        return "A billing address must be Unicode text (it holds a lone surrogate)."
    return ""


def net_terms_days_problem(days: object) -> str:
    """Why `days` cannot be a customer's payment terms; "" if it can. None is
    no terms of their own: the plan's apply."""
    if days is None or not net_terms_problem(days):
        return ""
    return (
        f"Payment terms are a whole number of days from 0 to {MAX_NET_TERMS_DAYS}; "
        "leave them empty to use the plan's."
    )


def billing_problems(*, billing_address: str, net_terms_days: object) -> dict[str, str]:
    """Each broken billing rule's message by field name, for a cleaned address."""
    problems = {
        "billing_address": billing_address_problem(billing_address),
        "net_terms_days": net_terms_days_problem(net_terms_days),
    }
    return {field: message for field, message in problems.items() if message}


def clean_locale(locale: str) -> str:
    """The locale as stored: Babel's name for it (`de-DE` → `de_DE`), or as
    given, stripped, when there is no such locale (locale_problems says so)."""
    locale = locale.strip()
    return canonical_locale(locale) or locale


def locale_problems(*, locale: str) -> dict[str, str]:
    """The locale's problem by field name (pricing.locales), for a cleaned one."""
    problem = locale_problem(locale)
    return {"locale": problem} if problem else {}


def in_eu(country: str) -> bool:
    return country.lower() in vat.MEMBER_STATES


def clean_tax_id(tax_id: str, country: str) -> str:
    """The tax ID as it is stored: stripped; an EU VAT number compact
    (`DE 136 695 976` → `DE136695976`)."""
    tax_id = tax_id.strip()
    return vat.compact(tax_id) if tax_id and in_eu(country) else tax_id


def tax_problems(*, country: str, tax_id: str, tax_status: str) -> dict[str, str]:
    """Each broken tax rule's message by field name, for a cleaned tax ID."""
    problems: dict[str, str] = {}
    if country and country not in countries:
        problems["country"] = f"{country!r} is not a country code (ISO 3166-1, e.g. DE)."
    if len(tax_id) > MAX_TAX_ID:
        problems["tax_id"] = f"A tax ID has at most {MAX_TAX_ID} characters."
    elif has_control_characters(tax_id) or not _is_unicode(tax_id):
        problems["tax_id"] = "A tax ID must be plain text."
    elif tax_id and in_eu(country):
        try:
            vat.validate(tax_id)
        except NumberError as exc:
            name = countries.name(country)
            problems["tax_id"] = f"This is not a valid EU VAT number for {name}: {exc}"
    if tax_status not in TaxStatus.__members__.values():
        choices = ", ".join(s.value for s in TaxStatus)
        problems["tax_status"] = f"Choose one of {choices}."
    elif tax_status == TaxStatus.REVERSE_CHARGE and not tax_id:
        problems["tax_id"] = "A reverse-charge customer needs a tax ID: the invoice must show it."
    return problems
