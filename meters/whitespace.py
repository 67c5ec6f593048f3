"""Whitespace that is easy to miss in a dimension value, made visible.

Dimension values are stored and matched exactly as sent ("model  a" with two
spaces is not "model a"; see docs/ARCHITECTURE.md, "Deliberate choices"). HTML
collapses a run of spaces into one, so without this the unpriced "model  a"
and the priced "model a" would look identical on a page. Pure: no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# U+2423 OPEN BOX, the usual sign for a space. Not "·": the app already joins
# dimension values with " · ".
SPACE_SIGN = "␣"
# A run of two or more whitespace characters, whitespace at either end, or any
# whitespace other than a plain space (tab, no-break space, newline…).
_ODD = re.compile(r"\s{2,}|^\s+|\s+$|[^\S ]")
_NAMES = {
    " ": "space",
    "\t": "tab",
    "\n": "line break",
    "\r": "line break",
    "\xa0": "no-break space",
}


@dataclass(frozen=True)
class Piece:
    """A stretch of text: shown as is, or (odd) as signs with a description."""

    text: str
    odd: bool = False

    @property
    def signs(self) -> str:
        return SPACE_SIGN * len(self.text)

    @property
    def description(self) -> str:
        """E.g. "2 spaces", "1 tab", "1 space, 1 tab"."""
        counts: dict[str, int] = {}
        for char in self.text:
            name = _NAMES.get(char, f"U+{ord(char):04X} space")
            counts[name] = counts.get(name, 0) + 1
        return ", ".join(f"{n} {name}{'s' if n > 1 else ''}" for name, n in counts.items())


def has_odd_whitespace(text: str) -> bool:
    return bool(_ODD.search(text))


def whitespace_pieces(text: str) -> list[Piece]:
    """`text` cut into plain stretches and stretches of odd whitespace."""
    pieces: list[Piece] = []
    position = 0
    for match in _ODD.finditer(text):
        if match.start() > position:
            pieces.append(Piece(text[position : match.start()]))
        pieces.append(Piece(match.group(), odd=True))
        position = match.end()
    if position < len(text):
        pieces.append(Piece(text[position:]))
    return pieces
