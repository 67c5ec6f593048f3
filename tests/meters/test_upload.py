"""Event upload: what a person pastes or uploads on a meter's page, and the
reading (meters.records) and storing (meters.services.events_ingest) behind it.

Invariants under test: a bad record never stops the good ones beside it; every
rejected record is reported with its position and reason; a record already
stored (same meter and uniqueId) never changes a stored value or a total.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer
from invoices.builder import build_invoice, current_period
from meters.models import Meter, UsageEvent
from meters.records import BadRecord, DocumentError, parse_document, upload_keys
from meters.selectors import meter_events, usage_partials
from meters.services import events_ingest
from tests.factories import Guide, guide_setup, millis
from tests.fixtures import HTMX, element, field_errors, form_errors, page, table_rows, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
EARLIER = millis(NOW - timedelta(hours=1))
A_INPUT = {"model": "model a", "type": "input"}
B_OUTPUT = {"model": "model b", "type": "output"}


def record(unique_id: str, value: object = 1000, **fields: object) -> dict[str, object]:
    """A good LLM tokens record for test-customer, an hour ago, unless overridden."""
    return {
        "meterApiName": "llm-tokens",
        "meterValue": value,
        "customerId": "test-customer",
        "meterTimeInMillis": EARLIER,
        "uniqueId": unique_id,
        "dimensions": A_INPUT,
        **fields,
    }


# One paste holding good, bad and duplicate records, and what the report says
# about each bad one: (1-based position, field, reason).
MIXED = [
    record("up-1"),
    record("up-2", meterApiName="gpu-hours"),
    record("up-3", dimensions={"model": "model a", "region": "eu"}),
    record("up-4", value="ten"),
    record("up-5", value=True),
    record("up-6", value=2500, dimensions=B_OUTPUT),
    record("up-7", meterTimeInMillis=Decimal("1741953600000.5")),
    record("up-8", meterTimeInMillis=-1000),
    record("up-9", meterTimeInMillis=millis(NOW + timedelta(days=1))),
    record("up-10", customerId="ghost-customer"),
    record("up-1"),  # the first record again
    record("up-12", value="NaN"),
]
MIXED_REJECTED = [
    (2, "meterApiName", 'unknown meter "gpu-hours"'),
    (3, "dimensions", "meter 'llm-tokens' does not define the dimension region"),
    (4, "meterValue", 'meterValue must be a finite number, got "ten"'),
    (5, "meterValue", "meterValue must be a finite number, got true"),
    (
        7,
        "meterTimeInMillis",
        "meterTimeInMillis must be whole epoch milliseconds, got 1741953600000.5",
    ),
    (8, "meterTimeInMillis", "meterTimeInMillis -1000 is not a valid time"),
    (9, "meterTimeInMillis", "meterTimeInMillis is more than 5 minutes in the future"),
    (10, "customerId", "unknown customer 'ghost-customer'"),
    (12, "meterValue", 'meterValue must be a finite number, got "NaN"'),
]


def as_json(records: list[dict[str, object]]) -> str:
    """The records as a pasted JSON array; the fractional time stays a bare number."""
    return json.dumps(records, default=str).replace('"1741953600000.5"', "1741953600000.5")


def stored() -> list[tuple[str, str, Decimal, dict[str, str]]]:
    events = UsageEvent.objects.select_related("meter").order_by("meter__api_name", "unique_id")
    return [(e.meter.api_name, e.unique_id, e.value, e.dimensions) for e in events]


def total(customer: Customer) -> Decimal:
    ref = current_period(customer, NOW)
    assert ref is not None
    return build_invoice(customer, ref).total


# -- Through the upload view -------------------------------------------------


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    """The guide's meters, plan and customer at NOW, before any usage is sent."""
    time_machine.move_to(NOW, tick=False)
    return guide_setup(NOW, events=False)


def upload(client: Client, meter: Meter, *, htmx: bool = False, **data: object) -> Response:
    headers = HTMX if htmx else {}
    return client.post(reverse("meters:upload", args=[meter.pk]), data, headers=headers)


