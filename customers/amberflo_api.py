"""Amberflo-compatible customers: GET/POST/PUT /amberflo/customers/
(../shared/COMPAT.md), what the SDK's CustomerApiClient calls.

- GET lists every customer; GET ?customerId=X answers that customer, or 200
  `{}` when there is none (the SDK raises on a 404, and its add_or_update
  decides between POST and PUT by whether the answer has a customerId).
- POST and PUT both create the customer or replace all of its fields (PUT
  semantics: an absent email becomes empty, absent traits become {}, absent
  enabled becomes true). A POST for an existing customerId is therefore not an
  error: a create that is retried after a lost answer, or a customer that
  ingestion created first (from a customerId that arrived with usage), ends as
  the customer described, and the answer is 200 with it.
  ?autoCreateCustomerInStripe=true is accepted and ignored.
- Writing a customer clears its "created by ingestion" mark.

Scopes: the SDK's add_or_update (GET one customer, then POST or PUT) is part of
ingesting, so an `ingest` key may look one customer up and write customers; a
`read` key may look up and list; listing every customer is a read only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse

from customers.models import Customer
from customers.services import customer_replace
from meters.machine_http import BadRequest, machine_api, read_json
from meters.models import ApiKey
from meters.validation import EPOCH

MILLISECOND = timedelta(milliseconds=1)
# Model field -> the API's name for it, to name the field in a 400.
API_FIELDS = {
    "customer_id": "customerId",
    "name": "customerName",
    "email": "customerEmail",
    "enabled": "enabled",
    "traits": "traits",
}


def customer_json(customer: Customer) -> dict[str, object]:
    return {
        "id": customer.customer_id,
        "customerId": customer.customer_id,
        "customerName": customer.name,
        "customerEmail": customer.email or None,
        "enabled": customer.enabled,
        "traits": customer.traits,
        "createTime": (customer.created_at - EPOCH) // MILLISECOND,
        # Tally's own: created from a customerId that arrived with usage.
        "createdByIngestion": customer.created_by_ingestion,
    }


def customers_scopes(request: HttpRequest) -> tuple[ApiKey.Scope, ...]:
    if request.method not in ("GET", "HEAD"):
        return (ApiKey.Scope.INGEST,)
    if "customerId" in request.GET:
        return (ApiKey.Scope.INGEST, ApiKey.Scope.READ)
    return (ApiKey.Scope.READ,)


@machine_api("GET", "POST", "PUT", scope=customers_scopes)
def customers(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        return _get(request)
    given = parse_customer(read_json(request))
    try:
        customer, _created = customer_replace(
            customer_id=given.customer_id,
            name=given.name,
            email=given.email,
            enabled=given.enabled,
            traits=given.traits,
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise BadRequest(API_FIELDS.get(field, field), " ".join(messages)) from exc
    return JsonResponse(customer_json(customer))


def _get(request: HttpRequest) -> HttpResponse:
    if "customerId" not in request.GET:
        everyone = Customer.objects.order_by("customer_id")
        return JsonResponse([customer_json(c) for c in everyone], safe=False)
    customer_id = request.GET["customerId"].strip()
    if not customer_id:
        raise BadRequest("customerId", "customerId is empty")
    customer = Customer.objects.filter(customer_id=customer_id).first()
    return JsonResponse(customer_json(customer) if customer else {})


@dataclass(frozen=True)
class CustomerPayload:
    customer_id: str
    name: str
    email: str
    enabled: bool
    traits: dict[str, str]


def parse_customer(raw: object) -> CustomerPayload:
    """An Amberflo customer payload, checked; BadRequest names the first bad
    field. The model's own checks (lengths, email syntax) run in the service."""
    if not isinstance(raw, dict):
        raise BadRequest("body", "send a JSON object with customerId and customerName")
    customer_id = _required_text(raw, "customerId")
    name = _required_text(raw, "customerName")
    email = raw.get("customerEmail")
    if email is not None and not isinstance(email, str):
        raise BadRequest("customerEmail", "customerEmail must be a string")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled", "enabled must be true or false")
    traits = raw.get("traits")
    if traits is None:
        traits = {}
    if not isinstance(traits, dict) or not all(isinstance(v, str) for v in traits.values()):
        raise BadRequest("traits", "traits must be an object of name to string value")
    traits = {str(k): str(v) for k, v in traits.items()}
    return CustomerPayload(customer_id, name, (email or "").strip(), enabled, traits)


def _required_text(raw: dict[str, object], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(field, f"{field} is required (a non-empty string)")
    return value.strip()
