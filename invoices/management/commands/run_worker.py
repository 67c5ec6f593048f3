"""`manage.py run_worker`: django-tasks-db's worker (`db_worker`, every option
of it) plus the schedule that closes billing periods every
CLOSE_PERIODS_EVERY seconds, so period close needs no human and no cron.

Why a worker that schedules, rather than a task that re-enqueues itself with
`run_after`: such a chain is only as alive as its last link. A worker killed
between running a close and enqueuing the next, or a bug in the close before
it enqueues, and the chain ends with nothing to notice; two chains started by
accident both live on. Here the schedule is a loop in every running worker,
and its state (is a close queued or running? when was the last one
enqueued?) is read from the task table on each tick, under a lock
(invoices.tasks.close_periods_schedule). So a failed close is just a failed
row and the next tick enqueues another; any number of workers keep one cadence
and never queue two closes; and while no worker runs, nothing piles up: the
next worker to start closes once.

The schedule ticks in a daemon thread with its own database connection
(closed between ticks), so it keeps time even while the worker runs a long
task. The worker loop stays db_worker's own, unchanged, in the main thread
(it has no hook between polls), and handles the signals: SIGINT/SIGTERM let a
running task finish, then the process, thread and all, exits. With --batch
there is no thread: one tick, then the worker runs what is queued and exits.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from billing_site.audit import audited_command
from invoices.tasks import close_periods_schedule

logger = logging.getLogger(__name__)

# After a tick fails (the database restarting, a lock held too long), the next
# one comes this soon, or sooner if the cadence is shorter.
RETRY_AFTER = timedelta(minutes=1)
# Ticks never come closer together than this.
MIN_WAIT_SECONDS = 1.0


class Command(db_worker.Command):
    help = (
        "Run the background worker: it runs queued tasks (django-tasks-db's db_worker, "
        "with all its options) and enqueues period close every CLOSE_PERIODS_EVERY "
        f"seconds (now {settings.CLOSE_PERIODS_EVERY}) unless one is already queued or "
        "running. Any number of workers may run; together they keep one cadence. "
        "Stop with Ctrl-C or SIGTERM: a running task finishes first. With --batch: "
        "enqueue period close if due, run what is queued, exit."
    )

    @audited_command
    def handle(self, *args: Any, **options: Any) -> None:
        every = timedelta(seconds=settings.CLOSE_PERIODS_EVERY)
        if options["batch"]:
            _tick(every)
        elif not options["reload"] or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            # With --reload the first process only watches files and restarts
            # the second, which runs the worker; the schedule goes with it.
            threading.Thread(
                target=_schedule_forever, args=(every,), name="close-periods", daemon=True
            ).start()
        super().handle(*args, **options)


def _schedule_forever(every: timedelta) -> None:
    logger.info("Closing billing periods every %d s", every.total_seconds())
    while True:
        wait = _tick(every)
        # Hold no connection while asleep: nothing to go stale, no idle
        # PostgreSQL backend per worker. (This thread's connections only.)
        connections.close_all()
        time.sleep(wait)


def _tick(every: timedelta) -> float:
    """Enqueue a close if one is due; return the seconds until the next tick.
    Never raises: a failed tick is logged and retried, so the schedule lives
    as long as the worker does."""
    try:
        check = close_periods_schedule(now=timezone.now(), every=every)
    except Exception:
        retry = min(every, RETRY_AFTER)
        logger.exception("Period-close schedule failed; next try in %d s", retry.total_seconds())
        wait = retry.total_seconds()
    else:
        if check.enqueued_id is not None:
            logger.info("Enqueued period close id=%s", check.enqueued_id)
        wait = (check.next_check_at - timezone.now()).total_seconds()
    return max(wait, MIN_WAIT_SECONDS)
