"""Work a request hands over so that its answer never waits for it, as django.tasks tasks.

In production the tasks live in this database (django-tasks-db's `DBTaskResult` table) and a
second process runs them (`manage.py tasks_worker`), so work queued before a crash or a deploy
is still done afterwards. `task_enqueue` queues a task in the transaction that caused it: on
the database backend its row commits, or rolls back, with that transaction; on any other
backend (the tests' immediate one) it is queued once the transaction commits.

A task that raises runs again after QUICKBOT_TASK_RETRY_SECONDS, doubling each time (at most
an hour), until it has run QUICKBOT_TASK_MAX_ATTEMPTS times (`task_retry_or_give_up`, on
django.tasks' `task_finished`): the backend itself never retries. A task left running by a
worker that died is run again by the next worker (`tasks_requeue_abandoned`). So a task may
run more than once: each one must be safe to repeat.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.tasks import TaskResultStatus
from django.tasks.base import Task
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from common import metrics

logger = logging.getLogger(__name__)

# The longest wait between two runs of a failing task.
_RETRY_MAX_SECONDS = 3600


def task_enqueue(task: Task, /, **kwargs) -> None:
    """Queue `task(**kwargs)` as part of the current transaction (plain JSON values only:
    the worker may be another process, the request long gone)."""
    backend = task.get_backend()
    if isinstance(backend, DatabaseBackend):
        task.enqueue(**kwargs)  # its row commits with the work that caused it
    else:
        transaction.on_commit(lambda: task.enqueue(**kwargs), robust=True)


def task_retry_delay(*, attempt: int) -> timedelta:
    """How long a task that failed its `attempt`-th run waits before the next one."""
    seconds = settings.QUICKBOT_TASK_RETRY_SECONDS * 2 ** min(max(attempt - 1, 0), 20)
    return timedelta(seconds=min(seconds, _RETRY_MAX_SECONDS))


def task_retry_or_give_up(sender, task_result, **kwargs) -> None:
    """django.tasks' `task_finished` receiver: a failed task on the database backend goes
    back to the queue for a later run, until it has run QUICKBOT_TASK_MAX_ATTEMPTS times."""
    if task_result.status != TaskResultStatus.FAILED:
        return
    name = task_result.task.name
    attempt = task_result.attempts
    durable = issubclass(sender, DatabaseBackend)
    if durable and attempt < settings.QUICKBOT_TASK_MAX_ATTEMPTS:
        run_after = timezone.now() + task_retry_delay(attempt=attempt)
        requeued = DBTaskResult.objects.filter(
            id=task_result.id, status=TaskResultStatus.FAILED
        ).update(status=TaskResultStatus.READY, run_after=run_after, finished_at=None)
        if requeued:
            metrics.task_failures.labels(task=name, outcome="retried").inc()
            logger.warning(
                "Task %s (%s) failed on attempt %d; next attempt after %s",
                name,
                task_result.id,
                attempt,
                run_after.isoformat(timespec="seconds"),
            )
            return
    metrics.task_failures.labels(task=name, outcome="gave_up").inc()
    logger.error("Task %s (%s) failed on attempt %d; giving up", name, task_result.id, attempt)


def tasks_requeue_abandoned(*, worker_id: str | None = None, now: datetime | None = None) -> int:
    """Put back in the queue the tasks a dead worker left running: those `worker_id` claimed
    last (a worker starting under its own id is running none of them), and any started more
    than QUICKBOT_TASK_LEASE_SECONDS ago. A task that has used up its attempts is marked
    failed instead. Returns how many went back to the queue."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.QUICKBOT_TASK_LEASE_SECONDS)
    requeued = 0
    running = DBTaskResult.objects.running().only("id", "worker_ids", "started_at", "task_path")
    for row in running:
        mine = worker_id is not None and row.worker_ids[-1:] == [worker_id]
        if not mine and (row.started_at is None or row.started_at > cutoff):
            continue
        attempts = len(row.worker_ids)
        if attempts >= settings.QUICKBOT_TASK_MAX_ATTEMPTS:
            changed = DBTaskResult.objects.filter(
                id=row.id, status=TaskResultStatus.RUNNING, started_at=row.started_at
            ).update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                exception_class_path="common.tasks.TaskAbandoned",
                traceback="The worker running this task stopped before it finished.",
            )
            if changed:
                metrics.task_failures.labels(task=row.task_name, outcome="gave_up").inc()
                logger.error(
                    "Task %s (%s) abandoned on attempt %d; giving up",
                    row.task_name,
                    row.id,
                    attempts,
                )
            continue
        # Matching started_at too: a task another worker claimed meanwhile stays its own.
        changed = DBTaskResult.objects.filter(
            id=row.id, status=TaskResultStatus.RUNNING, started_at=row.started_at
        ).update(status=TaskResultStatus.READY, started_at=None)
        if changed:
            requeued += 1
            logger.warning(
                "Task %s (%s) was left running by worker %s; queued again",
                row.task_name,
                row.id,
                row.worker_ids[-1] if row.worker_ids else "?",
            )
    return requeued


def tasks_queue_depth() -> dict[str, int]:
    """How many tasks wait in each queue (ready, due now or later), by queue name."""
    rows = (
        DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        .values("queue_name")
        .order_by()
        .annotate(count=Count("id"))
    )
    return {row["queue_name"]: row["count"] for row in rows}
