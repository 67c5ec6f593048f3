"""Fixtures for the native JSON API tests: a frozen clock, a client that
presents a valid API key, and the guide's data made through the services."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from time_machine import TimeMachineFixture

from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.factories import Guide, guide_setup

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

# Mid-March 2025: the guide's plan runs from 1 March, the current period.
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
BASE = "/api/v1"


class Api:
    """A test client for /api/v1/ that sends JSON and an API key."""

    def __init__(self, key: str) -> None:
        self.client = Client(headers={"X-API-KEY": key})

    def get(self, path: str, **params: Any) -> Response:
        return self.client.get(BASE + path, params)

    def post(self, path: str, body: object = None, **headers: str) -> Response:
        data = "" if body is None else json.dumps(body)
        return self.client.post(BASE + path, data, content_type="application/json", headers=headers)

    def delete(self, path: str) -> Response:
        return self.client.delete(BASE + path)


def errors(response: Response) -> list[tuple[str, str]]:
    """An error answer's problems as (field, reason) pairs."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return [(e["field"], e["reason"]) for e in response.json()["errors"]]


def fields(response: Response) -> list[str]:
    return [field for field, _ in errors(response)]


@pytest.fixture
def now(time_machine: TimeMachineFixture) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def api_key(db: None) -> str:
    # Full: these tests use every operation; the scopes have their own tests.
    _, raw = api_key_create(name="api tests", scope=ApiKey.Scope.FULL)
    return raw


@pytest.fixture
def api(api_key: str) -> Api:
    return Api(api_key)


@pytest.fixture
def guide(db: None, now: datetime) -> Guide:
    """The guide's steps 1 to 6 through the services (not the API)."""
    return guide_setup(now)
