"""The hourly request limit per account (apitokens/api/limits/hourly.py): counted in two steps
around the token lookup (`hourly_start`, then `admit(owner)` or `cancel()`), overlapped with the
lookup on Redis, exact at the limit, failing open or closed."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta
from http import HTTPStatus
from types import SimpleNamespace

import pytest
from django.core.cache import caches
from django.db import DatabaseError
from django.utils import timezone

from apitokens import tokens
from apitokens.api import limits, lookup
from apitokens.api.limits import rate_limit_hit, usage_for
from apitokens.api.limits.local import MemoryCounters
from apitokens.api.limits.redis import ClusterCounters
from tests.apitokens.factories import create_token

ME = "/api/v1/me/"


BROKEN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


@pytest.mark.usefixtures("_unbuffered_activity")
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
    assert set(body) == {"error", "detail", "docs", "request_id"}
    assert int(response["Retry-After"]) == 3600
    assert response["X-RateLimit-Remaining"] == "0"
    token.refresh_from_db()
    assert token.revoked_at is None  # the refused DELETE did no work


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_tokens_of_one_account_share_its_limit(client, user, settings):
    settings.QUICKBOT_API_HOURLY_LIMIT = 2
    _, first = create_token(user, "First")
    _, second = create_token(user, "Second")
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(second)).status_code == HTTPStatus.OK
    assert client.get(ME, headers=bearer(first)).status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_per_account_override(client, user):
    user.api_hourly_limit = 1
    user.save(update_fields=["api_hourly_limit"])
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Limit"] == "1"
    assert client.get(ME, headers=bearer(raw)).status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
def test_rate_limit_hit_counts_in_one_window():
    user_id = 10_000_001
    states = [rate_limit_hit(user_id=user_id, limit=2, now=1_000_000.0) for _ in range(3)]
    assert [state.allowed for state in states] == [True, True, False]
    assert {state.reset_at for state in states} == {1_003_600}
    assert rate_limit_hit(user_id=user_id, limit=2, now=1_003_600.0).used == 1


# --- Redis: the count sent before the token lookup, read after it ------------------------
# These run against a real Redis: REDIS_URL (CI's PostgreSQL pass) or the local one on
# 127.0.0.1:6379 database 15 (CI's SQLite pass); skipped only where no Redis answers.


# CI's cluster stage runs these on Redis Cluster (REDIS_CLUSTER=1, REDIS_URL a node), where the
# count is sent after the lookup: the tests of the overlap on one Redis are skipped there.
ON_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in {"1", "true", "yes", "on"}


single_redis_only = pytest.mark.skipif(ON_CLUSTER, reason="the overlap is single-Redis only")


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_unknown_tokens_never_reach_redis_before_the_lookup(client, redis_cache, redis_order):
    response = client.get(ME, headers=bearer(tokens.generate_token()))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert redis_order[0] == "lookup"


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
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


@pytest.mark.usefixtures("_unbuffered_activity")
def test_remembered_owners_are_bounded(monkeypatch):
    monkeypatch.setattr(limits.owners, "max_size", 3)
    for number in range(7):
        limits.remember_owner(f"digest-{number}", number)
    assert len(limits.owners.by_digest) <= 3
    assert limits.owners.by_digest.get("digest-6") == 6


@pytest.mark.usefixtures("_unbuffered_activity")
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


NOW = 1_800_000_000.0


IP = "198.51.100.20"


def _redis_url() -> str:
    return os.environ.get("REDIS_URL") or os.environ.get(
        "QUICKBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"
    )


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    if request.param == "redis":
        import redis

        url = _redis_url()
        try:
            if not ON_CLUSTER:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            else:
                redis.Redis.from_url(url, socket_connect_timeout=0.5).cluster("info")
        except redis.exceptions.RedisError:
            pytest.skip(f"no Redis answers at {url}")
        settings.CACHES = {
            "default": {
                "BACKEND": "common.redis_cluster.RedisClusterCache"
                if ON_CLUSTER
                else "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"two-step-{uuid.uuid4().hex}",
            }
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    limits.reset()
    yield limits.counters()
    if request.param == "redis":
        caches["default"].clear()
    limits.reset()


@pytest.fixture
def owner():
    return SimpleNamespace(pk=700_000_000 + uuid.uuid4().int % 100_000_000, api_hourly_limit=None)


def used(owner) -> int:
    return limits.usage_for(owner, now=NOW).used


def sends_ahead(store) -> bool:
    """Whether this store counts before the lookup (one Redis, not a cluster)."""
    return not isinstance(store, MemoryCounters | ClusterCounters)


def known(owner, digest: str = "digest") -> None:
    """Make this process know the digest's owner: one admitted request."""
    with limits.hourly_start(digest=digest, ip=IP, now=NOW) as pending:
        pending.admit(owner)


