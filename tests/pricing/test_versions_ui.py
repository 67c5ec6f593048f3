"""Plan versions on the plan pages: editing a rate (its editor filled in from
the stored rate), "Takes effect" on the add, edit and delete forms of a plan
in use, the "Price versions" card and a past version's read-only page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import VIEWER
from customers.services import plan_assign
from meters.models import Meter
from meters.services import meter_create
from pricing.forms import RateForm
from pricing.models import Plan, PlanVersion, Rate
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.rate_forms import rate_form_data
from pricing.schema import RateDraft
from pricing.selectors import rate_draft, version_rates
from pricing.services import plan_create, rate_create, rate_delete, rate_replace, rate_save
from tests.factories import CustomerFactory, Guide, MeterFactory, UserFactory, guide_setup
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 10, 47, tzinfo=UTC)
D = Decimal


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def guide() -> Guide:
    """The guide's plan, with a customer on it: every change makes a version."""
    return guide_setup(NOW)


@pytest.fixture
def admin(client: Client) -> Client:
    return login(client)


def edit_url(rate: Rate) -> str:
    return reverse("pricing:edit_rate", args=[rate.plan_id, rate.pk])


def delete_url(rate: Rate) -> str:
    return reverse("pricing:delete_rate", args=[rate.plan_id, rate.pk])


def per_unit(meter: Meter, price: str, **more: str) -> dict[str, str]:
    return {"kind": "usage", "rate_model": "per_unit", "unit_price": price, **more}


def current(plan: Plan) -> PlanVersion:
    plan.refresh_from_db()
    assert plan.current_version is not None
    return plan.current_version


def stored(rate: Rate) -> RateDraft:
    """The rate as the database holds it now."""
    return rate_draft(version_rates(rate.version_id).get(pk=rate.pk))


# A stored rate in the editor and back


def _tiered(model: PriceModel) -> CellPrice:
    return CellPrice(
        model=model,
        tiers=(
            Tier(D("5"), D("5"), D("1.50")),
            Tier(D("1000000"), D("0.000000000000001"), D("0")),
            Tier(None, D("1"), D("0")),
        ),
        free_units=D("2.5"),
    )


PACKAGE = CellPrice(
    model=PriceModel.PACKAGE,
    package_size=D("100"),
    package_price=D("9"),
    package_rounding=PackageRounding.DOWN,
)
MATRIX = RateDraft(
    meter="llm-tokens",
    model="dimensions",
    dimensions=("model", "type"),
    cells=(
        (("model a", "input"), CellPrice(D("0.00001"))),
        (("model a", "output"), _tiered(PriceModel.GRADUATED)),
        (("model  b", "input"), PACKAGE),  # two spaces, kept
        (("model b", "output"), CellPrice(D("123456789012345.123456789012345"), free_units=D("7"))),
    ),
    default_price=_tiered(PriceModel.VOLUME),
    minimum_charge=D("10"),
    base_fee=D("4.99"),
)
DRAFTS = {
    "per unit": RateDraft("llm-tokens", "per_unit", (), (((), CellPrice(D("0.00001"))),)),
    "per unit, minimum 0 and a base fee": RateDraft(
        "llm-tokens",
        "per_unit",
        (),
        (((), CellPrice(D("0.01"), free_units=D("1000"))),),
        minimum_charge=D("0"),
        base_fee=D("20"),
    ),
    "graduated": RateDraft("llm-tokens", "graduated", (), (((), _tiered(PriceModel.GRADUATED)),)),
    "volume": RateDraft("llm-tokens", "volume", (), (((), _tiered(PriceModel.VOLUME)),)),
    "package": RateDraft("llm-tokens", "package", (), (((), PACKAGE),), minimum_charge=D("1")),
    "matrix with a default price": MATRIX,
}


@pytest.mark.parametrize("name", list(DRAFTS))
def test_a_stored_rate_read_into_the_editor_and_saved_back_is_the_same_rate(name: str) -> None:
    meter = meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )
    plan = plan_create(name="Plan", billing_period="monthly", currency="USD")
    rate = rate_save(plan=plan, meter=meter, draft=DRAFTS[name])
    before = stored(rate)
    assert before == DRAFTS[name]

    form = RateForm(rate_form_data(before, meter.pk), plan=plan, rate=rate)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["draft"] == before
    assert form.cleaned_data["meter"] == meter


