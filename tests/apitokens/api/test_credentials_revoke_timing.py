"""The leak report's timing: the request does the same work whatever matches; the lookup,
deletions, security-log rows and owners' emails run on the background thread after the
response (issue #20, L1). Measured over HTTP by bench/leak_report_timing.py."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from apitokens import services, tokens
from apitokens.models import APIToken, SecurityEvent
from apitokens.notifications import events
from apitokens.services import exposure
from common import background
from common.mail import MAIL_THREAD_PREFIX, mail_wait_for_pending
from tests.apitokens.factories import create_token

URL = "/api/v1/credentials/revoke"


def report(client, values):
    return client.post(
        URL,
        json.dumps({"credentials": values}),
        content_type="application/json",
        REMOTE_ADDR="198.51.100.23",
        HTTP_USER_AGENT="quickbot-scan/1",
    )


@pytest.fixture
def held_worker(settings):
    """The background thread on, held busy until the test releases it; afterwards its
    jobs are drained and its database connection closed."""
    settings.QUICKBOT_EMAIL_ASYNC = True
    gate = threading.Event()
    background.worker.submit(gate.wait, kind="gate")
    yield gate
    gate.set()
    mail_wait_for_pending()
    background.worker.submit(connections.close_all, kind="close")
    mail_wait_for_pending()


@pytest.mark.django_db(transaction=True)
def test_the_request_does_the_same_work_for_a_match_and_a_miss(client, user, held_worker):
    token, raw = create_token(user, "CI runner")
    mail.outbox = []
    statements, commits = {}, {}
    for side, value in (("match", raw), ("miss", tokens.generate_token())):
        with (
            CaptureQueriesContext(connection) as captured,
            mock.patch.object(connection, "commit", wraps=connection.commit) as commit,
        ):
            response = report(client, [value, "junk"])
        assert response.status_code == HTTPStatus.ACCEPTED
        statements[side] = [query["sql"] for query in captured.captured_queries]
        commits[side] = commit.call_count
    # Nothing touches the database in the request, match or not.
    assert statements == {"match": [], "miss": []}
    assert commits == {"match": 0, "miss": 0}
    # The match is seen only once the background thread has run.
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LEAK_REPORT).exists()
    assert mail.outbox == []

    held_worker.set()
    mail_wait_for_pending()

    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED
    details = sorted(
        SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LEAK_REPORT).values_list(
            "detail", flat=True
        )
    )
    assert details == [
        "2 submitted, 1 well-formed, 0 revoked",
        "2 submitted, 1 well-formed, 1 revoked",
    ]
    # (The "created" email of the set-up was queued behind the held thread too.)
    assert [message.subject for message in mail.outbox if "deleted" in message.subject] == [
        "[QuickBot] API token “CI runner” deleted: reported as leaked"
    ]


@pytest.mark.django_db(transaction=True)
def test_lookup_revocation_and_email_happen_on_the_background_thread(
    client, user, held_worker, monkeypatch
):
    _, raw = create_token(user, "CI runner")
    threads: dict[str, list[str]] = {"process": [], "email": []}
    process, build = services.leak_report_process, events._event_message

    def recording_process(**kwargs):
        threads["process"].append(threading.current_thread().name)
        return process(**kwargs)

    def recording_build(*args, **kwargs):
        threads["email"].append(threading.current_thread().name)
        return build(*args, **kwargs)

    monkeypatch.setattr(exposure, "leak_report_process", recording_process)
    monkeypatch.setattr(events, "_event_message", recording_build)
    report(client, [raw])
    assert threads == {"process": [], "email": []}

    held_worker.set()
    mail_wait_for_pending()

    assert len(threads["process"]) == len(threads["email"]) == 1
    assert all(name.startswith(MAIL_THREAD_PREFIX) for name in sum(threads.values(), []))


@pytest.mark.django_db
def test_the_report_keeps_digests_never_the_values(client, user, monkeypatch):
    _, raw = create_token(user, "CI runner")
    taken: list[services.LeakReport] = []
    monkeypatch.setattr(exposure, "leak_report_process", lambda *, report: taken.append(report))
    report(client, [raw, raw.lower(), "qb_" + "x" * 38])
    [received] = taken
    assert received.digests == (tokens.token_digest(raw),)
    assert (received.submitted, received.well_formed) == (3, 1)
    assert raw not in repr(received)


@pytest.mark.django_db
def test_a_failing_background_job_never_changes_the_answer(client, user, monkeypatch, caplog):
    _, raw = create_token(user, "CI runner")
    reference = report(client, [tokens.generate_token()])

    def broken(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(exposure, "leak_report_process", broken)
    response = report(client, [raw])
    assert (response.status_code, response.content) == (reference.status_code, reference.content)
    assert "The leak_report background job failed" in caplog.text


@pytest.mark.django_db
def test_over_the_limit_nothing_is_queued(client, settings, monkeypatch):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 1
    queued: list[object] = []
    monkeypatch.setattr(exposure, "leak_report_process", lambda *, report: queued.append(report))
    assert report(client, [tokens.generate_token()]).status_code == HTTPStatus.ACCEPTED
    assert report(client, [tokens.generate_token()]).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert len(queued) == 1


# --- The after-response mechanism itself ---------------------------------------------------


def test_a_job_deferred_in_a_request_waits_for_the_response():
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    worker.request_started()
    worker.after_response(lambda: ran.append("job"), kind="test")
    assert ran == []
    worker.request_finished()
    assert ran == ["job"]
    worker.request_finished()  # a second close (a streaming response) runs nothing twice
    assert ran == ["job"]


def test_jobs_of_one_request_thread_never_run_at_the_end_of_another(settings):
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    worker.request_started()
    worker.after_response(lambda: ran.append("first"), kind="test")
    other = threading.Thread(target=lambda: (worker.request_started(), worker.request_finished()))
    other.start()
    other.join()
    assert ran == []
    worker.request_finished()
    assert ran == ["first"]


@pytest.mark.django_db
def test_outside_a_request_a_job_waits_for_the_commit(django_capture_on_commit_callbacks):
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    with django_capture_on_commit_callbacks() as callbacks:
        worker.after_response(lambda: ran.append("job"), kind="test")
        assert ran == []
    for callback in callbacks:
        callback()
    assert ran == ["job"]


def test_waiting_covers_jobs_queued_by_jobs(settings):
    settings.QUICKBOT_EMAIL_ASYNC = True
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    gate = threading.Event()

    def first():
        gate.wait()
        worker.submit(lambda: ran.append("second"), kind="test")
        ran.append("first")

    worker.submit(first, kind="test")
    gate.set()
    worker.wait_for_idle(timeout=5)
    assert ran == ["first", "second"]
    worker.shutdown()


def test_waiting_gives_up_with_a_timeout(settings):
    settings.QUICKBOT_EMAIL_ASYNC = True
    worker = background.BackgroundWorker(thread_name_prefix="test")
    gate = threading.Event()
    worker.submit(gate.wait, kind="test")
    with pytest.raises(TimeoutError):
        worker.wait_for_idle(timeout=0.05)
    gate.set()
    worker.shutdown()
