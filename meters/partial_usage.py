"""Usage as meters hand it to rating: one row of a grouped query. Pure: no ORM.

meters.selectors builds these and pricing.rating.project_usage consumes them
(rating re-exports the class), so it is defined here, below pricing, like the
meter types it is aggregated by (meters/kinds.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class PartialUsage:
    """Usage for one canonical dimension combination, as one grouped query row.

    `quantity` is the group's aggregate (sum, count or max); LATEST groups also
    carry the time of their latest event, UNIQUE_COUNT groups their distinct values.
    """

    dimensions: Mapping[str, str]
    quantity: Decimal
    latest_at: datetime | None = None
    distinct_values: frozenset[str] = frozenset()
