"""Template filters for dimension values, loaded as builtins (settings.TEMPLATES)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from meters.whitespace import has_odd_whitespace, whitespace_pieces

register = template.Library()


@register.filter
def visible_spaces(value: object) -> SafeString:
    """The text, escaped, with easy-to-miss whitespace (doubled, leading,
    trailing, tabs…) shown as ␣ signs, each run titled with what it is
    ("2 spaces") for the mouse and for screen readers."""
    text = "" if value is None else str(value)
    return format_html_join(
        "",
        "{}",
        (
            (
                format_html(
                    '<span class="ws" role="img" title="{}" aria-label="{}">{}</span>',
                    piece.description,
                    piece.description,
                    piece.signs,
                )
                if piece.odd
                else piece.text,
            )
            for piece in whitespace_pieces(text)
        ),
    )


@register.filter
def odd_spaces(value: object) -> bool:
    """Whether `visible_spaces` would mark anything in the text."""
    return value is not None and has_odd_whitespace(str(value))
