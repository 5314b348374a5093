"""`manage.py tasks_worker`: run the queued tasks (e-mails, leak reports), the second process
beside the web server. django-tasks-db's `db_worker`, with QuickBot's defaults and recovery."""

from __future__ import annotations

import logging
import socket
import threading
import time

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from common.tasks import tasks_requeue_abandoned

logger = logging.getLogger("common.tasks")


def default_worker_id() -> str:
    """This host's name: a worker restarted here takes back the tasks it left running."""
    return socket.gethostname()[:64] or "quickbot"


class Command(DatabaseWorkerCommand):
    help = (
        "Run queued tasks (e-mails, leak reports) from every queue. Tasks a previous worker "
        "with the same --worker-id left running (it was killed) run again at start, and any "
        "left running longer than QUICKBOT_TASK_LEASE_SECONDS by a worker that never came "
        "back. Give each worker on one host its own --worker-id."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*", worker_id=default_worker_id())

    def handle(self, *args, worker_id: str, **options) -> None:
        self.configure_logging(options["verbosity"])
        requeued = tasks_requeue_abandoned(worker_id=worker_id)
        if requeued:
            logger.warning("%d task(s) left running by worker %s queued again", requeued, worker_id)
        connection.close()
        if not options["batch"]:
            threading.Thread(target=_lease_keeper, name="quickbot-task-lease", daemon=True).start()
        super().handle(*args, worker_id=worker_id, **options)


def _lease_keeper() -> None:
    """Every quarter lease, queue again the tasks whose worker has gone for good."""
    interval = max(1.0, settings.QUICKBOT_TASK_LEASE_SECONDS / 4)
    while True:
        time.sleep(interval)
        try:
            tasks_requeue_abandoned()
        except Exception:
            logger.exception("Could not look for abandoned tasks")
        finally:
            connection.close()