def report(html: str) -> tuple[str, list[tuple[int, str, str]]]:
    """The upload report: its summary line and each rejected record."""
    section = element(html, "upload")
    summary = text(section.split("<table", 1)[0].split("<form", 1)[0])
    rejected = [(int(n), field, reason) for n, field, reason in table_rows(section)[1:]]
    return summary, rejected


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_upload_reports_every_record_and_keeps_the_good_ones(
    admin_client: Client, guide: Guide, htmx: bool
) -> None:
    response = upload(admin_client, guide.llm_tokens, htmx=htmx, records=as_json(MIXED))

    html = page(response)
    assert response.status_code == 200
    assert ("<html" in html) is not htmx
    summary, rejected = report(html)
    assert "2 accepted · 1 duplicate (already uploaded) · 9 rejected of 12 records." in (summary)
    assert rejected == MIXED_REJECTED
    assert stored() == [
        ("llm-tokens", "up-1", Decimal("1000"), A_INPUT),
        ("llm-tokens", "up-6", Decimal("2500"), B_OUTPUT),
    ]
    if not htmx:  # without JavaScript the whole page comes back, new events listed
        listed = [row[4] for row in table_rows(element(html, "event-table"))[1:]]
        assert sorted(listed) == ["up-1", "up-6"]


def test_reuploading_the_same_paste_adds_nothing_and_keeps_the_total(
    admin_client: Client, guide: Guide
) -> None:
    upload(admin_client, guide.llm_tokens, records=as_json(MIXED))
    # 1000 model a input tokens ($0.01) + 2500 model b output tokens ($0.025, half up).
    assert total(guide.customer) == Decimal("0.04")
    before = stored()

    summary, rejected = report(
        page(upload(admin_client, guide.llm_tokens, htmx=True, records=as_json(MIXED)))
    )

    assert "0 accepted · 3 duplicates (already uploaded) · 9 rejected" in summary
    assert rejected == MIXED_REJECTED
    assert stored() == before
    assert total(guide.customer) == Decimal("0.04")


def test_the_customer_picker_fills_in_a_missing_customer_id(
    admin_client: Client, guide: Guide
) -> None:
    Customer.objects.create(name="Other", customer_id="other-customer")
    records = [
        {"meterValue": 10, "uniqueId": "pick-1"},
        {"meterValue": 5, "uniqueId": "pick-2", "customerId": "other-customer"},
    ]

    upload(admin_client, guide.api_calls, records=json.dumps(records), customer="test-customer")

    assert dict(UsageEvent.objects.values_list("unique_id", "customer_id")) == {
        "pick-1": "test-customer",
        "pick-2": "other-customer",
    }
    assert total(guide.customer) == Decimal("0.10")


def test_a_record_rejected_from_an_upload_is_listed_under_the_picked_customer_and_meter(
    admin_client: Client, guide: Guide
) -> None:
    Customer.objects.create(name="Other", customer_id="other-customer")
    records = [
        {"meterValue": "ten", "uniqueId": "bad-1"},
        {"meterValue": "ten", "uniqueId": "bad-2", "customerId": "other-customer"},
    ]

    upload(admin_client, guide.api_calls, records=json.dumps(records), customer="test-customer")
    listed = table_rows(
        element(page(admin_client.get(reverse("meters:rejected"))), "rejected-table")
    )

    # Columns: received, source, record #, meter, customer ID, field, reason, record.
    assert [(row[2], row[3], row[4]) for row in listed[1:]] == [
        ("1", "API calls", "test-customer"),
        ("2", "API calls", "other-customer"),
    ]


def test_without_a_picked_customer_a_record_must_name_its_customer(
    admin_client: Client, guide: Guide
) -> None:
    html = page(upload(admin_client, guide.api_calls, records='[{"meterValue": 10}]'))

    assert report(html)[1] == [(1, "customerId", "customerId is missing or empty")]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("name", ["llm tokens", "LLM_Tokens", "LLM Tokens", "llm-tokens"])
def test_meter_api_name_is_matched_loosely(admin_client: Client, guide: Guide, name: str) -> None:
    # Sent from the API calls page: the record's own meter name wins.
    upload(admin_client, guide.api_calls, records=json.dumps([record("r-1", meterApiName=name)]))

    assert stored() == [("llm-tokens", "r-1", Decimal("1000"), A_INPUT)]


def test_records_without_a_meter_name_go_to_the_meter_whose_page_it_is(
    admin_client: Client, guide: Guide
) -> None:
    records = [{"meterValue": 10, "customerId": "test-customer", "uniqueId": "calls-1"}]

    upload(admin_client, guide.api_calls, records=json.dumps(records))

    assert stored() == [("api-calls", "calls-1", Decimal("10"), {})]


