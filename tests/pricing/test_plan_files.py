"""Pricing as code in the browser: a plan downloads as JSON and uploads back
as a new plan; a bad document is refused with every problem listed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from meters.records import loads
from meters.services import meter_create
from pricing import plan_files
from pricing.models import Plan, PriceCell, Rate
from pricing.plan_files import plan_json, readable_path
from pricing.price_models import CellPrice, PriceModel, Tier
from pricing.schema import RateDraft, plan_to_dict
from pricing.selectors import plan_draft, plan_rates
from pricing.services import rate_save
from tests.factories import Guide, guide_setup
from tests.fixtures import (
    HTMX,
    assert_login_redirect,
    element,
    field_errors,
    form_errors,
    login,
    page,
    table_rows,
    text,
)

IMPORT_URL = reverse("pricing:import")
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def guide(db: None) -> Guide:
    """The guide's plan, plus a graduated rate on a third meter."""
    guide = guide_setup(NOW, events=False)
    images = meter_create(label="Images", api_name="images", meter_type="count", dimensions=[])
    tiers = (Tier(Decimal("5"), Decimal("5")), Tier(None, Decimal("4"), Decimal("1.5")))
    price = CellPrice(model=PriceModel.GRADUATED, tiers=tiers)
    rate_save(
        plan=guide.plan, meter=images, draft=RateDraft("images", "graduated", (), (((), price),))
    )
    return guide


@pytest.fixture
def user_client(client: Client, db: None) -> Client:
    return login(client)


def counts() -> tuple[int, int, int]:
    return Plan.objects.count(), Rate.objects.count(), PriceCell.objects.count()


def _export_url(plan: Plan) -> str:
    return reverse("pricing:export", args=[plan.pk])


# Permissions


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in(client: Client, guide: Guide) -> None:
    export_url = _export_url(guide.plan)
    assert_login_redirect(client.get(export_url), export_url)
    assert_login_redirect(client.get(IMPORT_URL), IMPORT_URL)
    document = plan_json(guide.plan)
    assert_login_redirect(client.post(IMPORT_URL, {"document": document, "name": "X"}), IMPORT_URL)
    assert Plan.objects.count() == 1


@pytest.mark.django_db
def test_export_and_import_refuse_other_methods(user_client: Client, guide: Guide) -> None:
    assert user_client.post(_export_url(guide.plan)).status_code == 405
    assert user_client.put(IMPORT_URL).status_code == 405


# Download


@pytest.mark.django_db
def test_export_downloads_the_plan_as_a_json_attachment(user_client: Client, guide: Guide) -> None:
    response = user_client.get(_export_url(guide.plan))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="chatbot-usage-plan.json"'
    document = loads(response.content.decode())
    assert document == loads(json.dumps(plan_to_dict(plan_draft(guide.plan))))
    assert list(document) == [
        "schema",
        "name",
        "billing_period",
        "currency",
        "billing_anchor",
        "grace_period_hours",
        "net_terms_days",
        "late_usage_policy",
        "invoice_minimum",
        "one_time_fees",
        "tax_rates",
        "rates",
    ]
    assert [r["meter"] for r in document["rates"]] == ["api-calls", "images", "llm-tokens"]
    assert document["rates"][0]["price"]["unit_price"] == "0.01"
    assert document["rates"][1]["price"]["tiers"][1] == {
        "up_to": None,
        "unit_price": "4",
        "flat_fee": "1.5",
    }


@pytest.mark.django_db
def test_export_file_name_comes_from_the_plan_name(user_client: Client, guide: Guide) -> None:
    guide.plan.name = "Équipe Pro: 2025 / v2"
    guide.plan.save(update_fields=["name"])

    response = user_client.get(_export_url(guide.plan))

    assert response["Content-Disposition"] == 'attachment; filename="equipe-pro-2025-v2.json"'


@pytest.mark.django_db
def test_export_of_an_unknown_plan_is_not_found(user_client: Client) -> None:
    assert user_client.get(reverse("pricing:export", args=[999])).status_code == 404


# The import page


