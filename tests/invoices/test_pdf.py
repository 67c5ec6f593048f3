"""The invoice PDF: the same lines and totals as the page, with the seller and
the customer on it, rendered without fetching anything but our static files."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader
from pytest_django import Settings
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from customers.models import Customer
from invoices.pdf import STATIC_BASE, StaticOnlyFetcher
from meters.services import events_ingest
from tests.factories import CustomerFactory, Guide, guide_setup
from tests.fixtures import assert_login_redirect

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


def download(client: Client, customer: Customer, **params: str) -> Response:
    return client.get(reverse("invoices:pdf", args=[customer.pk]), params)


def pdf_text(response: Response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    raw = "\n".join(p.extract_text() for p in reader.pages)
    return re.sub(r"[ \t]+", " ", raw)


@pytest.fixture
def seller(settings: Settings) -> str:
    settings.SELLER_NAME = "Acme Billing GmbH"
    return "Acme Billing GmbH"


def test_pdf_download_is_an_attachment_named_for_customer_and_period(
    admin_client: Client, guide: Guide
) -> None:
    response = download(admin_client, guide.customer)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="invoice-test-customer-2025-03-01.pdf"'
    )
    assert response.content.startswith(b"%PDF-")


def test_pdf_shows_every_line_amount_and_the_total(
    admin_client: Client, guide: Guide, seller: str
) -> None:
    content = pdf_text(download(admin_client, guide.customer))

    for description, amount in [
        ("LLM tokens · model a · input", "$0.01"),
        ("LLM tokens · model a · output", "$0.02"),
        ("LLM tokens · model b · input", "$0.01"),
        ("API calls", "$0.10"),
    ]:
        # One line each: description, quantity, unit price, amount.
        pattern = rf"^{re.escape(description)} [\d,]+ \$[\d.]+ {re.escape(amount)}$"
        assert re.search(pattern, content, re.M), (description, amount)
    assert re.search(r"Total\s*\$0\.14", content)
    assert "Subtotal · LLM tokens $0.04" in content
    assert "Test Customer" in content
    assert "Customer ID test-customer" in content
    assert seller in content
    assert "Mar 1, 2025 – Apr 1, 2025" in content  # the seller's locale, en_US
    assert "Chatbot Usage Plan · USD" in content
    assert "Draft · current period, usage to date" in content


def test_simplified_pdf_has_one_line_per_rate(admin_client: Client, guide: Guide) -> None:
    content = pdf_text(download(admin_client, guide.customer, view="simplified"))

    assert "model a" not in content
    assert re.search(r"LLM tokens 3,000 by dimension \$0\.04", content)
    assert re.search(r"API calls 10 \$0\.01 \$0\.10", content)
    assert re.search(r"Total\s*\$0\.14", content)


def test_pdf_of_an_earlier_period_shows_that_period(admin_client: Client, now: datetime) -> None:
    guide = guide_setup(now, start_at=datetime(2025, 1, 1, tzinfo=now.tzinfo))

    february = f"{guide.assignment.pk}@2025-02-01T00:00:00Z"
    response = download(admin_client, guide.customer, period=february)

    assert 'filename="invoice-test-customer-2025-02-01.pdf"' in response["Content-Disposition"]
    content = pdf_text(response)
    assert "Feb 1, 2025 – Mar 1, 2025" in content
    assert re.search(r"Total\s*\$0\.00", content)
    # Computed live, so still a draft, but not the current period's usage to date.
    assert "Draft · not yet issued" in content
    assert "current period" not in content


def test_pdf_leaves_out_unpriced_usage_that_the_page_still_shows(
    admin_client: Client, guide: Guide
) -> None:
    events_ingest(
        records=[
            {
                "meterApiName": "llm-tokens",
                "meterValue": 5000,
                "customerId": "test-customer",
                "uniqueId": "model-c",
                "dimensions": {"model": "model c", "type": "input"},
            }
        ]
    )

    content = pdf_text(download(admin_client, guide.customer))
    page = admin_client.get(reverse("invoices:customer_billing", args=[guide.customer.pk]))

    # "Add a price" is a note for operators, not something the customer reads.
    assert "Unpriced" not in content
    assert "model c" not in content
    assert re.search(r"Total\s*\$0\.14", content)
    assert "Unpriced usage — not billed" in page.content.decode()
    assert "no price for model c · input in the pricing matrix" in page.content.decode()


def test_no_pdf_for_a_customer_without_a_plan(admin_client: Client) -> None:
    assert download(admin_client, CustomerFactory.create()).status_code == 404


def test_no_pdf_for_an_unknown_customer(admin_client: Client) -> None:
    assert admin_client.get(reverse("invoices:pdf", args=[999])).status_code == 404


def test_anonymous_users_are_sent_to_log_in_for_the_pdf(client: Client, guide: Guide) -> None:
    url = reverse("invoices:pdf", args=[guide.customer.pk])

    assert_login_redirect(client.get(url), url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.css",
        "https://example.com/static/css/invoice-pdf.css",
        "file:///etc/passwd",
        f"{STATIC_BASE}etc/passwd",
    ],
)
def test_the_pdf_renderer_refuses_anything_but_our_static_files(url: str) -> None:
    with pytest.raises(PermissionError, match="may not fetch"):
        StaticOnlyFetcher().fetch(url)


def test_the_pdf_renderer_refuses_to_climb_out_of_the_static_files() -> None:
    with pytest.raises((SuspiciousFileOperation, FileNotFoundError)):
        StaticOnlyFetcher().fetch(f"{STATIC_BASE}static/../../../../etc/passwd")


def test_the_pdf_renderer_reports_a_missing_static_file() -> None:
    with pytest.raises(FileNotFoundError):
        StaticOnlyFetcher().fetch(f"{STATIC_BASE}static/css/missing.css")


def test_the_pdf_renderer_serves_the_invoice_stylesheet() -> None:
    url = f"{STATIC_BASE}{django_settings.STATIC_URL.strip('/')}/css/invoice-pdf.css"

    response = StaticOnlyFetcher().fetch(url)

    path = finders.find("css/invoice-pdf.css")
    assert isinstance(path, str)
    with open(path, "rb") as stylesheet:
        assert response.read() == stylesheet.read()
    assert response.content_type == "text/css"


def test_an_external_image_stops_the_pdf_instead_of_being_fetched() -> None:
    html = '<p>Invoice</p><img src="http://example.com/tracker.png">'

    with pytest.raises(FatalURLFetchingError) as stopped:
        HTML(string=html, base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher()).write_pdf()

    assert isinstance(stopped.value.__cause__, PermissionError)


def test_an_external_stylesheet_stops_the_pdf_instead_of_being_fetched() -> None:
    html = '<link rel="stylesheet" href="file:///etc/passwd"><p>Invoice</p>'

    with pytest.raises(FatalURLFetchingError):
        HTML(string=html, base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher()).write_pdf()


def test_a_page_using_only_our_static_files_renders() -> None:
    html = '<link rel="stylesheet" href="/static/css/invoice-pdf.css"><p>Invoice</p>'

    pdf = HTML(string=html, base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher()).write_pdf()

    assert pdf is not None and pdf.startswith(b"%PDF-")


def test_a_pdf_that_cannot_be_rendered_is_a_logged_server_error(
    admin_user: User, guide: Guide, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    monkeypatch.setattr("invoices.pdf_fonts.finders.find", lambda path: None)  # stylesheet gone

    response = download(client, guide.customer)

    assert response.status_code == 500
