"""Redis Cluster runs a script only when every key it touches lives in one hash slot. These
tests need no Redis: they compute the slot of each key the counters' script calls use."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot
from redis.exceptions import AskError, MovedError

from apitokens.api import limits
from apitokens.api.limits.redis import ClusterCounters, RedisCounters

PROJECT_DIR = Path(__file__).resolve().parents[3]
# Prefixes an operator might choose (CACHE_KEY_PREFIX; braces are refused by the settings).
prefixes = st.one_of(st.just(""), st.just("quickbot"), st.text(alphabet="ab:-_ 9é", max_size=12))


def script_keys(store: RedisCounters, user_id: int, second: int, start: int) -> list[str]:
    """Every key the hit script and the give-back touch for one account."""
    start_key, _, _, _, counter_prefix = store._hit_call(user_id, second)
    return [
        start_key,
        f"{counter_prefix}{second}",  # the counter the script creates when a window opens
        f"{counter_prefix}{start}",  # the counter of a window that started earlier
        store.account_key(user_id, str(start)),  # what give_back decrements
    ]


@settings(max_examples=300, deadline=None)
@given(
    user_id=st.integers(min_value=1, max_value=2**63 - 1),
    prefix=prefixes,
    second=st.integers(min_value=0, max_value=2**40),
    age=st.integers(min_value=0, max_value=3599),
)
def test_every_key_of_an_accounts_script_call_shares_one_slot(user_id, prefix, second, age):
    store = RedisCounters("redis://127.0.0.1:1/0", {}, prefix)
    keys = script_keys(store, user_id, second, second - age)
    assert len({key_slot(key.encode()) for key in keys}) == 1, keys


@settings(max_examples=100, deadline=None)
@given(user_id=st.integers(min_value=1, max_value=2**63 - 1), prefix=prefixes)
def test_the_count_given_back_is_the_one_the_script_made(user_id, prefix):
    store = RedisCounters("redis://127.0.0.1:1/0", {}, prefix)
    _, _, _, _, counter_prefix = store._hit_call(user_id, 1_800_000_000)
    assert store.account_key(user_id, "1800000000") == f"{counter_prefix}1800000000"


def test_accounts_spread_over_the_slots():
    """The hash tag is the account, so a cluster shares the accounts out between masters."""
    store = RedisCounters("redis://127.0.0.1:1/0", {}, "quickbot")
    slots = {key_slot(store.account_key(user_id, "start").encode()) for user_id in range(1, 2001)}
    assert len(slots) > 1900
    thirds = {slot * 3 // 16384 for slot in slots}
    assert thirds == {0, 1, 2}


def test_cluster_counters_build_their_keys_as_the_single_redis_ones():
    for name in ("account_key", "key", "_hit_call", "give_back", "add", "get_int", "usage"):
        assert getattr(ClusterCounters, name) is getattr(RedisCounters, name), name


@pytest.mark.parametrize("error", [MovedError("10508 127.0.0.1:7102"), AskError("1 h:1")])
def test_a_redirection_in_the_fail_open_log_says_to_turn_cluster_mode_on(
    caplog, monkeypatch, error, redirections_expected
):
    monkeypatch.setattr(limits.counter_store, "last_error_logged", -1000.0)
    with caplog.at_level(logging.ERROR, logger="apitokens.api.limits"):
        try:
            raise error
        except (MovedError, AskError):
            limits.counter_store.note_unavailable()
    assert "set REDIS_CLUSTER=1" in caplog.records[-1].getMessage()


def test_other_outages_log_no_cluster_hint(caplog, monkeypatch):
    monkeypatch.setattr(limits.counter_store, "last_error_logged", -1000.0)
    with caplog.at_level(logging.ERROR, logger="apitokens.api.limits"):
        try:
            raise ConnectionError("refused")
        except ConnectionError:
            limits.counter_store.note_unavailable()
    assert "REDIS_CLUSTER" not in caplog.records[-1].getMessage()


@pytest.mark.parametrize(
    ("cluster", "backend"),
    [
        ("1", "common.redis_cluster.RedisClusterCache"),
        ("0", "django.core.cache.backends.redis.RedisCache"),
        (None, "django.core.cache.backends.redis.RedisCache"),
    ],
)
def test_redis_cluster_setting_picks_the_cluster_cache(cluster, backend):
    env = {
        "PATH": "/usr/bin:/bin",
        "LOCAL_RUN": "1",
        "REDIS_URL": "redis://127.0.0.1:7101/0",
        **({"REDIS_CLUSTER": cluster} if cluster is not None else {}),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings as s; print(s.CACHES['default'])"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"'BACKEND': '{backend}'" in result.stdout


@pytest.mark.parametrize("prefix", ["{}", "qb{", "}", "{tenant}"])
def test_a_key_prefix_with_braces_is_refused(prefix):
    """Redis hashes a key's first {...} (all of it when empty): a brace in the prefix would
    move an account's keys into different slots, where its script cannot run."""
    result = subprocess.run(
        [sys.executable, "-c", "import quickbot.settings"],
        cwd=PROJECT_DIR,
        env={"PATH": "/usr/bin:/bin", "LOCAL_RUN": "1", "CACHE_KEY_PREFIX": prefix},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "CACHE_KEY_PREFIX must not contain braces" in result.stderr


def test_cluster_cache_refuses_a_database_other_than_zero():
    from django.core.exceptions import ImproperlyConfigured

    from common.redis_cluster import cluster_client

    with pytest.raises(ImproperlyConfigured, match="database 0 only"):
        cluster_client("redis://127.0.0.1:7101/6", {})