def test_ndjson_with_one_broken_line_keeps_the_other_lines(
    admin_client: Client, guide: Guide
) -> None:
    lines = [
        json.dumps(record("nd-1")),
        json.dumps(record("nd-2", dimensions=B_OUTPUT))[:-1],  # closing brace lost
        json.dumps(record("nd-3")).replace('"meterValue": 1000', '"meterValue": NaN'),
        json.dumps(record("nd-4", value=500, dimensions=B_OUTPUT)),
    ]

    summary, rejected = report(
        page(upload(admin_client, guide.llm_tokens, records="\n".join(lines)))
    )

    assert "2 accepted · 0 duplicates (already uploaded) · 2 rejected" in summary
    assert [(n, reason.split(":")[0]) for n, _, reason in rejected] == [
        (2, "line is not valid JSON"),
        (3, "line is not valid JSON"),
    ]
    assert "NaN is not a finite number" in rejected[1][2]
    assert [unique_id for _, unique_id, _, _ in stored()] == ["nd-1", "nd-4"]


def test_csv_upload_reads_dimension_columns(admin_client: Client, guide: Guide) -> None:
    csv_text = (
        "meterApiName,meterValue,customerId,uniqueId,dimensions.model,dimensions.type\n"
        "llm-tokens,1000,test-customer,csv-1,model a,input\n"
        "llm-tokens,0.1,test-customer,csv-2,model b,output\n"
        "llm-tokens,ten,test-customer,csv-3,model a,input\n"
    )
    file = SimpleUploadedFile("usage.csv", csv_text.encode(), content_type="text/csv")

    summary, rejected = report(page(upload(admin_client, guide.llm_tokens, file=file)))

    assert "2 accepted" in summary
    assert rejected == [(3, "meterValue", 'meterValue must be a finite number, got "ten"')]
    assert stored() == [
        ("llm-tokens", "csv-1", Decimal("1000"), A_INPUT),
        ("llm-tokens", "csv-2", Decimal("0.1"), B_OUTPUT),
    ]


def test_json_file_upload_stores_the_guides_events(admin_client: Client, guide: Guide) -> None:
    records = [
        record("f-1"),
        record("f-2", dimensions={"model": "model a", "type": "output"}),
        record("f-3", dimensions={"model": "model b", "type": "input"}),
        {"meterApiName": "api calls", "meterValue": 10, "customerId": "test-customer"},
    ]
    file = SimpleUploadedFile("usage.json", json.dumps(records).encode(), "application/json")

    summary, rejected = report(page(upload(admin_client, guide.llm_tokens, htmx=True, file=file)))

    assert "4 accepted" in summary
    assert rejected == []
    assert total(guide.customer) == Decimal("0.14")


def test_broken_json_is_refused_as_a_whole_with_a_clear_error(
    admin_client: Client, guide: Guide
) -> None:
    broken = '[{"meterApiName": "llm-tokens", "meterValue": 1000, "customerId": "test-customer",}]'

    html = page(upload(admin_client, guide.llm_tokens, htmx=True, records=broken))

    [error] = field_errors(html, "records")
    assert error.startswith("Not valid JSON:")
    assert "upload-result" not in html
    assert not UsageEvent.objects.exists()


def test_nan_inside_a_json_array_refuses_the_whole_paste(
    admin_client: Client, guide: Guide
) -> None:
    # Bare NaN is not JSON: the array cannot be read, so nothing in it is kept.
    paste = as_json([record("n-1")]).replace("1000", "NaN")

    html = page(upload(admin_client, guide.llm_tokens, records=paste))

    assert field_errors(html, "records") == ["Not valid JSON: NaN is not a finite number"]
    assert not UsageEvent.objects.exists()


def test_a_broken_json_file_is_refused_next_to_the_file_field(
    admin_client: Client, guide: Guide
) -> None:
    file = SimpleUploadedFile("usage.json", b'[{"meterValue": 10', "application/json")

    html = page(upload(admin_client, guide.llm_tokens, file=file))

    [error] = field_errors(html, "file")
    assert error.startswith("Not valid JSON:")
    assert not UsageEvent.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(admin_client: Client, guide: Guide) -> None:
    file = SimpleUploadedFile("usage.csv", "meterValue\n10 €\n".encode("utf-16"), "text/csv")

    html = page(upload(admin_client, guide.llm_tokens, file=file))

    assert field_errors(html, "file") == ["The file is not UTF-8 text."]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_an_empty_submission_asks_for_events(
    admin_client: Client, guide: Guide, htmx: bool
) -> None:
    html = page(upload(admin_client, guide.llm_tokens, htmx=htmx, records="  \n"))

    assert form_errors(html) == ["Paste some events or choose a file to upload."]
    assert not UsageEvent.objects.exists()


