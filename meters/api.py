"""The ingestion endpoint machines send usage to: POST /ingest/ (and /ingest),
wire-compatible with Amberflo's SDK (../shared/COMPAT.md).

Answers: 200 with counts and every rejection (the SDK drops a batch on any 4xx
other than 429, so one bad record must not cost the good ones their place);
401 without a valid key; 400 for a body that is not JSON; 413 over the limits.
Every error is JSON naming the field and the reason.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from meters.machine_http import BadRequest, machine_api, read_json
from meters.models import RejectedRecord
from meters.services import events_ingest


@machine_api("POST")
def ingest(request: HttpRequest) -> HttpResponse:
    document = read_json(request, limit=settings.INGEST_MAX_BYTES)
    records = [document] if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise BadRequest("body", "send a JSON array of meter records, or one record object")
    if len(records) > settings.INGEST_MAX_RECORDS:
        message = f"{len(records):,} records is more than {settings.INGEST_MAX_RECORDS:,} a request"
        raise BadRequest("body", message, status=413)
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
