from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from meters.models import Meter
from meters.services import meter_create
from pricing.models import Plan, PriceCell, Rate
from pricing.services import plan_create, rate_create
from tests.fixtures import element, field_errors, form_errors, table_rows, text

HTMX = {"HTTP_HX_REQUEST": "true"}
GUIDE_MATRIX = [
    ("model a", "input", "0.00001"),
    ("model a", "output", "0.00002"),
    ("model b", "input", "0.000005"),
    ("model b", "output", "0.00001"),
]

# What the create page posts for how the plan invoices (its initial values).
TERMS = {
    "billing_anchor": "anniversary",
    "grace_period_hours": "24",
    "net_terms_days": "30",
    "late_usage_policy": "bill_next",
}


@pytest.fixture
def plan(db) -> Plan:
    return plan_create(name="Chatbot usage plan", billing_period="monthly", currency="USD")


@pytest.fixture
def api_calls(db) -> Meter:
    return meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])


@pytest.fixture
def llm_tokens(db) -> Meter:
    return meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )


def _per_unit(meter: Meter, price: str) -> dict[str, str]:
    return {"kind": "usage", "meter": str(meter.pk), "rate_model": "per_unit", "unit_price": price}


def _matrix(meter: Meter, rows: list[tuple[str, str, str]]) -> dict[str, object]:
    """A posted matrix of per-unit rows (model, type, price), keyed r0, r1..."""
    data: dict[str, object] = {
        "kind": "usage",
        "meter": str(meter.pk),
        "rate_model": "dimensions",
        "dimensions": ["model", "type"],
        "dimensions_meter": str(meter.pk),
        "row": [f"r{i}" for i in range(len(rows))],
    }
    for i, (model, kind, price) in enumerate(rows):
        data.update({f"mr{i}-dim-model": model, f"mr{i}-dim-type": kind})
        data.update({f"mr{i}-model": "per_unit", f"mr{i}-unit_price": price})
    return data


