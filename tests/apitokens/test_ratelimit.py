from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from django.utils import timezone

from apitokens import ratelimit, tokens
from apitokens.ratelimit import client_ip_from, rate_limit_hit, usage_for
from tests.apitokens.factories import create_token


@pytest.fixture(autouse=True)
def _fresh_failure_counters():
    """The per-IP failure counts batch in the process; start each test from zero."""
    ratelimit.reset_local_counters()


ME = "/api/v1/me/"
BROKEN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.fixture(autouse=True)
def _unbuffered_activity(settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0


@pytest.fixture
def frozen(monkeypatch):
    """Pin the API's clock; returns a setter."""
    state = {"now": timezone.now()}
    monkeypatch.setattr("apitokens.middleware.clock", lambda: state["now"])

    def move(**delta):
        state["now"] += timedelta(**delta)
        return state["now"]

    move.now = lambda: state["now"]
    return move


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.django_db
def test_limit_is_admitted_exactly_then_refused_without_work(client, user, settings, frozen):
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    token, raw = create_token(user, scopes=("read", "write"))
    for used in (1, 2, 3):
        response = client.get(ME, headers=bearer(raw))
        assert response.status_code == HTTPStatus.OK
        assert response["X-RateLimit-Used"] == str(used)
        assert response["X-RateLimit-Remaining"] == str(3 - used)
    response = client.delete("/api/v1/tokens/current/", headers=bearer(raw))
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    body = response.json()
    assert body["error"] == "rate_limited"
    assert set(body) == {"error", "detail", "docs"}
    assert int(response["Retry-After"]) == 3600
    assert response["X-RateLimit-Remaining"] == "0"
    token.refresh_from_db()
    assert token.revoked_at is None  # the refused DELETE did no work


@pytest.mark.django_db
def test_window_reset_restores_the_allowance(client, user, settings, frozen):
    settings.QUICKBOT_API_HOURLY_LIMIT = 1
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK
    frozen(minutes=59, seconds=59)
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response["Retry-After"] == "1"
    frozen(seconds=1)
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "1"
    assert response["X-RateLimit-Reset"] == str(int(frozen.now().timestamp()) + 3600)


@pytest.mark.django_db
def test_rate_limit_headers_on_success(client, user, frozen):
    _, raw = create_token(user)
    response = client.get(ME, headers=bearer(raw))
    reset = int(frozen.now().timestamp()) + 3600
    assert response["X-RateLimit-Limit"] == "1000"
    assert response["X-RateLimit-Remaining"] == "999"
    assert response["X-RateLimit-Used"] == "1"
    assert response["X-RateLimit-Reset"] == str(reset)
    assert response["RateLimit-Policy"] == '"hourly";q=1000;w=3600'
    assert response["RateLimit"] == '"hourly";r=999;t=3600'


@pytest.mark.django_db
def test_window_starts_at_first_request_and_is_per_account(client, user, other_user, frozen):
    _, raw = create_token(user)
    _, other_raw = create_token(other_user)
    first = client.get(ME, headers=bearer(raw))
    frozen(minutes=10)
    second = client.get(ME, headers=bearer(raw))
    assert first["X-RateLimit-Reset"] == second["X-RateLimit-Reset"]
    other = client.get(ME, headers=bearer(other_raw))
    assert other["X-RateLimit-Used"] == "1"
    assert int(other["X-RateLimit-Reset"]) == int(first["X-RateLimit-Reset"]) + 600


@pytest.mark.django_db
def test_tokens_of_one_account_share_its_limit(client, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 2
    _, first = create_token(user, "First")
    _, second = create_token(user, "Second")
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(second)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.django_db
def test_per_account_override(client, user):
    user.api_hourly_limit = 1
    user.save(update_fields=["api_hourly_limit"])
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Limit"] == "1"
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.django_db
def test_usage_for_reports_without_counting(client, user):
    _, raw = create_token(user)
    state = usage_for(user)
    assert (state.limit, state.used, state.remaining) == (1000, 0, 1000)
    client.get(ME, headers=bearer(raw))
    client.get(ME, headers=bearer(raw))
    state = usage_for(user)
    assert (state.used, state.remaining) == (2, 998)
    assert usage_for(user).used == 2
    assert state.reset_datetime > timezone.now()


@pytest.mark.django_db
def test_bad_credentials_are_limited_per_ip(client, user, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 3
    _, raw = create_token(user)
    for _ in range(3):
        response = client.get(ME, headers=bearer(tokens.generate_token()))
        assert response.status_code == HTTPStatus.UNAUTHORIZED
    response = client.get(ME, headers={"Authorization": "Bearer qb_short"})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(response["Retry-After"]) > 0
    # A blocked address is refused before the lookup, even with a valid token...
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...while other addresses are not affected.
    response = client.get(ME, headers=bearer(raw), REMOTE_ADDR="192.0.2.9")
    assert response.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_bad_auth_uses_forwarded_ip_only_behind_trusted_proxy(client, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 1
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1
    headers = {"Authorization": "Bearer nope"}
    client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.1")
    blocked = client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.1")
    fresh = client.get(ME, headers=headers, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert fresh.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    ("meta", "count", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 1, "1.2.3.4"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, 1, "1.2.3.4"),
        (
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"},
            2,
            "1.2.3.4",
        ),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 2, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "garbage"}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1"}, 1, "10.0.0.1"),
        ({}, 0, None),
    ],
)
def test_client_ip_from(meta, count, expected):
    assert client_ip_from(meta, count) == expected


@pytest.mark.django_db
def test_cache_down_fails_open_and_logs_once_per_minute(
    client, user, settings, caplog, monkeypatch
):
    _, raw = create_token(user)
    monkeypatch.setattr(ratelimit, "_last_error_logged", -1000.0)
    settings.CACHES = BROKEN_CACHE
    first = client.get(ME, headers=bearer(raw))
    second = client.get(ME, headers=bearer(raw))
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert "X-RateLimit-Limit" not in first
    errors = [
        r for r in caplog.records if r.name == "apitokens.ratelimit" and r.levelname == "ERROR"
    ]
    assert len(errors) == 1


@pytest.mark.django_db
def test_cache_down_fails_closed_when_configured(client, user, settings, monkeypatch):
    _, raw = create_token(user)
    settings.QUICKBOT_RATELIMIT_FAIL_CLOSED = True
    settings.CACHES = BROKEN_CACHE
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["error"] == "service_unavailable"
    assert response["Retry-After"]


def test_rate_limit_hit_counts_in_one_window():
    user_id = 10_000_001
    states = [rate_limit_hit(user_id=user_id, limit=2, now=1_000_000.0) for _ in range(3)]
    assert [state.allowed for state in states] == [True, True, False]
    assert {state.reset_at for state in states} == {1_003_600}
    assert rate_limit_hit(user_id=user_id, limit=2, now=1_003_600.0).used == 1


_HAMMER = textwrap.dedent(
    """
    import os, sys, time
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "quickbot.test_settings"
    django.setup()
    from apitokens.ratelimit import rate_limit_hit
    user_id, limit, attempts = map(int, sys.argv[1:4])
    rate_limit_hit(user_id=user_id + 1, limit=limit)  # connect before the common start
    time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # start together
    admitted = sum(rate_limit_hit(user_id=user_id, limit=limit).allowed for _ in range(attempts))
    print(admitted)
    """
)


@pytest.mark.multiprocess
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it)")
def test_processes_sharing_redis_never_admit_more_than_the_limit():
    limit, attempts, workers = 1500, 1000, 4
    start_at = time.time() + 3
    user_id = (uuid.uuid4().int % 1_000_000_000 + 1_000_000_000) * 2
    env = {**os.environ, "CACHE_KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(user_id), str(limit), str(attempts), str(start_at)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            text=True,
        )
        for _ in range(workers)
    ]
    admitted = [int(process.communicate(timeout=60)[0].strip()) for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert all(count > 0 for count in admitted)  # they really did run concurrently
    assert sum(admitted) == limit


def test_occasional_failures_stay_in_the_process(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100
    now = 2_000_000.0
    for _ in range(5):
        assert ratelimit.bad_auth_hit("198.51.100.7", now) is None
    key, _ = ratelimit._bad_auth_key("198.51.100.7", now)
    assert ratelimit.caches["default"].get(key) is None  # no round trip spent yet


def test_failures_are_counted_exactly_near_the_limit(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 40
    now = 2_000_000.0
    answers = [ratelimit.bad_auth_hit("198.51.100.8", now) for _ in range(45)]
    assert answers[:40] == [None] * 40
    assert all(answer is not None for answer in answers[40:])


def test_other_processes_failures_count_too(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 10
    now = 2_000_000.0
    key, _ = ratelimit._bad_auth_key("198.51.100.9", now)
    ratelimit.caches["default"].set(key, 10, 600)  # another worker used up the allowance
    assert ratelimit.bad_auth_hit("198.51.100.9", now) is not None
