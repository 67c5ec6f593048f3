"""The native JSON API at /api/v1/ (docs/NATIVE_API.md), built with django-ninja.

The endpoints live beside their apps (`meters/rest.py`, `pricing/rest.py`,
`customers/rest.py`, `invoices/rest.py`, `invoices/credit_rest.py`,
`invoices/coupon_rest.py`); this module holds what they share:
the API key check, the JSON error shape and the parsing of request bodies.

Invariants:
- Every error is `{"errors": [{"field": "...", "reason": "..."}, ...]}`; `field`
  names where the problem is (`rates[0].price.unit_price`, `start_at`, `limit`),
  or is "" when it concerns the request as a whole.
- Request bodies are parsed with exact decimals (meters.records.loads), so a
  price written as a JSON number never passes through a float.
- The views authenticate with API keys, never sessions, so they are exempt from
  LoginRequiredMiddleware and CSRF. The docs page and the OpenAPI document are
  public: they describe the API, they hold no data.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.parser import Parser
from ninja.types import DictStrAny

from customers.models import Customer
from customers.rest import router as customers_router
from customers.services import customer_cost_plan_set
from invoices.commitment_rest import router as commitment_router
from invoices.coupon_rest import router as coupon_router
from invoices.credit_rest import router as credit_router
from invoices.margin_rest import router as margin_router
from invoices.rest import router as invoices_router
from meters.api_keys import KeyRefused
from meters.machine_http import FULL_ONLY, ApiKeyAuth
from meters.records import loads
from meters.rest import router as meters_router
from pricing.catalog_rest import router as catalog_router
from pricing.cost_rest import cost_plan_or_none
from pricing.cost_rest import router as cost_router
from pricing.rest import ObjectId
from pricing.rest import router as pricing_router
from pricing.schema import Problems

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Meters, plans and their rates, tax rates and coupons, customers with their
plan assignments, coupons and credit, usage events, and invoices as JSON.
See docs/NATIVE_API.md.

**Authentication**: send an API key (created under *API keys* in the app, or
with `manage.py create_api_key --name NAME --scope SCOPE`) in the `X-API-KEY` header, or as
`Authorization: Bearer <key>`. Without a valid key every endpoint answers 401.
A key's scope limits what it may do: `ingest` may only send events
(`POST /events`), `read` may call every GET, `full` may do everything; outside
its scope a key gets 403. After too many wrong keys from one address, every
request from it gets 429 with `Retry-After` until the minute is over.

**Errors** are JSON: `{"errors": [{"field": "start_at", "reason": "..."}]}`.
400: the request breaks a rule; 401: no valid key; 403: the key's scope does
not allow it; 404: no such object; 413: the body is over the size or record
limit; 422: a value has the wrong type; 429: too many wrong keys, wait.

**Money and quantities** are strings (`"0.14"`), never JSON numbers.
"""


class ExactParser(Parser):
    """JSON bodies with exact decimals (0.1 stays Decimal("0.1")) and no NaN."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        document: DictStrAny = loads(request.body.decode("utf-8"))
        return document


class TallyApi(NinjaAPI):
    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        # ninja does not mark its views, and the project runs
        # LoginRequiredMiddleware: without this every call would be
        # redirected to the login page. The API key check replaces it.
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                login_not_required(pattern.callback)
        return patterns, app_name, namespace

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__  # "customer_list", not "customers_rest_..."

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: DictStrAny | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Errors"] = ERRORS_SCHEMA
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault("default", DEFAULT_ERROR_RESPONSE)
        return schema


ERRORS_SCHEMA: dict[str, Any] = {
    "title": "Errors",
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": 'Where, e.g. "rates[0].price.unit_price"; '
                        '"" for the request as a whole.',
                    },
                    "reason": {"type": "string"},
                },
            },
        }
    },
}
DEFAULT_ERROR_RESPONSE: dict[str, Any] = {
    "description": "An error (400, 401, 403, 404, 413, 422, 429), each problem with its field "
    "and reason.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
}

# PUT /customers/{id}/cost-plan: here, not in customers.rest or
# pricing.cost_rest, because it needs both apps' rules; cost data, so `full`
# keys only, like every /cost-plans endpoint.
customer_cost_router = Router(tags=["cost plans"], auth=FULL_ONLY)


class CustomerCostPlanIn(Schema):
    cost_plan: int | None


class CustomerCostPlanOut(Schema):
    id: int
    cost_plan: int | None  # None: costed by the default cost plan


@customer_cost_router.put(
    "/customers/{id}/cost-plan",
    response=CustomerCostPlanOut,
    summary="Set a customer's own cost plan",
)
def customer_cost_plan_change(
    request: HttpRequest, pk: ObjectId, payload: CustomerCostPlanIn
) -> dict[str, Any]:
    """A cost plan's id, or null to cost the customer by the default one."""
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise Http404(f"No customer with id {pk}.")
    customer = customer_cost_plan_set(customer=customer, plan=cost_plan_or_none(payload.cost_plan))
    return {"id": customer.pk, "cost_plan": customer.cost_plan_id}


