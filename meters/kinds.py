"""What kind of quantity a meter measures. Pure: no ORM.

The one definition of the meter types: Meter.MeterType is this enum, the
meter_type column's choices are built from it, and pricing.rating aggregates
by it (as `Aggregation`).
"""

from __future__ import annotations

from enum import StrEnum


class MeterType(StrEnum):
    COUNT = "count"  # the guide's "count": every event's meterValue adds up
    # Rating's name for COUNT (an alias: the same member, not a sixth type),
    # because what it does to the values is add them up.
    SUM = "count"
    EVENT_COUNT = "event_count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"

    @property
    def label(self) -> str:
        return METER_TYPE_LABELS[self]


METER_TYPE_LABELS = {
    MeterType.COUNT: "Count (sum of values)",
    MeterType.EVENT_COUNT: "Event count",
    MeterType.MAX: "Max in period",
    MeterType.UNIQUE_COUNT: "Unique count",
    MeterType.LATEST: "Latest value",
}
