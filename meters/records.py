"""Reading usage records from what people paste or upload: a JSON array or
object, NDJSON (one JSON object per line) or CSV. Pure, no ORM.

A document that cannot be read at all (broken JSON array, not UTF-8) raises
DocumentError. Inside NDJSON or CSV each line stands alone: a bad line becomes
a BadRecord at its position and the other lines are still read.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, Decimal, InvalidOperation
from difflib import get_close_matches
from typing import Any


class DocumentError(ValueError):
    """The whole document is unreadable; nothing in it was accepted."""


@dataclass(frozen=True)
class BadRecord:
    reason: str


def _reject_constant(name: str) -> Any:
    # json accepts NaN/Infinity by default; usage values must be finite numbers.
    raise ValueError(f"{name} is not a finite number")


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        # An exponent beyond Decimal's range (1e99999999999999999999): kept as
        # the nearest Decimal that says the same to validation (too large, or
        # too many decimal places), so one such record is rejected on its own
        # rather than failing the whole document.
        sign = "-" if text.startswith("-") else ""
        return Decimal(f"{sign}Infinity" if "-" not in text.lstrip("-") else f"{sign}1E-{MAX_EMAX}")


def _integer(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # longer than Python's int-from-text limit (4,300 digits)
        return Decimal(text)


def loads(text: str) -> Any:
    """json.loads with exact decimals (0.1 stays 0.1) and no NaN/Infinity.
    Any number reads (see _number/_integer); nesting too deep for the parser
    is a ValueError like any other unreadable JSON."""
    try:
        return json.loads(
            text, parse_float=_number, parse_int=_integer, parse_constant=_reject_constant
        )
    except RecursionError as exc:
        raise ValueError(f"{exc}: the JSON is nested too deeply") from exc


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


def _lines(text: str) -> Iterator[str]:
    """The lines of `text`, each with its line ending, one at a time: neither a
    list of all lines nor a copy of the text (io.StringIO would make one). Lines
    end at "\\n" (so also "\\r\\n") only: JSON strings may hold U+2028, which
    str.splitlines would split on."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end == -1 else end + 1
        yield text[start:end]
        start = end


def iter_ndjson(text: str) -> Iterator[object]:
    """One record per non-blank line, read lazily."""
    for line in _lines(text):
        if not line.strip():
            continue
        try:
            yield loads(line)
        except ValueError as exc:
            yield BadRecord(f"line is not valid JSON: {exc}")


def parse_ndjson(text: str) -> list[object]:
    return list(iter_ndjson(text))


CSV_DIMENSION_PREFIX = "dimensions."
CSV_COLUMNS = ("meterApiName", "meterValue", "customerId", "meterTimeInMillis", "uniqueId")


def _check_csv_header(header: list[str]) -> None:
    """Refuse a header naming a column we would not read, or one column twice.

    A misspelt column (`dimension.model`) would otherwise be dropped from every
    row without a word, and the usage stored without it; JSON records with an
    unknown dimension are refused too, so a CSV is held to the same standard.
    """
    unknown = [c for c in header if c not in CSV_COLUMNS and not _is_dimension_column(c)]
    named = "; ".join(_unknown_column(c) for c in unknown)
    if "meterValue" not in header:
        raise DocumentError(
            "The CSV needs a header row with at least a meterValue column."
            + (f" Not a column we read: {named}." if unknown else "")
        )
    if unknown:
        raise DocumentError(
            f"The CSV header has {'an unknown column' if len(unknown) == 1 else 'unknown columns'}"
            f": {named}. Columns are {', '.join(CSV_COLUMNS)} and "
            f"{CSV_DIMENSION_PREFIX}<name> for each dimension."
        )
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DocumentError(
            f"The CSV header names {', '.join(repr(c) for c in repeated)} more than once."
        )


def _is_dimension_column(column: str) -> bool:
    return column.startswith(CSV_DIMENSION_PREFIX) and column != CSV_DIMENSION_PREFIX


def _unknown_column(column: str) -> str:
    """`'dimension.model' (did you mean 'dimensions.model'?)`, when a guess is close."""
    if not column:
        return "a column with no name"
    prefix, dot, rest = column.partition(".")
    if dot and rest and get_close_matches(prefix.lower(), ["dimensions"], cutoff=0.7):
        guess: str | None = CSV_DIMENSION_PREFIX + rest
    else:
        by_lower = {c.lower(): c for c in CSV_COLUMNS}
        close = get_close_matches(column.lower(), list(by_lower), n=1, cutoff=0.75)
        guess = by_lower[close[0]] if close else None
    return f"{column!r} (did you mean {guess!r}?)" if guess else repr(column)


