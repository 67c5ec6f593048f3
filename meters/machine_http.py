"""The small machinery every endpoint for machines shares: API-key auth with
scopes and a limit on wrong keys (meters.api_keys), no login or CSRF, JSON
errors naming the field, bounded (optionally gzip) JSON bodies with exact
decimals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja.security import APIKeyHeader

from meters.api_keys import KeyRefused, api_key_authorize
from meters.http_body import BadBody, BodyTooLarge, read_body
from meters.models import ApiKey
from meters.records import loads

MAX_BODY_BYTES = 1024 * 1024
INTERNAL_ERROR = "internal error; it has been logged"
logger = logging.getLogger(__name__)


def json_error(status: int, message: str, field: str = "") -> JsonResponse:
    body = {"error": message, "field": field} if field else {"error": message}
    return JsonResponse(body, status=status)


class BadRequest(Exception):
    """Answered as JSON {"error": message, "field": field} with `status`."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


View = Callable[[HttpRequest], HttpResponse]
# The scopes a key needs for a request (a `full` key can always).
ScopeRule = ApiKey.Scope | Callable[[HttpRequest], tuple[ApiKey.Scope, ...]]


def key_refused_response(exc: KeyRefused) -> JsonResponse:
    response = json_error(exc.status, exc.message, "X-API-KEY")
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def machine_api(*methods: str, scope: ScopeRule) -> Callable[[View], View]:
    """An endpoint for machines: no login or CSRF (an API key whose scope
    `scope` accepts, or a `full` key, instead), only `methods`, and every error
    a JSON body naming the field."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorate(view: View) -> View:
        @wraps(view)
        def endpoint(request: HttpRequest) -> HttpResponse:
            if request.method not in allowed:
                response = json_error(405, f"use {' or '.join(methods)}", "method")
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            scopes = scope(request) if callable(scope) else (scope,)
            try:
                api_key_authorize(request, scopes=scopes)
            except KeyRefused as exc:
                return key_refused_response(exc)
            try:
                return view(request)
            except BadRequest as exc:
                return json_error(exc.status, exc.message, exc.field)
            except Exception:
                # A machine parses JSON, not Django's HTML error page; the
                # traceback goes to the log, never to the caller.
                logger.exception("Internal Server Error: %s", request.path)
                return json_error(500, INTERNAL_ERROR)

        return login_not_required(csrf_exempt(endpoint))

    return decorate


class ApiKeyAuth(APIKeyHeader):
    """The native API's key check (billing_site/api.py): an active key in
    `X-API-KEY` or `Authorization: Bearer` whose scope the operation accepts.
    By default reads (GET) need `read` and writes need `full`; an operation
    that accepts other scopes passes its own `ApiKeyAuth(scopes=...)`.
    Raises KeyRefused (401, 403, 429), which the API answers as JSON."""

    param_name = "X-API-KEY"

    def __init__(self, scopes: tuple[ApiKey.Scope, ...] | None = None) -> None:
        self.scopes = scopes
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey:
        scopes = self.scopes
        if scopes is None:
            reads = request.method in ("GET", "HEAD")
            scopes = (ApiKey.Scope.READ,) if reads else (ApiKey.Scope.FULL,)
        return api_key_authorize(request, scopes=scopes)


# Operations that only `full` keys may call, reads included: cost data
# (cost plans, margins), which a `read` key must never see.
FULL_ONLY = ApiKeyAuth(scopes=(ApiKey.Scope.FULL,))


def read_json(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> Any:
    """The request body as JSON (plain or gzip), floats as exact Decimals."""
    try:
        body = read_body(request, limit)
    except BodyTooLarge as exc:
        raise BadRequest("body", f"{exc}; send smaller batches", status=413) from exc
    except BadBody as exc:
        raise BadRequest("Content-Encoding", str(exc)) from exc
    try:
        return loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("body", f"the body is not valid JSON: {exc}") from exc


def read_records(request: HttpRequest) -> list[object]:
    """The usage records of an ingestion request (/ingest/, /api/v1/events):
    a JSON array or one record object, plain or gzip, within INGEST_MAX_BYTES
    and INGEST_MAX_RECORDS. Each record is checked later, on its own."""
    document = read_json(request, limit=settings.INGEST_MAX_BYTES)
    records = [document] if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise BadRequest("body", "send a JSON array of usage records, or one record object")
    if len(records) > settings.INGEST_MAX_RECORDS:
        message = f"{len(records):,} records is more than {settings.INGEST_MAX_RECORDS:,} a request"
        raise BadRequest("body", message, status=413)
    return records


def json_number(quantity: Decimal) -> int | float:
    """A usage quantity for JSON: exact when whole, else the nearest float."""
    if quantity == quantity.to_integral_value():
        return int(quantity)
    return float(quantity)
