"""POST /api/v1/tokens/current/rotate: a script rotates its own token (write permission)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading
import urllib.request
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from apitokens import services
from apitokens.models import APIToken, SecurityEvent
from tests.apitokens.factories import create_token

ROTATE = "/api/v1/tokens/current/rotate"
ME = "/api/v1/me/"


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.fixture
def writer(user):
    return create_token(
        user,
        "Deploy pipeline",
        scopes=("read", "write"),
        expires_at=timezone.now() + timedelta(days=3),
        lifetime_days=30,
    )


def rotate(client, raw, body="", path=ROTATE, **extra):
    """POST as a script does: a JSON body, or none at all."""
    return client.post(path, body, content_type="application/json", headers=bearer(raw), **extra)


@pytest.mark.django_db
def test_rotation_answers_201_with_the_new_value_once_and_no_store(client, writer):
    token, raw = writer
    moment = timezone.now()
    response = rotate(client, raw, {"overlap": 600})
    assert response.status_code == HTTPStatus.CREATED
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    new_value = body["value"]
    assert new_value.startswith("qb_") and new_value != raw
    token.refresh_from_db()
    assert body["token"]["identifier"] == token.identifier
    assert body["token"]["id"] == token.public_id
    # The lifetime applies again: 30 days from now instead of the 3 days left.
    assert token.expires_at > moment + timedelta(days=29)
    assert body["previous_value_expires_at"] is not None
    assert token.previous_expires_at <= moment + timedelta(seconds=660)
    # The new value works; so does the old one, during the overlap.
    assert client.get(ME, headers=bearer(new_value)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_default_overlap_is_one_hour(client, writer):
    token, raw = writer
    moment = timezone.now()
    assert rotate(client, raw).status_code == HTTPStatus.CREATED
    token.refresh_from_db()
    assert (
        moment + timedelta(minutes=59)
        < token.previous_expires_at
        < (moment + timedelta(minutes=61))
    )


@pytest.mark.django_db
def test_zero_overlap_stops_the_old_value_at_once(client, writer):
    _, raw = writer
    response = rotate(client, raw, {"overlap": 0})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["previous_value_expires_at"] is None
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_path_with_a_trailing_slash_rotates_too(client, writer):
    _, raw = writer
    response = rotate(client, raw, path=ROTATE + "/")
    assert response.status_code == HTTPStatus.CREATED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json", "expected JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"overlap": -1}', "overlap: expected whole seconds from 0 to 604800"),
        ('{"overlap": 604801}', "overlap"),
        ('{"overlap": 60.5}', "overlap"),
        ('{"overlap": "3600"}', "overlap"),
        ('{"overlap": true}', "overlap"),
        ('{"overlap": null}', "overlap"),
        ('{"overlap": 1e400}', "overlap"),
        ('{"overlap": 60, "extra": 1}', "extra: unknown field"),
    ],
)
def test_bad_bodies_are_400_in_the_error_shape_and_change_nothing(client, writer, body, says):
    token, raw = writer
    response = rotate(client, raw, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert says in payload["detail"]
    assert APIToken.objects.get(pk=token.pk).digest == token.digest


@pytest.mark.django_db
def test_seven_days_is_the_longest_overlap(client, writer):
    _, raw = writer
    assert rotate(client, raw, {"overlap": 7 * 24 * 3600}).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_read_only_token_cannot_rotate(client, user):
    _, raw = create_token(user, "Read only job")
    response = rotate(client, raw)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"] == "insufficient_scope"


@pytest.mark.django_db
def test_other_methods_are_405(client, writer):
    _, raw = writer
    response = client.get(ROTATE, headers=bearer(raw))
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_rotation_records_the_event_and_emails_like_a_regenerate(
    client, writer, user, django_capture_on_commit_callbacks
):
    token, raw = writer
    with django_capture_on_commit_callbacks(execute=True):
        rotate(client, raw, {"overlap": 60}, REMOTE_ADDR="203.0.113.5")
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.REGENERATED)
    assert event.actor_kind == SecurityEvent.Actor.TOKEN
    assert event.ip == "203.0.113.5"
    assert event.detail.startswith(f"Previous value {token.identifier} works until")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "regenerated" in mail.outbox[0].subject.lower()


@pytest.mark.django_db
def test_a_second_rotation_with_the_replaced_value_is_409_and_loses_nothing(client, writer):
    token, first = writer
    winner = rotate(client, first, {"overlap": 600})
    assert winner.status_code == HTTPStatus.CREATED
    second = winner.json()["value"]
    loser = rotate(client, first, {"overlap": 600})
    assert loser.status_code == HTTPStatus.CONFLICT
    body = loser.json()
    assert body["error"] == "conflict"
    assert "already replaced" in body["detail"]
    # No value lost: the winner's value works, the stale one still works in its overlap.
    assert client.get(ME, headers=bearer(second)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.OK
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).count() == 1


@pytest.mark.django_db
def test_two_rotations_authenticated_before_either_ran_one_wins(client, writer, monkeypatch):
    """Both requests pass authentication with the same current value; the second one's
    service call runs after the first rotation committed."""
    token, raw = writer
    real = services.api_token_regenerate
    inner: list = []
    calls: list = []

    def first_rotation_sneaks_in(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:  # the outer request: let another rotation finish first
            inner.append(rotate(Client(), raw, {"overlap": 600}))
        return real(**kwargs)

    monkeypatch.setattr(services, "api_token_regenerate", first_rotation_sneaks_in)
    outer = rotate(client, raw, {"overlap": 600})
    (winner,) = inner
    assert winner.status_code == HTTPStatus.CREATED
    assert outer.status_code == HTTPStatus.CONFLICT
    assert outer.json()["error"] == "conflict"
    assert "meanwhile" in outer.json()["detail"]
    token.refresh_from_db()
    assert token.identifier == winner.json()["token"]["identifier"]
    assert client.get(ME, headers=bearer(winner.json()["value"])).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="real threads need a server database (SQLite's shared in-memory test database "
    "refuses concurrent writers; the interleaved test above covers it)",
)
def test_two_threads_rotating_at_once_one_wins(user):
    _, raw = create_token(user, "Deploy pipeline", scopes=("read", "write"))
    barrier = threading.Barrier(2)
    results: list = []

    def run():
        barrier.wait()
        try:
            results.append(rotate(Client(), raw, {"overlap": 600}))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(response.status_code for response in results)
    assert statuses == [HTTPStatus.CREATED, HTTPStatus.CONFLICT]
    (winner,) = [response for response in results if response.status_code == 201]
    assert Client().get(ME, headers=bearer(winner.json()["value"])).status_code == 200
    assert Client().get(ME, headers=bearer(raw)).status_code == 200
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.REGENERATED).count() == 1


@pytest.mark.multiprocess
def test_the_python_example_in_the_api_reference_rotates_and_replaces_the_file(
    live_server, transactional_db, user, tmp_path, settings
):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    _, raw = create_token(user, "Deploy pipeline", scopes=("read", "write"))
    page = urllib.request.urlopen(f"{live_server.url}/docs/api/", timeout=10).read().decode()
    blocks = re.findall(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.DOTALL)
    (script,) = [html.unescape(block) for block in blocks if "os.replace" in block]
    token_file = tmp_path / "token"
    token_file.write_text(raw + "\n")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "QUICKBOT_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    new_value = token_file.read_text().strip()
    assert new_value != raw and new_value.startswith("qb_")
    assert [path.name for path in tmp_path.iterdir()] == ["token"]  # no temporary left
    assert Client().get(ME, headers=bearer(new_value)).status_code == HTTPStatus.OK
    # The file now holds the new value: the next scheduled run rotates again.
    again = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "QUICKBOT_TOKEN_FILE": str(token_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
