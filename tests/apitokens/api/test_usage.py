from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from django.utils import timezone

from apitokens import activity, services
from apitokens.models import APIToken, TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
def test_activity_row_has_the_right_fields_and_no_secrets(client, user):
    token, raw = create_token(user)
    before = timezone.now()
    client.get(
        f"{ME}?verbose=1",
        headers={**bearer(raw), "User-Agent": "x" * 400},
        REMOTE_ADDR="203.0.113.7",
    )
    row = TokenActivity.objects.get()
    assert row.token == token
    assert row.owner == user
    assert row.created_at >= before
    assert (row.method, row.path, row.status) == ("GET", ME, HTTPStatus.OK)
    assert row.ip == "203.0.113.7"
    assert row.user_agent == "x" * 256
    assert row.duration_ms >= 0
    assert not row.flagged
    assert not row.used_previous_value
    stored = " ".join(str(value) for value in TokenActivity.objects.values_list().get())
    assert raw not in stored
    assert token.digest not in stored


@pytest.mark.django_db
def test_every_request_with_a_known_token_is_recorded(client, user):
    _, raw = create_token(user, scopes=("read",))
    client.get(ME, headers=bearer(raw))
    client.delete("/api/v1/tokens/current/", headers=bearer(raw))  # 403: no write scope
    client.get("/api/v1/activity/?status=x", headers=bearer(raw))  # 400
    statuses = sorted(TokenActivity.objects.values_list("status", flat=True))
    assert statuses == [200, 400, 403]


@pytest.mark.django_db
def test_unknown_and_malformed_tokens_record_nothing(client):
    client.get(ME, headers={"Authorization": "Bearer nope"})
    client.get(ME, headers=bearer("qb_" + "a" * 38))
    assert not TokenActivity.objects.exists()


@pytest.mark.django_db
def test_previous_value_during_overlap_is_recorded_as_such(client, user):
    token, old_raw = create_token(user)
    # Simulate a regenerate whose old value keeps working for an hour.
    from apitokens import tokens

    new_raw = tokens.generate_token()
    APIToken.objects.filter(pk=token.pk).update(
        previous_digest=token.digest,
        previous_expires_at=timezone.now() + timedelta(hours=1),
        digest=tokens.token_digest(new_raw),
    )
    assert client.get(ME, headers=bearer(old_raw)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(new_raw)).status_code == HTTPStatus.OK
    flags = list(TokenActivity.objects.order_by("id").values_list("used_previous_value", flat=True))
    assert flags == [True, False]


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_per_interval(user, settings):
    settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS = 60
    token, _ = create_token(user)
    start = timezone.now()
    assert activity.last_used_touch(token=token, ip="192.0.2.1", now=start)
    assert not activity.last_used_touch(
        token=token, ip="192.0.2.2", now=start + timedelta(seconds=59)
    )
    assert activity.last_used_touch(token=token, ip="192.0.2.3", now=start + timedelta(seconds=60))
    token.refresh_from_db()
    assert token.last_used_at == start + timedelta(seconds=60)
    assert token.last_used_ip == "192.0.2.3"


@pytest.mark.django_db
def test_last_used_write_from_a_stale_instance_loses_to_a_fresher_one(user):
    token, _ = create_token(user)
    stale = APIToken.objects.get(pk=token.pk)
    start = timezone.now()
    assert activity.last_used_touch(token=token, ip="192.0.2.1", now=start)
    # Another process read the row before that write: its conditional UPDATE matches nothing.
    assert not activity.last_used_touch(token=stale, ip="192.0.2.2", now=start)


@pytest.mark.django_db
def test_last_used_never_resurrects_a_deleted_token(user):
    token, _ = create_token(user)
    stale = APIToken.objects.get(pk=token.pk)
    services.api_token_revoke(token=token, actor=user)
    assert not activity.last_used_touch(token=stale, ip="192.0.2.1", now=timezone.now())
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.last_used_at is None


@pytest.mark.django_db
def test_hot_token_updates_last_used_once_per_interval(
    client, user, monkeypatch, django_assert_num_queries
):
    token, raw = create_token(user)
    moment = timezone.now()
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: moment)
    client.get(ME, headers=bearer(raw))  # first use: lookup + activity + UPDATE
    # lookup + activity write (rows, rollup and address upserts), no UPDATE
    with django_assert_num_queries(4):
        client.get(ME, headers=bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == moment
    later = moment + timedelta(seconds=61)
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: later)
    client.get(ME, headers=bearer(raw))
    token.refresh_from_db()
    assert token.last_used_at == later


