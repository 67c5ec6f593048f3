"""The rules a meter's fields must follow, whichever door it comes through
(the create page, the native API, the admin). Pure, no ORM.

`check_meter` takes the fields as received and answers the normalized fields
and, per field, the first rule they break. meters.services.meter_create
refuses anything with a problem, so a door that forgets to call this still
cannot store a meter the page would refuse.

Invariants of a stored meter:
- the label is 1 to MAX_LABEL characters after stripping, without control
  characters;
- the API name is a slug (meters.naming.API_NAME_PATTERN), at most
  MAX_API_NAME characters;
- at most MAX_DIMENSIONS dimension names, each matching DIMENSION_NAME_PATTERN
  (so it needs no escaping in a dimension key or a URL), at most
  MAX_DIMENSION_NAME characters, and no two equal ignoring case (events
  address dimensions by exact name, so "Model" beside "model" could only be a
  mistake);
- a unique-count meter counts one of its own dimensions; any other meter
  counts none, and one sent with any other type is refused rather than
  dropped (a sender whose field is silently ignored would believe it counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meters.kinds import MeterType
from meters.naming import API_NAME_PATTERN, DIMENSION_NAME_PATTERN

# The columns' sizes (meters.models.Meter): label and api_name are
# varchar(100), and a dimension name must fit unique_dimension's varchar(100).
MAX_LABEL = 100
MAX_API_NAME = 100
MAX_DIMENSION_NAME = 100
# Each dimension multiplies a rate's pricing matrix; 20 is far more than any
# real meter needs and keeps an event's dimension key well inside its column.
MAX_DIMENSIONS = 20

NOT_COUNTED_MESSAGE = "Only a unique-count meter counts a dimension: leave this empty."
API_NAME_MESSAGE = "Use lowercase letters, digits and single hyphens, e.g. “llm-tokens”."


@dataclass(frozen=True)
class MeterFields:
    label: str
    api_name: str
    meter_type: str
    dimensions: list[str]
    unique_dimension: str


# Unicode's control characters (category Cc) are exactly C0, DEL and C1; one
# compiled class is checked in C, which matters on the ingestion hot path
# (every record's customerId), where a per-character category lookup was 12 %
# of a request's time.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (NUL, tab, newline, DEL...):
    PostgreSQL refuses NUL outright, and the others cannot be typed or seen."""
    return CONTROL_CHARACTERS.search(text) is not None


def check_meter(
    *,
    label: str,
    api_name: str,
    meter_type: str,
    dimensions: object,
    unique_dimension: str = "",
) -> tuple[MeterFields, dict[str, str]]:
    """The normalized fields, and each broken rule's message by field name
    (empty when the meter may be stored)."""
    problems: dict[str, str] = {}
    label = label.strip()
    if label_problem := _label_problem(label):
        problems["label"] = label_problem
    api_name = api_name.strip()
    if api_name_problem := _api_name_problem(api_name):
        problems["api_name"] = api_name_problem
    names, dimensions_problem = _dimensions(dimensions)
    if dimensions_problem:
        problems["dimensions"] = dimensions_problem
    counted = unique_dimension.strip()
    if meter_type == MeterType.UNIQUE_COUNT and not counted:
        problems["unique_dimension"] = "Name the dimension whose values are counted."
    elif counted and meter_type != MeterType.UNIQUE_COUNT:
        problems["unique_dimension"] = NOT_COUNTED_MESSAGE
    elif counted and not dimensions_problem and counted not in names:
        problems["unique_dimension"] = "This must be one of the meter's dimensions."
    fields = MeterFields(label, api_name, meter_type, names, counted)
    return fields, problems


def _label_problem(label: str) -> str:
    if not label:
        return "Give the meter a label."
    if len(label) > MAX_LABEL:
        return f"A label has at most {MAX_LABEL} characters."
    if has_control_characters(label):
        return "A label must not contain control characters."
    return ""


def _api_name_problem(api_name: str) -> str:
    if not api_name:
        return "Give the meter an API name."
    if len(api_name) > MAX_API_NAME:
        return f"An API name has at most {MAX_API_NAME} characters."
    if not re.fullmatch(API_NAME_PATTERN, api_name):
        return API_NAME_MESSAGE
    return ""


def _dimensions(raw: object) -> tuple[list[str], str]:
    """The dimension names stripped, and the first rule they break ("" if none)."""
    if not isinstance(raw, list | tuple) or not all(isinstance(n, str) for n in raw):
        return [], "Dimensions are a list of names."
    names = [n.strip() for n in raw]
    if len(names) > MAX_DIMENSIONS:
        return names, f"A meter has at most {MAX_DIMENSIONS} dimensions."
    seen: dict[str, str] = {}
    for name in names:
        if not name:
            return names, "A dimension name is empty."
        if len(name) > MAX_DIMENSION_NAME:
            return names, f"A dimension name has at most {MAX_DIMENSION_NAME} characters."
        if not re.fullmatch(DIMENSION_NAME_PATTERN, name):
            return names, (
                f"“{name}” is not a valid dimension name: start with a letter; use "
                "letters, digits, “_”, “-” or “.”."
            )
        earlier = seen.get(name.casefold())
        if earlier == name:
            return names, f"The dimension “{name}” is listed twice."
        if earlier is not None:
            return names, f"The dimensions “{earlier}” and “{name}” differ only in case."
        seen[name.casefold()] = name
    return names, ""