def test_the_editors_numbers_read_as_typed_not_as_stored() -> None:
    data = rate_form_data(MATRIX, 1)

    assert data["mr0-unit_price"] == "0.00001"
    assert data.getlist("mr1-tier-unit_price") == ["5", "0.000000000000001", "1"]
    assert data.getlist("mr1-tier-up_to") == ["5", "1000000", ""]
    assert data.getlist("mr1-tier-flat_fee") == ["1.5", "", ""]
    assert data["mr2-package_size"] == "100"
    assert data["mr2-dim-model"] == "model  b"
    assert data["mr0-free_units"] == ""
    assert data["has_default_price"] == "on"
    assert (data["minimum_charge"], data["base_fee"]) == ("10", "4.99")


# The edit page


def test_the_edit_form_is_filled_in_from_the_rate_with_its_meter_fixed(
    admin: Client, guide: Guide
) -> None:
    html = page(admin.get(edit_url(guide.api_rate)))
    form = element(html, "rate-form")

    assert "Change the rate for API calls on Chatbot Usage Plan" in text(form)
    assert 'name="unit_price" id="id_unit_price" value="0.01"' in form
    assert '<select name="meter"' not in form
    assert "API calls" in text(element(form, "field-meter"))
    assert re.search(r'name="rate_model" value="per_unit"[^>]*checked', form)
    assert "Save changes" in form
    # The preview and "+ Add tier" post to the edit page, not to "add rate".
    assert f'hx-post="{edit_url(guide.api_rate)}"' in element(form, "preview-result")
    assert reverse("pricing:add_rate", args=[guide.plan.pk]) not in form


def test_the_edit_form_of_a_matrix_has_a_row_per_price(admin: Client, guide: Guide) -> None:
    html = page(admin.get(edit_url(guide.token_rate)))

    rows = re.findall(r'name="m(r\d)-dim-model"[^>]*value="([^"]*)"', html)
    assert [value for _, value in rows] == ["model a", "model a", "model b", "model b"]
    assert 'name="mr2-unit_price" id="id_mr2-unit_price" value="0.000005"' in html
    # A row added to it keeps "+ Add tier" on the edit page.
    query = f"?meter={guide.llm_tokens.pk}&dimensions=model&rate={guide.token_rate.pk}"
    row = page(admin.get(reverse("pricing:matrix_row", args=[guide.plan.pk]) + query))
    assert f'hx-post="{edit_url(guide.token_rate)}"' in row


def test_add_tier_on_the_edit_page_keeps_the_rate_and_adds_a_tier(admin: Client) -> None:
    meter = meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    plan = plan_create(name="Tiered", billing_period="monthly", currency="USD")
    draft = RateDraft("api-calls", "graduated", (), (((), _tiered(PriceModel.GRADUATED)),))
    rate = rate_save(plan=plan, meter=meter, draft=draft)
    data = rate_form_data(stored(rate), meter.pk)
    data["add_tier"] = "tiers"

    html = page(admin.post(edit_url(rate), dict(data.lists())))

    assert re.findall(r'name="tier-up_to" value="([^"]*)"', html) == ["5", "1000000", "", ""]
    assert "Change the rate for API calls" in html
    assert field_errors(html, "starts") == []
    assert stored(rate) == draft  # nothing saved


def test_the_edit_form_over_htmx_is_the_form_alone(admin: Client, guide: Guide) -> None:
    html = page(admin.get(edit_url(guide.api_rate), headers=HTMX))

    assert html.lstrip().startswith('<form id="rate-form"')
    assert "<html" not in html