def test_pasting_and_uploading_at_once_is_refused(admin_client: Client, guide: Guide) -> None:
    file = SimpleUploadedFile("usage.json", b"[]", "application/json")

    html = page(upload(admin_client, guide.llm_tokens, records="[]", file=file))

    assert form_errors(html) == ["Paste events or upload a file, not both."]


def test_too_many_records_are_refused_as_a_whole(
    admin_client: Client, guide: Guide, settings: Settings
) -> None:
    settings.UPLOAD_MAX_RECORDS = 2
    paste = json.dumps([record("m-1"), record("m-2"), record("m-3")])

    html = page(upload(admin_client, guide.llm_tokens, records=paste))

    assert field_errors(html, "records") == [
        "More than 2 records: one upload may hold at most 2; split it into smaller files."
    ]
    assert not UsageEvent.objects.exists()


def test_a_csv_file_over_the_record_limit_is_refused_naming_the_limit(
    admin_client: Client, guide: Guide, settings: Settings
) -> None:
    settings.UPLOAD_MAX_RECORDS = 1000
    rows = "".join(f"api-calls,1,test-customer,big-{n}\n" for n in range(5000))
    csv_text = "meterApiName,meterValue,customerId,uniqueId\n" + rows
    file = SimpleUploadedFile("usage.csv", csv_text.encode(), content_type="text/csv")

    html = page(upload(admin_client, guide.api_calls, file=file))

    assert field_errors(html, "file") == [
        "More than 1,000 records: one upload may hold at most 1,000; split it into smaller files."
    ]
    assert not UsageEvent.objects.exists()


# Pasted records without uniqueId: what an operator copies from a log.
KEYLESS = [
    {"meterApiName": "api-calls", "meterValue": 10, "customerId": "test-customer"},
    {"meterApiName": "api-calls", "meterValue": 10, "customerId": "test-customer"},
    {"meterApiName": "api-calls", "meterValue": 5, "customerId": "test-customer"},
]


def test_uploading_the_same_paste_again_counts_nothing_twice(
    admin_client: Client, guide: Guide
) -> None:
    first, _ = report(page(upload(admin_client, guide.api_calls, records=json.dumps(KEYLESS))))
    # Two equal records at different positions are two events.
    assert "3 accepted · 0 duplicates" in first
    assert total(guide.customer) == Decimal("0.25")

    again, rejected = report(
        page(upload(admin_client, guide.api_calls, htmx=True, records=json.dumps(KEYLESS)))
    )

    assert "0 accepted · 3 duplicates (already uploaded) · 0 rejected of 3 records." in again
    assert rejected == []
    assert UsageEvent.objects.count() == 3
    assert total(guide.customer) == Decimal("0.25")


def test_a_file_uploaded_again_or_pasted_is_recognized_as_the_same_upload(
    admin_client: Client, guide: Guide
) -> None:
    csv_text = "meterApiName,meterValue,customerId\napi-calls,10,test-customer\n"
    file = SimpleUploadedFile("usage.csv", csv_text.encode(), content_type="text/csv")
    upload(admin_client, guide.api_calls, file=file)

    again = SimpleUploadedFile("copy.csv", csv_text.encode(), content_type="text/csv")
    from_file, _ = report(page(upload(admin_client, guide.api_calls, file=again)))
    # A browser sends a textarea with CRLF line endings; the paste is the same upload.
    pasted = csv_text.replace("\n", "\r\n")
    from_paste, _ = report(page(upload(admin_client, guide.api_calls, records=pasted)))

    assert "0 accepted · 1 duplicate (already uploaded)" in from_file
    assert "0 accepted · 1 duplicate (already uploaded)" in from_paste
    assert total(guide.customer) == Decimal("0.10")


def test_an_edited_paste_is_a_new_upload(admin_client: Client, guide: Guide) -> None:
    upload(admin_client, guide.api_calls, records=json.dumps(KEYLESS))

    edited = json.dumps([*KEYLESS, {**KEYLESS[0], "meterValue": 1}])
    summary, _ = report(page(upload(admin_client, guide.api_calls, records=edited)))

    # Documented: only a uniqueId makes a record recognizable across edited uploads.
    assert "4 accepted · 0 duplicates" in summary


