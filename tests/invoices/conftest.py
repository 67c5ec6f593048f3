"""The guide's scenario on a fixed day, for the invoice page and PDF tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from time_machine import TimeMachineFixture

from tests.factories import Guide, guide_setup

# Mid-March 2025: the guide's plan runs from 1 March, the current period.
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine: TimeMachineFixture) -> datetime:
    """Freeze the clock the views read; returns the frozen instant."""
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def guide(db: None, now: datetime) -> Guide:
    """The guide's steps 1 to 6: test-customer on the Chatbot Usage Plan since
    1 March, with 1000 tokens for three model/type combinations and 10 API calls."""
    return guide_setup(now)
