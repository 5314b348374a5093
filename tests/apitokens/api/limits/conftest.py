"""Fixtures the test modules of this folder share."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from django.core.cache import caches

from apitokens.api import internals, limits

# --- Redis: the count sent before the token lookup, read after it ------------------------
# These run against a real Redis: REDIS_URL (CI's PostgreSQL pass) or the local one on
# 127.0.0.1:6379 database 15 (CI's SQLite pass); skipped only where no Redis answers.


# CI's cluster stage runs these on Redis Cluster (REDIS_CLUSTER=1, REDIS_URL a node), where the
# count is sent after the lookup: the tests of the overlap on one Redis are skipped there.
ON_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in {"1", "true", "yes", "on"}


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
    limits.reset()
    yield limits.counters()
    caches["default"].clear()
    limits.reset()


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
