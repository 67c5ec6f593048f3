"""Invoice PDFs with WeasyPrint, from the same Invoice the page shows.

The renderer may read our own static files and nothing else: no network, no
other files. Any fetch failure raises (a PDF silently missing its styles or
lines is worse than an error).
"""

from __future__ import annotations

from html import unescape
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from invoices import models
from invoices.builder import Invoice
from invoices.pdf_fonts import FONTS_DIR, decompressed_font, font_faces_css, static_file
from invoices.selectors import StoredContent, stored_content

# URLs in the PDF template resolve against this origin, which the fetcher
# answers from our static files without any network (.invalid never resolves).
STATIC_ORIGIN = "tally.invalid"
STATIC_BASE = f"https://{STATIC_ORIGIN}/"


class StaticOnlyFetcher(URLFetcher):
    def __init__(self) -> None:
        super().__init__(fail_on_errors=True, allowed_protocols=["https"])

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        prefix = "/" + settings.STATIC_URL.strip("/") + "/"
        if parts.netloc != STATIC_ORIGIN or not parts.path.startswith(prefix):
            raise PermissionError(f"PDF rendering may not fetch {url!r}")
        name = parts.path.removeprefix(prefix)
        found = static_file(name)
        if name.startswith(f"{FONTS_DIR}/") and name.endswith(".woff2"):
            body = decompressed_font(str(found))
        else:
            body = found.read_bytes()
        mime = "text/css" if found.suffix == ".css" else "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": mime})


def render_invoice_html(invoice: Invoice | StoredContent, *, simplified: bool = False) -> str:
    return render_to_string(
        "invoices/pdf.html",
        {
            "invoice": invoice,
            "header": invoice.header,
            "simplified": simplified,
            # The customer's document: the operator-only "unpriced usage"
            # section of invoices/_lines.html stays on the page.
            "customer_copy": True,
        },
    )


def render_invoice_pdf(invoice: Invoice | StoredContent, *, simplified: bool = False) -> bytes:
    return _pdf(render_invoice_html(invoice, simplified=simplified))


def render_credit_note_pdf(note: models.CreditNote) -> bytes:
    html = render_to_string(
        "invoices/credit_note_pdf.html",
        {"note": note, "invoice": note.invoice, "lines": list(note.lines.all())},
    )
    return _pdf(html)


def _pdf(html: str) -> bytes:
    fetcher = StaticOnlyFetcher()
    try:
        # Only the vendored font faces this document's characters need: WeasyPrint
        # loads every @font-face it is given, used or not (invoices/pdf_fonts.py).
        font_config = FontConfiguration()
        fonts = CSS(
            string=font_faces_css(unescape(html)),
            base_url=STATIC_BASE,
            url_fetcher=fetcher,
            font_config=font_config,
        )
        document = HTML(string=html, base_url=STATIC_BASE, url_fetcher=fetcher)
        pdf = document.write_pdf(stylesheets=[fonts], font_config=font_config)
    except FatalURLFetchingError as exc:
        # A BaseException in WeasyPrint: re-raised as an ordinary error so Django
        # answers 500 and logs it, instead of the error escaping the handler.
        raise RuntimeError(f"invoice PDF could not be rendered: {exc}") from exc
    if pdf is None:
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


def render_stored_invoice_pdf(invoice: models.Invoice) -> bytes:
    """The issued invoice's PDF, from its stored rows only."""
    return render_invoice_pdf(stored_content(invoice))