api = TallyApi(
    title="Tally API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=ApiKeyAuth(),
    parser=ExactParser(),
)
api.add_router("", meters_router)
api.add_router("", pricing_router)
api.add_router("", catalog_router)
api.add_router("", customers_router)
api.add_router("", invoices_router)
api.add_router("", credit_router)
api.add_router("", coupon_router)
api.add_router("", commitment_router)
api.add_router("", cost_router)
api.add_router("", customer_cost_router)
api.add_router("", margin_router)


def error_response(
    request: HttpRequest, status: int, errors: list[tuple[str, str]], **headers: str
) -> HttpResponse:
    body = {"errors": [{"field": field, "reason": reason} for field, reason in errors]}
    response = api.create_response(request, body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def field_path(loc: list[str | int] | tuple[str | int, ...]) -> str:
    """ninja's error location as a field path: ("body", "payload", "rates", 0,
    "meter") -> "rates[0].meter"; ("query", "limit") -> "limit"."""
    parts = list(loc)
    if parts[:1] == ["body"]:
        parts = parts[2:]  # "body" and the view's parameter name
    elif parts[:1] in (["query"], ["path"], ["header"], ["cookie"], ["form"]):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


@api.exception_handler(NinjaValidationError)
def _wrong_types(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [(field_path(e.get("loc", ())), str(e.get("msg", "is not valid"))) for e in exc.errors]
    return error_response(request, 422, errors)


@api.exception_handler(DjangoValidationError)
def _broken_rule(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            ("" if field == NON_FIELD_ERRORS else field, message)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [("", message) for message in exc.messages]
    return error_response(request, 400, errors)


@api.exception_handler(Problems)
def _bad_pricing(request: HttpRequest, exc: Problems) -> HttpResponse:
    return error_response(request, 400, [(p.path, p.message) for p in exc.problems])


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, [("", str(exc) or "Not found.")])


@api.exception_handler(AuthenticationError)
def _no_key(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    reason = "a valid API key is required in the X-API-KEY header (or Authorization: Bearer)"
    return error_response(
        request, 401, [("X-API-KEY", reason)], **{"WWW-Authenticate": 'Bearer realm="Tally API"'}
    )


@api.exception_handler(KeyRefused)
def _key_refused(request: HttpRequest, exc: KeyRefused) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="Tally API"'} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(request, exc.status, [("X-API-KEY", exc.message)], **headers)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja itself raises HttpError(400) only when it cannot parse the body.
    field = getattr(exc, "field", "body" if exc.status_code == 400 else "")
    return error_response(request, exc.status_code, [(field, str(exc))])


@api.exception_handler(Exception)
def _internal_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Anything unexpected: a client of a JSON API gets JSON, not Django's HTML
    # error page (nor, with DEBUG on, ninja's plain-text traceback); the
    # traceback goes to the log.
    logger.exception("Internal Server Error: %s", request.path, exc_info=exc)
    return error_response(request, 500, [("", "internal error; it has been logged")])
