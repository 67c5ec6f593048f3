"""API-key scopes at every machine door, and the limit on wrong keys.

Invariants under test: an `ingest` key sends usage and adds or updates
customers and nothing else; a `read` key reads and writes nothing; a `full`
key does everything; outside its scope a key gets 403 JSON naming X-API-KEY,
its scope and the one needed. After API_KEY_FAILURE_LIMIT wrong keys from one
address in a minute, every key from that address gets 429 with Retry-After
until the minute is over, at /ingest/, /amberflo/ and /api/v1/ alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import TYPE_CHECKING, Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from time_machine import TimeMachineFixture

from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.factories import CustomerFactory, MeterFactory
from tests.fixtures import element, login, page, table_rows, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

INGEST, READ, FULL = ApiKey.Scope.INGEST, ApiKey.Scope.READ, ApiKey.Scope.FULL
# 15 seconds into a minute: a window that started then has 45 seconds left.
NOW = datetime(2025, 3, 15, 12, 0, 15, tzinfo=UTC)
ACME = {"customerId": "acme", "customerName": "Acme Inc."}
METER = {"label": "API calls", "api_name": "api-calls", "meter_type": "count"}
GRANT = {"amount": "1.00", "currency": "USD", "description": "Welcome credit"}

# (door, method, path, body, the scopes besides full that may use it)
DOORS: list[tuple[str, str, str, object, set[str]]] = [
    ("ingest", "post", "/ingest/", [], {INGEST}),
    ("amberflo-ingest", "post", "/amberflo/ingest/", [], {INGEST}),
    ("api-send-events", "post", "/api/v1/events", [], {INGEST}),
    ("amberflo-customer-get", "get", "/amberflo/customers/?customerId=acme", None, {INGEST, READ}),
    ("amberflo-customer-post", "post", "/amberflo/customers/", ACME, {INGEST}),
    ("amberflo-customer-put", "put", "/amberflo/customers/", ACME, {INGEST}),
    ("amberflo-customer-list", "get", "/amberflo/customers/", None, {READ}),
    (
        "amberflo-usage-all",
        "get",
        "/amberflo/usage/all?timeGroupingInterval=DAY&startTimeInSeconds=1741996800",
        None,
        {READ},
    ),
    ("api-list-meters", "get", "/api/v1/meters", None, {READ}),
    ("api-list-events", "get", "/api/v1/events", None, {READ}),
    ("api-list-customers", "get", "/api/v1/customers", None, {READ}),
    ("api-create-meter", "post", "/api/v1/meters", METER, set()),
    ("api-create-customer", "post", "/api/v1/customers", {"customer_id": "b", "name": "B"}, set()),
    ("api-delete-rate", "delete", "/api/v1/plans/1/rates/api-calls", None, set()),
    ("api-replace-rate", "put", "/api/v1/plans/1/rates/api-calls", {"price": {}}, set()),
    ("api-list-plan-versions", "get", "/api/v1/plans/1/versions", None, {READ}),
    ("api-list-credit-grants", "get", "/api/v1/customers/1/credit-grants", None, {READ}),
    ("api-get-credit-grant", "get", "/api/v1/credit-grants/1", None, {READ}),
    ("api-grant-credit", "post", "/api/v1/customers/999/credit-grants", GRANT, set()),
    ("api-void-credit-grant", "post", "/api/v1/credit-grants/999/void", {"reason": "x"}, set()),
]


def call(method: str, path: str, body: object, key: str, address: str = "10.0.0.1") -> Response:
    client = Client(REMOTE_ADDR=address)
    data = "" if body is None else json.dumps(body)
    send = getattr(client, method)
    if method == "get":
        return send(path, headers={"X-API-KEY": key})
    return send(path, data, content_type="application/json", headers={"X-API-KEY": key})


def refusal(response: Response) -> tuple[str, str]:
    """(field, message) of a machine error, in either API's shape."""
    body: dict[str, Any] = response.json()
    if "errors" in body:  # the native API
        [error] = body["errors"]
        return error["field"], error["reason"]
    return body["field"], body["error"]


@pytest.mark.parametrize("scope", [INGEST, READ, FULL])
@pytest.mark.parametrize(
    ("method", "path", "body", "scopes"),
    [door[1:] for door in DOORS],
    ids=[door[0] for door in DOORS],
)
def test_each_door_accepts_only_the_scopes_it_names(
    scope: ApiKey.Scope, method: str, path: str, body: object, scopes: set[str], now: datetime
) -> None:
    CustomerFactory.create(customer_id="acme")
    _, raw = api_key_create(name="machine", scope=scope)

    response = call(method, path, body, raw)

    if scope == FULL or scope in scopes:
        assert response.status_code not in (401, 403, 429), response.content
        assert response.status_code < 300 or response.status_code == 404, response.content
    else:
        assert response.status_code == 403
        field, message = refusal(response)
        assert field == "X-API-KEY"
        assert message.startswith(f"this API key's scope is {scope}; {method.upper()} ")
        needed = " or ".join(sorted(scopes, key=[INGEST, READ].index)) or "full"
        assert message.endswith(f"needs {needed}")


