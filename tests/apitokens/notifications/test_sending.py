"""How owner emails leave (apitokens/notifications/sending.py): built after commit, sent by the
task worker, a refused send retried later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tests.apitokens.factories import create_token

# Real transactions, so on_commit callbacks run when the service commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_in_production_the_task_worker_sends(user, durable_tasks):
    """The action only queues the message: a slow or absent SMTP server never holds it up."""
    mail.outbox = []
    create_token(user, "Background mail", now=T0)
    assert mail.outbox == []
    [queued] = DBTaskResult.objects.all()
    assert queued.task_path == "common.mail.mail_send"
    subject = "[QuickBot] API token “Background mail” created"
    assert queued.args_kwargs["kwargs"]["subject"] == subject

    assert durable_tasks() == 1

    assert [message.subject for message in mail.outbox] == [
        "[QuickBot] API token “Background mail” created"
    ]
    # The HTML part travels with the task.
    assert mail.outbox[0].alternatives[0].mimetype == "text/html"


def test_a_refused_send_is_logged_and_tried_again_later(user, settings, durable_tasks, caplog):
    settings.MAILERS = {
        "default": {"BACKEND": "tests.apitokens.notifications.backends.ExplodingBackend"}
    }
    create_token(user, now=T0)
    durable_tasks()

    [queued] = DBTaskResult.objects.all()
    assert queued.status == TaskResultStatus.READY  # back in the queue, for later
    assert "SMTP server unreachable" in queued.traceback
    assert "Task mail_send" in caplog.text and "next attempt after" in caplog.text

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    mail.outbox = []
    DBTaskResult.objects.update(run_after=T0)  # its retry is due
    assert durable_tasks() == 1
    queued.refresh_from_db()
    assert (queued.status, len(queued.worker_ids)) == (TaskResultStatus.SUCCESSFUL, 2)
    assert len(mail.outbox) == 1
