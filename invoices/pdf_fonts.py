"""The @font-face rules an invoice PDF needs, picked from our vendored fonts.

static/vendor/fonts/fonts.css defines our fonts (written by `manage.py
vendor_fonts`): 359 faces, most of them slices of the CJK fonts. WeasyPrint
loads every @font-face it is given (fetch, woff2 decompression, fontconfig
registration) whether or not the document uses it, so the PDF gets only the
faces whose unicode-range holds a character of its text, as a browser would
download them.

Noto Sans is the first family of every font stack in css/invoice-pdf.css,
so a character it covers is drawn with it: such a character selects only
Noto Sans faces (the CJK slices also hold ASCII and common punctuation, and
would otherwise be loaded for every invoice). Any other character selects
every face that covers it, of every family: a Han character loads the JP,
KR and SC faces holding it, so that the stack chosen by the document's
language (SC first for Chinese, KR first for Korean) finds its own glyphs.

Importing this module also mends a WeasyPrint 70 bug that these slices hit:
see keep_font_files_apart().
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from hashlib import md5
from io import BytesIO
from pathlib import Path
from typing import Any

import tinycss2
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from fontTools.ttLib import woff2

FONTS_DIR = "vendor/fonts"  # under the static files
FONTS_CSS = f"{FONTS_DIR}/fonts.css"
BASE_FAMILY = "Noto Sans"
# Always loaded, with the faces that draw them (Noto Sans latin): printable
# ASCII. The page counter in the @page margin box is text the HTML lacks.
ALWAYS = "".join(map(chr, range(0x20, 0x7F)))


@dataclass(frozen=True)
class Face:
    family: str
    weight: int
    file: str  # relative to fonts.css
    ranges: tuple[tuple[int, int], ...]  # inclusive code point ranges
    unicode_range: str  # the ranges as fonts.css writes them

    def css(self) -> str:
        # A URL from the site's root: with the PDF's base URL it is one that
        # invoices.pdf.StaticOnlyFetcher serves.
        url = f"/{settings.STATIC_URL.strip('/')}/{FONTS_DIR}/{self.file}"
        return (
            f'@font-face {{ font-family: "{self.family}"; font-style: normal; '
            f'font-weight: {self.weight}; src: url("{url}") format("woff2"); '
            f"unicode-range: {self.unicode_range}; }}"
        )


@dataclass(frozen=True)
class Fonts:
    faces: tuple[Face, ...]
    # Code points split into segments: segment i starts at starts[i] and runs
    # to starts[i + 1] - 1; covering[i] is the faces (indexes) that cover it.
    starts: tuple[int, ...]
    covering: tuple[frozenset[int], ...]

    def faces_for(self, code_point: int) -> frozenset[int]:
        i = bisect_right(self.starts, code_point) - 1
        return self.covering[i] if i >= 0 else frozenset()


def font_faces_css(text: str) -> str:
    """The @font-face rules for the faces that draw `text` (plus the basic
    Latin ones always), in fonts.css order."""
    fonts = vendored_fonts()
    wanted: set[int] = set()
    for char in set(text) | set(ALWAYS):
        indexes = fonts.faces_for(ord(char))
        base = {i for i in indexes if fonts.faces[i].family == BASE_FAMILY}
        wanted |= base or indexes
    return "\n".join(fonts.faces[i].css() for i in sorted(wanted))


@lru_cache(maxsize=128)
def decompressed_font(path: str) -> bytes:
    """The .woff2 file at `path` as plain OpenType, decompressed once a process.

    WeasyPrint decompresses every woff2 it loads, in Python (fontTools), on
    every render: some 100 ms for a CJK slice, 90 % of a Japanese invoice's
    time. Given OpenType it skips that. At most 128 files are kept: a few MB
    (a CJK slice is 12-120 kB decompressed, 30 kB typically)."""
    out = BytesIO()
    with open(path, "rb") as handle:
        woff2.decompress(handle, out)
    return out.getvalue()


def static_file(name: str) -> Path:
    """Where the static file `name` is: in the app's static folders, or only
    collected (in production {% static %} names the collected copy with its
    content hash, whitenoise's manifest storage). FileNotFoundError if none."""
    found = finders.find(name)
    if not found and staticfiles_storage.exists(name):
        found = staticfiles_storage.path(name)
    if not found or isinstance(found, list):
        raise FileNotFoundError(f"no static file {name!r}")
    return Path(found)


def fonts_css_path() -> Path:
    return static_file(FONTS_CSS)


@cache
def vendored_fonts() -> Fonts:
    """fonts.css, parsed once per process."""
    faces = parse_faces(fonts_css_path().read_text(encoding="utf-8"))
    if not any(face.family == BASE_FAMILY for face in faces):
        raise ValueError(f"{FONTS_CSS} has no {BASE_FAMILY!r} face")
    return _index(faces)


def parse_faces(stylesheet: str) -> tuple[Face, ...]:
    faces = []
    rules = tinycss2.parse_stylesheet(stylesheet, skip_whitespace=True, skip_comments=True)
    for rule in rules:
        if rule.type != "at-rule" or rule.lower_at_keyword != "font-face":
            raise ValueError(f"{FONTS_CSS}: only @font-face rules expected, not {rule.type}")
        values = {
            d.lower_name: d.value
            for d in tinycss2.parse_blocks_contents(
                rule.content, skip_whitespace=True, skip_comments=True
            )
            if d.type == "declaration"
        }
        family = _one(values, "font-family", "string").value
        weight = _one(values, "font-weight", "number").int_value
        urls = [t.value for t in values["src"] if t.type == "url"]
        if len(urls) != 1 or not re.fullmatch(r"[\w.-]+\.woff2", urls[0]):
            raise ValueError(f"{FONTS_CSS}: {family} {weight}: one local .woff2 URL expected")
        ranges = tuple(
            (t.start, t.end) for t in values["unicode-range"] if t.type == "unicode-range"
        )
        unicode_range = tinycss2.serialize(values["unicode-range"]).strip()
        faces.append(Face(family, weight, urls[0], ranges, unicode_range))
    return tuple(faces)


def _one(values: dict[str, list[object]], name: str, kind: str) -> tinycss2.ast.Node:
    tokens = [t for t in values.get(name, []) if getattr(t, "type", "") != "whitespace"]
    if len(tokens) != 1 or getattr(tokens[0], "type", "") != kind:
        raise ValueError(f"{FONTS_CSS}: {name} must be one {kind}")
    return tokens[0]


def _index(faces: tuple[Face, ...]) -> Fonts:
    """Sweep over the ranges' boundaries: one bisect then finds the faces
    covering a code point, among some 100,000 ranges."""
    opening: dict[int, list[int]] = {}
    closing: dict[int, list[int]] = {}
    for i, face in enumerate(faces):
        for start, end in face.ranges:
            opening.setdefault(start, []).append(i)
            closing.setdefault(end + 1, []).append(i)
    active: Counter[int] = Counter()  # face -> how many of its ranges are open
    starts, covering = [], []
    for point in sorted(opening.keys() | closing.keys()):
        active.update(opening.get(point, ()))
        active.subtract(closing.get(point, ()))
        active = +active  # drop the faces whose ranges all closed
        starts.append(point)
        covering.append(frozenset(active))
    return Fonts(faces, tuple(starts), tuple(covering))


def keep_font_files_apart() -> None:
    """Make WeasyPrint embed each font file of a family and weight on its own.

    WeasyPrint 70 names a font in the PDF after its Pango description (family,
    weight, style, stretch), and keeps one font per name (pdf/stream.py
    Stream.add_font, pdf/fonts.py Font.hash and build_fonts_dictionary). Our
    unicode-range slices are several files with one description, say Noto
    Sans 400 for Latin, Greek and Cyrillic: they became one PDF font, the
    first file's, and the others' glyph ids drew wrong glyphs from it (Greek
    and Cyrillic text garbled, Han characters swapped for other ones). Here a
    font is told apart by its file too. tests/invoices/test_pdf_scripts.py
    renders every script and fails if this stops working, e.g. after an upgrade.
    Idempotent.
    """
    from weasyprint.pdf import fonts, stream
    from weasyprint.text.ffi import ffi
    from weasyprint.text.fonts import get_pango_font_hb_face, get_pango_font_key

    if getattr(stream.Stream.add_font, "keeps_files_apart", False):
        return
    font_init = fonts.Font.__init__

    def init(self: Any, pango_font: Any, description: Any, font_size: float) -> None:
        font_init(self, pango_font, description, font_size)
        # The PDF's subset tag: six capital letters, now from the file as well.
        digest = md5(self.hash.encode() + self.file_content, usedforsecurity=False).digest()
        self.hash = "".join(chr(65 + byte % 26) for byte in digest[:6])
        self.name = b"/" + self.hash.encode() + b"+" + self.name.partition(b"+")[2]

    def add_font(self: Any, pango_font: Any) -> tuple[Any, float]:
        key, description, font_size = get_pango_font_key(pango_font)
        # The HarfBuzz face stands for the file (Pango keeps one per file).
        face = int(ffi.cast("uintptr_t", get_pango_font_hb_face(pango_font)))
        if (key, face) not in self._fonts:
            self._fonts[key, face] = fonts.Font(pango_font, description, font_size)
        return self._fonts[key, face], font_size

    add_font.keeps_files_apart = True  # type: ignore[attr-defined]
    fonts.Font.__init__ = init
    stream.Stream.add_font = add_font


keep_font_files_apart()
