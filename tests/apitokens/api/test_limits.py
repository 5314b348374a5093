from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import DatabaseError
from django.utils import timezone

from apitokens import tokens
from apitokens.api import internals, limits, lookup
from apitokens.api.limits import local as memory
from apitokens.api.limits import rate_limit_hit, usage_for
from apitokens.api.limits.local import MemoryCounters
from common.clientip import client_ip_from
from tests.apitokens.factories import create_token

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
    monkeypatch.setattr("apitokens.api.auth.clock", lambda: state["now"])

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
    monkeypatch.setattr(limits.counter_store, "last_error_logged", -1000.0)
    settings.CACHES = BROKEN_CACHE
    first = client.get(ME, headers=bearer(raw))
    second = client.get(ME, headers=bearer(raw))
    assert first.status_code == second.status_code == HTTPStatus.OK
    assert "X-RateLimit-Limit" not in first
    errors = [
        r for r in caplog.records if r.name == "apitokens.api.limits" and r.levelname == "ERROR"
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
    from apitokens.api.limits import rate_limit_hit
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
    start_at = time.time() + 6  # every process set up first, even on a busy machine
    user_id = (uuid.uuid4().int % 1_000_000_000 + 1_000_000_000) * 2
    env = {**os.environ, "CACHE_KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(user_id), str(limit), str(attempts), str(start_at)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=Path(__file__).resolve().parents[3],
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
        assert limits.bad_auth_hit("198.51.100.7", now) is None
    assert limits.bad_auth_count("198.51.100.7", now) == 0  # no round trip spent yet


def test_failures_are_counted_exactly_near_the_limit(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 40
    now = 2_000_000.0
    answers = [limits.bad_auth_hit("198.51.100.8", now) for _ in range(45)]
    assert answers[:40] == [None] * 40
    assert all(answer is not None for answer in answers[40:])


def test_other_processes_failures_count_too(settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 10
    now = 2_000_000.0
    limits.counters().add("qb:badauth:198.51.100.9:3333", 10, 600)  # another worker's failures
    assert limits.bad_auth_hit("198.51.100.9", now) is not None


# --- Without Redis: the counters in this process's memory -------------------------------


def test_without_redis_the_counters_live_in_the_process(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert isinstance(limits.counters(), MemoryCounters)


def test_memory_counters_open_a_new_window_an_hour_after_the_first_request():
    store = MemoryCounters()
    assert store.hit(7, 1_000, "") == (0, 1_000, 1)
    assert store.hit(7, 4_599, "") == (0, 1_000, 2)
    assert store.hit(7, 4_600, "") == (0, 4_600, 1)
    assert store.usage(7, 4_601) == (4_600, 1)
    assert store.usage(7, 8_200) == (None, 0)


def test_memory_counters_give_back_only_to_the_window_that_counted():
    store = MemoryCounters()
    store.hit(7, 1_000, "")
    store.hit(7, 4_600, "")  # a new window opened meanwhile
    store.give_back(7, 1_000)
    assert store.usage(7, 4_601) == (4_600, 1)
    store.give_back(7, 4_600)
    assert store.usage(7, 4_601) == (4_600, 0)


def test_memory_named_counters_expire_after_their_timeout(monkeypatch):
    clock = {"now": 5_000.0}
    monkeypatch.setattr(memory.time, "time", lambda: clock["now"])
    store = MemoryCounters()
    assert store.add("qb:badauth:198.51.100.1:8", 3, 60) == 3
    assert store.add("qb:badauth:198.51.100.1:8", 2, 60) == 5
    assert store.hit(7, 5_000, "qb:badauth:198.51.100.1:8")[0] == 5
    clock["now"] += 60
    assert store.get_int("qb:badauth:198.51.100.1:8") == 0
    assert store.add("qb:badauth:198.51.100.1:8", 1, 60) == 1


def test_memory_counters_stay_bounded_dropping_ended_windows_first(monkeypatch):
    monkeypatch.setattr(memory, "MAX_KEYS", 4)
    store = MemoryCounters()
    for user_id in range(3):
        store.hit(user_id, 1_000, "")  # these windows end at 4_600
    store.hit(10, 4_000, "")
    for user_id in range(20, 30):
        store.hit(user_id, 4_700, "")
    assert len(store._windows) <= 4
    assert store.usage(10, 4_700) in ((4_000, 1), (None, 0))
    assert store.usage(29, 4_700) == (4_700, 1)  # the newest window is never the one dropped
    for number in range(10):
        store.add(f"name-{number}", 1, 60)
    assert len(store._named) <= 4
    assert store.get_int("name-9") == 1


# --- Redis: the count sent before the token lookup, read after it ------------------------
# These run against a real Redis: REDIS_URL (CI's PostgreSQL pass) or the local one on
# 127.0.0.1:6379 database 15 (CI's SQLite pass); skipped only where no Redis answers.


# CI's cluster stage runs these on Redis Cluster (REDIS_CLUSTER=1, REDIS_URL a node), where the
# count is sent after the lookup: the tests of the overlap on one Redis are skipped there.
ON_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in {"1", "true", "yes", "on"}
single_redis_only = pytest.mark.skipif(ON_CLUSTER, reason="the overlap is single-Redis only")


def _test_redis_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get(
        "QUICKBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
    )


@pytest.fixture
def redis_cache(settings):
    import redis

    url = _test_redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        pytest.skip(f"no Redis answers at {url}")
    settings.CACHES = {
        "default": {
            "BACKEND": "common.redis_cluster.RedisClusterCache"
            if ON_CLUSTER
            else "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"overlap-{uuid.uuid4().hex}",
        }
    }
    limits.reset_local_counters()
    yield limits.counters()
    caches["default"].clear()
    limits.reset_local_counters()


def record_redis_commands(monkeypatch, record) -> None:
    """Call `record(command)` for every command sent to Redis, alone or several in one write."""
    from redis.connection import Connection

    send, pack_commands = Connection.send_command, Connection.pack_commands

    def recording_send(self, *args, **kwargs):
        record(args)
        return send(self, *args, **kwargs)

    def recording_pack_commands(self, commands):
        commands = list(commands)
        for command in commands:
            record(command)
        return pack_commands(self, commands)

    monkeypatch.setattr(Connection, "send_command", recording_send)
    monkeypatch.setattr(Connection, "pack_commands", recording_pack_commands)


@pytest.fixture
def redis_order(monkeypatch):
    """Record Redis sends/reads and token lookups in the order they happen."""
    from redis.connection import Connection

    events: list[str] = []
    read = Connection.read_response
    lookup = internals.fetch_token_with_owner

    def recording_send(command):
        if threading.current_thread() is threading.main_thread():  # not a background writer
            events.append(f"send {command[0]}")

    record_redis_commands(monkeypatch, recording_send)

    def recording_read(self, *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            events.append("read")
        return read(self, *args, **kwargs)

    def recording_lookup(*args, **kwargs):
        events.append("lookup")
        return lookup(*args, **kwargs)

    monkeypatch.setattr(Connection, "read_response", recording_read)
    monkeypatch.setattr(internals, "fetch_token_with_owner", recording_lookup)
    return events


@single_redis_only
@pytest.mark.django_db
def test_known_token_is_counted_while_its_lookup_runs(client, user, redis_cache, redis_order):
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "1"
    assert redis_order.index("lookup") < redis_order.index("send EVALSHA")  # first: in turn
    redis_order.clear()
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "2"
    # then: overlapped (the address's failure count travels in the same round trip)
    assert redis_order[:5] == ["send GET", "send EVALSHA", "lookup", "read", "read"]


@single_redis_only
@pytest.mark.django_db
def test_overlapped_count_and_failure_read_leave_in_one_write(
    client, user, redis_cache, monkeypatch
):
    from redis.connection import Connection

    _, raw = create_token(user)
    client.get(ME, headers=bearer(raw))  # the owner is known from now on
    writes = []
    send_packed = Connection.send_packed_command

    def recording(self, command, *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            writes.append(command)
        return send_packed(self, command, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", recording)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK
    assert len(writes) == 1  # a packet per command would cost a wake-up of Redis each
    assert b"GET" in b"".join(writes[0]) and b"EVALSHA" in b"".join(writes[0])


@pytest.mark.django_db
def test_unknown_tokens_never_reach_redis_before_the_lookup(client, redis_cache, redis_order):
    response = client.get(ME, headers=bearer(tokens.generate_token()))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert redis_order[0] == "lookup"


@pytest.mark.django_db
def test_overlapped_count_stays_exact_at_the_limit(client, user, settings, frozen, redis_cache):
    settings.QUICKBOT_API_HOURLY_LIMIT = 3
    _, raw = create_token(user)
    statuses = [client.get(ME, headers=bearer(raw)) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    assert [r["X-RateLimit-Remaining"] for r in statuses] == ["2", "1", "0", "0", "0"]
    assert usage_for(user, now=frozen.now().timestamp()).used == 5


def _revoke(token, user):
    from apitokens import services

    services.api_token_revoke(token=token, actor=user)


def _expire(token, user):
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save(update_fields=["expires_at"])


def _deactivate(token, user):
    user.is_active = False
    user.save(update_fields=["is_active"])


@single_redis_only
@pytest.mark.django_db
@pytest.mark.parametrize("kill", [_revoke, _expire, _deactivate], ids=lambda f: f.__name__)
def test_refused_token_gives_its_count_back(client, user, frozen, redis_cache, redis_order, kill):
    token, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK
    kill(token, user)  # in "another process": this one still remembers the owner
    redis_order.clear()
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED
    assert redis_order.index("send EVALSHA") < redis_order.index("lookup")  # counted early...
    assert usage_for(user, now=frozen.now().timestamp()).used == 1  # ...and given back
    redis_order.clear()
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.UNAUTHORIZED
    assert redis_order[0] == "lookup"  # the digest is forgotten: no more speculation
    assert usage_for(user, now=frozen.now().timestamp()).used == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "status"),
    [(DatabaseError("server gone"), 503), (RuntimeError("bug"), 500)],
    ids=["database-down", "unexpected-error"],
)
def test_failed_lookup_gives_the_count_back_and_leaves_redis_clean(
    client, user, frozen, redis_cache, monkeypatch, error, status
):
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.OK

    def failing(digest, now=None):
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(lookup, "authenticate_digest", failing)
        client.raise_request_exception = False
        assert client.get(ME, headers=bearer(raw)).status_code == status
    assert usage_for(user, now=frozen.now().timestamp()).used == 1
    # The connection that carried the speculative count holds no unread reply.
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "2"


@pytest.mark.django_db
def test_script_lost_by_redis_is_loaded_again_and_counted_once(client, user, redis_cache):
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "1"
    redis_cache.client.script_flush()  # e.g. a Redis restart
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "2"
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "3"


@pytest.mark.django_db
@pytest.mark.parametrize(("fail_closed", "status"), [(False, 200), (True, 503)])
def test_overlapped_count_with_redis_down_fails_open_or_closed(
    client, user, settings, fail_closed, status
):
    _, raw = create_token(user)
    settings.CACHES = BROKEN_CACHE
    settings.QUICKBOT_RATELIMIT_FAIL_CLOSED = fail_closed
    limits.remember_owner(tokens.token_digest(raw), user.pk)
    assert client.get(ME, headers=bearer(raw)).status_code == status


def test_remembered_owners_are_bounded(monkeypatch):
    monkeypatch.setattr(limits.owners, "max_size", 3)
    for number in range(7):
        limits.remember_owner(f"digest-{number}", number)
    assert len(limits.owners.by_digest) <= 3
    assert limits.owners.by_digest.get("digest-6") == 6


@pytest.mark.django_db
@pytest.mark.parametrize(("fail_closed", "status"), [(False, 200), (True, 503)])
def test_redis_lost_while_the_lookup_runs_fails_open_or_closed_and_recovers(
    client, user, settings, redis_cache, monkeypatch, fail_closed, status
):
    import redis
    from redis.connection import Connection

    settings.QUICKBOT_RATELIMIT_FAIL_CLOSED = fail_closed
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "1"
    read = Connection.read_response

    def lost(self, *args, **kwargs):
        raise redis.exceptions.ConnectionError("connection reset")

    with monkeypatch.context() as patch:
        patch.setattr(Connection, "read_response", lost)
        assert client.get(ME, headers=bearer(raw)).status_code == status
    assert Connection.read_response is read
    # The next request reads its own count, not the lost reply (which Redis did count).
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "3"


@single_redis_only
@pytest.mark.django_db
def test_every_script_call_keeps_its_keys_in_one_cluster_slot(
    client, user, frozen, redis_cache, redis_order, monkeypatch
):
    """Redis Cluster runs a script only when its keys share a hash slot: each account's
    keys carry the account's hash tag, `{<id>}` (the counter key the script builds too)."""
    from redis.crc import key_slot

    calls = []
    record_redis_commands(
        monkeypatch, lambda command: calls.append(command) if command[0] == "EVALSHA" else None
    )
    token, raw = create_token(user)
    client.get(ME, headers=bearer(raw))  # counted after the lookup
    client.get(ME, headers=bearer(raw))  # counted while the lookup runs
    _revoke(token, user)
    client.get(ME, headers=bearer(raw))  # refused: the count is given back
    assert len([call for call in calls if "qb:rl:" in str(call[3])]) >= 4
    for _, _, number, *rest in calls:
        keys = [str(key) for key in rest[:number]]
        if not any("qb:rl:" in key for key in keys):
            continue  # a per-address failure counter: one key
        slots = {key_slot(key.encode()) for key in keys}
        if len(rest) > number + 3:  # the hit script: ARGV[4] prefixes the counter key
            assert f"{{{user.pk}}}" in rest[number + 3]
            slots.add(key_slot(f"{rest[number + 3]}{rest[number]}".encode()))
        assert len(slots) == 1, keys
        assert all(f"{{{user.pk}}}" in key for key in keys)
