"""Stored invoices and credit notes over the API: the list and its filters,
the guide's issued invoice as stored, the lifecycle through the services
(refusals as 400s naming the field), and the key's scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from time_machine import TimeMachineFixture

from customers.services import customer_create
from invoices.closing import close_periods
from invoices.models import Invoice
from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.api.conftest import Api, errors, fields
from tests.factories import CUSTOMER_ID, Guide, guide_setup

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=24)


@pytest.fixture
def issued(db: None, time_machine: TimeMachineFixture) -> Guide:
    """The guide's March, issued by period close; the clock after its grace."""
    time_machine.move_to(MID_MARCH, tick=False)
    guide = guide_setup(MID_MARCH)
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods(now=AFTER_GRACE)
    return guide


def _march(guide: Guide) -> Invoice:
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def _key(scope: ApiKey.Scope) -> Api:
    _, raw = api_key_create(name=f"{scope} key", scope=scope)
    return Api(raw)


def test_the_guides_issued_invoice_as_stored(api: Api, issued: Guide) -> None:
    invoice = _march(issued)

    answer = api.get(f"/invoices/{invoice.pk}").json()

    assert answer["number"] == "TAL-2025-000001"
    assert answer["status"] == "open"
    assert answer["currency"] == "USD"
    assert (answer["total"], answer["credited"], answer["remaining"]) == ("0.14", "0.00", "0.14")
    assert answer["issue_date"] == "2025-04-02" and answer["due_date"] == "2025-05-02"
    assert answer["net_terms_days"] == 30
    assert answer["period_start"] == "2025-03-01T00:00:00Z"
    assert answer["snapshot"]["customer_id"] == CUSTOMER_ID
    assert answer["snapshot"]["plan_name"] == "Chatbot Usage Plan"
    assert answer["snapshot"]["locale"] == "en_US"
    assert answer["usage_to_date"] is None
    lines = answer["lines"]
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    assert [line["amount"] for line in lines] == ["0.10", "0.01", "0.02", "0.01"]
    assert lines[0]["section"] == "API calls" and lines[0]["unit_price"] == "0.01"
    assert lines[3]["dimensions"] == {"model": "model b", "type": "input"}
    assert lines[3]["exact_amount"] == "0.005"
    assert all(line["late_for"] is None and line["credited"] == "0.00" for line in lines)
    assert answer["history"] == [
        {
            "from_status": "draft",
            "to_status": "open",
            "at": "2025-04-02T00:00:00Z",
            "actor": "system (period close)",
            "note": "total 0.14",
        }
    ]


def test_a_draft_answers_its_usage_to_date(api: Api, issued: Guide) -> None:
    april = Invoice.objects.get(assignment=issued.assignment, period_start=APRIL)

    answer = api.get(f"/invoices/{april.pk}").json()

    assert answer["status"] == "draft" and answer["number"] is None
    assert answer["lines"] == [] and answer["total"] is None and answer["remaining"] is None
    assert answer["usage_to_date"]["total"] == "0.00"
    assert answer["usage_to_date"]["period"]["start"] == "2025-04-01T00:00:00Z"