def test_the_same_paste_for_another_picked_customer_is_new_usage(
    admin_client: Client, guide: Guide
) -> None:
    Customer.objects.create(name="Other", customer_id="other-customer")
    paste = json.dumps([{"meterValue": 10}, {"meterValue": 7, "customerId": "test-customer"}])
    upload(admin_client, guide.api_calls, records=paste, customer="test-customer")

    summary, _ = report(
        page(upload(admin_client, guide.api_calls, records=paste, customer="other-customer"))
    )

    # The record taking the picked customer is new usage for the other customer;
    # the record naming its own customer is the same event as before.
    assert "1 accepted · 1 duplicate (already uploaded)" in summary
    assert sorted(UsageEvent.objects.values_list("customer_id", "value")) == [
        ("other-customer", Decimal("10")),
        ("test-customer", Decimal("7")),
        ("test-customer", Decimal("10")),
    ]


def test_a_record_with_its_own_unique_id_keeps_it(admin_client: Client, guide: Guide) -> None:
    paste = json.dumps([{**KEYLESS[0], "uniqueId": "mine"}, KEYLESS[1]])

    upload(admin_client, guide.api_calls, records=paste)

    [(own,), (derived,)] = UsageEvent.objects.order_by("id").values_list("unique_id")
    assert own == "mine"
    assert re.fullmatch(r"upload:[0-9a-f]{32}:2", derived)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_after_an_upload_the_box_is_empty_and_the_customer_stays_picked(
    admin_client: Client, guide: Guide, htmx: bool
) -> None:
    html = page(
        upload(
            admin_client,
            guide.api_calls,
            htmx=htmx,
            records='[{"meterValue": 10}]',
            customer="test-customer",
        )
    )

    form = element(html, "upload")
    assert "1 accepted" in report(html)[0]
    assert re.search(r"<textarea[^>]*>\s*</textarea>", form)
    assert re.search(r'<option value="test-customer" selected>', form)
    assert 'name="allow_backfill"' in form and "checked" not in element(
        form, "field-allow_backfill"
    )


def test_after_a_refused_document_the_text_stays_to_be_fixed(
    admin_client: Client, guide: Guide
) -> None:
    broken = '[{"meterValue": 10,}]'

    html = page(upload(admin_client, guide.api_calls, htmx=True, records=broken))

    assert field_errors(html, "records")[0].startswith("Not valid JSON:")
    assert broken in html_lib.unescape(element(html, "field-records"))


def test_a_csv_column_with_a_misspelt_name_refuses_the_file_naming_it(
    admin_client: Client, guide: Guide
) -> None:
    csv_text = (
        "meterApiName,meterValue,customerId,dimension.model,dimensions.type\n"
        "llm-tokens,1000,test-customer,model a,input\n"
    )
    file = SimpleUploadedFile("usage.csv", csv_text.encode(), content_type="text/csv")

    html = page(upload(admin_client, guide.llm_tokens, file=file))

    assert field_errors(html, "file") == [
        "The CSV header has an unknown column: 'dimension.model' (did you mean "
        "'dimensions.model'?). Columns are meterApiName, meterValue, customerId, "
        "meterTimeInMillis, uniqueId and dimensions.<name> for each dimension."
    ]
    assert not UsageEvent.objects.exists()


def test_an_htmx_upload_refreshes_the_recent_events_table(
    admin_client: Client, guide: Guide
) -> None:
    detail = page(admin_client.get(reverse("meters:detail", args=[guide.llm_tokens.pk])))
    assert "No events yet." in text(element(detail, "event-table"))

    response = upload(
        admin_client, guide.llm_tokens, htmx=True, records=json.dumps([record("t-1")])
    )

    html = page(response)
    assert "<html" not in html
    assert "1 accepted" in report(html)[0]
    table = element(html, "event-table")
    assert 'hx-swap-oob="true"' in table
    [_, row] = table_rows(table)
    assert row[1:5] == ["test-customer", "1,000", "model: model a type: input", "t-1"]
    assert "HX-Request" in response["Vary"]


