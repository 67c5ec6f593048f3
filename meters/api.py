"""The ingestion endpoint machines send usage to: POST /ingest/ (and /ingest),
wire-compatible with Amberflo's SDK (../shared/COMPAT.md).

Answers: 200 with counts and every rejection (the SDK drops a batch on any 4xx
other than 429, so one bad record must not cost the good ones their place);
401 without a valid key; 400 for a body that is not JSON; 413 over the limits.
Every error is JSON naming the field and the reason.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from meters.api_keys import api_key_from_request
from meters.http_body import BadBody, BodyTooLarge, read_body
from meters.models import RejectedRecord
from meters.records import loads
from meters.services import events_ingest


def json_error(status: int, message: str, field: str = "") -> JsonResponse:
    body = {"error": message, "field": field} if field else {"error": message}
    return JsonResponse(body, status=status)


@login_not_required  # machines authenticate with an API key instead
@csrf_exempt
@require_POST
def ingest(request: HttpRequest) -> JsonResponse:
    if api_key_from_request(request) is None:
        return json_error(401, "a valid API key is required in the X-API-KEY header", "X-API-KEY")
    try:
        body = read_body(request, settings.INGEST_MAX_BYTES)
    except BodyTooLarge as exc:
        return json_error(413, f"{exc}; send smaller batches", "body")
    except BadBody as exc:
        return json_error(400, str(exc), "Content-Encoding")
    try:
        document = loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return json_error(400, f"the body is not valid JSON: {exc}", "body")
    records = [document] if isinstance(document, dict) else document
    if not isinstance(records, list):
        return json_error(400, "send a JSON array of meter records, or one record object", "body")
    if len(records) > settings.INGEST_MAX_RECORDS:
        message = f"{len(records):,} records is more than {settings.INGEST_MAX_RECORDS:,} a request"
        return json_error(413, message, "body")
    result = events_ingest(records=records, create_customers=True, source=RejectedRecord.Source.API)
    return JsonResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [
                {"index": r.index, "field": r.field, "reason": r.reason} for r in result.rejected
            ],
        }
    )
