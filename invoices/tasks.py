"""Background work for invoices, on Django's tasks framework with the
django-tasks-db backend (settings.TASKS): a task is a row in our own database,
run by a worker process (`manage.py run_worker`).

- `close_periods_task` runs period close (`invoices.closing.close_periods`)
  and returns its report as a JSON-safe dict, stored with the task's result.
  When many drafts are due it first enqueues `finalize_drafts_task` helpers,
  so that idle workers finalize beside it (each claims drafts with SKIP
  LOCKED: no draft is finalized twice, none waits for another's lock). When
  it ends it enqueues `render_invoice_documents_task`s, at a lower priority,
  for the issued invoices that have no stored PDF yet: PDFs are rendered
  after the invoices are final, never in the way of finalization.
- `close_periods_schedule` is one tick of the schedule that enqueues it every
  `CLOSE_PERIODS_EVERY` seconds; each worker ticks it from a thread
  (invoices/management/commands/run_worker.py says why it is built that way).

Invariants of the schedule:
- At most one close is queued or running at a time, however many workers
  tick: the check and the enqueue happen under one lock (an exclusive
  transaction on SQLite, a transaction-scoped advisory lock on PostgreSQL).
- The cadence is kept in the database, not in a worker's memory: a close is
  due `every` after the last one was enqueued, so two workers do not close
  twice as often, and a restart neither skips nor repeats a close.
- A close that failed, or whose worker died mid-run, does not stop the
  schedule (see ABANDONED_AFTER); the close itself is idempotent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router
from django.db.models import Max, Q
from django.tasks import Task, task
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from invoices.closing import (
    close_periods,
    finalize_due_drafts,
    render_pending_documents,
)

logger = logging.getLogger(__name__)

# A close still RUNNING this long after it started is taken for abandoned: its
# worker was killed (SIGKILL, out of memory, the machine lost) and the row will
# never finish, so the schedule enqueues another rather than wait forever. A
# close that really runs longer may then overlap the next one, which is safe:
# period close is idempotent.
ABANDONED_AFTER = timedelta(hours=1)
# Finished closes are kept this long (the admin shows when each ran, what it
# did, a failure's traceback), then deleted by the schedule itself, so its rows
# (288 a day at the default cadence) do not grow without end.
FINISHED_CLOSES_KEPT = timedelta(days=14)
# Serialises schedule ticks across processes on PostgreSQL.
_SCHEDULE_LOCK = "tally.invoices.close_periods_schedule"
# A close with this many drafts due or more asks one more worker to help
# finalize them, up to MAX_FINALIZE_HELPERS. A helper that finds nothing left
# (fewer workers than helpers, or it started late) costs one query and ends.
DRAFTS_PER_HELPER = 200
MAX_FINALIZE_HELPERS = 8
# PDFs rendered per render_invoice_documents_task (~100+ ms each), so that
# several workers share a big close's PDFs and none is busy for long.
DOCUMENTS_PER_TASK = 50
# Below the default (0): a queued close or finalization runs before PDFs.
DOCUMENTS_PRIORITY = -10


def _json_safe(value: object) -> dict[str, Any]:
    # Through Django's JSON encoder, so a field that is a Decimal or a datetime
    # is stored as a string, never as a float or not at all.
    summary: dict[str, Any] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return summary


@task
def close_periods_task() -> dict[str, Any]:
    """Close billing periods as of now; return the report's fields."""
    report = close_periods(now=timezone.now(), invite_helpers=_invite_finalize_helpers)
    renders = -(-report.documents_pending // DOCUMENTS_PER_TASK)  # rounded up
    queued = _enqueue_up_to(render_invoice_documents_task, renders, limit=DOCUMENTS_PER_TASK)
    summary = _json_safe(asdict(report))
    logger.info("Closed billing periods: %s; %d PDF render tasks enqueued", summary, queued)
    return summary


def _invite_finalize_helpers(due: int) -> None:
    helpers = min(due // DRAFTS_PER_HELPER, MAX_FINALIZE_HELPERS)
    _enqueue_up_to(finalize_drafts_task, helpers)


@task
def finalize_drafts_task() -> dict[str, Any]:
    """Help a running close: finalize the drafts due now that no other
    worker holds (invoices.closing.finalize_due_drafts)."""
    report = finalize_due_drafts(now=timezone.now())
    summary = _json_safe(asdict(report))
    logger.info("Finalized drafts beside the close: %s", summary)
    return summary


@task(priority=DOCUMENTS_PRIORITY)
def render_invoice_documents_task(limit: int = DOCUMENTS_PER_TASK) -> dict[str, int]:
    """Render and store the PDFs of up to `limit` issued invoices that have
    none yet (invoices.closing.render_pending_documents)."""
    return {"documents": render_pending_documents(limit=limit)}


def _enqueue_up_to(work: Task[..., Any], wanted: int, **kwargs: Any) -> int:
    """Enqueue `work` until `wanted` of it are queued, counting those still
    waiting from an earlier close, so that closes that keep finding the same
    work (a draft that fails every time, a slow render backlog) do not pile
    up tasks. Returns how many it enqueued."""
    queued = DBTaskResult.objects.filter(
        task_path=work.module_path, backend_name=work.backend, status=TaskResultStatus.READY
    ).count()
    for _ in range(wanted - queued):
        work.enqueue(**kwargs)
    return max(wanted - queued, 0)


@dataclass(frozen=True)
class ScheduleCheck:
    """What one tick of the schedule did."""

    # The id of the close it enqueued, or None if none was due.
    enqueued_id: str | None
    # When another tick may next find a close due.
    next_check_at: datetime


def close_periods_schedule(*, now: datetime, every: timedelta) -> ScheduleCheck:
    """Enqueue `close_periods_task` if a close is due: none is queued or
    running, and none was enqueued in the `every` before `now`. Safe to call
    from any number of processes at once."""
    using = router.db_for_write(DBTaskResult)
    with exclusive_transaction(using):
        _lock_schedule(using)
        closes = DBTaskResult.objects.using(using).filter(
            task_path=close_periods_task.module_path,
            backend_name=close_periods_task.backend,
        )
        pending = closes.filter(
            Q(status=TaskResultStatus.READY)
            | Q(status=TaskResultStatus.RUNNING, started_at__gt=now - ABANDONED_AFTER)
        )
        if pending.exists():
            return ScheduleCheck(enqueued_id=None, next_check_at=now + every)
        last_enqueued_at = closes.aggregate(last=Max("enqueued_at"))["last"]
        if last_enqueued_at is not None and now < last_enqueued_at + every:
            return ScheduleCheck(enqueued_id=None, next_check_at=last_enqueued_at + every)
        result = close_periods_task.enqueue()
        closes.filter(finished_at__lt=now - FINISHED_CLOSES_KEPT).delete()
    enqueued_at = result.enqueued_at or now
    return ScheduleCheck(enqueued_id=result.id, next_check_at=enqueued_at + every)


def _lock_schedule(using: str) -> None:
    """Hold the schedule's lock until the current transaction ends."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_SCHEDULE_LOCK])
    # On SQLite, exclusive_transaction began with BEGIN EXCLUSIVE: the whole
    # database is already locked against other writers.