def test_backfill_is_refused_unless_the_upload_allows_it(
    admin_client: Client, guide: Guide, settings: Settings
) -> None:
    old = millis(NOW - timedelta(days=settings.INGEST_BACKFILL_DAYS + 1))
    paste = json.dumps([record("old-1", meterTimeInMillis=old)])

    refused, rejected = report(page(upload(admin_client, guide.llm_tokens, records=paste)))
    allowed, _ = report(
        page(upload(admin_client, guide.llm_tokens, records=paste, allow_backfill="on"))
    )

    assert "0 accepted" in refused
    assert [(n, field) for n, field, _ in rejected] == [(1, "meterTimeInMillis")]
    assert "1 accepted" in allowed
    assert [unique_id for _, unique_id, _, _ in stored()] == ["old-1"]


# -- meters.records.parse_document (pure) ------------------------------------


def test_parse_json_array_keeps_decimals_exact() -> None:
    [parsed] = parse_document('[{"meterValue": 0.1, "meterApiName": "llm-tokens"}]')

    assert parsed == {"meterValue": Decimal("0.1"), "meterApiName": "llm-tokens"}


def test_parse_a_single_pretty_printed_object() -> None:
    parsed = parse_document('{\n  "meterApiName": "api-calls",\n  "meterValue": 10\n}')

    assert parsed == [{"meterApiName": "api-calls", "meterValue": 10}]


def test_parse_ndjson_marks_a_broken_line_at_its_position() -> None:
    parsed = parse_document('{"meterValue": 1}\n\n{"meterValue": 2\n{"meterValue": 3.5}\n')

    assert parsed[0] == {"meterValue": 1}
    assert isinstance(parsed[1], BadRecord)
    assert parsed[1].reason.startswith("line is not valid JSON")
    assert parsed[2] == {"meterValue": Decimal("3.5")}


def test_parse_ndjson_by_file_name() -> None:
    assert parse_document('{"meterValue": 1}', "usage.NDJSON") == [{"meterValue": 1}]


def test_parse_ndjson_refuses_nan_on_its_line_only() -> None:
    parsed = parse_document('{"meterValue": NaN}\n{"meterValue": 2}', "usage.jsonl")

    assert isinstance(parsed[0], BadRecord)
    assert "NaN is not a finite number" in parsed[0].reason
    assert parsed[1] == {"meterValue": 2}


def test_parse_csv_with_dimension_columns() -> None:
    parsed = parse_document(
        "meterApiName,meterValue,customerId,meterTimeInMillis,uniqueId,"
        "dimensions.model,dimensions.type\n"
        "llm-tokens,0.1,test-customer,1741953600000,c-1,model a,input\n"
        "llm-tokens,ten,test-customer,,c-2,model b,\n"
        "llm-tokens,1,test-customer,1.5,c-3,model b,output,extra\n",
        "usage.csv",
    )

    assert parsed[0] == {
        "meterApiName": "llm-tokens",
        "meterValue": Decimal("0.1"),
        "customerId": "test-customer",
        "meterTimeInMillis": 1741953600000,
        "uniqueId": "c-1",
        "dimensions": {"model": "model a", "type": "input"},
    }
    # Left as text for validation to refuse with its reason; an empty cell is absent.
    assert parsed[1] == {
        "meterApiName": "llm-tokens",
        "meterValue": "ten",
        "customerId": "test-customer",
        "uniqueId": "c-2",
        "dimensions": {"model": "model b"},
    }
    assert parsed[2] == BadRecord("row has more cells than the header")


def test_parse_csv_is_recognised_without_a_file_name() -> None:
    assert parse_document("meterApiName,meterValue\napi-calls,10\n") == [
        {"meterApiName": "api-calls", "meterValue": 10}
    ]


