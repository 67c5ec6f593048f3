"""The native JSON API as a whole: keys, the guide from an empty database to
the invoice entirely over HTTP, the invoice agreeing with the customer's
billing region,
and the OpenAPI document and docs page."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR
from meters.api_keys import api_key_revoke
from meters.models import ApiKey
from pricing.money import format_money, format_quantity, format_unit_price
from tests.api.conftest import Api, errors
from tests.factories import TOKEN_MATRIX, guide_records
from tests.fixtures import login, table_rows

pytestmark = pytest.mark.django_db

NO_KEY = (
    "X-API-KEY",
    "a valid API key is required in the X-API-KEY header (or Authorization: Bearer)",
)


# Keys


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-KEY": "tly_not-a-real-key"}, {"Authorization": "Bearer tly_not-a-real-key"}],
    ids=["no key", "bad key", "bad bearer"],
)
def test_a_request_without_a_valid_key_gets_401_json(headers: dict[str, str]) -> None:
    response = Client(headers=headers).get("/api/v1/meters")

    assert response.status_code == 401
    assert errors(response) == [NO_KEY]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_gets_401(api: Api, api_key: str) -> None:
    api_key_revoke(key=ApiKey.objects.get())

    assert api.get("/meters").status_code == 401


def test_a_key_works_as_a_bearer_token_and_its_use_is_recorded(api_key: str) -> None:
    response = Client(headers={"Authorization": f"Bearer {api_key}"}).get("/api/v1/customers")

    assert response.status_code == 200
    assert ApiKey.objects.get().last_used_at is not None


def test_the_api_is_not_sent_to_the_login_page(api: Api) -> None:
    # LoginRequiredMiddleware guards every page; the API answers with JSON.
    response = api.get("/meters")

    assert response.status_code == 200
    assert response.json() == []


def test_a_logged_in_session_without_a_key_is_not_enough(admin_client: Client) -> None:
    response = admin_client.get("/api/v1/meters")

    assert response.status_code == 401


def test_writes_need_no_csrf_token(api_key: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"X-API-KEY": api_key})
    body = {"name": "Acme", "customer_id": "acme"}

    response = client.post("/api/v1/customers", body, content_type="application/json")

    assert response.status_code == 201


# The guide, over HTTP


def create_guide_over_the_api(api: Api, now: datetime) -> dict[str, Any]:
    """The guide's steps 1 to 6 through the API alone; returns the customer."""
    for meter in [
        {"label": "API calls", "api_name": "api-calls"},
        {"label": "LLM tokens", "api_name": "llm-tokens", "dimensions": ["model", "type"]},
    ]:
        assert api.post("/meters", meter).status_code == 201
    plan = api.post("/plans", {"name": "Chatbot Usage Plan", "currency": "USD"}).json()
    api_rate = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "0.01"}}
    token_rate = {
        "meter": "llm-tokens",
        "model": "dimensions",
        "dimensions": ["model", "type"],
        "cells": [{"values": v, "price": {"unit_price": str(p)}} for v, p in TOKEN_MATRIX],
    }
    for rate in (api_rate, token_rate):
        response = api.post(f"/plans/{plan['id']}/rates", rate)
        assert response.status_code == 201, response.content
    customer = api.post("/customers", {"name": "Test Customer", "customer_id": "test-customer"})
    assert customer.status_code == 201
    customer_url = f"/customers/{customer.json()['id']}"
    start = {"plan_id": plan["id"], "start_at": "2025-03-01T00:00:00Z"}
    assert api.post(f"{customer_url}/assignments", start).status_code == 201
    sent = api.post("/events", guide_records(now - timedelta(minutes=1)))
    assert sent.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    return dict(customer.json())


