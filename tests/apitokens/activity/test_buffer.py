"""The activity buffer (apitokens/activity/buffer.py): rows written in batches by the flusher
thread, inline when it falls behind, on flush and on shutdown."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.utils import timezone

from apitokens import activity
from apitokens.models import TokenActivity
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


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
