"""Writing usage events fast, exactly once.

One statement per batch inserts every event whose (meter, unique_id) is new
and skips the rest, and says how many it inserted — so the accepted and
duplicate counts are exact even when several processes send the same records
at once (the unique constraint decides; nothing is checked-then-written).
PostgreSQL: INSERT … SELECT FROM jsonb_to_recordset(one JSON document) ON CONFLICT DO NOTHING.
SQLite: executemany of INSERT OR IGNORE.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from meters.models import UsageEvent
from meters.validation import ValidEvent

TABLE = UsageEvent._meta.db_table
COLUMNS = (
    "meter_id, customer_id, value, event_time, dimensions, dimension_key, unique_id, received_at"
)
CHUNK = 5000

# The batch travels as one JSON document, which json.dumps writes in C; seven
# parameter arrays cost psycopg a Python loop per element to quote, a fifth of a
# 1,000-record request. Values go as text (exact decimals, ISO times) and
# PostgreSQL reads each with its column type's own input function.
POSTGRES_INSERT = f"""
    INSERT INTO {TABLE} ({COLUMNS})
    SELECT x.m, x.c, x.v, x.t, x.d, x.k, x.u, %s
    FROM jsonb_to_recordset(%s::jsonb)
        AS x(m bigint, c text, v numeric, t timestamptz, d jsonb, k text, u text)
    ON CONFLICT (meter_id, unique_id) DO NOTHING
"""
SQLITE_INSERT = f"INSERT OR IGNORE INTO {TABLE} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"


def unique_in_batch(events: Sequence[ValidEvent]) -> list[ValidEvent]:
    """The first of each (meter, unique_id) in the batch; later copies are duplicates."""
    seen: dict[tuple[int, str], ValidEvent] = {}
    for event in events:
        seen.setdefault((event.meter_id, event.unique_id), event)
    return list(seen.values())


def insert_new(events: Sequence[ValidEvent], received_at: datetime) -> int:
    """Insert the events not stored yet; returns how many were inserted.

    Rows go in (meter, unique_id) order, so two requests carrying the same
    records in different orders take their index locks in the same order and
    cannot deadlock each other on PostgreSQL. All of them or none: on
    PostgreSQL a batch of up to CHUNK events is one statement, atomic on its
    own, so it needs no BEGIN and COMMIT round trips (a third of a 100-record
    request's time in the database); anything else runs in one transaction.
    """
    events = sorted(events, key=lambda e: (e.meter_id, e.unique_id))
    if not events:
        return 0
    if connection.vendor == "postgresql" and len(events) <= CHUNK:
        return _insert_postgres(events, received_at)
    with transaction.atomic():
        inserted = 0
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            if connection.vendor == "postgresql":
                inserted += _insert_postgres(chunk, received_at)
            else:
                inserted += _insert_sqlite(chunk, received_at)
        return inserted


def _insert_postgres(events: Sequence[ValidEvent], received_at: datetime) -> int:
    with connection.cursor() as cursor:
        rows = [
            {
                "m": e.meter_id,
                "c": e.customer_id,
                "v": str(e.value),
                "t": e.event_time.isoformat(),
                "d": e.dimensions,
                "k": e.dimension_key,
                "u": e.unique_id,
            }
            for e in events
        ]
        cursor.execute(POSTGRES_INSERT, [received_at, json.dumps(rows)])
        return int(cursor.rowcount)


def _insert_sqlite(events: Sequence[ValidEvent], received_at: datetime) -> int:
    ops = connection.ops
    # The column's own text form (meters/fields.py): every digit, as the ORM writes it.
    value_text = UsageEvent._meta.get_field("value").get_db_prep_save
    received = ops.adapt_datetimefield_value(received_at)
    rows = [
        (
            e.meter_id,
            e.customer_id,
            value_text(e.value, connection),
            ops.adapt_datetimefield_value(e.event_time),
            json.dumps(e.dimensions),
            e.dimension_key,
            e.unique_id,
            received,
        )
        for e in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(SQLITE_INSERT, rows)
        return int(cursor.rowcount)