def test_an_admitted_request_is_counted_against_its_owner(store, owner):
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        state = pending.admit(owner)
    assert (state.used, state.limit, state.reset_at) == (1, 1000, int(NOW) + 3600)
    assert state.allowed and state.blocked_for is None
    assert used(owner) == 1


def test_the_owners_own_limit_applies(store, owner):
    owner.api_hourly_limit = 1
    states = []
    for _ in range(2):
        with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
            states.append(pending.admit(owner))
    assert [state.allowed for state in states] == [True, False]
    assert states[1].limit == 1


def test_a_cancelled_request_leaves_no_count(store, owner):
    known(owner)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        pending.cancel()
    assert used(owner) == 1


def test_a_failed_lookup_leaving_the_block_leaves_no_count(store, owner):
    known(owner)
    with pytest.raises(RuntimeError), limits.hourly_start(digest="digest", ip=IP, now=NOW):
        raise RuntimeError("the lookup failed")
    with limits.hourly_start(digest="digest", ip=IP, now=NOW):
        pass  # an early return (the database did not answer)
    assert used(owner) == 1
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        assert pending.admit(owner).used == 2  # the connection held no stale reply


def test_a_known_owners_count_reaches_redis_before_the_lookup_ends(store, owner):
    known(owner)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        deadline = time.monotonic() + 2
        while used(owner) < 2 and time.monotonic() < deadline and sends_ahead(store):
            time.sleep(0.005)
        assert used(owner) == (2 if sends_ahead(store) else 1)
        assert pending.admit(owner).used == 2
    assert used(owner) == 2


def test_a_refused_token_is_no_longer_counted_ahead(store, owner):
    known(owner)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        pending.cancel()  # the token was deleted meanwhile
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        assert used(owner) == 1  # nothing sent ahead for a refused digest
        pending.cancel()
    assert used(owner) == 1


def test_a_failed_lookup_keeps_counting_ahead(store, owner):
    known(owner)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW):
        pass  # the database did not answer: the token may still be good
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        deadline = time.monotonic() + 2
        while used(owner) < 2 and time.monotonic() < deadline and sends_ahead(store):
            time.sleep(0.005)
        assert used(owner) == (2 if sends_ahead(store) else 1)
        pending.cancel()


def test_a_digest_owned_by_another_account_counts_the_real_owner_only(store, owner):
    other = SimpleNamespace(pk=owner.pk + 1, api_hourly_limit=None)
    known(owner)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        assert pending.admit(other).used == 1
    assert (used(owner), used(other)) == (1, 1)


def test_an_address_over_its_bad_credential_allowance_is_blocked_and_not_counted(
    store, owner, settings
):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 2
    known(owner)
    for _ in range(2):
        limits.bad_auth_hit(IP, NOW)
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        state = pending.admit(owner)
    assert state.blocked_for is not None and state.blocked_for > 0
    assert used(owner) == 1
    with limits.hourly_start(digest="digest", ip="192.0.2.1", now=NOW) as pending:
        assert pending.admit(owner).blocked_for is None  # another address is served


def test_counters_that_do_not_answer_admit_nothing_and_raise_nothing(settings, owner):
    settings.CACHES = BROKEN_CACHE
    limits.reset()
    limits.remember_owner("digest", owner.pk)  # would be counted ahead
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        assert pending.admit(owner) is None
    with limits.hourly_start(digest="digest", ip=IP, now=NOW) as pending:
        pending.cancel()
    limits.reset()


def test_reset_forgets_the_owners_and_unsynced_failures(store, owner, settings):
    settings.QUICKBOT_BAD_AUTH_LIMIT = 100
    known(owner)
    limits.bad_auth_hit(IP, NOW)
    limits.reset()
    assert limits.owners.by_digest == {}
    assert limits.failure_batches.entries == {}
    assert limits.counter_store.store is None
