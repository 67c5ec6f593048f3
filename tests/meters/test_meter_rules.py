"""Each meter rule through each door: meters.meter_rules on its own, then the
create page, the native API (POST /api/v1/meters) and the admin's add page,
which must refuse the same meters with the same reason next to the same
field."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from meters.api_keys import api_key_create
from meters.meter_rules import MAX_DIMENSIONS, check_meter, has_control_characters
from meters.models import ApiKey, Meter
from tests.factories import MeterFactory
from tests.fixtures import field_errors, page

TOO_MANY = [f"d{n}" for n in range(MAX_DIMENSIONS + 1)]
BASE: dict[str, Any] = {
    "label": "LLM tokens",
    "api_name": "llm-tokens",
    "meter_type": "count",
    "dimensions": ["model", "type"],
    "unique_dimension": "",
}

# (what is sent, the field named, the reason), for every door. Empty dimension
# names are left out here: the page drops a row left empty (an unfilled row,
# not a name), so that rule has its own test below.
CASES = [
    pytest.param(
        {"dimensions": ["a", "a"]}, "dimensions", "The dimension “a” is listed twice.", id="twice"
    ),
    pytest.param(
        {"dimensions": ["model", "Model"]},
        "dimensions",
        "The dimensions “model” and “Model” differ only in case.",
        id="twice-ignoring-case",
    ),
    pytest.param(
        {"dimensions": ["a=b&c"]},
        "dimensions",
        "“a=b&c” is not a valid dimension name: start with a letter; use letters, digits, "
        "“_”, “-” or “.”.",
        id="escaped-characters",
    ),
    pytest.param(
        {"dimensions": ["<x>"]},
        "dimensions",
        "“<x>” is not a valid dimension name: start with a letter; use letters, digits, "
        "“_”, “-” or “.”.",
        id="markup",
    ),
    pytest.param(
        {"dimensions": ["d" * 101]},
        "dimensions",
        "A dimension name has at most 100 characters.",
        id="name-too-long",
    ),
    pytest.param(
        {"dimensions": TOO_MANY},
        "dimensions",
        f"A meter has at most {MAX_DIMENSIONS} dimensions.",
        id="too-many",
    ),
    pytest.param(
        {"meter_type": "unique_count", "dimensions": ["user"], "unique_dimension": ""},
        "unique_dimension",
        "Name the dimension whose values are counted.",
        id="unique-count-without-dimension",
    ),
    pytest.param(
        {"meter_type": "unique_count", "dimensions": ["user"], "unique_dimension": "region"},
        "unique_dimension",
        "This must be one of the meter's dimensions.",
        id="unique-count-of-another-dimension",
    ),
    pytest.param(
        {"api_name": "LLM Tokens"},
        "api_name",
        "Use lowercase letters, digits and single hyphens, e.g. “llm-tokens”.",
        id="api-name-not-a-slug",
    ),
    pytest.param(
        {"label": "LLM\x01tokens"},
        "label",
        "A label must not contain control characters.",
        id="label-control-character",
    ),
]

# A door takes the fields and answers the errors shown, by field.
Door = Callable[[Client, dict[str, Any]], dict[str, list[str]]]


def ui(client: Client, fields: dict[str, Any]) -> dict[str, list[str]]:
    response = client.post(reverse("meters:create"), fields)
    assert response.status_code == 200
    html = page(response)
    return {f: errors for f in fields if (errors := field_errors(html, f))}


def native_api(client: Client, fields: dict[str, Any]) -> dict[str, list[str]]:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    response = client.post(
        "/api/v1/meters",
        json.dumps(fields),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400, response.content
    shown: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        shown.setdefault(error["field"], []).append(error["reason"])
    return shown


def admin(client: Client, fields: dict[str, Any]) -> dict[str, list[str]]:
    data = {**fields, "dimensions": json.dumps(fields["dimensions"])}
    response = client.post(reverse("admin:meters_meter_add"), data)
    assert response.status_code == 200
    return dict(response.context["adminform"].form.errors)


DOORS: dict[str, Door] = {"ui": ui, "native-api": native_api, "admin": admin}


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(("change", "field", "reason"), CASES)
def test_every_door_refuses_a_meter_the_rules_refuse(
    admin_client: Client, door: str, change: dict[str, Any], field: str, reason: str
) -> None:
    shown = DOORS[door](admin_client, {**BASE, **change})

    assert shown == {field: [reason]}
    assert not Meter.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("door", ["native-api", "admin"])
@pytest.mark.parametrize("dimensions", [["a", "a", ""], ["a", ""], [" "]])
def test_an_empty_dimension_name_is_refused_where_names_are_typed_as_a_list(
    admin_client: Client, door: str, dimensions: list[str]
) -> None:
    shown = DOORS[door](admin_client, {**BASE, "dimensions": dimensions})

    assert list(shown) == ["dimensions"]
    assert not Meter.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
def test_every_door_refuses_a_taken_api_name_the_same_way(admin_client: Client, door: str) -> None:
    MeterFactory.create(api_name="llm-tokens")

    shown = DOORS[door](admin_client, BASE)

    assert shown == {"api_name": ["Meter with this API name already exists."]}


@pytest.mark.django_db
def test_the_api_stores_a_meter_stripped(admin_client: Client) -> None:
    # A unique dimension on a count meter is refused, not dropped:
    # tests/meters/test_unique_dimension.py.
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    sent = {**BASE, "label": " LLM tokens ", "dimensions": [" model", "type "]}

    response = admin_client.post(
        "/api/v1/meters",
        json.dumps(sent),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )

    assert response.status_code == 201
    meter = Meter.objects.get()
    assert (meter.label, meter.dimensions, meter.unique_dimension) == (
        "LLM tokens",
        ["model", "type"],
        "",
    )


@pytest.mark.django_db
def test_the_admin_change_page_holds_dimensions_to_the_rules(admin_client: Client) -> None:
    meter = MeterFactory.create(api_name="llm-tokens", dimensions=["model"])
    data = {"label": "LLM tokens", "meter_type": "count", "dimensions": '["model", "model"]'}

    response = admin_client.post(reverse("admin:meters_meter_change", args=[meter.pk]), data)

    assert response.context["adminform"].form.errors == {
        "dimensions": ["The dimension “model” is listed twice."]
    }
    meter.refresh_from_db()
    assert meter.dimensions == ["model"]


@pytest.mark.parametrize(
    ("dimensions", "problem"),
    [
        ([], ""),
        (["model", "type", "a.b", "a_b", "a-b"], ""),
        ([f"d{n}" for n in range(MAX_DIMENSIONS)], ""),
        (["a", ""], "A dimension name is empty."),
        ("model", "Dimensions are a list of names."),
        ([1], "Dimensions are a list of names."),
        (["1st"], "“1st” is not a valid dimension name"),
        (["a\n"], ""),  # stripped: "a"
        (["é"], "“é” is not a valid dimension name"),
    ],
)
def test_dimension_rules(dimensions: object, problem: str) -> None:
    _, problems = check_meter(
        label="x", api_name="x", meter_type="count", dimensions=dimensions, unique_dimension=""
    )

    assert problems.get("dimensions", "").startswith(problem)
    assert bool(problems.get("dimensions")) == bool(problem)


@pytest.mark.parametrize(
    ("label", "api_name", "problems"),
    [
        ("  LLM  ", "llm", {}),
        ("   ", "llm", {"label": "Give the meter a label."}),
        ("x" * 101, "llm", {"label": "A label has at most 100 characters."}),
        ("LLM", "", {"api_name": "Give the meter an API name."}),
        ("LLM", "llm\n", {}),  # stripped
        (
            "LLM",
            "llm-",
            {"api_name": "Use lowercase letters, digits and single hyphens, e.g. “llm-tokens”."},
        ),
        ("LLM", "a" * 101, {"api_name": "An API name has at most 100 characters."}),
    ],
)
def test_label_and_api_name_rules(label: str, api_name: str, problems: dict[str, str]) -> None:
    fields, found = check_meter(label=label, api_name=api_name, meter_type="count", dimensions=[])

    assert found == problems
    assert fields.label == label.strip()


def test_control_characters_are_exactly_unicodes_category_cc() -> None:
    # The rule refuses what Unicode calls a control character, no more and no less.
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates: refused by their own rule
        char = chr(code)
        assert has_control_characters(f"a{char}b") == (unicodedata.category(char) == "Cc"), code
