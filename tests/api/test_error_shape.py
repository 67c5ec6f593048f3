"""How ninja's error locations become the field paths in our error answers.
Pure: no database."""

from __future__ import annotations

import pytest

from billing_site.api import field_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "payload", "name"), "name"),
        (("body", "payload", "rates", 0, "price", "unit_price"), "rates[0].price.unit_price"),
        (("body", "payload", "rates", 2), "rates[2]"),
        (("body", "payload"), ""),
        (("query", "limit"), "limit"),
        (("path", "id"), "id"),
        (("header", "X-Thing"), "X-Thing"),
    ],
)
def test_error_locations_read_as_field_paths(loc: tuple[str | int, ...], path: str) -> None:
    assert field_path(loc) == path
