"""The ingestion endpoint machines send usage to: POST /ingest/ (and /ingest),
wire-compatible with Amberflo's SDK (../shared/COMPAT.md).

Answers: 200 with counts and every rejection (the SDK drops a batch on any 4xx
other than 429, so one bad record must not cost the good ones their place);
401 without a valid key; 400 for a body that is not JSON; 413 over the limits.
Every error is JSON naming the field and the reason.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from meters.machine_http import machine_api, read_records
from meters.models import ApiKey, RejectedRecord
from meters.services import events_ingest


@machine_api("POST", scope=ApiKey.Scope.INGEST)
def ingest(request: HttpRequest) -> HttpResponse:
    result = events_ingest(
        records=read_records(request), create_customers=True, source=RejectedRecord.Source.API
    )
    return JsonResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [
                {"index": r.index, "field": r.field, "reason": r.reason} for r in result.rejected
            ],
        }
    )