@pytest.mark.django_db
def test_import_page_offers_a_file_a_textarea_and_a_name(user_client: Client) -> None:
    response = user_client.get(IMPORT_URL)
    html = page(response)

    assert response.status_code == 200
    assert "<html" in html
    assert "<h1>Import pricing plan</h1>" in html
    region = element(html, "plan-import")
    assert 'enctype="multipart/form-data"' in region
    assert 'type="file" name="file"' in region
    assert '<textarea name="document"' in region
    assert 'name="name"' in region and "Plan name" in region
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_import_page_over_htmx_is_the_form_region_only(user_client: Client) -> None:
    html = page(user_client.get(IMPORT_URL, headers=HTMX))

    assert html.lstrip().startswith('<section id="plan-import"')
    assert "<html" not in html


@pytest.mark.django_db
def test_uploading_an_export_creates_the_plan_beside_its_original(
    user_client: Client, guide: Guide
) -> None:
    upload = SimpleUploadedFile("plan.json", plan_json(guide.plan).encode(), "application/json")

    response = user_client.post(
        IMPORT_URL, {"file": upload, "name": "Chatbot Usage Plan 2"}, follow=True
    )

    copy = Plan.objects.get(name="Chatbot Usage Plan 2")
    assert response.redirect_chain == [(copy.get_absolute_url(), 302)]
    assert "Pricing plan “Chatbot Usage Plan 2” imported with 3 rates." in text(page(response))
    original = plan_draft(guide.plan)
    assert plan_draft(copy).rates == original.rates
    assert plan_json(copy) == plan_json(guide.plan).replace(
        '"Chatbot Usage Plan"', '"Chatbot Usage Plan 2"'
    )


@pytest.mark.django_db
def test_pasting_a_document_over_htmx_answers_with_a_client_redirect(
    user_client: Client, guide: Guide
) -> None:
    document = plan_json(guide.plan).replace("Chatbot Usage Plan", "Pasted plan")

    response = user_client.post(IMPORT_URL, {"document": document}, headers=HTMX)

    plan = Plan.objects.get(name="Pasted plan")
    assert response.status_code == 200
    assert response["HX-Redirect"] == plan.get_absolute_url()
    assert plan_rates(plan).count() == 3


@pytest.mark.django_db
def test_a_document_with_problems_lists_each_one_and_stores_nothing(
    user_client: Client, guide: Guide
) -> None:
    document = {
        "schema": "tally.plan/1",
        "name": "Broken plan",
        "rates": [
            {"meter": "no-such-meter", "price": {"unit_price": "1"}},
            {
                "meter": "images",
                "model": "volume",
                "price": {
                    "tiers": [
                        {"up_to": "10", "unit_price": "1"},
                        {"up_to": "5", "unit_price": "-2"},
                        {"up_to": None, "unit_price": "1"},
                    ]
                },
            },
            {"meter": "api-calls", "model": "package", "price": {"package_size": "0"}},
            {
                "meter": "llm-tokens",
                "model": "dimensions",
                "dimensions": ["model", "type"],
                "cells": [
                    {"values": ["model a", "input"], "price": {"unit_price": "0.1"}},
                    {"values": ["model a", "input"], "price": {"unit_price": "0.2"}},
                ],
            },
        ],
    }
    before = counts()

    response = user_client.post(IMPORT_URL, {"document": json.dumps(document)}, headers=HTMX)

    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert "HX-Redirect" not in response
    assert "The plan was not imported: 6 problems in the document." in text(html)
    assert table_rows(element(html, "plan-import"))[1:] == [
        ["Rate 1 › meter rates[0].meter", "unknown meter 'no-such-meter'"],
        [
            "Rate 2 › price › tier 2 › up to rates[1].price.tiers[1].up_to",
            "must be above the tier before (10): tiers must rise without overlapping",
        ],
        [
            "Rate 2 › price › tier 2 › unit price rates[1].price.tiers[1].unit_price",
            "must not be negative",
        ],
        ["Rate 3 › price › package price rates[2].price.package_price", "is required"],
        [
            "Rate 3 › price › package size rates[2].price.package_size",
            "a package must hold more than 0 units",
        ],
        [
            "Rate 4 › matrix row 2 › values rates[3].cells[1].values",
            "model a · input is already priced in row 1",
        ],
    ]
    assert counts() == before
    # What was pasted stays in the form, to be fixed and sent again.
    assert "no-such-meter" in element(html, "field-document")