def test_the_guide_end_to_end_over_the_api_bills_14_cents(api: Api, now: datetime) -> None:
    customer = create_guide_over_the_api(api, now)

    periods = api.get(f"/customers/{customer['id']}/invoices").json()
    response = api.get(f"/customers/{customer['id']}/invoices/{periods[0]['period']}")
    assert response.status_code == 200, response.content
    invoice = response.json()

    assert [(p["start"], p["is_current"]) for p in periods] == [("2025-03-01T00:00:00Z", True)]
    assert invoice["currency"] == "USD"
    assert invoice["plan"] == "Chatbot Usage Plan"
    assert [
        (line["description"], line["quantity"], line["unit_price"], line["amount"])
        for section in invoice["sections"]
        for line in section["lines"]
    ] == [
        ("API calls", "10", "0.01", "0.10"),
        ("LLM tokens · model a · input", "1000", "0.00001", "0.01"),
        ("LLM tokens · model a · output", "1000", "0.00002", "0.02"),
        ("LLM tokens · model b · input", "1000", "0.000005", "0.01"),
    ]
    assert [(s["meter"], s["subtotal"]) for s in invoice["sections"]] == [
        ("API calls", "0.10"),
        ("LLM tokens", "0.04"),
    ]
    assert invoice["total"] == "0.14"
    assert invoice["unpriced"] == []


def test_invoice_lines_carry_dimensions_exact_amounts_and_kind(api: Api, now: datetime) -> None:
    customer = create_guide_over_the_api(api, now)

    invoice = api.get(f"/customers/{customer['id']}/invoices/current").json()

    model_b = invoice["sections"][1]["lines"][2]
    assert model_b["dimensions"] == {"model": "model b", "type": "input"}
    # 1000 x 0.000005 = 0.005 exactly, rounded half up once, on its line.
    assert (model_b["exact_amount"], model_b["amount"]) == ("0.005", "0.01")
    assert model_b["kind"] == "usage"
    assert isinstance(model_b["explanation"], str)


def test_money_is_never_a_json_number(api: Api, now: datetime) -> None:
    customer = create_guide_over_the_api(api, now)

    raw = api.get(f"/customers/{customer['id']}/invoices/current").content.decode()

    def numbers(value: object) -> list[object]:
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []

    document = json.loads(raw)
    # Only ids are numbers; every amount, price and quantity is a string.
    assert numbers(document) == [document["customer"]["id"], document["period"]["assignment_id"]]


def page_rows(html: str) -> list[list[str]]:
    found = re.search(r'<table class="table invoice-lines">.*?</table>', html, re.S)
    assert found, "no invoice lines on the page"
    return table_rows(found.group(0))


def rows_from_json(invoice: dict[str, Any]) -> list[list[str]]:
    """What the billing region's invoice table shows, built from the API's JSON."""
    currency = invoice["currency"]
    rows = [["Description", "Quantity", "Unit price", "Amount"]]
    for section in invoice["sections"]:
        rows.append([f"{section['meter']} · {section['rate_model']}"])
        for line in section["lines"]:
            description = " ".join(filter(None, [line["description"], line["explanation"]]))
            unit = line["unit_price"]
            rows.append(
                [
                    description,
                    format_quantity(Decimal(line["quantity"])),
                    format_unit_price(Decimal(unit), currency) if unit else "see detail",
                    format_money(Decimal(line["amount"]), currency),
                ]
            )
        rows.append(
            [f"Subtotal · {section['meter']}", format_money(Decimal(section["subtotal"]), currency)]
        )
    rows.append(["Total", format_money(Decimal(invoice["total"]), currency)])
    return rows