def test_only_a_rate_of_the_current_prices_can_be_edited(admin: Client, guide: Guide) -> None:
    old = guide.api_rate
    rate_replace(
        plan=guide.plan,
        meter=guide.api_calls,
        draft=RateDraft("api-calls", "per_unit", (), (((), CellPrice(D("0.02"))),)),
    )

    assert admin.get(edit_url(old)).status_code == 404
    assert admin.post(edit_url(old), per_unit(guide.api_calls, "0.03")).status_code == 404
    other = plan_create(name="Other", billing_period="monthly", currency="USD")
    foreign = reverse("pricing:edit_rate", args=[other.pk, guide.api_rate.pk])
    assert admin.get(foreign).status_code == 404


def test_editing_a_rate_of_a_plan_no_one_is_on_changes_it_in_place(admin: Client) -> None:
    meter = meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    plan = plan_create(name="Draft plan", billing_period="monthly", currency="USD")
    rate = rate_create(plan=plan, meter=meter, unit_price=D("0.01"))
    html = page(admin.get(edit_url(rate)))
    assert 'name="starts"' not in html and "Takes effect" not in html

    response = admin.post(edit_url(rate), per_unit(meter, "0.02"), headers=HTMX)

    assert response["HX-Redirect"] == plan.get_absolute_url()
    assert PlanVersion.objects.filter(plan=plan).count() == 1
    (saved,) = version_rates(current(plan).pk)
    assert stored(saved).cells[0][1].unit_price == D("0.02")
    shown = page(admin.get(plan.get_absolute_url()))
    assert "Rate for API calls changed on Draft plan." in shown
    assert "No customer is on this plan yet, so its rates change in place." in shown


@pytest.mark.parametrize(
    ("starts", "words"),
    [
        ("current_period", "from the current period (re-rates open drafts)"),
        ("next_period", "from the next period"),
    ],
)
def test_editing_a_rate_of_a_plan_in_use_makes_version_2_from_the_chosen_start(
    admin: Client, guide: Guide, starts: str, words: str
) -> None:
    form = element(page(admin.get(edit_url(guide.api_rate))), "field-starts")
    assert "From the next period" in text(form)
    assert "From the current period (re-rates open drafts)" in text(form)
    assert re.search(r'value="next_period"[^>]*checked', form)  # the default

    data = per_unit(guide.api_calls, "0.02", starts=starts)
    response = admin.post(edit_url(guide.api_rate), data, follow=True)

    version = current(guide.plan)
    assert (version.number, version.starts, version.effective_at) == (2, starts, NOW)
    assert version.change == "API calls: rate changed"
    assert stored(version.rates.get(meter=guide.api_calls)).cells[0][1].unit_price == D("0.02")
    assert stored(guide.api_rate).cells[0][1].unit_price == D("0.01")  # version 1 kept
    assert f"Rate for API calls changed: version 2 of Chatbot Usage Plan, {words}." in page(
        response
    )


@pytest.mark.parametrize("starts", ["tomorrow", ""])
def test_an_invalid_start_is_shown_next_to_takes_effect_and_nothing_changes(
    admin: Client, guide: Guide, starts: str
) -> None:
    data = per_unit(guide.api_calls, "0.02", starts=starts)

    html = page(admin.post(edit_url(guide.api_rate), data))

    assert field_errors(html, "starts") == ["Choose when the change takes effect."]
    assert 'value="0.02"' in html  # what was typed is kept
    assert PlanVersion.objects.filter(plan=guide.plan).count() == 1


def test_a_rate_added_to_a_plan_in_use_makes_a_version(admin: Client, guide: Guide) -> None:
    search = meter_create(label="Searches", api_name="searches", meter_type="count", dimensions=[])
    url = reverse("pricing:add_rate", args=[guide.plan.pk])
    assert "Takes effect" in text(element(page(admin.get(url)), "field-starts"))

    data = {**per_unit(search, "0.5"), "meter": str(search.pk), "starts": "next_period"}
    response = admin.post(url, data, follow=True)

    version = current(guide.plan)
    assert (version.number, version.starts) == (2, "next_period")
    assert version.rates.count() == 3
    assert (
        "Rate added: Searches at $0.50 per unit, in version 2 of Chatbot Usage Plan, "
        "from the next period." in page(response)
    )


# Delete