def _tiers(prefix: str, tiers: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Tier inputs (up to, unit price, flat fee) of the price posted under `prefix`."""
    return {
        f"{prefix}tier-{name}": [t[i] for t in tiers]
        for i, name in enumerate(["up_to", "unit_price", "flat_fee"])
    }


STRIPE_TIERS = [("5", "5", ""), ("10", "4", ""), ("15", "3", ""), ("20", "2", ""), ("", "1", "")]


def _rows_html(html: str) -> list[str]:
    """The editor's rows, each with the messages shown inside it."""
    return re.split(r'<div class="row matrix-row', html)[1:]


def _tiers_html(html: str) -> list[str]:
    """The tier rows of the editor, each with the messages shown inside it."""
    return re.split(r'<div class="row tier-row', html)[1:]


def _add_rate_url(plan: Plan) -> str:
    return reverse("pricing:add_rate", args=[plan.pk])


# Permissions


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in_from_every_pricing_page(
    client: Client, plan: Plan, api_calls: Meter
) -> None:
    rate = rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    gets = [
        reverse("pricing:list"),
        reverse("pricing:create"),
        reverse("pricing:detail", args=[plan.pk]),
        _add_rate_url(plan),
        reverse("pricing:matrix_row", args=[plan.pk]) + f"?meter={api_calls.pk}",
    ]
    posts = [
        reverse("pricing:create"),
        _add_rate_url(plan),
        reverse("pricing:delete_rate", args=[plan.pk, rate.pk]),
    ]
    for url in gets:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    for url in posts:
        response = client.post(url, {"name": "x", "preview": "1"})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert Plan.objects.count() == 1
    assert Rate.objects.count() == 1


# Plan list


@pytest.mark.django_db
def test_plan_list_shows_an_empty_state_with_a_create_button(admin_client: Client) -> None:
    response = admin_client.get(reverse("pricing:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "No pricing plans yet" in html
    assert f'href="{reverse("pricing:create")}"' in html
    assert "Create pricing plan" in html


@pytest.mark.django_db
def test_plan_list_shows_each_plan_with_its_rate_count(
    admin_client: Client, plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    rate_create(plan=plan, meter=llm_tokens, dimensions=["model"], matrix=[(["a"], Decimal(1))])
    plan_create(name="Empty plan", billing_period="yearly", currency="EUR")
    response = admin_client.get(reverse("pricing:list"))
    html = response.content.decode()
    assert "<html" in html
    assert f'<a href="{plan.get_absolute_url()}">Chatbot usage plan</a>' in html
    rows = re.findall(r"<tr.*?</tr>", html, flags=re.S)[1:]
    assert [re.findall(r'class="num">\s*(\d+)', r) for r in rows] == [["2"], ["0"]]
    assert "Monthly" in rows[0] and "USD" in rows[0]
    assert "Yearly" in rows[1] and "EUR" in rows[1]


@pytest.mark.django_db
def test_plan_list_htmx_request_gets_the_table_partial(admin_client: Client, plan: Plan) -> None:
    response = admin_client.get(reverse("pricing:list"), **HTMX)
    html = response.content.decode()
    assert 'id="plan-table"' in html
    assert "<html" not in html
    assert "Chatbot usage plan" in html
    assert "HX-Request" in response["Vary"]


# Create plan


@pytest.mark.django_db
def test_create_plan_form_defaults_to_monthly_in_usd(admin_client: Client) -> None:
    html = admin_client.get(reverse("pricing:create")).content.decode()
    assert '<option value="monthly" selected>Monthly</option>' in html
    assert '<option value="USD" selected>USD</option>' in html
    for period in ("weekly", "quarterly", "yearly"):
        assert f'<option value="{period}">' in html


@pytest.mark.django_db
def test_create_plan_goes_to_the_plan_page_with_a_message(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("pricing:create"),
        {"name": "Chatbot usage plan", "billing_period": "monthly", "currency": "USD", **TERMS},
        follow=True,
    )
    plan = Plan.objects.get()
    assert (plan.billing_period, plan.currency) == ("monthly", "USD")
    assert response.redirect_chain == [(plan.get_absolute_url(), 302)]
    html = response.content.decode()
    assert "Pricing plan “Chatbot usage plan” created." in html
    assert "No rates yet" in html


@pytest.mark.django_db
def test_create_plan_over_htmx_answers_with_a_client_redirect(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("pricing:create"),
        {"name": "Weekly plan", "billing_period": "weekly", "currency": "EUR", **TERMS},
        **HTMX,
    )
    plan = Plan.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == plan.get_absolute_url()


@pytest.mark.django_db
def test_create_plan_with_a_duplicate_name_shows_the_error_next_to_the_name(
    admin_client: Client, plan: Plan
) -> None:
    response = admin_client.post(
        reverse("pricing:create"),
        {"name": "Chatbot usage plan", "billing_period": "monthly", "currency": "USD", **TERMS},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="plan-form"' in html
    field = re.search(r'<div class="field has-error" id="field-name">.*?</div>', html, re.S)
    assert field is not None
    assert "A pricing plan named “Chatbot usage plan” already exists." in field.group()
    assert Plan.objects.count() == 1


# Plan page


@pytest.mark.django_db
def test_plan_page_shows_facts_and_an_empty_state(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert "periods on each assignment" in html
    assert "· prices in USD" in html
    assert "No rates yet" in html
    assert f'href="{_add_rate_url(plan)}"' in html


@pytest.mark.django_db
def test_plan_page_without_meters_points_to_meter_creation(
    admin_client: Client, plan: Plan
) -> None:
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert f'<a href="{reverse("meters:create")}">Create a meter</a>' in html


@pytest.mark.django_db
def test_plan_page_htmx_request_gets_the_rates_partial(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    response = admin_client.get(plan.get_absolute_url(), **HTMX)
    html = response.content.decode()
    assert '<section id="rates"' in html
    assert "<html" not in html
    assert "$0.01" in html
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_plan_page_shows_a_matrix_with_one_column_per_dimension(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    rate_create(
        plan=plan,
        meter=llm_tokens,
        dimensions=["model", "type"],
        matrix=[(["model a", "input"], Decimal("0.00001")), (["model b", "output"], Decimal(2))],
    )
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert table_rows(element(html, "rates")) == [
        ["model", "type", "Price"],
        ["model a", "input", "$0.00001 per unit"],
        ["model b", "output", "$2.00 per unit"],
    ]
    assert "Combinations not listed are shown as unpriced usage on invoices." in html


@pytest.mark.django_db
def test_unknown_plan_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(reverse("pricing:detail", args=[999])).status_code == 404
    assert admin_client.get(reverse("pricing:add_rate", args=[999])).status_code == 404


# Add rate: per unit


@pytest.mark.django_db
def test_add_rate_page_and_htmx_partial(admin_client: Client, plan: Plan, api_calls: Meter) -> None:
    page = admin_client.get(_add_rate_url(plan)).content.decode()
    assert "<html" in page and 'id="rate-form"' in page
    assert "Usage based" in page and "Per unit" in page
    partial = admin_client.get(_add_rate_url(plan), **HTMX).content.decode()
    assert 'id="rate-form"' in partial
    assert "<html" not in partial


@pytest.mark.django_db
def test_add_per_unit_rate(admin_client: Client, plan: Plan, api_calls: Meter) -> None:
    response = admin_client.post(_add_rate_url(plan), _per_unit(api_calls, "0.01"), follow=True)
    assert response.redirect_chain == [(plan.get_absolute_url(), 302)]
    rate = Rate.objects.get()
    assert (rate.plan, rate.meter, rate.rate_model) == (plan, api_calls, "per_unit")
    cell = rate.cells.get()
    assert cell.unit_price == Decimal("0.01")
    assert (cell.dimension_values, cell.dimension_key) == ([], "")
    html = response.content.decode()
    assert "Rate added: API calls at $0.01 per unit." in html
    assert "$0.01 per unit" in text(element(html, "rates"))


@pytest.mark.django_db
def test_add_rate_over_htmx_answers_with_a_client_redirect(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    response = admin_client.post(_add_rate_url(plan), _per_unit(api_calls, "0.01"), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == plan.get_absolute_url()
    assert Rate.objects.count() == 1


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("", "Enter a price."),
        ("-0.01", "A price cannot be negative."),
        ("one cent", "“one cent” is not a number."),
        ("0.0000000000000001", "Use at most 15 decimal places."),
    ],
)
@pytest.mark.django_db
def test_per_unit_price_errors_show_next_to_the_price(
    admin_client: Client, plan: Plan, api_calls: Meter, price: str, message: str
) -> None:
    response = admin_client.post(_add_rate_url(plan), _per_unit(api_calls, price), **HTMX)
    html = response.content.decode()
    field = re.search(r'id="field-unit_price">.*?</div>', html, re.S)
    assert field is not None
    assert message in field.group()
    assert Rate.objects.count() == 0


@pytest.mark.django_db
def test_a_second_rate_for_the_same_meter_is_refused(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    response = admin_client.post(_add_rate_url(plan), _per_unit(api_calls, "0.02"), **HTMX)
    html = response.content.decode()
    assert "API calls is already priced on this plan." in html
    assert "HX-Redirect" not in response
    assert PriceCell.objects.get().unit_price == Decimal("0.01")


@pytest.mark.django_db
def test_a_priced_meter_is_refused_next_to_the_meter_field(
    admin_client: Client, plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    html = admin_client.get(_add_rate_url(plan)).content.decode()
    assert f'<option value="{api_calls.pk}"' not in html
    assert f'<option value="{llm_tokens.pk}" selected>LLM tokens</option>' in html
    response = admin_client.post(_add_rate_url(plan), _per_unit(api_calls, "0.02"), **HTMX)
    field = re.search(r'id="field-meter">.*?</div>', response.content.decode(), re.S)
    assert field is not None
    assert "API calls is already priced on this plan." in field.group()
    assert Rate.objects.count() == 1


@pytest.mark.django_db
def test_add_rate_when_every_meter_is_priced_says_so(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    html = admin_client.get(_add_rate_url(plan)).content.decode()
    assert "Every meter already has a rate on this plan" in html
    assert f'href="{reverse("meters:create")}"' in html


@pytest.mark.django_db
def test_add_rate_without_any_meter_links_to_meter_creation(
    admin_client: Client, plan: Plan
) -> None:
    html = admin_client.get(_add_rate_url(plan)).content.decode()
    assert "No meters yet" in html
    assert f'href="{reverse("meters:create")}"' in html


# Add rate: the pricing matrix


@pytest.mark.django_db
def test_add_the_guides_dimensional_rate(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    response = admin_client.post(_add_rate_url(plan), _matrix(llm_tokens, GUIDE_MATRIX), **HTMX)
    assert response["HX-Redirect"] == plan.get_absolute_url()
    rate = Rate.objects.get()
    assert (rate.rate_model, rate.dimensions) == ("dimensions", ["model", "type"])
    cells = [(c.dimension_values, c.dimension_key, c.unit_price) for c in rate.cells.order_by("pk")]
    assert cells == [
        (["model a", "input"], "model=model%20a&type=input", Decimal("0.00001")),
        (["model a", "output"], "model=model%20a&type=output", Decimal("0.00002")),
        (["model b", "input"], "model=model%20b&type=input", Decimal("0.000005")),
        (["model b", "output"], "model=model%20b&type=output", Decimal("0.00001")),
    ]
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert "Rate added: LLM tokens, priced by model and type (4 prices)." in html
    assert ["model b", "input", "$0.000005 per unit"] in table_rows(element(html, "rates"))


@pytest.mark.django_db
def test_add_a_dimensional_rate_as_a_normal_post(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    response = admin_client.post(_add_rate_url(plan), _matrix(llm_tokens, GUIDE_MATRIX[:1]))
    assert response.status_code == 302
    assert response["Location"] == plan.get_absolute_url()
    assert PriceCell.objects.get().unit_price == Decimal("0.00001")


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (("model a", "input", "0.00003"), "model a · input is already priced in row 1."),
        (("model b", "output", "-0.00001"), "A price cannot be negative."),
        (("model b", "output", "cheap"), "“cheap” is not a number."),
        (("model b", "", "0.00001"), "Enter a value for type."),
        (("model b", "output", "0.0000000000000001"), "Use at most 15 decimal places."),
        (("model b", "output", ""), "Enter a price."),
    ],
)
@pytest.mark.django_db
def test_matrix_errors_show_on_their_row_and_nothing_is_stored(
    admin_client: Client,
    plan: Plan,
    llm_tokens: Meter,
    bad_row: tuple[str, str, str],
    message: str,
) -> None:
    rows = [GUIDE_MATRIX[0], GUIDE_MATRIX[1], bad_row]
    response = admin_client.post(_add_rate_url(plan), _matrix(llm_tokens, rows), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert "1 row of the pricing matrix needs attention" in html
    shown = _rows_html(html)
    assert len(shown) == 3
    assert message in shown[2]
    assert message not in shown[0] and message not in shown[1]
    assert 'value="model a"' in shown[0]  # what was typed is kept
    assert Rate.objects.count() == 0
    assert PriceCell.objects.count() == 0


@pytest.mark.django_db
def test_matrix_needs_at_least_one_row(admin_client: Client, plan: Plan, llm_tokens: Meter) -> None:
    response = admin_client.post(_add_rate_url(plan), _matrix(llm_tokens, [("", "", "")]), **HTMX)
    html = response.content.decode()
    assert "Add at least one row to the pricing matrix." in html
    assert len(_rows_html(html)) == 1
    assert Rate.objects.count() == 0


@pytest.mark.django_db
def test_changing_the_rate_model_re_renders_the_form_without_errors(
    admin_client: Client, plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    data = {"kind": "usage", "meter": str(llm_tokens.pk), "rate_model": "dimensions"}
    response = admin_client.post(_add_rate_url(plan), {**data, "refresh": "1"}, **HTMX)
    html = response.content.decode()
    assert 'id="rate-form"' in html and "<html" not in html
    assert 'class="error"' not in html
    assert 'name="dimensions" value="model"' in html and 'name="dimensions" value="type"' in html
    row = _rows_html(html)[0]
    assert re.search(r'name="m[0-9a-f]{8}-dim-model"', row)
    assert re.search(r'name="m[0-9a-f]{8}-dim-type"', row)
    assert 'aria-label="Price per unit"' in row and 'aria-label="Price model"' in row
    assert 'hx-trigger="change"' in html
    assert Rate.objects.count() == 0


@pytest.mark.django_db
def test_matrix_row_partial_has_an_input_per_dimension(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    url = reverse("pricing:matrix_row", args=[plan.pk])
    response = admin_client.get(url, {"meter": llm_tokens.pk, "dimensions": ["type", "bogus"]})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    key = re.search(r'<input type="hidden" name="row" value="([0-9a-f]{8})">', html)
    assert key is not None
    assert f'name="m{key.group(1)}-dim-type"' in html and "autofocus" in html
    assert "-dim-model" not in html and "bogus" not in html
    assert f'name="m{key.group(1)}-unit_price"' in html
    assert f'name="m{key.group(1)}-model"' in html
    assert "data-remove-row" in html
    assert admin_client.get(url, {"meter": "x"}).status_code == 404


# Add rate: every model, stored exactly


def _cells(rate: Rate) -> list[dict[str, object]]:
    fields = [
        "dimension_values",
        "is_default",
        "price_model",
        "unit_price",
        "tiers",
        "package_size",
        "package_price",
        "package_rounding",
        "free_units",
    ]
    return [{name: getattr(cell, name) for name in fields} for cell in rate.cells.order_by("pk")]


def _stored(**changes: object) -> dict[str, object]:
    """A stored cell: PriceCell's defaults with `changes`."""
    cell: dict[str, object] = {
        "dimension_values": [],
        "is_default": False,
        "price_model": "per_unit",
        "unit_price": Decimal(0),
        "tiers": [],
        "package_size": Decimal(1),
        "package_price": Decimal(0),
        "package_rounding": "up",
        "free_units": Decimal(0),
    }
    return {**cell, **changes}


def _stored_tiers(tiers: list[tuple[str | None, str, str]]) -> list[dict[str, str | None]]:
    return [{"up_to": u, "unit_price": p, "flat_fee": f} for u, p, f in tiers]


@pytest.mark.parametrize("model", ["graduated", "volume"])
@pytest.mark.django_db
def test_add_a_tiered_rate_with_free_units_minimum_and_base_fee(
    admin_client: Client, plan: Plan, api_calls: Meter, model: str
) -> None:
    tiers = [("5", "5", "1.50"), ("10", "4", ""), ("15", "3", ""), ("20", "2", ""), ("", "1", "")]
    data = {
        "kind": "usage",
        "meter": str(api_calls.pk),
        "rate_model": model,
        **_tiers("", tiers),
        "free_units": "2",
        "minimum_charge": "10",
        "base_fee": "4.99",
    }
    response = admin_client.post(_add_rate_url(plan), data, **HTMX)
    assert response["HX-Redirect"] == plan.get_absolute_url()
    rate = Rate.objects.get()
    assert (rate.rate_model, rate.dimensions) == (model, [])
    assert (rate.minimum_charge, rate.base_fee) == (Decimal(10), Decimal("4.99"))
    expected = _stored_tiers(
        [("5", "5", "1.50"), ("10", "4", "0"), ("15", "3", "0"), ("20", "2", "0"), (None, "1", "0")]
    )
    assert _cells(rate) == [_stored(price_model=model, tiers=expected, free_units=Decimal(2))]
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert f"Rate added: API calls, {model} tiers (5 tiers)." in html


@pytest.mark.django_db
def test_add_a_package_rate_rounding_down(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = {
        "kind": "usage",
        "meter": str(api_calls.pk),
        "rate_model": "package",
        "package_size": "100",
        "package_price": "9",
        "package_rounding": "down",
        "unit_price": "123",  # typed before switching model: not stored
    }
    response = admin_client.post(_add_rate_url(plan), data, follow=True)
    rate = Rate.objects.get()
    assert rate.rate_model == "package"
    assert (rate.minimum_charge, rate.base_fee) == (None, None)
    assert _cells(rate) == [
        _stored(
            price_model="package",
            package_size=Decimal(100),
            package_price=Decimal(9),
            package_rounding="down",
        )
    ]
    assert "Rate added: API calls at $9.00 per package of 100." in response.content.decode()


@pytest.mark.django_db
def test_add_a_matrix_whose_rows_use_other_models_and_a_default_price(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = _matrix(llm_tokens, [("model a", "input", "0.00001")])
    data.update(
        {
            "row": ["r0", "r1", "r2"],
            "mr1-dim-model": "model a",
            "mr1-dim-type": "output",
            "mr1-model": "graduated",
            **_tiers("mr1-", [("1000000", "0.00002", ""), ("", "0.00001", "")]),
            "mr1-free_units": "1000",
            "mr2-dim-model": "model b",
            "mr2-dim-type": "input",
            "mr2-model": "package",
            "mr2-package_size": "1000",
            "mr2-package_price": "0.005",
            "mr2-package_rounding": "up",
            "has_default_price": "on",
            "default-model": "volume",
            **_tiers("default-", [("1000", "0.0001", ""), ("", "0.00005", "")]),
        }
    )
    response = admin_client.post(_add_rate_url(plan), data, **HTMX)
    assert response["HX-Redirect"] == plan.get_absolute_url()
    rate = Rate.objects.get()
    assert (rate.rate_model, rate.dimensions) == ("dimensions", ["model", "type"])
    assert _cells(rate) == [
        _stored(dimension_values=["model a", "input"], unit_price=Decimal("0.00001")),
        _stored(
            dimension_values=["model a", "output"],
            price_model="graduated",
            tiers=_stored_tiers([("1000000", "0.00002", "0"), (None, "0.00001", "0")]),
            free_units=Decimal(1000),
        ),
        _stored(
            dimension_values=["model b", "input"],
            price_model="package",
            package_size=Decimal(1000),
            package_price=Decimal("0.005"),
        ),
        _stored(
            is_default=True,
            price_model="volume",
            tiers=_stored_tiers([("1000", "0.0001", "0"), (None, "0.00005", "0")]),
        ),
    ]
    assert rate.cells.get(is_default=True).dimension_key == "*"


@pytest.mark.django_db
def test_a_default_price_is_only_stored_when_switched_on(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = _matrix(llm_tokens, GUIDE_MATRIX[:1])
    data.update({"default-model": "per_unit", "default-unit_price": "5"})
    admin_client.post(_add_rate_url(plan), data, **HTMX)
    assert Rate.objects.get().cells.filter(is_default=True).count() == 0


# Add rate: every message next to the input it is about, and nothing stored


@pytest.mark.parametrize(
    ("tiers", "bad_tier", "message"),
    [
        (
            [("10", "5", ""), ("5", "4", ""), ("", "1", "")],
            1,
            "Must be more than 10, where the tier before ends: tiers must rise without "
            "overlapping.",
        ),
        ([("5", "5", ""), ("5", "4", ""), ("", "1", "")], 1, "Must be more than 5"),
        ([("5", "5", ""), ("10", "4", "")], 1, "Leave this empty: the last tier has no upper"),
        ([("5", "5", ""), ("", "4", ""), ("", "1", "")], 1, "Enter where this tier ends."),
        ([("5", "-5", ""), ("", "1", "")], 0, "A price cannot be negative."),
        ([("5", "5", "two"), ("", "1", "")], 0, "“two” is not a number."),
        ([("5", "", ""), ("", "1", "")], 0, "Enter a unit price."),
        ([("-5", "5", ""), ("", "1", "")], 0, "A tier bound cannot be negative."),
    ],
)
@pytest.mark.django_db
def test_tier_errors_show_on_their_tier_and_nothing_is_stored(
    admin_client: Client,
    plan: Plan,
    api_calls: Meter,
    tiers: list[tuple[str, str, str]],
    bad_tier: int,
    message: str,
) -> None:
    data = {"kind": "usage", "meter": str(api_calls.pk), "rate_model": "graduated"}
    response = admin_client.post(_add_rate_url(plan), {**data, **_tiers("", tiers)}, **HTMX)
    html = response.content.decode()
    assert "HX-Redirect" not in response
    shown = _tiers_html(html)
    assert len(shown) == len(tiers)
    assert message in text(shown[bad_tier])
    assert all(message not in text(t) for i, t in enumerate(shown) if i != bad_tier)
    assert form_errors(html) == ["The rate was not saved: see the messages below."]
    assert f'value="{tiers[0][0]}"' in shown[0]  # what was typed is kept
    assert "Fix the errors above to see a preview." in text(element(html, "preview-result"))
    assert Rate.objects.count() == 0 and PriceCell.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"package_size": "0"}, "package_size", "A package must hold more than 0 units."),
        ({"package_size": "-1"}, "package_size", "A package size cannot be negative."),
        ({"package_price": ""}, "package_price", "Enter the price of one package."),
        ({"package_price": "€9"}, "package_price", "“€9” is not a number."),
        ({"free_units": "-1"}, "free_units", "Free units cannot be negative."),
        ({"free_units": "0.0000000001"}, "free_units", "Use at most 9 decimal places."),
        ({"minimum_charge": "ten"}, "minimum_charge", "“ten” is not a number."),
        ({"base_fee": "-5"}, "base_fee", "A fee cannot be negative."),
        (
            {"base_fee": "1000000000000000"},
            "base_fee",
            "This price is too large: use at most 15 digits before the point.",
        ),
    ],
)
@pytest.mark.django_db
def test_package_and_period_errors_show_next_to_their_field(
    admin_client: Client,
    plan: Plan,
    api_calls: Meter,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    data = {
        "kind": "usage",
        "meter": str(api_calls.pk),
        "rate_model": "package",
        "package_size": "100",
        "package_price": "9",
        "package_rounding": "up",
        **changes,
    }
    html = admin_client.post(_add_rate_url(plan), data, **HTMX).content.decode()
    errors = field_errors(html, field)
    assert len(errors) == 1 and errors[0].startswith(message)
    assert Rate.objects.count() == 0


@pytest.mark.django_db
def test_errors_in_a_matrix_rows_tiers_and_the_default_price_show_in_place(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = _matrix(llm_tokens, [("model a", "input", "0.00001"), ("model a", "output", "")])
    data.update(
        {
            "mr1-model": "volume",
            **_tiers("mr1-", [("1000", "0.00002", ""), ("500", "0.00001", "")]),
            "has_default_price": "on",
            "default-model": "package",
            "default-package_size": "0",
            "default-package_price": "1",
        }
    )
    response = admin_client.post(_add_rate_url(plan), data, **HTMX)
    html = response.content.decode()
    rows = _rows_html(html)
    assert len(rows) == 2
    assert "attention" not in rows[0] and 'class="error' not in rows[0]
    tiers = _tiers_html(rows[1])
    assert "Leave this empty" in text(tiers[1])
    assert field_errors(element(html, "default-price-editor"), "default-package_size") == [
        "A package must hold more than 0 units."
    ]
    assert "1 row of the pricing matrix needs attention" in text(html)
    assert Rate.objects.count() == 0 and PriceCell.objects.count() == 0


@pytest.mark.django_db
def test_two_rows_with_empty_values_each_ask_for_the_value(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    rows = [("model a", "", "1"), ("model a", "", "2")]
    html = admin_client.post(_add_rate_url(plan), _matrix(llm_tokens, rows), **HTMX).content
    shown = _rows_html(html.decode())
    for row in shown:
        assert "Enter a value for type." in text(row)
        assert "already priced" not in row
    assert Rate.objects.count() == 0


# Add rate: re-rendering for a choice, a row or a tier


def _shown_for(row: str, models: str) -> bool:
    """Whether the row's inputs for `models` (data-price-models) are shown."""
    found = re.search(rf'<div class="row-details" data-price-models="{models}"( hidden)?>', row)
    if found is None:
        found = re.search(rf'<div data-price-models="{models}"( hidden)?>', row)
    assert found is not None, models
    return found.group(1) is None


@pytest.mark.django_db
def test_a_rows_tiers_are_shown_beneath_it_and_its_other_inputs_kept_hidden(
    admin_client: Client, plan: Plan, llm_tokens: Meter
) -> None:
    data = _matrix(llm_tokens, [("model a", "input", "1"), ("model a", "output", "2")])
    data.update({"mr1-model": "graduated", "refresh": "1"})
    html = admin_client.post(_add_rate_url(plan), data, **HTMX).content.decode()
    rows = _rows_html(html)
    assert 'class="error' not in html
    assert _shown_for(rows[0], "per_unit") and not _shown_for(rows[0], "graduated volume")
    assert _shown_for(rows[1], "graduated volume") and not _shown_for(rows[1], "per_unit")
    assert len(_tiers_html(rows[1])) == 2
    assert '<option value="graduated" selected>Graduated tiers</option>' in rows[1]
    # Every model's inputs are in the form, so switching back keeps the price
    # (the switch itself happens in the browser: tests/browser/test_rate_editor.py).
    assert 'name="mr1-unit_price" id="id_mr1-unit_price" value="2"' in rows[1]
    assert 'name="mr0-tier-up_to"' in rows[0]


@pytest.mark.django_db
def test_add_tier_appends_a_tier_in_place(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    data = {"kind": "usage", "meter": str(api_calls.pk), "rate_model": "volume"}
    page_html = admin_client.post(
        _add_rate_url(plan), {**data, "refresh": "1"}, **HTMX
    ).content.decode()
    button = re.search(r"<button[^<]*\+ Add tier</button>", page_html)
    assert button is not None
    for attribute in (
        'name="add_tier" value="tiers"',
        'hx-target="#tiers"',
        'hx-select="#tiers > .tier-row:last-child"',
        'hx-swap="beforeend"',
    ):
        assert attribute in button.group()
    tiers = _tiers("", [("100", "2", ""), ("", "1", "")])
    html = admin_client.post(
        _add_rate_url(plan), {**data, **tiers, "add_tier": "tiers"}, **HTMX
    ).content.decode()
    shown = _tiers_html(html)
    assert len(shown) == 3 and "autofocus" in shown[2] and 'class="error' not in html
    assert re.search(r"data-tier-from[^>]*>100</span>", shown[1])
    assert re.search(r"data-tier-from[^>]*>…</span>", shown[2])  # until tier 2 ends
    assert Rate.objects.count() == 0


# The plan page shows every price definition


@pytest.mark.django_db
def test_plan_page_shows_tiers_packages_free_units_minimum_base_fee_and_default(
    admin_client: Client, plan: Plan, api_calls: Meter, llm_tokens: Meter
) -> None:
    tiers = [("5", "5", "1"), ("", "1", "")]
    admin_client.post(
        _add_rate_url(plan),
        {
            "kind": "usage",
            "meter": str(api_calls.pk),
            "rate_model": "volume",
            **_tiers("", tiers),
            "free_units": "1000",
            "minimum_charge": "10",
            "base_fee": "5",
        },
    )
    data = _matrix(llm_tokens, [("model a", "input", "")])
    data.update(
        {
            "mr0-model": "package",
            "mr0-package_size": "1000",
            "mr0-package_price": "0.01",
            "mr0-package_rounding": "down",
            "has_default_price": "on",
            "default-unit_price": "0.00003",
        }
    )
    admin_client.post(_add_rate_url(plan), data)
    assert Rate.objects.count() == 2
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    rates = element(html, "rates")
    api_rate = element(rates, f"rate-{Rate.objects.get(meter=api_calls).pk}")
    assert "Volume tiers" in text(api_rate)
    assert table_rows(api_rate) == [
        ["From", "Up to", "Unit price", "Flat fee"],
        ["0", "5", "$5.00", "+ $1.00"],
        ["5", "no limit", "$1.00", "—"],
    ]
    assert "First 1,000 units free each period" in text(api_rate)
    assert "Minimum charge $10.00 per billing period" in text(api_rate)
    assert "Base fee $5.00 per billing period, prorated" in text(api_rate)
    token_rate = element(rates, f"rate-{Rate.objects.get(meter=llm_tokens).pk}")
    assert table_rows(token_rate) == [
        ["model", "type", "Price"],
        ["model a", "input", "$0.01 per package of 1,000 A partial package is free."],
        ["Any other combination", "$0.00003 per unit"],
    ]


@pytest.mark.django_db
def test_plan_page_links_the_json_export_and_the_list_links_import(
    admin_client: Client, plan: Plan
) -> None:
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert f'href="{reverse("pricing:export", args=[plan.pk])}"' in html
    assert "Export JSON" in html
    listing = admin_client.get(reverse("pricing:list")).content.decode()
    assert f'<a class="button" href="{reverse("pricing:import")}">Import plan</a>' in listing


# Delete rate


@pytest.mark.django_db
def test_delete_rate_asks_for_confirmation_and_removes_it(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    rate = rate_create(plan=plan, meter=api_calls, unit_price=Decimal("0.01"))
    url = reverse("pricing:delete_rate", args=[plan.pk, rate.pk])
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert f'hx-post="{url}"' in html and "hx-confirm=" in html
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, **HTMX)
    assert response["HX-Redirect"] == plan.get_absolute_url()
    assert Rate.objects.count() == 0 and PriceCell.objects.count() == 0
    html = admin_client.get(plan.get_absolute_url()).content.decode()
    assert "Rate for API calls deleted from Chatbot usage plan." in html


@pytest.mark.django_db
def test_delete_rate_of_another_plan_is_not_found(
    admin_client: Client, plan: Plan, api_calls: Meter
) -> None:
    other = plan_create(name="Other", billing_period="monthly", currency="USD")
    rate = rate_create(plan=other, meter=api_calls, unit_price=Decimal("0.01"))
    response = admin_client.post(reverse("pricing:delete_rate", args=[plan.pk, rate.pk]))
    assert response.status_code == 404
    assert Rate.objects.count() == 1