def test_the_invoice_json_matches_the_customer_billing_region(api: Api, now: datetime) -> None:
    customer = create_guide_over_the_api(api, now)
    # Usage the plan does not price, so the unpriced box is compared too.
    extra = {"meterApiName": "llm-tokens", "meterValue": 5000, "customerId": "test-customer"}
    api.post("/events", [{**extra, "dimensions": {"model": "model c", "type": "input"}}])

    invoice = api.get(f"/customers/{customer['id']}/invoices/current").json()
    url = reverse("invoices:customer_billing", args=[customer["id"]])
    # As an operator: the page then shows no cost, as the API never does.
    html = login(Client(), OPERATOR).get(url).content.decode()

    assert page_rows(html) == rows_from_json(invoice)
    # The page and the API name the period the same way.
    assert f'<option value="{invoice["period"]["period"]}" selected>' in html
    assert page_rows(html)[-1] == ["Total", "$0.14"]
    assert invoice["unpriced"] == [
        {
            "meter": "LLM tokens",
            "dimensions": {"model": "model c", "type": "input"},
            "quantity": "5000",
            "reason": "no price for model c · input in the pricing matrix",
        }
    ]
    assert "no price for model c · input in the pricing matrix" in html


# OpenAPI and the docs page

PATHS = [
    "/api/v1/meters",
    "/api/v1/meters/{id}",
    "/api/v1/events",
    "/api/v1/plans",
    "/api/v1/plans/{id}",
    "/api/v1/plans/{id}/rates",
    "/api/v1/plans/{id}/rates/{meter}",
    "/api/v1/plans/{id}/versions",
    "/api/v1/plans/{id}/versions/{number}",
    "/api/v1/plans/{id}/charges",
    "/api/v1/plans/{id}/tax-rates",
    "/api/v1/tax-rates",
    "/api/v1/tax-rates/{id}",
    "/api/v1/tax-rates/{id}/archive",
    "/api/v1/coupons",
    "/api/v1/coupons/{id}",
    "/api/v1/coupons/{id}/archive",
    "/api/v1/customers",
    "/api/v1/customers/{id}",
    "/api/v1/customers/{id}/assignments",
    "/api/v1/customers/{id}/assignments/{assignment_id}/end",
    "/api/v1/customers/{id}/invoices",
    "/api/v1/customers/{id}/invoices/{period}",
    "/api/v1/invoices",
    "/api/v1/invoices/{id}",
    "/api/v1/invoices/{id}/finalize",
    "/api/v1/invoices/{id}/pay",
    "/api/v1/invoices/{id}/void",
    "/api/v1/invoices/{id}/uncollectible",
    "/api/v1/invoices/{id}/credit-notes",
    "/api/v1/credit-notes/{id}",
    "/api/v1/customers/{id}/credit-grants",
    "/api/v1/credit-grants/{id}",
    "/api/v1/credit-grants/{id}/void",
    "/api/v1/customers/{id}/coupons",
    "/api/v1/coupon-redemptions/{id}/remove",
    "/api/v1/customers/{id}/commitments",
    "/api/v1/commitments/{id}",
    "/api/v1/cost-plans",
    "/api/v1/cost-plans/{id}",
    "/api/v1/cost-plans/{id}/default",
    "/api/v1/cost-plans/{id}/sheet",
    "/api/v1/customers/{id}/cost-plan",
    "/api/v1/margins",
]


def test_the_openapi_document_is_public_json_listing_every_path() -> None:
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Tally API"
    assert document["info"]["version"] == "1"
    assert sorted(document["paths"]) == sorted(PATHS)
    assert document["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
    }


def test_every_operation_needs_a_key_and_documents_the_error_shape() -> None:
    document = Client().get("/api/v1/openapi.json").json()

    operations = [op for ops in document["paths"].values() for op in ops.values()]
    assert len(operations) == 60
    for operation in operations:
        assert operation["security"] == [{"ApiKeyAuth": []}], operation["operationId"]
        error = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Errors"}
    assert "Errors" in document["components"]["schemas"]


def test_the_events_and_rate_bodies_are_documented() -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]

    events = paths["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    rates = paths["/api/v1/plans/{id}/rates"]["post"]["requestBody"]["content"]["application/json"]
    assert events["example"][0]["meterApiName"] == "llm-tokens"
    assert set(rates["examples"]) == {"per_unit", "dimensions", "graduated"}


def test_the_docs_page_is_public_and_loads_only_our_own_static_files() -> None:
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Tally API</title>" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file"
    assert '"url": "/api/v1/openapi.json"' in html
