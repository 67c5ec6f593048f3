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

HTMX = {"HTTP_HX_REQUEST": "true"}
GUIDE_MATRIX = [
    ("model a", "input", "0.00001"),
    ("model a", "output", "0.00002"),
    ("model b", "input", "0.000005"),
    ("model b", "output", "0.00001"),
]


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
    return {
        "kind": "usage",
        "meter": str(meter.pk),
        "rate_model": "dimensions",
        "dimensions": ["model", "type"],
        "dimensions_meter": str(meter.pk),
        "cell-dim-model": [r[0] for r in rows],
        "cell-dim-type": [r[1] for r in rows],
        "cell-price": [r[2] for r in rows],
    }


def _rows_html(html: str) -> list[str]:
    """The editor's rows, each with the messages shown inside it."""
    return re.split(r'<div class="row matrix-row', html)[1:]


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
        response = client.post(url, {"name": "x"})
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
        {"name": "Chatbot usage plan", "billing_period": "monthly", "currency": "USD"},
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
        {"name": "Weekly plan", "billing_period": "weekly", "currency": "EUR"},
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
        {"name": "Chatbot usage plan", "billing_period": "monthly", "currency": "USD"},
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
    assert "Billed monthly · prices in USD" in html
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
    assert '<th>model</th><th>type</th><th class="num">Price per unit</th>' in html
    assert '<td>model a</td><td>input</td><td class="num">$0.00001</td>' in html
    assert '<td>model b</td><td>output</td><td class="num">$2.00</td>' in html


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
    assert '<td class="num">$0.01</td>' in html


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
    assert '<td>model b</td><td>input</td><td class="num">$0.000005</td>' in html


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
    assert 'name="cell-dim-model"' in html and 'name="cell-dim-type"' in html
    assert 'name="cell-price"' in html
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
    assert 'name="cell-dim-type"' in html and "autofocus" in html
    assert 'name="cell-dim-model"' not in html and "bogus" not in html
    assert 'name="cell-price"' in html
    assert "data-remove-row" in html
    assert admin_client.get(url, {"meter": "x"}).status_code == 404


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
