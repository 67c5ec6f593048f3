"""Period close in the background: the task through the real database backend
and worker, the schedule that enqueues it, and the close_periods command."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import QuerySet
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from time_machine import TimeMachineFixture

from invoices.closing import CloseReport
from invoices.tasks import (
    ABANDONED_AFTER,
    FINISHED_CLOSES_KEPT,
    ScheduleCheck,
    close_periods_schedule,
    close_periods_task,
)

NOW = datetime(2025, 4, 1, 0, 5, tzinfo=UTC)
EVERY = timedelta(minutes=5)
REPORT_FIELDS = {field.name for field in fields(CloseReport)}


def _closes() -> QuerySet[DBTaskResult]:
    return DBTaskResult.objects.filter(task_path=close_periods_task.module_path)


def _tick() -> ScheduleCheck:
    return close_periods_schedule(now=timezone.now(), every=EVERY)


@pytest.fixture
def worker_signals_restored() -> Iterator[None]:
    """The worker installs its own SIGINT/SIGTERM/SIGQUIT handlers (graceful
    shutdown); give the test process its own back afterwards."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
    saved = {signum: signal.getsignal(signum) for signum in handled}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _run_worker_once(command: str) -> str:
    """Run a worker in this process until the queue is empty."""
    out = StringIO()
    call_command(command, batch=True, reload=False, startup_delay=False, stdout=out, stderr=out)
    return out.getvalue()


# The task through the real backend and worker


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_signals_restored")
def test_worker_runs_an_enqueued_close_and_stores_its_report() -> None:
    result = close_periods_task.enqueue()
    assert result.status == TaskResultStatus.READY

    _run_worker_once("db_worker")

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    # Stored as JSON and read back: the report's fields, nothing to close yet.
    assert set(result.return_value) == REPORT_FIELDS
    assert result.return_value["drafts_created"] == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_signals_restored")
def test_run_worker_closes_periods_with_no_task_enqueued_by_hand(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(NOW, tick=False)

    _run_worker_once("run_worker")

    [close] = _closes()
    assert close.status == TaskResultStatus.SUCCESSFUL
    assert set(close.return_value) == REPORT_FIELDS

    # Started again within the cadence: no second close.
    time_machine.move_to(NOW + EVERY / 2, tick=False)
    _run_worker_once("run_worker")
    assert _closes().count() == 1


# The schedule


@pytest.mark.django_db
def test_two_ticks_queue_one_close() -> None:
    first = _tick()
    second = _tick()

    assert first.enqueued_id is not None
    assert second.enqueued_id is None
    assert list(_closes().values_list("status", flat=True)) == [TaskResultStatus.READY]


@pytest.mark.django_db
def test_no_close_is_queued_beside_a_running_one(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    _tick()
    _closes().update(status=TaskResultStatus.RUNNING, started_at=NOW)

    time_machine.move_to(NOW + ABANDONED_AFTER - timedelta(seconds=1), tick=False)
    assert _tick().enqueued_id is None
    assert _closes().count() == 1


@pytest.mark.django_db
def test_a_close_abandoned_mid_run_does_not_stop_the_schedule(
    time_machine: TimeMachineFixture,
) -> None:
    # Its worker was killed: the row says RUNNING and always will.
    time_machine.move_to(NOW, tick=False)
    _tick()
    _closes().update(status=TaskResultStatus.RUNNING, started_at=NOW)

    time_machine.move_to(NOW + ABANDONED_AFTER, tick=False)
    assert _tick().enqueued_id is not None
    assert _closes().filter(status=TaskResultStatus.READY).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", [TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED])
def test_the_next_close_is_due_one_cadence_after_the_last_was_enqueued(
    time_machine: TimeMachineFixture, outcome: TaskResultStatus
) -> None:
    time_machine.move_to(NOW, tick=False)
    _tick()
    # A failed close is finished like a successful one: the schedule goes on.
    _closes().update(status=outcome, started_at=NOW, finished_at=NOW + timedelta(seconds=3))

    time_machine.move_to(NOW + EVERY - timedelta(seconds=1), tick=False)
    early = _tick()
    assert early.enqueued_id is None
    assert early.next_check_at == NOW + EVERY

    time_machine.move_to(NOW + EVERY, tick=False)
    due = _tick()
    assert due.enqueued_id is not None
    assert due.next_check_at == NOW + 2 * EVERY
    assert _closes().filter(status=TaskResultStatus.READY).count() == 1


@pytest.mark.django_db
def test_finished_closes_are_deleted_after_two_weeks(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)
    _tick()
    _closes().update(status=TaskResultStatus.SUCCESSFUL, finished_at=NOW)
    time_machine.move_to(NOW + timedelta(days=1), tick=False)
    _tick()
    _closes().filter(status=TaskResultStatus.READY).update(
        status=TaskResultStatus.FAILED, finished_at=timezone.now()
    )
    assert _closes().count() == 2

    time_machine.move_to(NOW + FINISHED_CLOSES_KEPT + timedelta(seconds=1), tick=False)
    _tick()

    # The first close is gone; the recent failure and the new close stay.
    assert sorted(_closes().values_list("status", flat=True)) == [
        TaskResultStatus.FAILED,
        TaskResultStatus.READY,
    ]


@pytest.mark.django_db(transaction=True)
def test_workers_ticking_at_the_same_moment_queue_one_close() -> None:
    if connection.vendor == "sqlite":
        pytest.skip(
            "the in-memory test database is shared-cache SQLite, whose table locks fail "
            "at once instead of waiting; a database file (what the workers use) waits"
        )
    workers = 6
    barrier = threading.Barrier(workers)
    checks: list[ScheduleCheck] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            barrier.wait()
            checks.append(_tick())
        except BaseException as exc:  # reported by the test's own thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(check.enqueued_id is not None for check in checks) == 1
    assert _closes().count() == 1


# The command


@pytest.mark.django_db
def test_close_periods_dry_run_prints_the_report_and_says_nothing_changed() -> None:
    out = StringIO()

    call_command("close_periods", "--dry-run", stdout=out)

    lines = out.getvalue().splitlines()
    assert "Drafts created: 0" in lines
    assert lines[-1] == "Dry run: nothing was changed."


@pytest.mark.django_db
def test_close_periods_prints_what_it_did() -> None:
    out = StringIO()

    call_command("close_periods", stdout=out)

    assert "Drafts created: 0" in out.getvalue().splitlines()
    assert "Dry run" not in out.getvalue()


def test_close_periods_help_describes_the_dry_run(capsys: pytest.CaptureFixture[Any]) -> None:
    with pytest.raises(SystemExit):
        call_command("close_periods", "--help")

    help_text = capsys.readouterr().out
    assert "Settle every billing period now" in help_text
    assert "--dry-run" in help_text