def iter_csv(text: str) -> Iterator[object]:
    """Columns: meterApiName, meterValue, customerId, meterTimeInMillis, uniqueId,
    and one `dimensions.<name>` column per dimension (an empty cell means absent).
    Header names are read with surrounding spaces removed; blank rows are skipped.
    Rows are read lazily, so a caller can stop at a record limit."""
    reader = csv.reader(_lines(text))
    header = [name.strip() for name in next(reader, [])]
    _check_csv_header(header)
    for row in reader:
        if not row:
            continue
        if len(row) > len(header):
            yield BadRecord("row has more cells than the header")
            continue
        record: dict[str, object] = {}
        dimensions: dict[str, str] = {}
        for column, cell in zip(header, row, strict=False):
            if cell == "":
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
        yield record


def parse_csv(text: str) -> list[object]:
    return list(iter_csv(text))


def _csv_number(cell: str) -> object:
    try:
        return loads(cell.strip())
    except ValueError:
        return cell  # left as text; validation rejects it with its reason


def parse_document(
    text: str, filename: str = "", *, max_records: int | None = None
) -> list[object]:
    """Pick the format from the file name, else from the content.

    With `max_records`, reading stops at the first record past the limit and
    the document is refused: NDJSON and CSV are counted line by line, so a
    million-row file is not read whole first (a JSON array is counted once it
    is parsed; its size is already bounded by the upload's byte limit).
    """
    records: list[object] = []
    for record in _iter_document(text, filename.lower()):
        records.append(record)
        if max_records is not None and len(records) > max_records:
            raise DocumentError(
                f"More than {max_records:,} records: one upload may hold at most "
                f"{max_records:,}; split it into smaller files."
            )
    return records


def _iter_document(text: str, name: str) -> Iterable[object]:
    if name.endswith(".csv"):
        return iter_csv(text)
    if name.endswith((".ndjson", ".jsonl")):
        return iter_ndjson(text)
    stripped = text.lstrip()
    if not stripped:
        raise DocumentError("There are no records: paste a JSON array or choose a file.")
    if stripped[0] == "[" or name.endswith(".json"):
        return parse_json(text)
    if stripped[0] == "{":
        try:
            return parse_json(text)  # one object, possibly pretty-printed
        except DocumentError:
            return iter_ndjson(text)
    return iter_csv(text)


UPLOAD_KEY_PREFIX = "upload:"


def upload_keys(
    records: Sequence[object], document: str, *, default_customer_id: str | None = None
) -> list[object]:
    """The records, each one without a uniqueId given a key derived from the
    upload: `upload:<digest>:<position>`, so uploading the same text or file
    again is recognized and counts nothing twice.

    `<position>` is the record's 1-based position in the document (the "Record
    #" the upload report shows). `<digest>` is the first 32 hex digits of the
    SHA-256 of the document's text, normalized so the same content gives the
    same digest however it arrived: decoded from UTF-8 (a byte-order mark
    dropped), line endings made `\\n` (browsers send a textarea with `\\r\\n`),
    surrounding whitespace removed. Pasting a file's content and uploading the
    file are the same upload. For a record that takes its customer from the
    upload's picker, the picked customer ID is hashed in too, so the same text
    uploaded for another customer is new usage. The meter needs no such care: a
    key is unique per meter. Any edit to the document (a row added, a value
    changed) makes a new digest, hence new keys; records that must be
    recognized across edited files need their own uniqueId. A record that has a
    uniqueId (not empty or blank) keeps it.
    """
    text = document.replace("\r\n", "\n").replace("\r", "\n").strip()
    plain = _digest(text)
    picked = _digest(f"{text}\0customer:{default_customer_id}") if default_customer_id else plain
    keyed: list[object] = []
    for position, record in enumerate(records, start=1):
        if isinstance(record, dict) and _is_blank(record.get("uniqueId")):
            digest = picked if _is_blank(record.get("customerId")) else plain
            record = {**record, "uniqueId": f"{UPLOAD_KEY_PREFIX}{digest}:{position}"}
        keyed.append(record)
    return keyed


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _is_blank(value: object) -> bool:
    """Missing the way validation reads it: absent, null, or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())