def test_deleting_a_rate_of_a_plan_in_use_asks_from_when_and_keeps_the_old_version(
    admin: Client, guide: Guide
) -> None:
    panel = element(page(admin.get(guide.plan.get_absolute_url())), f"rate-{guide.api_rate.pk}")
    assert "hx-confirm" not in panel  # the panel is the confirmation
    assert "Takes effect" in text(element(panel, f"field-starts-{guide.api_rate.pk}"))

    response = admin.post(delete_url(guide.api_rate), {"starts": "current_period"}, headers=HTMX)

    assert response["HX-Redirect"] == guide.plan.get_absolute_url()
    version = current(guide.plan)
    assert (version.number, version.starts) == (2, "current_period")
    assert list(version.rates.values_list("meter__label", flat=True)) == ["LLM tokens"]
    html = page(admin.get(guide.plan.get_absolute_url()))
    assert (
        "Rate for API calls deleted: version 2 of Chatbot Usage Plan, "
        "from the current period (re-rates open drafts)." in html
    )
    assert "API calls" not in text(element(html, "rates"))
    old = page(admin.get(reverse("pricing:version", args=[guide.plan.pk, 1])))
    assert "API calls" in text(element(old, "rates"))
    assert "$0.01 per unit" in text(element(old, f"rate-{guide.api_rate.pk}"))


def test_a_delete_with_an_invalid_start_shows_why_and_deletes_nothing(
    admin: Client, guide: Guide
) -> None:
    html = page(admin.post(delete_url(guide.api_rate), {"starts": "never"}, headers=HTMX))

    assert html.lstrip().startswith('<section id="rates"')
    rate = element(html, f"rate-{guide.api_rate.pk}")
    assert '<details class="rate-delete" open>' in rate
    assert field_errors(rate, f"starts-{guide.api_rate.pk}") == [
        "Choose when the change takes effect."
    ]
    assert PlanVersion.objects.filter(plan=guide.plan).count() == 1


def test_deleting_from_a_plan_no_one_is_on_is_in_place_behind_a_confirm(admin: Client) -> None:
    meter = meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    plan = plan_create(name="Draft plan", billing_period="monthly", currency="USD")
    rate = rate_create(plan=plan, meter=meter, unit_price=D("0.01"))
    html = page(admin.get(plan.get_absolute_url()))
    assert "hx-confirm=" in html and 'name="starts"' not in html

    admin.post(delete_url(rate))

    assert PlanVersion.objects.filter(plan=plan).count() == 1
    assert not Rate.objects.filter(plan=plan).exists()


# The versions card and a version's page


def versions_card(client: Client, plan: Plan) -> list[list[str]]:
    return table_rows(element(page(client.get(plan.get_absolute_url())), "versions"))


def test_the_versions_card_lists_each_version_newest_first(admin: Client, guide: Guide) -> None:
    admin.post(edit_url(guide.api_rate), per_unit(guide.api_calls, "0.02", starts="next_period"))
    rate = Rate.objects.get(version=current(guide.plan), meter=guide.api_calls)
    later = NOW + timedelta(days=1, hours=2)
    rate_delete(rate=rate, starts="current_period", now=later)

    rows = versions_card(admin, guide.plan)

    assert rows == [
        ["Version", "Takes effect", "Change", "Rates"],
        [
            "Version 3 current",
            "From the period containing 29 Nov 2026, 12:47",
            "API calls: rate removed",
            "1",
        ],
        [
            "Version 2",
            "From periods starting on or after 28 Nov 2026, 10:47",
            "API calls: rate changed",
            "2",
        ],
        ["Version 1", "From the plan's first period", "First prices", "2"],
    ]
    html = page(admin.get(guide.plan.get_absolute_url()))
    assert f'href="{reverse("pricing:version", args=[guide.plan.pk, 2])}"' in html
    assert "Rates · version 3" in text(element(html, "rates"))


def test_a_plan_with_one_version_says_its_rates_change_in_place(admin: Client) -> None:
    plan = plan_create(name="Fresh", billing_period="monthly", currency="USD")

    rows = versions_card(admin, plan)

    assert rows[1:] == [["Version 1 current", "From the plan's first period", "First prices", "0"]]


