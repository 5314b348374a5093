"""The counter store (apitokens/api/limits/store.py): memory without Redis, and the outage log line
(once a minute, with a hint when the node belongs to a cluster)."""

from __future__ import annotations

import logging
from http import HTTPStatus

import pytest
from redis.exceptions import AskError, MovedError

from apitokens.api import limits
from apitokens.api.limits.local import MemoryCounters
from tests.apitokens.factories import create_token


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


@pytest.mark.usefixtures("_unbuffered_activity")
# --- Without Redis: the counters in this process's memory -------------------------------


def test_without_redis_the_counters_live_in_the_process(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert isinstance(limits.counters(), MemoryCounters)
