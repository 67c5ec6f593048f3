"""Locales: how a customer reads amounts, numbers and dates. Pure, no ORM.

A locale is a CLDR locale identifier as Babel knows it (`de_DE`, `ja_JP`,
`zh_Hans_CN`, `fr_CH`, `ar_EG`); BCP 47 tags (`de-DE`, `zh-CN`) are accepted
and stored in Babel's form. A customer may have one; one without has the
seller's (settings.SELLER_LOCALE), and an issued invoice keeps the locale it
was issued in. A locale changes how a value is written, never the value:
money is rounded by pricing.money's one rule before Babel writes it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.localedata import locale_identifiers

MAX_LOCALE = 35  # the locale columns; the longest CLDR identifier has 20 characters
_SUBTAGS = re.compile(r"[A-Za-z]{2,8}(?:_[A-Za-z0-9]{2,8})*")


def canonical_locale(code: str) -> str | None:
    """`code` as Babel names it (`de-DE` → `de_DE`, `zh_CN` → `zh_Hans_CN`),
    or None when CLDR has no such locale. Every part given must be in the
    locale Babel finds: it would silently swap an unknown territory for
    another (`en_ZZ` → `en_US`), which is no such locale."""
    given = code.strip().replace("-", "_")
    if len(given) > MAX_LOCALE or not _SUBTAGS.fullmatch(given):
        return None
    try:
        locale = Locale.parse(given)
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    name = str(locale)
    if name not in _identifiers():
        return None
    found = {part.casefold() for part in name.split("_")}
    if not {part.casefold() for part in given.split("_")} <= found:
        return None
    return name


def locale_problem(code: str) -> str:
    """Why `code` cannot be a locale; "" if it can (empty: the seller's)."""
    if not code.strip() or canonical_locale(code):
        return ""
    return f"{code.strip()[:MAX_LOCALE]!r} is not a locale Tally knows (CLDR, e.g. de_DE or ja-JP)."


@lru_cache(maxsize=1)
def _identifiers() -> frozenset[str]:
    return frozenset(i for i in locale_identifiers() if i != "root")


@lru_cache(maxsize=1)
def locale_choices() -> tuple[tuple[str, str], ...]:
    """Every locale, as (identifier, "German (Germany) · de_DE"), by name."""
    named = ((i, Locale.parse(i).get_display_name("en") or i) for i in _identifiers())
    return tuple(
        (i, f"{name} · {i}") for i, name in sorted(named, key=lambda p: (p[1].casefold(), p[0]))
    )


def locale_label(locale: str) -> str:
    """`German (Germany)`: a locale's English name, for the customer page."""
    return str(Locale.parse(locale).get_display_name("en") or locale)


def language_tag(locale: str) -> str:
    """The locale as a BCP 47 tag (`ja-JP`, `zh-Hans-CN`), for `lang`."""
    return locale.replace("_", "-")


# CLDR's directional marks: they order text inside a right-to-left
# paragraph. Tally's invoices are left to right (their labels are English),
# where the marks would reorder a date's parts (01/03/2025 shown as
# 012025/03/), so they are left out of what Tally writes.
BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))


def without_bidi_marks(text: str) -> str:
    return text.translate(BIDI_MARKS)


def format_day(day: date, locale: str) -> str:
    """A date as the locale writes it in full text, CLDR's medium form:
    `Mar 1, 2025` (en_US), `01.03.2025` (de_DE), `2025/03/01` (ja_JP),
    `01/03/2025` (ar_EG, without its directional marks)."""
    return without_bidi_marks(format_date(day, "medium", locale=locale))


def text_direction(text: str) -> str:
    """ "rtl" when the text's first strong character is right to left (Hebrew,
    Arabic), else "ltr": the `dir` a name or address is shown with, so that
    inside a left-to-right invoice it still reads in its own order."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


@lru_cache(maxsize=64)
def is_right_to_left(locale: str) -> bool:
    """Whether the locale's language is written right to left (ar, he, fa, ur)."""
    return bool(Locale.parse(locale).character_order == "right-to-left")