def test_parse_csv_needs_a_meter_value_column() -> None:
    with pytest.raises(DocumentError, match="meterValue column"):
        parse_document("meterApiName,value\napi-calls,10\n", "usage.csv")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "There are no records"),
        ("   \n", "There are no records"),
        ('[{"meterValue": 1000,}]', "Not valid JSON"),
        ('[{"meterValue": NaN}]', "NaN is not a finite number"),
        ('[{"meterValue": Infinity}]', "Infinity is not a finite number"),
        ('"just text"', "needs a header row with at least a meterValue column"),
    ],
)
def test_an_unreadable_document_raises(document: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_document(document)


def test_a_json_file_that_is_not_an_array_of_records_is_refused() -> None:
    with pytest.raises(DocumentError, match="Expected a JSON array"):
        parse_document("42", "usage.json")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "meterValue,dimension.model",
            "unknown column: 'dimension.model' (did you mean 'dimensions.model'?)",
        ),
        (
            "meterValue,CustomerID,unique_id",
            "unknown columns: 'CustomerID' (did you mean 'customerId'?); "
            "'unique_id' (did you mean 'uniqueId'?)",
        ),
        ("meterValue,region", "unknown column: 'region'. Columns are"),
        ("meterValue,,customerId", "unknown column: a column with no name."),
        ("meterValue,dimensions.", "unknown column: 'dimensions.'."),
        ("meterValue,uniqueId,uniqueId", "names 'uniqueId' more than once"),
        ("meterApiName,value", "at least a meterValue column. Not a column we read: 'value'."),
    ],
)
def test_a_csv_header_with_a_column_we_would_not_read_is_refused(header: str, message: str) -> None:
    with pytest.raises(DocumentError, match=re.escape(message)):
        parse_document(f"{header}\n10,a,b\n", "usage.csv")


def test_csv_header_names_may_have_spaces_around_them() -> None:
    parsed = parse_document(" meterValue , dimensions.model\n10,model a\n", "usage.csv")

    assert parsed == [{"meterValue": 10, "dimensions": {"model": "model a"}}]


def test_parse_ndjson_keeps_a_line_separator_inside_a_string() -> None:
    parsed = parse_document('{"uniqueId": "a\u2028b"}\r\n{"meterValue": 2}\n', "usage.ndjson")

    assert parsed == [{"uniqueId": "a\u2028b"}, {"meterValue": 2}]


