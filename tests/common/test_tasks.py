"""Durable background work (common/tasks.py, `manage.py tasks_worker`): a task queued in the
transaction that caused it, tried again after a failure (bounded, with growing waits), and run
again after its worker was killed in the middle of it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus
from django.test import TestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from common import metrics
from common.tasks import task_enqueue, task_retry_delay, tasks_queue_depth, tasks_requeue_abandoned
from tests.common.worker_jobs import always_fails, wait_for_file

ROOT = Path(__file__).resolve().parents[2]


def failures(outcome: str) -> float:
    return metrics.task_failures.labels(task="always_fails", outcome=outcome)._value.get()


@pytest.mark.django_db
def test_a_task_queued_in_a_transaction_rolls_back_with_it(durable_tasks):
    with pytest.raises(RuntimeError), transaction.atomic():
        task_enqueue(always_fails)
        raise RuntimeError("the request failed")
    assert DBTaskResult.objects.count() == 0

    with transaction.atomic():
        task_enqueue(always_fails)
    assert DBTaskResult.objects.ready().count() == 1


@pytest.mark.django_db
def test_on_another_backend_a_task_waits_for_the_commit(tmp_path):
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        task_enqueue(wait_for_file, folder=str(tmp_path))
    assert len(callbacks) == 1
    assert not (tmp_path / "started").exists()


def test_the_wait_before_a_retry_doubles_up_to_an_hour(settings):
    settings.QUICKBOT_TASK_RETRY_SECONDS = 30
    waits = [task_retry_delay(attempt=attempt) for attempt in (1, 2, 3, 10, 1000)]
    assert waits == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


@pytest.mark.django_db
def test_a_failing_task_is_tried_again_later_then_given_up(settings, durable_tasks):
    settings.QUICKBOT_TASK_MAX_ATTEMPTS = 2
    retried, gave_up = failures("retried"), failures("gave_up")
    always_fails.enqueue()

    durable_tasks()
    [row] = DBTaskResult.objects.all()
    assert row.status == TaskResultStatus.READY
    assert row.run_after > timezone.now() + timedelta(seconds=20)
    assert durable_tasks() == 0  # not due yet
    assert failures("retried") == retried + 1

    DBTaskResult.objects.update(run_after=timezone.now())
    durable_tasks()
    row.refresh_from_db()
    assert (row.status, len(row.worker_ids)) == (TaskResultStatus.FAILED, 2)
    assert "this task always fails" in row.traceback
    assert failures("gave_up") == gave_up + 1


def _running(*, worker: str, started_ago: timedelta, attempts: int = 1) -> DBTaskResult:
    result = always_fails.using(backend="default").enqueue()
    DBTaskResult.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - started_ago,
        worker_ids=[worker] * attempts,
    )
    return DBTaskResult.objects.get(id=result.id)


@pytest.mark.django_db
def test_a_worker_restarting_takes_back_what_it_left_running(durable_tasks):
    own = _running(worker="host-a", started_ago=timedelta(seconds=5))
    others = _running(worker="host-b", started_ago=timedelta(seconds=5))

    assert tasks_requeue_abandoned(worker_id="host-a") == 1

    own.refresh_from_db()
    others.refresh_from_db()
    assert own.status == TaskResultStatus.READY
    assert others.status == TaskResultStatus.RUNNING  # host-b may still be running it


@pytest.mark.django_db
def test_a_task_running_past_its_lease_goes_back_to_the_queue(settings, durable_tasks):
    settings.QUICKBOT_TASK_LEASE_SECONDS = 600
    stale = _running(worker="gone", started_ago=timedelta(seconds=601))
    fresh = _running(worker="busy", started_ago=timedelta(seconds=599))

    assert tasks_requeue_abandoned() == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (TaskResultStatus.READY, TaskResultStatus.RUNNING)


@pytest.mark.django_db
def test_a_task_that_kills_its_worker_every_time_is_given_up(settings, durable_tasks):
    settings.QUICKBOT_TASK_MAX_ATTEMPTS = 3
    poison = _running(worker="host-a", started_ago=timedelta(seconds=1), attempts=3)

    assert tasks_requeue_abandoned(worker_id="host-a") == 0

    poison.refresh_from_db()
    assert poison.status == TaskResultStatus.FAILED
    assert poison.exception_class_path == "common.tasks.TaskAbandoned"


@pytest.mark.django_db
def test_the_queue_depth_counts_waiting_tasks_by_queue(durable_tasks):
    always_fails.enqueue()
    always_fails.using(queue_name="webhooks").enqueue()
    always_fails.using(queue_name="webhooks").enqueue()
    _running(worker="w", started_ago=timedelta(0))
    assert tasks_queue_depth() == {"default": 1, "webhooks": 2}


def _worker_environment(database: Path) -> dict[str, str]:
    # Production settings (the database backend) on a SQLite file of the test's own.
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quickbot.settings",
        "LOCAL_RUN": "1",
        "DEBUG": "0",
        "SECRET_KEY": "tests-task-worker-not-a-secret-0123456789abcdefghij",
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "SQLITE_PATH": str(database),
        "PYTHONPATH": str(ROOT),
    }


def _manage(env: dict[str, str], *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, check=True, timeout=180
    )


def _start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "tasks_worker",
            "--worker-id=test-host",
            "--no-reload",
            "--no-startup-delay",
            "--interval=0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _statuses(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult"
        ).fetchall()


@pytest.mark.multiprocess
def test_a_job_survives_its_worker_being_killed(tmp_path):
    """A real worker process is killed (SIGKILL) in the middle of a job; the worker started
    again under the same id runs the job to its end."""
    database = tmp_path / "tasks.sqlite3"
    folder = tmp_path / "job"
    folder.mkdir()
    env = _worker_environment(database)
    _manage(env, "migrate", "--verbosity=0")
    enqueue = (
        "from tests.common.worker_jobs import wait_for_file; "
        f"wait_for_file.enqueue(folder={str(folder)!r})"
    )
    _manage(env, "shell", "--verbosity=0", "-c", enqueue)

    first = _start_worker(env)
    try:
        _wait_for((folder / "started").exists, "the job to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    assert [status for status, _ in _statuses(database)] == ["RUNNING"]

    (folder / "started").unlink()
    (folder / "release").touch()
    second = _start_worker(env)
    try:
        _wait_for(
            lambda: [status for status, _ in _statuses(database)] == ["SUCCESSFUL"],
            "the job to finish",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert (folder / "started").exists() and (folder / "done").exists()
    [(_, worker_ids)] = _statuses(database)
    assert worker_ids == '["test-host", "test-host"]'
