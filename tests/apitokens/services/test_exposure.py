"""Tokens whose value was exposed (apitokens/services/exposure.py): leak reports revoke what they
match, in the task worker, the same work for a match and a miss."""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from apitokens import services, tokens
from apitokens.models import APIToken, SecurityEvent
from apitokens.notifications import events
from apitokens.services import exposure
from tests.apitokens.factories import create_token

URL = "/api/v1/credentials/revoke"


REPORTER = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "quickbot-scan/1"}


def report(client, values, **extra):
    """Post a report; the task it queues runs once the test's transaction would commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            URL,
            json.dumps({"credentials": values}),
            content_type="application/json",
            **REPORTER,
            **extra,
        )


def unknown_value():
    return tokens.generate_token()


def mistyped(value):
    body = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert tokens.has_token_shape(body) and not tokens.is_well_formed(body)
    return body


@pytest.mark.django_db
def test_reported_active_token_is_revoked_as_leaked(
    client, user, django_capture_on_commit_callbacks
):
    token, raw = create_token(user, "CI runner")
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, [raw])
    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["well_formed"] == 1
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED
    assert token.get_revoked_reason_display() == "reported as leaked"
    deleted = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.DELETED)
    assert deleted.detail == "Reported as leaked"
    assert deleted.actor_kind == SecurityEvent.Actor.SYSTEM
    assert deleted.ip == "198.51.100.23"
    # The token no longer authenticates.
    me = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == HTTPStatus.UNAUTHORIZED


def _token_selects(queries):
    return [
        query["sql"]
        for query in queries
        if query["sql"].lstrip().upper().startswith("SELECT")
        and "apitokens_apitoken" in query["sql"]
    ]


@pytest.mark.django_db
def test_digests_are_looked_up_in_one_query_whatever_matches(client, user):
    _, first = create_token(user, "One")
    _, second = create_token(user, "Two")
    for values in ([first, second, unknown_value()], [unknown_value() for _ in range(50)]):
        with CaptureQueriesContext(connection) as captured:
            response = report(client, values)
        assert response.status_code == HTTPStatus.ACCEPTED
        assert len(_token_selects(captured.captured_queries)) == 1


@pytest.mark.django_db
def test_nothing_is_looked_up_when_no_value_is_well_formed(client):
    with CaptureQueriesContext(connection) as captured:
        response = report(client, ["hello", "qb_short"])
    assert response.json()["well_formed"] == 0
    assert _token_selects(captured.captured_queries) == []


@pytest.mark.django_db
def test_mistyped_and_unknown_values_revoke_nothing(client, user):
    token, raw = create_token(user, "Real")
    response = report(client, [mistyped(raw), unknown_value(), raw[:-1]])
    assert response.json()["well_formed"] == 1
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_well_formed_counts_distinct_values(client, user):
    _, raw = create_token(user, "Real")
    assert report(client, [raw, raw, raw]).json()["well_formed"] == 1


@pytest.mark.django_db
def test_previous_value_in_its_overlap_revokes_the_token(client, user):
    token, old_value = create_token(user, "Rotated")
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(hours=1))
    report(client, [old_value])
    token.refresh_from_db()
    assert token.revoked_reason == APIToken.RevokedBy.LEAKED


@pytest.mark.django_db
def test_previous_value_past_its_overlap_cannot_revoke_the_token(client, user):
    token, old_value = create_token(user, "Rotated")
    services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0))
    report(client, [old_value])
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_every_report_is_a_security_event_with_its_counts(client, user):
    _, raw = create_token(user, "Real")
    report(client, [raw, unknown_value(), "junk", raw])
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LEAK_REPORT)
    assert event.account is None
    assert event.count == 4
    assert event.detail == "4 submitted, 2 well-formed, 1 revoked"
    assert event.ip == "198.51.100.23"
    assert event.user_agent == "quickbot-scan/1"


@pytest.mark.django_db(transaction=True)
def test_a_report_commits_once_whether_or_not_it_matches(client, user):
    _, raw = create_token(user, "Real")
    counts = []
    for values in ([raw], [unknown_value()]):
        with mock.patch.object(connection, "commit", wraps=connection.commit) as commit:
            assert report(client, values).status_code == HTTPStatus.ACCEPTED
        counts.append(commit.call_count)
    assert counts == [1, 1]


@pytest.mark.django_db(transaction=True)
def test_the_request_does_the_same_work_for_a_match_and_a_miss(client, user, durable_tasks):
    token, raw = create_token(user, "CI runner")
    durable_tasks()  # the set-up's "created" email
    mail.outbox = []
    statements, commits = {}, {}
    for side, value in (("match", raw), ("miss", tokens.generate_token())):
        with (
            CaptureQueriesContext(connection) as captured,
            mock.patch.object(connection, "commit", wraps=connection.commit) as commit,
        ):
            response = report(client, [value, "junk"])
        assert response.status_code == HTTPStatus.ACCEPTED
        statements[side] = [query["sql"].split()[:3] for query in captured.captured_queries]
        commits[side] = commit.call_count
    # The request only queues the report (one INSERT of the task), match or not.
    assert statements["match"] == statements["miss"]
    assert statements["match"] == [["INSERT", "INTO", '"django_tasks_database_dbtaskresult"']]
    assert commits["match"] == commits["miss"]
    # The match is seen only once the task worker has run.
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LEAK_REPORT).exists()
    assert mail.outbox == []

    durable_tasks()

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
    # The owner's email is a task the report's task queued: the worker runs it too.
    durable_tasks()
    assert [message.subject for message in mail.outbox] == [
        "[QuickBot] API token “CI runner” deleted: reported as leaked"
    ]


@pytest.mark.django_db(transaction=True)
def test_lookup_revocation_and_email_happen_in_the_task_worker(
    client, user, durable_tasks, monkeypatch
):
    _, raw = create_token(user, "CI runner")
    durable_tasks()
    calls: list[str] = []
    process, build = services.leak_report_process, events._event_message

    def recording_process(**kwargs):
        calls.append("process")
        return process(**kwargs)

    def recording_build(*args, **kwargs):
        calls.append("email")
        return build(*args, **kwargs)

    monkeypatch.setattr(exposure, "leak_report_process", recording_process)
    monkeypatch.setattr(events, "_event_message", recording_build)
    report(client, [raw])
    assert calls == []

    durable_tasks()
    durable_tasks()

    assert calls == ["process", "email"]


@pytest.mark.django_db
def test_the_report_keeps_digests_never_the_values(client, user, durable_tasks):
    _, raw = create_token(user, "CI runner")
    report(client, [raw, raw.lower(), "qb_" + "x" * 38])
    [stored] = DBTaskResult.objects.filter(task_path__endswith="leak_report_process_task")
    received = services.LeakReport.from_json(stored.args_kwargs["kwargs"]["report"])
    assert received.digests == (tokens.token_digest(raw),)
    assert (received.submitted, received.well_formed) == (3, 1)
    assert raw not in str(stored.args_kwargs)
    assert received.client == services.ClientInfo(ip="198.51.100.23", user_agent="quickbot-scan/1")


@pytest.mark.django_db
def test_a_failing_task_never_changes_the_answer(client, user, monkeypatch, caplog):
    _, raw = create_token(user, "CI runner")
    reference = report(client, [tokens.generate_token()])

    def broken(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(exposure, "leak_report_process", broken)
    response = report(client, [raw])
    assert (response.status_code, response.content) == (reference.status_code, reference.content)
    assert "leak_report_process_task state=FAILED" in caplog.text


@pytest.mark.django_db
def test_over_the_limit_nothing_is_queued(client, settings, durable_tasks):
    settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT = 1
    assert report(client, [tokens.generate_token()]).status_code == HTTPStatus.ACCEPTED
    assert report(client, [tokens.generate_token()]).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert DBTaskResult.objects.count() == 1
