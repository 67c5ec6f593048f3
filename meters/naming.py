"""How meters and dimensions are named and matched. Pure, no ORM.

An API name is a slug: lowercase letters, digits and hyphens ("llm-tokens").
An event's `meterApiName` is matched after the same normalization, so the
guide's "llm tokens", "LLM Tokens", "llm_tokens" and "llm-tokens" all reach
the meter whose API name is "llm-tokens".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import parse_qsl, quote

_SEPARATORS = re.compile(r"[\s_\-]+")
_NOT_SLUG = re.compile(r"[^a-z0-9-]")
API_NAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
DIMENSION_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"


@lru_cache(maxsize=4096)  # senders repeat a handful of names millions of times
def normalize_api_name(raw: str) -> str:
    """`"LLM tokens"` -> `"llm-tokens"`; accents dropped, other symbols removed."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    hyphenated = _SEPARATORS.sub("-", ascii_text.strip().lower())
    # Collapse again: removing a symbol between separators ("a & b") leaves "--".
    return _SEPARATORS.sub("-", _NOT_SLUG.sub("", hyphenated)).strip("-")


def dimension_key(dimensions: Mapping[str, str]) -> str:
    """Canonical, order-independent text for a dimension set, for GROUP BY and
    indexes on any database: keys sorted, keys and values percent-escaped,
    joined as `k=v&k=v`. `{}` gives `""`."""
    return _key(tuple(sorted(dimensions.items())))


@lru_cache(maxsize=65536)  # few distinct combinations, each seen many times
def _key(items: tuple[tuple[str, str], ...]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in items)


def parse_dimension_key(key: str) -> dict[str, str]:
    """The inverse of `dimension_key`."""
    return dict(parse_qsl(key, keep_blank_values=True)) if key else {}


def describe_dimensions(dimensions: Mapping[str, str]) -> str:
    """`{"type": "input", "model": "model a"}` -> `"model: model a, type:
    input"`: the dimensions as a person reads them (names sorted, values as
    sent), where `dimension_key` is the escaped form the database groups by."""
    return ", ".join(f"{name}: {value}" for name, value in sorted(dimensions.items()))
