"""Two identical writes at the same moment: the database keeps one, and the
other request is answered like a single duplicate request (a form error next
to the field, or a 400 naming the field), never a 500. Plus the plan-name rule
through each door that creates a plan.

The races need PostgreSQL and real HTTP: several requests to a live server,
released together by a barrier, each on its own database connection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from customers.models import Customer
from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter
from meters.services import meter_create
from pricing.models import Plan, Rate
from pricing.plan_files import plan_file_import
from pricing.schema import SCHEMA, read_plan
from pricing.services import plan_create, plan_import, rate_create
from tests.fixtures import field_errors, login

SENDERS = 4

needs_postgres = pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL: on SQLite the live server hands the test's one in-memory "
    "connection to every request thread, so concurrent requests would share a "
    "transaction rather than race (run with DATABASE_URL=postgres://...)",
)


def at_once(send: Callable[[], requests.Response]) -> list[requests.Response]:
    """SENDERS calls of `send`, released together; their answers."""
    start = threading.Barrier(SENDERS)
    answers: list[requests.Response] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            start.wait(timeout=10)
            answers.append(send())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) == SENDERS
    return answers


class Browser:
    """A logged-in user's cookies and CSRF token, for posting forms to the
    live server from several threads (each post is its own request)."""

    def __init__(self, base: str) -> None:
        client = Client()
        login(client)
        self.base = base
        self.cookies = {"sessionid": client.cookies["sessionid"].value}
        form = requests.get(base + reverse("pricing:create"), cookies=self.cookies, timeout=30)
        self.cookies["csrftoken"] = form.cookies["csrftoken"]

    def post(self, path: str, data: dict[str, Any]) -> requests.Response:
        return requests.post(
            self.base + path,
            data=data,
            cookies=self.cookies,
            headers={"X-CSRFToken": self.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=60,
        )


class Machine:
    """A client of the native API with a key."""

    def __init__(self, base: str) -> None:
        self.base = base + "/api/v1"
        self.key = api_key_create(name="races", scope=ApiKey.Scope.FULL)[1]

    def post(self, path: str, body: object) -> requests.Response:
        headers = {"X-API-KEY": self.key, "Content-Type": "application/json"}
        return requests.post(self.base + path, data=json.dumps(body), headers=headers, timeout=60)


def one_created_rest_refused_on_the_page(
    answers: list[requests.Response], field: str, reason: str
) -> None:
    assert sorted(a.status_code for a in answers) == [200] * (SENDERS - 1) + [302]
    for answer in answers:
        if answer.status_code == 200:
            [shown] = field_errors(answer.text, field)
            assert shown.startswith(reason), shown


def one_created_rest_refused_in_json(
    answers: list[requests.Response], field: str, reason: str
) -> None:
    assert sorted(a.status_code for a in answers) == [201] + [400] * (SENDERS - 1)
    for answer in answers:
        if answer.status_code == 400:
            [error] = answer.json()["errors"]
            assert error["field"] == field
            assert error["reason"].startswith(reason), error


PLAN = {"name": "Pro", "billing_period": "monthly", "currency": "USD"}
# What the create page also posts: how the plan invoices (its initial values).
PLAN_TERMS = {
    "billing_anchor": "anniversary",
    "grace_period_hours": "24",
    "net_terms_days": "30",
    "late_usage_policy": "bill_next",
}
TAKEN_PLAN = "A pricing plan named “Pro” already exists."
TAKEN_CUSTOMER_ID = "Customer with this Customer ID already exists."
PRICED = "API calls is already priced on"


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_plan_created_twice_at_once_on_the_page(live_server: Any) -> None:
    browser = Browser(live_server.url)

    answers = at_once(lambda: browser.post(reverse("pricing:create"), PLAN | PLAN_TERMS))

    one_created_rest_refused_on_the_page(answers, "name", TAKEN_PLAN)
    assert Plan.objects.filter(name="Pro").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_plan_created_twice_at_once_through_the_api(live_server: Any) -> None:
    machine = Machine(live_server.url)

    answers = at_once(lambda: machine.post("/plans", {"name": "Pro"}))

    one_created_rest_refused_in_json(answers, "name", TAKEN_PLAN)
    assert Plan.objects.filter(name="Pro").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_customer_id_created_twice_at_once_on_the_page(live_server: Any) -> None:
    browser = Browser(live_server.url)
    data = {"name": "Acme", "customer_id": "acme"}

    answers = at_once(lambda: browser.post(reverse("customers:create"), data))

    one_created_rest_refused_on_the_page(answers, "customer_id", TAKEN_CUSTOMER_ID)
    assert Customer.objects.filter(customer_id="acme").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_customer_id_created_twice_at_once_through_the_api(live_server: Any) -> None:
    machine = Machine(live_server.url)

    answers = at_once(lambda: machine.post("/customers", {"name": "Acme", "customer_id": "acme"}))

    one_created_rest_refused_in_json(answers, "customer_id", TAKEN_CUSTOMER_ID)
    assert Customer.objects.filter(customer_id="acme").count() == 1


def _api_calls() -> Meter:
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_meter_added_to_one_plan_twice_at_once_on_the_page(live_server: Any) -> None:
    plan = plan_create(**PLAN)
    meter = _api_calls()
    browser = Browser(live_server.url)
    data = {"kind": "usage", "meter": str(meter.pk), "rate_model": "per_unit", "unit_price": "1"}

    answers = at_once(lambda: browser.post(reverse("pricing:add_rate", args=[plan.pk]), data))

    one_created_rest_refused_on_the_page(answers, "meter", PRICED)
    assert Rate.objects.filter(plan=plan, meter=meter).count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_meter_added_to_one_plan_twice_at_once_through_the_api(live_server: Any) -> None:
    plan = plan_create(**PLAN)
    meter = _api_calls()
    machine = Machine(live_server.url)
    rate = {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "1"}}

    answers = at_once(lambda: machine.post(f"/plans/{plan.pk}/rates", rate))

    one_created_rest_refused_in_json(answers, "meter", PRICED)
    assert Rate.objects.filter(plan=plan, meter=meter).count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_meter_created_twice_at_once_through_the_api(live_server: Any) -> None:
    machine = Machine(live_server.url)
    body = {"label": "API calls", "api_name": "api-calls"}

    answers = at_once(lambda: machine.post("/meters", body))

    one_created_rest_refused_in_json(
        answers, "api_name", "Meter with this API name already exists."
    )
    assert Meter.objects.filter(api_name="api-calls").count() == 1


# --- the plan-name rule through each door (any database) ---------------------------------


def _document(name: str) -> dict[str, object]:
    return {"schema": SCHEMA, "name": name, "billing_period": "monthly", "rates": []}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Pro", "pro", "  PRO "])
def test_a_taken_plan_name_is_refused_at_every_door(admin_client: Client, name: str) -> None:
    plan_create(**PLAN)
    reason = f"A pricing plan named “{name.strip()}” already exists."

    page = admin_client.post(reverse("pricing:create"), {**PLAN, **PLAN_TERMS, "name": name})
    assert field_errors(page.content.decode(), "name") == [reason]

    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    api = admin_client.post(
        "/api/v1/plans",
        json.dumps({"name": name}),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )
    assert api.status_code == 400
    assert api.json()["errors"] == [{"field": "name", "reason": reason}]

    upload = admin_client.post(reverse("pricing:import"), {"document": json.dumps(_document(name))})
    assert field_errors(upload.content.decode(), "name") == [reason]

    with pytest.raises(ValidationError) as refused:
        plan_file_import(raw=_document(name))
    assert refused.value.message_dict == {"name": [reason]}

    assert list(Plan.objects.values_list("name", flat=True)) == ["Pro"]


@pytest.mark.django_db
def test_the_services_refuse_a_taken_name_and_a_priced_meter_on_their_field() -> None:
    plan = plan_create(**PLAN)
    meter = _api_calls()
    rate_create(plan=plan, meter=meter, unit_price=Decimal("1"))

    with pytest.raises(ValidationError) as taken:
        plan_create(name="PRO", billing_period="monthly", currency="USD")
    with pytest.raises(ValidationError) as again:
        plan_import(draft=read_plan(_document("pro"), {}))
    with pytest.raises(ValidationError) as priced:
        rate_create(plan=plan, meter=meter, unit_price=Decimal("2"))

    assert taken.value.message_dict == {"name": ["A pricing plan named “PRO” already exists."]}
    assert again.value.message_dict == {"name": ["A pricing plan named “pro” already exists."]}
    assert priced.value.message_dict == {"meter": ["API calls is already priced on Pro."]}
