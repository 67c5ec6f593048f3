"""The rules a customer's ID and name follow, whichever door they come
through (the create page, the native API, the Amberflo-compatible API, the
admin). Pure, no ORM.

A customer ID is what usage events send as customerId, and ingestion strips
it and allows at most MAX_CUSTOMER_ID characters (meters.validation): so a
stored ID is stripped too (one with surrounding spaces could never be
matched), never empty, within that length, and without control characters
(PostgreSQL refuses NUL; the others cannot be typed or seen).
"""

from __future__ import annotations

from meters.meter_rules import has_control_characters
from meters.validation import MAX_ID_LENGTH

MAX_CUSTOMER_ID = MAX_ID_LENGTH
MAX_CUSTOMER_NAME = 200  # Customer.name's column


def customer_id_problem(customer_id: str) -> str:
    """Why `customer_id` (already stripped) cannot be stored; "" if it can."""
    if not customer_id:
        return "A customer ID is required."
    if len(customer_id) > MAX_CUSTOMER_ID:
        return f"A customer ID has at most {MAX_CUSTOMER_ID} characters."
    if has_control_characters(customer_id):
        return "A customer ID must not contain control characters."
    return ""


def customer_name_problem(name: str) -> str:
    """Why `name` (already stripped) cannot be stored; "" if it can."""
    if not name:
        return "A customer name is required."
    if len(name) > MAX_CUSTOMER_NAME:
        return f"A customer name has at most {MAX_CUSTOMER_NAME} characters."
    if has_control_characters(name):
        return "A customer name must not contain control characters."
    return ""


def customer_problems(*, customer_id: str, name: str) -> dict[str, str]:
    """Each broken rule's message by field name, for stripped values."""
    problems = {
        "customer_id": customer_id_problem(customer_id),
        "name": customer_name_problem(name),
    }
    return {field: message for field, message in problems.items() if message}
