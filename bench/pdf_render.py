"""What do our vendored fonts cost an invoice PDF? Run: .venv/bin/python bench/pdf_render.py

It builds the guide's scenario (invoices.demo.guide_seed) in a scratch SQLite
database, then renders the guide customer's invoice with
invoices.pdf.render_invoice_pdf, best of --repeat runs, and reports each PDF's
size and time against the baseline measured in the same run, the customer
with a Latin name. "first" is a case's first render, before the process has
decompressed its font files (invoices.pdf_fonts.decompressed_font):

  (a) baseline: the customer named "Test Customer" (Noto Sans, Latin only);
  (b) the customer named "株式会社テスト" (Japanese);
  (c) every script at once: a Japanese name and an address with a line in
      each script the PDF supports;
  (d) the Latin invoice given every face of fonts.css instead of those its
      text needs, which is what linking fonts.css from the PDF would cost
      (--all-faces-repeat runs; 0 leaves it out).

Before timing, each PDF's text must hold the customer's name, so that the
benchmark cannot time a PDF that lost it. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import django

if TYPE_CHECKING:
    from invoices.builder import Invoice

ROOT = Path(__file__).resolve().parent.parent
JAPANESE = "株式会社テスト"
# One line per script besides Latin and Japanese (tests/invoices/test_pdf_scripts.py).
EVERY_SCRIPT = [
    "Société Générale Zürich — Łódź",
    "Ελληνική Εταιρεία Α.Ε.",
    "ООО «Тестовая компания»",
    "北京测试科技有限公司",
    "주식회사 테스트",
    "مختبر الأمل",
    "חברת בדיקה בע״מ",
    "परीक्षण प्राइवेट लिमिटेड",
    "บริษัท ทดสอบ จำกัด",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time rendering the guide customer's invoice PDF with a Japanese name, and with "
            "every script, against the same invoice with a Latin name measured in the same "
            "run; report sizes and the faces each PDF loads. Uses a scratch SQLite file."
        ),
        epilog="Example: .venv/bin/python bench/pdf_render.py --repeat 5",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=10,
        metavar="R",
        help="renders per case; the best one is reported (default: 10)",
    )
    parser.add_argument(
        "--all-faces-repeat",
        type=int,
        default=2,
        metavar="R",
        help="renders with every vendored face (slow); 0 skips that case (default: 2)",
    )
    return parser.parse_args()


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {raw}")
    return value


def configure() -> Path:
    """The environment Django reads, before django.setup(): production-like
    (DEBUG off) and a scratch SQLite file, returned to delete afterwards."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "tally-bench-only-not-a-secret")
    scratch = Path(tempfile.mkdtemp(prefix="tally-bench-pdf-", dir="/tmp"))
    # The PDF reads no usage from the database: SQLite whatever DATABASE_URL says.
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    return scratch


def machine_line() -> str:
    from weasyprint import __version__ as weasyprint_version

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: nproc {cpus} ({model}), Python {platform.python_version()}, "
        f"Django {django.get_version()}, WeasyPrint {weasyprint_version}"
    )


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


@dataclass(frozen=True)
class Result:
    case: str
    seconds: float
    first: float  # the first render, its font files not yet decompressed in this process
    size: int  # bytes of PDF
    faces: int  # @font-face rules given to WeasyPrint
    woff2: int  # bytes of those faces' files
    runs: int


def measure(case: str, invoice: Invoice, name: str, repeat: int, *, all_faces: bool) -> Result:
    from pypdf import PdfReader

    from invoices import pdf
    from invoices.pdf_fonts import (
        decompressed_font,
        font_faces_css,
        fonts_css_path,
        vendored_fonts,
    )

    def faces_css(text: str) -> str:
        if all_faces:
            return "\n".join(face.css() for face in vendored_fonts().faces)
        return font_faces_css(text)

    original = pdf.font_faces_css
    pdf.font_faces_css = faces_css
    try:
        decompressed_font.cache_clear()
        began = time.perf_counter()
        document = pdf.render_invoice_pdf(invoice)
        first = time.perf_counter() - began
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
        if name not in text:
            raise AssertionError(f"{case}: the PDF's text lacks the customer's name {name!r}")
        seconds = best_of(repeat, lambda: pdf.render_invoice_pdf(invoice))
    finally:
        pdf.font_faces_css = original
    css = faces_css(pdf.render_invoice_html(invoice))
    files = [line.split('url("')[1].split('"')[0].rsplit("/", 1)[1] for line in css.splitlines()]
    directory = fonts_css_path().parent
    woff2 = sum((directory / file).stat().st_size for file in files)
    return Result(case, seconds, first, len(document), len(files), woff2, repeat)


def run(args: argparse.Namespace) -> None:
    from django.utils import timezone

    from customers.models import Customer
    from invoices.builder import build_invoice, current_period
    from invoices.demo import CUSTOMER_ID, guide_seed
    from invoices.pdf_fonts import vendored_fonts

    print(machine_line())
    now = timezone.now()
    guide_seed(now=now)
    customer = Customer.objects.get(customer_id=CUSTOMER_ID)

    def invoice_for(name: str, address: str = "") -> Invoice:
        # Its own Customer object: the invoice reads the name when it renders.
        Customer.objects.filter(pk=customer.pk).update(name=name, billing_address=address)
        fresh = Customer.objects.get(pk=customer.pk)
        ref = current_period(fresh, now)
        if ref is None:
            raise SystemExit("the guide's customer has no current billing period")
        return build_invoice(fresh, ref)

    began = time.perf_counter()
    faces = vendored_fonts().faces
    parse_ms = (time.perf_counter() - began) * 1000
    print(f"fonts.css: {len(faces)} faces, parsed and indexed in {parse_ms:.0f} ms, once a process")

    latin_name = customer.name
    latin = invoice_for(latin_name)
    japanese = invoice_for(JAPANESE)
    every = invoice_for(JAPANESE, "\n".join(EVERY_SCRIPT))
    results = [
        measure("Latin name (baseline)", latin, latin_name, args.repeat, all_faces=False),
        measure(f"Japanese name ({JAPANESE})", japanese, JAPANESE, args.repeat, all_faces=False),
        measure("every script", every, JAPANESE, args.repeat, all_faces=False),
    ]
    if args.all_faces_repeat > 0:
        results.append(
            measure(
                "Latin name, every face of fonts.css",
                latin,
                latin_name,
                args.all_faces_repeat,
                all_faces=True,
            )
        )
    print()
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"load avg {load}")
    for line in table(results):
        print(line)


def table(results: list[Result]) -> Iterator[str]:
    base = results[0]
    yield (
        "| case | best (ms) | runs | × baseline | first (ms) | PDF (KB) | × baseline "
        "| faces loaded | their woff2 (KB) |"
    )
    yield "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for r in results:
        yield (
            f"| {r.case} | {r.seconds * 1000:,.0f} | {r.runs} | {r.seconds / base.seconds:.2f} "
            f"| {r.first * 1000:,.0f} "
            f"| {r.size / 1024:,.1f} | {r.size / base.size:.2f} | {r.faces} "
            f"| {r.woff2 / 1024:,.0f} |"
        )


def main() -> None:
    args = parse_args()
    scratch = configure()
    try:
        django.setup()
        from django.core.management import call_command

        # As `make serve` does: with DEBUG off, {% static %} in the PDF template
        # names the collected, hashed copy of the stylesheet.
        call_command("collectstatic", "--noinput", verbosity=0)
        call_command("migrate", verbosity=0, interactive=False)
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