def _wait_for_empty_buffer(seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while activity.activity_pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # the flusher commits after emptying the buffer


@pytest.mark.django_db(transaction=True)
def test_full_buffer_is_written_by_the_background_flusher(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 3
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    _, raw = create_token(user)
    client.get(ME, headers=bearer(raw))
    client.get(ME, headers=bearer(raw))
    time.sleep(0.3)
    assert TokenActivity.objects.count() == 0  # not full, not old: still buffered
    assert activity.activity_pending() == 2
    client.get(ME, headers=bearer(raw))
    _wait_for_empty_buffer()
    assert TokenActivity.objects.count() == 3


@pytest.mark.django_db
def test_request_thread_writes_inline_when_the_flusher_falls_behind(
    client, user, settings, monkeypatch
):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 2
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    buffer = activity.activity_buffer
    monkeypatch.setattr(buffer, "_flusher_pid", os.getpid())  # a flusher that never runs
    monkeypatch.setattr(buffer._wake, "set", lambda: None)
    _, raw = create_token(user)
    for _ in range(19):
        client.get(ME, headers=bearer(raw))
    assert TokenActivity.objects.count() == 0
    client.get(ME, headers=bearer(raw))  # the 20th row: ten buffers' worth
    assert TokenActivity.objects.count() == 20


@pytest.mark.django_db
def test_explicit_flush_writes_buffered_rows(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 100
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    _, raw = create_token(user)
    client.get(ME, headers=bearer(raw))
    assert activity.activity_flush() == 1
    assert TokenActivity.objects.count() == 1
    activity.gunicorn_worker_exit(None, None)  # nothing left: harmless


@pytest.mark.django_db(transaction=True)
def test_old_buffered_rows_are_written_by_the_background_flusher(client, user, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 100
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 0.3
    _, raw = create_token(user)
    client.get(ME, headers=bearer(raw))
    _wait_for_empty_buffer()
    assert TokenActivity.objects.count() == 1


_SHUTDOWN_SCRIPT = textwrap.dedent(
    """
    import django
    django.setup()
    from django.test import Client
    from accounts.models import User
    from apitokens import services
    user = User.objects.create_user("shutdown@example.com", "x" * 12)
    _, raw = services.api_token_create(user=user, name="Shutdown test")
    client = Client()
    for _ in range(25):
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    from apitokens import activity
    print(activity.activity_pending())
    # Normal interpreter exit: the atexit hook must write the 25 buffered rows.
    """
)


@pytest.mark.multiprocess
def test_no_activity_is_lost_on_a_normal_shutdown(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="quickbot.settings",
        LOCAL_RUN="1",
        SQLITE_PATH=str(tmp_path / "shutdown.sqlite3"),
        QUICKBOT_ACTIVITY_BUFFER_SIZE="1000",
        QUICKBOT_ACTIVITY_FLUSH_SECONDS="3600",
        ALLOWED_HOSTS="testserver",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True, "timeout": 120}
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], **run, check=False
    )
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run([sys.executable, "-c", _SHUTDOWN_SCRIPT], **run, check=False)
    assert result.returncode == 0, result.stderr
    # All 25 rows were still buffered when the script ended.
    assert result.stdout.strip().splitlines()[-1] == "25"
    with sqlite3.connect(tmp_path / "shutdown.sqlite3") as database:
        (count,) = database.execute("SELECT COUNT(*) FROM apitokens_tokenactivity").fetchone()
    assert count == 25


@pytest.mark.django_db
def test_control_characters_never_break_the_activity_write(client, user):
    _, raw = create_token(user)
    client.get("/api/v1/me%00/", headers={**bearer(raw), "User-Agent": "evil\x00agent"})
    client.get(ME, headers={**bearer(raw), "User-Agent": "evil\x00agent"})
    row = TokenActivity.objects.get(status=HTTPStatus.OK)
    assert row.user_agent == "evilagent"


@pytest.mark.django_db(transaction=True)  # autocommit: constraints checked per statement
def test_a_row_the_database_refuses_does_not_hold_back_the_others(user, settings, caplog):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 100
    settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS = 3600
    token, _ = create_token(user)
    now = timezone.now()
    common = {
        "method": "GET",
        "path": ME,
        "status": 200,
        "ip": None,
        "user_agent": "",
        "duration_ms": 1,
        "now": now,
    }
    activity.activity_record(token_id=token.pk, owner_id=user.pk, **common)
    activity.activity_record(token_id=987654321, owner_id=user.pk, **common)  # no such token
    activity.activity_record(token_id=token.pk, owner_id=user.pk, **common)
    assert activity.activity_flush() == 2
    assert TokenActivity.objects.count() == 2
    assert activity.activity_pending() == 0
    assert "Dropped 1 API activity rows" in caplog.text
