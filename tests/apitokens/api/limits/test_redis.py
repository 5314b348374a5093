"""The counters in Redis (apitokens/api/limits/redis.py): atomic scripts shared by processes,
reloaded when Redis loses them, and every key of a script call in one Redis Cluster hash slot
(computed here, no Redis needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from http import HTTPStatus
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from apitokens.api.limits.redis import ClusterCounters, RedisCounters
from tests.apitokens.factories import create_token

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


ME = "/api/v1/me/"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


_HAMMER = textwrap.dedent(
    """
    import os, sys, time
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "quickbot.test_settings"
    django.setup()
    from apitokens.api.limits import rate_limit_hit
    user_id, limit, attempts = map(int, sys.argv[1:4])
    rate_limit_hit(user_id=user_id + 1, limit=limit)  # connect before the common start
    print("ready", flush=True)
    sys.stdin.readline()  # start together: the test says "go" once every process is ready
    first = time.monotonic()
    admitted = sum(rate_limit_hit(user_id=user_id, limit=limit).allowed for _ in range(attempts))
    print(admitted, first, time.monotonic())
    """
)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.multiprocess
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI runs it)")
def test_processes_sharing_redis_never_admit_more_than_the_limit():
    limit, attempts, workers = 1500, 1000, 4
    user_id = (uuid.uuid4().int % 1_000_000_000 + 1_000_000_000) * 2
    env = {**os.environ, "CACHE_KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(user_id), str(limit), str(attempts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=Path(__file__).resolve().parents[4],
            text=True,
        )
        for _ in range(workers)
    ]
    # A barrier, not a start time: on a loaded machine a process can take longer to set up
    # than any fixed delay (CI saw one start after the others had used the whole limit).
    assert [process.stdout.readline().strip() for process in processes] == ["ready"] * workers
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [process.communicate(timeout=60)[0].split() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    admitted = [int(count) for count, _first, _last in results]
    spans = [(float(first), float(last)) for _count, first, last in results]
    # They really did run concurrently: some two of them were counting at the same time.
    assert any(
        a_first < b_last and b_first < a_last
        for index, (a_first, a_last) in enumerate(spans)
        for b_first, b_last in spans[index + 1 :]
    ), spans
    assert sum(admitted) == limit


# --- Redis: the count sent before the token lookup, read after it ------------------------
# These run against a real Redis: REDIS_URL (CI's PostgreSQL pass) or the local one on
# 127.0.0.1:6379 database 15 (CI's SQLite pass); skipped only where no Redis answers.


# CI's cluster stage runs these on Redis Cluster (REDIS_CLUSTER=1, REDIS_URL a node), where the
# count is sent after the lookup: the tests of the overlap on one Redis are skipped there.
ON_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in {"1", "true", "yes", "on"}


single_redis_only = pytest.mark.skipif(ON_CLUSTER, reason="the overlap is single-Redis only")


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


def _revoke(token, user):
    from apitokens import services

    services.api_token_revoke(token=token, actor=user)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.django_db
def test_script_lost_by_redis_is_loaded_again_and_counted_once(client, user, redis_cache):
    _, raw = create_token(user)
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "1"
    redis_cache.client.script_flush()  # e.g. a Redis restart
    response = client.get(ME, headers=bearer(raw))
    assert response.status_code == HTTPStatus.OK
    assert response["X-RateLimit-Used"] == "2"
    assert client.get(ME, headers=bearer(raw))["X-RateLimit-Used"] == "3"


@pytest.mark.usefixtures("_unbuffered_activity")
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