def test_a_version_page_is_read_only(admin: Client, guide: Guide) -> None:
    admin.post(edit_url(guide.api_rate), per_unit(guide.api_calls, "0.02", starts="next_period"))

    html = page(admin.get(reverse("pricing:version", args=[guide.plan.pk, 1])))

    assert "Version 1 of Chatbot Usage Plan" in text(html)
    assert "Read-only" in text(element(html, "version-note"))
    rates = element(html, "rates")
    assert "$0.01 per unit" in text(rates)
    assert "model a" in text(rates)
    assert "Edit" not in text(rates) and "Delete" not in text(rates)
    assert "<form" not in rates
    current_page = page(admin.get(reverse("pricing:version", args=[guide.plan.pk, 2])))
    assert "These are the plan’s current prices" in text(current_page)
    assert admin.get(reverse("pricing:version", args=[guide.plan.pk, 3])).status_code == 404


# Permissions


def test_a_viewer_sees_the_versions_but_no_edit_or_delete(client: Client, guide: Guide) -> None:
    login(client, VIEWER)

    html = page(client.get(guide.plan.get_absolute_url()))

    assert "Price versions" in html
    assert ">Edit<" not in html and "Delete rate" not in html
    assert client.get(edit_url(guide.api_rate)).status_code == 403
    data = per_unit(guide.api_calls, "0.02", starts="next_period")
    assert client.post(edit_url(guide.api_rate), data).status_code == 403
    assert client.post(delete_url(guide.api_rate), {"starts": "next_period"}).status_code == 403
    assert client.get(reverse("pricing:version", args=[guide.plan.pk, 1])).status_code == 200
    assert PlanVersion.objects.filter(plan=guide.plan).count() == 1


def test_an_admin_sees_edit_on_every_rate(admin: Client, guide: Guide) -> None:
    html = page(admin.get(guide.plan.get_absolute_url()))

    for rate in (guide.api_rate, guide.token_rate):
        assert f'href="{edit_url(rate)}"' in element(html, f"rate-{rate.pk}")


# Query counts (in the style of tests/test_query_counts.py)

MANY = 100


def queries(get: Callable[[], Response]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = get()
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)


def plan_in_use_with(rates: int, versions: int) -> Plan:
    """A plan with a customer on it, `rates` rates and `versions` versions."""
    plan = plan_create(name=f"Plan {rates}/{versions}", billing_period="monthly", currency="USD")
    meters = MeterFactory.create_batch(rates)
    for meter in meters:
        rate_create(plan=plan, meter=meter, unit_price=D("0.01"))
    plan_assign(customer=CustomerFactory.create(), plan=plan, start_at=NOW - timedelta(days=3))
    for n in range(versions - 1):
        price = CellPrice(D("0.02") + n)
        draft = RateDraft(meters[0].api_name, "per_unit", (), (((), price),))
        rate_replace(plan=plan, meter=meters[0], draft=draft, starts="next_period")
    return plan


def first_rate(plan: Plan) -> Rate:
    rate = Rate.objects.filter(version=current(plan)).order_by("pk").first()
    assert rate is not None
    return rate


def test_the_plan_page_version_page_and_editor_are_flat_in_rates_and_versions() -> None:
    small, large = plan_in_use_with(1, 2), plan_in_use_with(MANY, 30)
    client = Client()
    client.force_login(UserFactory.create(is_superuser=True))
    pages: list[Callable[[Plan], str]] = [
        lambda plan: reverse("pricing:detail", args=[plan.pk]),
        lambda plan: reverse("pricing:version", args=[plan.pk, 1]),
        lambda plan: edit_url(first_rate(plan)),
    ]
    for url in pages:
        small_url, large_url = url(small), url(large)
        client.get(small_url)  # warm per-process caches out of the measure
        counted = queries(lambda: client.get(small_url))  # noqa: B023
        assert counted <= 30, f"{counted} queries on a small plan"
        assert queries(lambda: client.get(large_url)) == counted, large_url  # noqa: B023