def test_the_list_is_newest_period_first_and_filters(api: Api, issued: Guide) -> None:
    customer_create(name="Someone else", customer_id="someone-else")

    everything = api.get("/invoices").json()
    assert everything["count"] == 2
    assert [i["period_start"][:10] for i in everything["items"]] == ["2025-04-01", "2025-03-01"]
    assert everything["items"][1]["total"] == "0.14"
    assert everything["items"][0]["total"] is None

    def numbers(**params: object) -> list[str | None]:
        return [i["number"] for i in api.get("/invoices", **params).json()["items"]]

    assert numbers(status="open") == ["TAL-2025-000001"]
    assert numbers(status="draft") == [None]
    assert numbers(customer=CUSTOMER_ID) == [None, "TAL-2025-000001"]
    assert numbers(customer="someone-else") == []
    assert numbers(period_start_from="2025-03-01", period_start_to="2025-03-31") == [
        "TAL-2025-000001"
    ]
    assert numbers(period_start_from="2025-04-01") == [None]
    assert numbers(period_start_to="2025-02-28") == []
    page = api.get("/invoices", limit=1, offset=1).json()
    assert (page["count"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [i["number"] for i in page["items"]] == ["TAL-2025-000001"]


def test_bad_filters_name_the_field(api: Api, issued: Guide) -> None:
    answer = api.get("/invoices", status="sent")
    assert answer.status_code == 400 and fields(answer) == ["status"]
    answer = api.get("/invoices", period_start_from="2025-04-01", period_start_to="2025-03-01")
    assert answer.status_code == 400 and fields(answer) == ["period_start_to"]
    answer = api.get("/invoices", period_start_from="March")
    assert answer.status_code == 422 and fields(answer) == ["period_start_from"]
    answer = api.get("/invoices", limit=501)
    assert answer.status_code == 422 and fields(answer) == ["limit"]
    assert api.get("/invoices/999999").status_code == 404
    assert api.get("/credit-notes/999999").status_code == 404


def test_a_read_key_reads_but_cannot_change(issued: Guide) -> None:
    reader = _key(ApiKey.Scope.READ)
    invoice = _march(issued)
    april = Invoice.objects.get(assignment=issued.assignment, period_start=APRIL)

    assert reader.get("/invoices").status_code == 200
    assert reader.get(f"/invoices/{invoice.pk}").status_code == 200
    refused = [
        reader.post(f"/invoices/{april.pk}/finalize"),
        reader.post(f"/invoices/{invoice.pk}/pay", {"paid_on": "2025-04-02"}),
        reader.post(f"/invoices/{invoice.pk}/void", {"reason": "wrong"}),
        reader.post(f"/invoices/{invoice.pk}/uncollectible"),
        reader.post(
            f"/invoices/{invoice.pk}/credit-notes",
            {"reason": "goodwill", "lines": [{"line": None, "amount": "0.01"}]},
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert fields(refused[0]) == ["X-API-KEY"]
    assert _march(issued).status == "open" and april.credit_notes.count() == 0
    assert Invoice.objects.get(pk=april.pk).status == "draft"
    ingest = _key(ApiKey.Scope.INGEST)
    assert ingest.get("/invoices").status_code == 403


def test_finalize_refuses_a_running_period_and_issues_an_ended_one(
    api: Api, issued: Guide, time_machine: TimeMachineFixture
) -> None:
    april = Invoice.objects.get(assignment=issued.assignment, period_start=APRIL)

    refused = api.post(f"/invoices/{april.pk}/finalize")
    assert refused.status_code == 400
    assert "finalized once its period has ended" in errors(refused)[0][1]

    time_machine.move_to(datetime(2025, 5, 1, 0, 5, tzinfo=UTC), tick=False)
    answer = api.post(f"/invoices/{april.pk}/finalize")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "open" and body["number"] == "TAL-2025-000002"
    assert body["total"] == "0.00" and body["usage_to_date"] is None
    assert body["history"][-1]["actor"].startswith("key api tests (")
    # Finalizing again answers the issued invoice unchanged.
    assert api.post(f"/invoices/{april.pk}/finalize").json() == body


def test_pay_through_the_api(api: Api, issued: Guide) -> None:
    url = f"/invoices/{_march(issued).pk}/pay"

    future = api.post(url, {"paid_on": "2025-04-03"})
    assert future.status_code == 400 and fields(future) == ["paid_on"]
    missing = api.post(url, {"reference": "x"})
    assert missing.status_code == 422 and fields(missing) == ["paid_on"]
    not_a_date = api.post(url, {"paid_on": "yesterday"})
    assert not_a_date.status_code == 422 and fields(not_a_date) == ["paid_on"]

    paid = api.post(url, {"paid_on": "2025-04-02", "reference": "wire 42"})
    assert paid.status_code == 200
    body = paid.json()
    assert body["status"] == "paid" and body["paid_at"] == "2025-04-02"
    assert body["payment_reference"] == "wire 42"
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"]) == ("open", "paid")
    assert last["actor"].startswith("key api tests (")

    again = api.post(url, {"paid_on": "2025-04-02"})
    assert again.status_code == 400 and "paid invoice cannot be marked paid" in errors(again)[0][1]


def test_void_and_uncollectible_through_the_api(api: Api, issued: Guide) -> None:
    invoice = _march(issued)

    blank = api.post(f"/invoices/{invoice.pk}/void", {"reason": "  "})
    assert blank.status_code == 400 and fields(blank) == ["reason"]
    assert api.post(f"/invoices/{invoice.pk}/void", {}).status_code == 422

    uncollectible = api.post(f"/invoices/{invoice.pk}/uncollectible")
    assert uncollectible.status_code == 200 and uncollectible.json()["status"] == "uncollectible"

    voided = api.post(f"/invoices/{invoice.pk}/void", {"reason": "billed twice"})
    assert voided.status_code == 200
    body = voided.json()
    assert (body["status"], body["void_reason"]) == ("void", "billed twice")
    assert body["number"] == "TAL-2025-000001"  # the number stays used
    refused = api.post(
        f"/invoices/{invoice.pk}/credit-notes",
        {"reason": "goodwill", "lines": [{"line": None, "amount": "0.01"}]},
    )
    assert refused.status_code == 400 and fields(refused) == [""]


def test_credit_notes_through_the_api(api: Api, issued: Guide) -> None:
    invoice = _march(issued)
    url = f"/invoices/{invoice.pk}/credit-notes"
    first_line = invoice.lines.order_by("position").first()
    assert first_line is not None
    position = first_line.position

    def credit(*lines: dict[str, object], reason: str = "goodwill") -> Response:
        return api.post(url, {"reason": reason, "lines": list(lines)})

    cases = [
        (credit({"line": None, "amount": "0.01"}, reason=""), 400, ["reason"]),
        (credit({"line": 99, "amount": "0.01"}), 400, ["lines[0].line"]),
        (credit({"line": position, "amount": "0.11"}), 400, ["amount"]),
        (credit({"line": None, "amount": "0.001"}), 400, ["amount"]),
        (credit({"line": None, "amount": "0.15"}), 400, ["amount"]),
        (credit({"line": None, "amount": "0"}), 400, ["amount"]),
        (credit({"line": None, "amount": "ten"}), 422, ["lines[0].amount"]),
        (
            credit({"line": position, "amount": "0.05"}, {"line": position, "amount": "0.05"}),
            400,
            ["lines[1].line"],
        ),
    ]
    for response, status, named in cases:
        assert (response.status_code, fields(response)) == (status, named), response.content
    assert invoice.credit_notes.count() == 0

    made = credit({"line": position, "amount": "0.04"}, {"line": None, "amount": "0.02"})
    assert made.status_code == 201, made.content
    note = made.json()
    assert note["number"] == "TAL-CN-2025-000001"
    assert (note["total"], note["currency"], note["reason"]) == ("0.06", "USD", "goodwill")
    assert note["invoice"] == {"id": invoice.pk, "number": "TAL-2025-000001"}
    assert [(line["line"], line["amount"]) for line in note["lines"]] == [
        (position, "0.04"),
        (None, "0.02"),
    ]
    assert note["created_by"].startswith("key api tests (")
    assert api.get(f"/credit-notes/{note['id']}").json() == note

    after = api.get(f"/invoices/{invoice.pk}").json()
    assert (after["credited"], after["remaining"]) == ("0.06", "0.08")
    assert after["lines"][0]["credited"] == "0.04"
    assert after["credit_notes"] == [{"id": note["id"], "number": note["number"], "total": "0.06"}]


def test_two_identical_credit_notes_cannot_exceed_the_total(api: Api, issued: Guide) -> None:
    invoice = _march(issued)
    body = {"reason": "refund", "lines": [{"line": None, "amount": "0.10"}]}

    first = api.post(f"/invoices/{invoice.pk}/credit-notes", body)
    second = api.post(f"/invoices/{invoice.pk}/credit-notes", body)

    assert first.status_code == 201
    assert second.status_code == 400 and fields(second) == ["amount"]
    assert "0.04" in errors(second)[0][1]
    after = api.get(f"/invoices/{invoice.pk}").json()
    assert (after["credited"], after["remaining"]) == ("0.10", "0.04")
    assert len(after["credit_notes"]) == 1


def test_a_paid_on_before_the_issue_is_accepted_within_a_year(api: Api, issued: Guide) -> None:
    invoice = _march(issued)
    day = date(2025, 3, 20).isoformat()
    answer = api.post(f"/invoices/{invoice.pk}/pay", {"paid_on": day})
    assert answer.status_code == 200 and answer.json()["paid_at"] == day


@pytest.mark.parametrize("amount", ["1e100", "1e-100"])
def test_a_credit_note_amount_of_any_size_is_a_400_naming_it(
    api: Api, issued: Guide, amount: str
) -> None:
    invoice = _march(issued)

    response = api.post(
        f"/invoices/{invoice.pk}/credit-notes",
        {"reason": "goodwill", "lines": [{"line": None, "amount": amount}]},
    )

    assert response.status_code == 400
    assert fields(response) == ["amount"]
    assert invoice.credit_notes.count() == 0
