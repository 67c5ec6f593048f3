"""Which version of a plan's prices bills a period. Pure: no ORM, no clock.

A plan's prices are versioned (as Orb and Metronome do). Version 1 holds the
prices the plan was created with and bills every period. While the plan has no
assignments, its prices are edited in place: nothing was billed by them. Once
it has one, each change to its rates (a rate added, changed or removed) makes
a new version, a complete copy of the prices with the change, effective from
the instant it was made (`effective_at`) in one of two ways:

- CURRENT_PERIOD: every period that had not ended by then, so the open
  period's draft is re-rated (and the periods after it);
- NEXT_PERIOD: every period that starts at or after it.

A period is billed by the highest-numbered version that takes it. Issued
invoices are stored and never re-rated, whatever version would now take their
period; a draft still in its grace period had ended before a CURRENT_PERIOD
change, so it keeps the prices it was running on.

A version is a whole price list: a CURRENT_PERIOD version made after a
NEXT_PERIOD one holds that earlier change too, and applies it to the current
period with its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class VersionStart(StrEnum):
    """The one definition: PlanVersion.starts is built from it."""

    ALWAYS = "always"
    CURRENT_PERIOD = "current_period"
    NEXT_PERIOD = "next_period"
    # A cost plan's: usage from that instant on is costed by it, whatever
    # period it falls in (a provider's price change starts on a date).
    FROM_INSTANT = "from_instant"

    @property
    def label(self) -> str:
        return VERSION_START_LABELS[self]


VERSION_START_LABELS = {
    VersionStart.ALWAYS: "From the plan's first period",
    VersionStart.CURRENT_PERIOD: "From the current period (re-rates open drafts)",
    VersionStart.NEXT_PERIOD: "From the next period",
    VersionStart.FROM_INSTANT: "From a date",
}
# The choices a change to a plan in use offers; the default keeps every bill
# already running on the prices it started with.
CHANGE_STARTS = (VersionStart.NEXT_PERIOD, VersionStart.CURRENT_PERIOD)
DEFAULT_CHANGE_START = VersionStart.NEXT_PERIOD


@dataclass(frozen=True)
class VersionRule:
    number: int
    starts: VersionStart
    effective_at: datetime


def takes(rule: VersionRule, start: datetime, end: datetime) -> bool:
    """Whether the version bills the period [start, end)."""
    match rule.starts:
        case VersionStart.ALWAYS:
            return True
        case VersionStart.CURRENT_PERIOD:
            return end > rule.effective_at
        case VersionStart.NEXT_PERIOD | VersionStart.FROM_INSTANT:
            return start >= rule.effective_at


def version_for_period(rules: Sequence[VersionRule], start: datetime, end: datetime) -> VersionRule:
    """The highest-numbered of `rules` that takes the period. Version 1 is
    ALWAYS, so there is one whenever the plan's first version is among them."""
    taking = [rule for rule in rules if takes(rule, start, end)]
    if not taking:
        raise ValueError("no version takes the period: the first version is missing")
    return max(taking, key=lambda rule: rule.number)


def cost_windows(
    rules: Sequence[VersionRule], start: datetime, end: datetime
) -> list[tuple[VersionRule, datetime, datetime]]:
    """A cost plan's versions over [start, end): the stretches of it, in
    order, each with the version that costs usage then. At an instant, that
    is the highest-numbered version in effect: version 1 always, a
    FROM_INSTANT version from its instant on (a later change may take effect
    earlier than an older one: the newer decision wins from its instant)."""
    if start >= end:
        return []
    cuts = sorted({start, end} | {r.effective_at for r in rules if start < r.effective_at < end})
    windows: list[tuple[VersionRule, datetime, datetime]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        rule = max(
            (r for r in rules if r.starts is VersionStart.ALWAYS or r.effective_at <= a),
            key=lambda r: r.number,
            default=None,
        )
        if rule is None:
            raise ValueError("no version costs the usage: the first version is missing")
        if windows and windows[-1][0] == rule:
            windows[-1] = (rule, windows[-1][1], b)
        else:
            windows.append((rule, a, b))
    return windows
