"""Reading usage records from what people paste or upload: a JSON array or
object, NDJSON (one JSON object per line) or CSV. Pure, no ORM.

A document that cannot be read at all (broken JSON array, not UTF-8) raises
DocumentError. Inside NDJSON or CSV each line stands alone: a bad line becomes
a BadRecord at its position and the other lines are still read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class DocumentError(ValueError):
    """The whole document is unreadable; nothing in it was accepted."""


@dataclass(frozen=True)
class BadRecord:
    reason: str


def _reject_constant(name: str) -> Any:
    # json accepts NaN/Infinity by default; usage values must be finite numbers.
    raise ValueError(f"{name} is not a finite number")


def loads(text: str) -> Any:
    """json.loads with exact decimals (0.1 stays 0.1) and no NaN/Infinity."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError("The file is not UTF-8 text.") from exc


def parse_json(text: str) -> list[object]:
    try:
        document = loads(text)
    except ValueError as exc:
        raise DocumentError(f"Not valid JSON: {exc}") from exc
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise DocumentError("Expected a JSON array of usage records (or a single record object).")


def parse_ndjson(text: str) -> list[object]:
    records: list[object] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(loads(line))
        except ValueError as exc:
            records.append(BadRecord(f"line is not valid JSON: {exc}"))
    return records


CSV_DIMENSION_PREFIX = "dimensions."


def parse_csv(text: str) -> list[object]:
    """Columns: meterApiName, meterValue, customerId, meterTimeInMillis, uniqueId,
    and one `dimensions.<name>` column per dimension (an empty cell means absent)."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "meterValue" not in reader.fieldnames:
        raise DocumentError("The CSV needs a header row with at least a meterValue column.")
    records: list[object] = []
    for row in reader:
        if None in row:
            records.append(BadRecord("row has more cells than the header"))
            continue
        record: dict[str, object] = {}
        dimensions: dict[str, str] = {}
        for column, cell in row.items():
            if cell is None or cell == "":
                continue
            if column.startswith(CSV_DIMENSION_PREFIX):
                dimensions[column.removeprefix(CSV_DIMENSION_PREFIX)] = cell
            elif column == "meterValue":
                record[column] = _csv_number(cell)
            elif column == "meterTimeInMillis":
                record[column] = int(cell) if cell.strip().lstrip("-").isdigit() else cell
            else:
                record[column] = cell
        if dimensions:
            record["dimensions"] = dimensions
        records.append(record)
    return records


def _csv_number(cell: str) -> object:
    try:
        return loads(cell.strip())
    except ValueError:
        return cell  # left as text; validation rejects it with its reason


def parse_document(text: str, filename: str = "") -> list[object]:
    """Pick the format from the file name, else from the content."""
    name = filename.lower()
    if name.endswith(".csv"):
        return parse_csv(text)
    if name.endswith((".ndjson", ".jsonl")):
        return parse_ndjson(text)
    stripped = text.lstrip()
    if not stripped:
        raise DocumentError("There are no records: paste a JSON array or choose a file.")
    if stripped[0] == "[" or name.endswith(".json"):
        return parse_json(text)
    if stripped[0] == "{":
        try:
            return parse_json(text)  # one object, possibly pretty-printed
        except DocumentError:
            return parse_ndjson(text)
    return parse_csv(text)