def test_a_new_key_is_an_ingest_key_by_default() -> None:
    key, _ = api_key_create(name="backend")

    assert key.scope == INGEST


def test_an_ingest_key_cannot_create_a_plan_or_read_invoices(now: datetime) -> None:
    CustomerFactory.create(customer_id="acme")
    _, raw = api_key_create(name="backend")

    plan = call("post", "/api/v1/plans", {"name": "Pro", "currency": "USD"}, raw)
    invoices = call("get", "/api/v1/customers/1/invoices", None, raw)

    assert plan.status_code == invoices.status_code == 403
    assert refusal(plan) == (
        "X-API-KEY",
        "this API key's scope is ingest; POST /api/v1/plans needs full",
    )


def test_a_read_key_sends_no_usage(now: datetime) -> None:
    MeterFactory.create(api_name="api-calls")
    _, raw = api_key_create(name="reports", scope=READ)
    record = {"meterApiName": "api-calls", "meterValue": 1, "customerId": "acme"}

    response = call("post", "/ingest/", [record], raw)

    assert response.status_code == 403
    assert refusal(response) == (
        "X-API-KEY",
        "this API key's scope is read; POST /ingest/ needs ingest",
    )


# -- Keys made before scopes ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_keys_that_existed_before_scopes_keep_doing_everything() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("meters", "0005_exact_decimal_value")])
    old_apps = executor.loader.project_state([("meters", "0005_exact_decimal_value")]).apps
    old_apps.get_model("meters", "ApiKey").objects.create(
        name="old", prefix="tly_old", key_hash="0" * 64
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert ApiKey.objects.get(name="old").scope == FULL
    assert api_key_create(name="new")[0].scope == INGEST


# -- Where scopes are set and shown ----------------------------------------------------------


def test_the_command_creates_an_ingest_key_unless_told_otherwise() -> None:
    out = StringIO()
    call_command("create_api_key", "--name", "backend", stdout=out)
    call_command("create_api_key", "--name", "reports", "--scope", "read", stdout=out)

    assert dict(ApiKey.objects.values_list("name", "scope")) == {
        "backend": "ingest",
        "reports": "read",
    }
    assert "scope read" in out.getvalue()


def test_the_command_refuses_an_unknown_scope() -> None:
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        call_command("create_api_key", "--name", "x", "--scope", "admin", stdout=StringIO())


def test_the_page_creates_a_key_with_the_chosen_scope_and_lists_it(client: Client) -> None:
    login(client)
    form = element(page(client.get("/meters/api-keys/")), "api-key-form")
    assert '<option value="ingest" selected>' in form

    response = client.post("/meters/api-keys/", {"name": "reports", "scope": "read"})

    html = page(response)
    assert ApiKey.objects.get().scope == READ
    assert "Its scope is read" in text(element(html, "new-key"))
    [header, row] = table_rows(element(html, "api-key-table"))
    assert header[2] == "Scope" and row[2] == "read"


# -- Wrong keys from one address ------------------------------------------------------------


@pytest.fixture
def now(time_machine: TimeMachineFixture) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return NOW


def test_the_21st_wrong_key_in_a_minute_gets_429_at_every_door(now: datetime) -> None:
    _, good = api_key_create(name="backend", scope=FULL)
    wrong = "tly_" + "x" * 43

    guesses = [call("post", "/ingest/", [], wrong).status_code for _ in range(20)]
    ingest = call("post", "/ingest/", [], wrong)
    native = call("get", "/api/v1/meters", None, wrong)
    amberflo = call("get", "/amberflo/customers/", None, good)  # even a good key, from there

    assert guesses == [401] * 20
    for response in (ingest, native, amberflo):
        assert response.status_code == 429
        assert response["Retry-After"] == "45"
        field, message = refusal(response)
        assert field == "X-API-KEY"
        assert message == "too many wrong API keys from 10.0.0.1; try again in 45 seconds"


def test_other_addresses_and_missing_keys_are_not_counted(now: datetime) -> None:
    _, good = api_key_create(name="backend", scope=FULL)
    for _ in range(25):
        call("post", "/ingest/", [], "tly_wrong", address="10.0.0.66")
        Client(REMOTE_ADDR="10.0.0.1").post("/ingest/", "[]", content_type="application/json")

    assert call("post", "/ingest/", [], good, address="10.0.0.1").status_code == 200
    assert call("post", "/ingest/", [], good, address="10.0.0.66").status_code == 429


def test_the_block_ends_with_the_minute(now: datetime, time_machine: TimeMachineFixture) -> None:
    _, good = api_key_create(name="backend", scope=FULL)
    for _ in range(21):
        call("get", "/api/v1/meters", None, "tly_wrong")
    assert call("get", "/api/v1/meters", None, good).status_code == 429

    time_machine.move_to(NOW + timedelta(seconds=45), tick=False)

    assert call("get", "/api/v1/meters", None, good).status_code == 200
    assert call("get", "/api/v1/meters", None, "tly_wrong").status_code == 401


def test_the_limit_is_a_setting(now: datetime, settings: Any) -> None:
    settings.API_KEY_FAILURE_LIMIT = 2
    statuses = [call("post", "/amberflo/ingest/", [], "tly_wrong").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]