@pytest.mark.parametrize(
    ("name", "header", "line"),
    [("usage.csv", "meterValue\n", "1\n"), ("usage.ndjson", "", '{"meterValue": 1}\n')],
)
def test_a_million_line_upload_is_refused_without_being_read_whole(
    name: str, header: str, line: str
) -> None:
    document = header + line * 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DocumentError, match="More than 10 records"):
            parse_document(document, name, max_records=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Reading every line first would take hundreds of megabytes.
    assert peak < 100_000


@pytest.mark.parametrize(
    "document", ['[{"meterValue": 1}, {"meterValue": 2}]', "meterValue\n1\n2\n"]
)
def test_an_upload_at_the_record_limit_is_read(document: str) -> None:
    assert len(parse_document(document, max_records=2)) == 2
    with pytest.raises(DocumentError, match="at most 1;"):
        parse_document(document, max_records=1)


# -- meters.records.upload_keys (pure) ---------------------------------------

DOCUMENT = '[{"meterValue": 1}, {"meterValue": 2, "uniqueId": "own"}, {"meterValue": 3}]'


def keys(records: list[object]) -> list[object]:
    return [r.get("uniqueId") if isinstance(r, dict) else r for r in records]


def test_upload_keys_name_the_upload_and_the_records_position() -> None:
    keyed = keys(upload_keys(parse_document(DOCUMENT), DOCUMENT))

    digest = hashlib.sha256(DOCUMENT.encode()).hexdigest()[:32]
    assert keyed == [f"upload:{digest}:1", "own", f"upload:{digest}:3"]
    assert all(len(str(key)) <= 255 for key in keyed)


def test_upload_keys_are_the_same_for_the_same_content_however_it_arrived() -> None:
    file_text = DOCUMENT.replace(", ", ",\n") + "\n"
    # A browser sends a textarea with CRLF line endings; a file may start with
    # a byte-order mark, which decode() has already dropped.
    pasted = "\r\n" + file_text.replace("\n", "\r\n") + "  "
    records = parse_document(file_text)

    assert keys(upload_keys(records, file_text)) == keys(upload_keys(records, pasted))


def test_upload_keys_differ_for_a_different_document() -> None:
    records = parse_document(DOCUMENT)

    edited = DOCUMENT.replace('"meterValue": 3', '"meterValue": 4')

    assert keys(upload_keys(records, DOCUMENT))[0] != keys(upload_keys(records, edited))[0]


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_unique_id_is_replaced_like_a_missing_one(blank: object) -> None:
    [key] = keys(upload_keys([{"meterValue": 1, "uniqueId": blank}], "x"))

    assert str(key).startswith("upload:")


def test_upload_keys_depend_on_the_picked_customer_only_where_it_is_used() -> None:
    records: list[object] = [{"meterValue": 1}, {"meterValue": 2, "customerId": "named"}]

    for_a = keys(upload_keys(records, DOCUMENT, default_customer_id="customer-a"))
    for_b = keys(upload_keys(records, DOCUMENT, default_customer_id="customer-b"))

    assert for_a[0] != for_b[0]
    assert for_a[1] == for_b[1] == keys(upload_keys(records, DOCUMENT))[1]


def test_upload_keys_leave_what_is_not_a_record_alone() -> None:
    bad = BadRecord("line is not valid JSON")

    assert upload_keys([bad, 42], "x") == [bad, 42]


# -- meters.services.events_ingest -------------------------------------------


@pytest.fixture
def guide_at_now(db: None) -> Guide:
    return guide_setup(NOW, events=False)


def test_ingest_reports_each_rejection_with_its_position_and_keeps_the_rest(
    guide_at_now: Guide,
) -> None:
    result = events_ingest(records=MIXED, now=NOW)

    assert (result.accepted, result.duplicates, result.received) == (2, 1, 12)
    assert [(r.index + 1, r.field, r.reason) for r in result.rejected] == MIXED_REJECTED
    assert stored() == [
        ("llm-tokens", "up-1", Decimal("1000"), A_INPUT),
        ("llm-tokens", "up-6", Decimal("2500"), B_OUTPUT),
    ]


def test_ingest_of_the_same_records_again_stores_nothing(guide_at_now: Guide) -> None:
    events_ingest(records=MIXED, now=NOW)

    again = events_ingest(records=MIXED, now=NOW)

    assert (again.accepted, again.duplicates, len(again.rejected)) == (0, 3, 9)
    assert UsageEvent.objects.count() == 2


def test_a_duplicate_keeps_the_first_value_even_when_it_differs(guide_at_now: Guide) -> None:
    events_ingest(records=[record("same")], now=NOW)

    result = events_ingest(records=[record("same", value=999999)], now=NOW)

    assert (result.accepted, result.duplicates) == (0, 1)
    assert UsageEvent.objects.get().value == Decimal("1000")


def test_ingest_keeps_decimal_values_exact(guide_at_now: Guide) -> None:
    records = [record(f"tenth-{n}", value=Decimal("0.1")) for n in range(3)]

    events_ingest(records=records, now=NOW)

    assert {e.value for e in UsageEvent.objects.all()} == {Decimal("0.1")}
    events = meter_events(guide_at_now.llm_tokens, "test-customer", NOW - timedelta(days=1), None)
    [usage] = usage_partials(guide_at_now.llm_tokens, events)
    assert usage.quantity == Decimal("0.3")


def test_ingest_of_a_bad_record_from_the_reader_reports_its_reason(guide_at_now: Guide) -> None:
    result = events_ingest(records=[BadRecord("line is not valid JSON"), record("ok")], now=NOW)

    assert [(r.index, r.reason) for r in result.rejected] == [(0, "line is not valid JSON")]
    assert result.accepted == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "meterValue must not be negative"),
        (Decimal("0.0000000001"), "meterValue has more than 9 decimal places"),
        (Decimal("1e20"), "meterValue is too large: it must be below 1E+20"),
        (None, "meterValue is missing"),
        ([1000], "meterValue must be a finite number, got [1000]"),
    ],
)
def test_ingest_refuses_values_that_cannot_be_billed(
    guide_at_now: Guide, value: object, reason: str
) -> None:
    result = events_ingest(records=[record("v", value=value)], now=NOW)

    assert [r.reason for r in result.rejected] == [reason]
    assert not UsageEvent.objects.exists()


def test_an_event_slightly_ahead_of_the_server_clock_is_accepted(guide_at_now: Guide) -> None:
    ahead = record("skew", meterTimeInMillis=millis(NOW + timedelta(minutes=4)))

    assert events_ingest(records=[ahead], now=NOW).accepted == 1


def test_a_record_without_time_happens_now(guide_at_now: Guide) -> None:
    timeless = record("now")
    del timeless["meterTimeInMillis"]

    events_ingest(records=[timeless], now=NOW)

    assert UsageEvent.objects.get().event_time == NOW


def test_a_record_without_unique_id_is_stored_each_time_it_is_sent(guide_at_now: Guide) -> None:
    anonymous = record("x")
    del anonymous["uniqueId"]

    events_ingest(records=[anonymous], now=NOW)
    events_ingest(records=[anonymous], now=NOW)

    assert UsageEvent.objects.count() == 2
