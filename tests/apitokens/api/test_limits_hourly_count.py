"""The hourly count in two steps around the token lookup: `limits.hourly_start`, then
`admit(owner)` or `cancel()` on what it returns, or leaving its block (the lookup failed).

Each test runs without Redis (the process's counters) and on Redis (REDIS_URL, or the local
one on 127.0.0.1:6379 database 15; Redis Cluster when REDIS_CLUSTER is on).
"""

from __future__ import annotations

import os
import time
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import caches

from apitokens.api import limits
from apitokens.api.limits.local import MemoryCounters
from apitokens.api.limits.redis import ClusterCounters

NOW = 1_800_000_000.0
IP = "198.51.100.20"
ON_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in {"1", "true", "yes", "on"}
BROKEN_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


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