@pytest.mark.django_db
def test_a_plan_name_that_is_taken_is_shown_next_to_the_name(
    user_client: Client, guide: Guide
) -> None:
    before = counts()

    response = user_client.post(IMPORT_URL, {"document": plan_json(guide.plan)})

    assert field_errors(page(response), "name") == [
        "A pricing plan named “Chatbot Usage Plan” already exists."
    ]
    assert counts() == before


@pytest.mark.django_db
def test_a_value_the_database_refuses_is_reported_not_a_server_error(
    user_client: Client, guide: Guide, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing_import(*, draft: object) -> Plan:
        raise DataError("value too long for type character varying(1000)\n")

    monkeypatch.setattr(plan_files, "plan_import", refusing_import)
    document = plan_json(guide.plan).replace("Chatbot Usage Plan", "Long values")

    response = user_client.post(IMPORT_URL, {"document": document})

    assert response.status_code == 200
    assert table_rows(element(page(response), "plan-import"))[1:] == [
        [
            "The document",
            "a value is too large to store (value too long for type character varying(1000))",
        ]
    ]
    assert Plan.objects.count() == 1


@pytest.mark.django_db
def test_bad_json_is_a_form_error_on_what_was_pasted(user_client: Client) -> None:
    response = user_client.post(IMPORT_URL, {"document": '{"schema": "tally.plan/1",'})

    assert response.status_code == 200
    [error] = field_errors(page(response), "document")
    assert error.startswith("Not valid JSON: Expecting")
    assert Plan.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xff\xfe\x00{", "The file is not UTF-8 text."),
        (b'{"a": Infinity}', "Not valid JSON: Infinity is not a finite number"),
        (b"[" * 100_000, "Not valid JSON: maximum recursion depth exceeded"),
    ],
)
def test_an_unreadable_file_is_a_form_error_on_the_file(
    user_client: Client, content: bytes, error: str
) -> None:
    upload = SimpleUploadedFile("plan.json", content, "application/json")

    response = user_client.post(IMPORT_URL, {"file": upload})

    assert response.status_code == 200
    [shown] = field_errors(page(response), "file")
    assert shown.startswith(error)
    assert Plan.objects.count() == 0


@pytest.mark.django_db
def test_an_oversized_file_or_paste_is_refused_before_it_is_read(
    user_client: Client, guide: Guide, settings: Settings
) -> None:
    settings.UPLOAD_MAX_BYTES = 100
    document = plan_json(guide.plan)
    upload = SimpleUploadedFile("plan.json", document.encode(), "application/json")

    by_file = page(user_client.post(IMPORT_URL, {"file": upload, "name": "Big"}))
    by_paste = page(user_client.post(IMPORT_URL, {"document": document, "name": "Big"}))

    too_big = "This is larger than the 100 bytes an import may hold."
    assert field_errors(by_file, "file") == [too_big]
    assert field_errors(by_paste, "document") == [too_big]
    assert Plan.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("with_file", "document", "error"),
    [
        (False, "  ", "Paste a plan document or choose a file to upload."),
        (True, "{}", "Paste a document or upload a file, not both."),
    ],
)
def test_paste_or_upload_exactly_one_document(
    user_client: Client, with_file: bool, document: str, error: str
) -> None:
    data: dict[str, object] = {"document": document}
    if with_file:
        data["file"] = SimpleUploadedFile("plan.json", b"{}", "application/json")

    response = user_client.post(IMPORT_URL, data)

    assert form_errors(page(response)) == [error]


# How a problem's place reads


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("", "The document"),
        ("name", "Name"),
        ("rates[0].meter", "Rate 1 › meter"),
        (
            "rates[2].cells[0].price.tiers[1].flat_fee",
            "Rate 3 › matrix row 1 › price › tier 2 › flat fee",
        ),
        ("rates[1].default_price.unit_price", "Rate 2 › default price › unit price"),
    ],
)
def test_a_problem_path_reads_as_words(path: str, where: str) -> None:
    assert readable_path(path) == where
