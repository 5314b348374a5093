"""Which counter store this process uses, and the log line when it does not answer.

The store follows the default cache: Redis when the cache is Redis (every process shares the
counters: `redis.RedisCounters`, `redis.ClusterCounters` on Redis Cluster), else this
process's memory, as the local-memory cache would keep them (`local.MemoryCounters`). It is
built on first use, in `CounterStore.get`, and built anew after `forget` (a changed CACHES
setting, a test).
"""

from __future__ import annotations

import logging
import sys
import time

from django.conf import settings
from django.dispatch import receiver
from django.test.signals import setting_changed
from redis.exceptions import AskError, MovedError

from apitokens.api.limits.local import MemoryCounters
from apitokens.api.limits.redis import ClusterCounters, RedisCounters
from common import metrics

# One logger for every limit: operators and the tests' fail-open guard know it by this name.
logger = logging.getLogger("apitokens.api.limits")

ERROR_LOG_INTERVAL_SECONDS = 60.0
_REDIS_BACKENDS = {
    "django.core.cache.backends.redis.RedisCache": RedisCounters,
    "common.redis_cluster.RedisClusterCache": ClusterCounters,
}


class RateLimitUnavailable(Exception):
    """The store holding the counters did not answer."""


class CounterStore:
    """The process's counter store (built on first use) and the moment an outage was last
    logged (at most once a minute)."""

    __slots__ = ("store", "last_error_logged")

    def __init__(self) -> None:
        self.store: RedisCounters | MemoryCounters | None = None
        self.last_error_logged = -ERROR_LOG_INTERVAL_SECONDS

    def get(self) -> RedisCounters | MemoryCounters:
        """The counter store for the default cache's configuration."""
        store = self.store
        if store is None:
            store = self.store = _build()
        return store

    def forget(self) -> None:
        """Build the store anew on next use: without Redis that forgets every count; Redis
        keeps its keys."""
        self.store = None

    def reset(self) -> None:
        """`forget`, and log the next outage at once."""
        self.store = None
        self.last_error_logged = -ERROR_LOG_INTERVAL_SECONDS

    def note_unavailable(self) -> None:
        """Log that the counters are down (call it in an `except` block), at most once a
        minute per process."""
        if not settings.QUICKBOT_RATELIMIT_FAIL_CLOSED:
            metrics.counter_store_fail_opens.inc()
        moment = time.monotonic()
        if moment - self.last_error_logged >= ERROR_LOG_INTERVAL_SECONDS:
            self.last_error_logged = moment
            logger.error(
                "Rate-limit counters unavailable; API requests are %s%s",
                "refused (QUICKBOT_RATELIMIT_FAIL_CLOSED)"
                if settings.QUICKBOT_RATELIMIT_FAIL_CLOSED
                else "served without counting",
                _misconfiguration_hint(),
                exc_info=True,
            )


def _build() -> RedisCounters | MemoryCounters:
    config = settings.CACHES["default"]
    redis_counters = _REDIS_BACKENDS.get(config["BACKEND"])
    if redis_counters is None:
        return MemoryCounters()
    location = config["LOCATION"]
    if not isinstance(location, str):
        location = location[0]
    return redis_counters(
        location.split(",")[0], config.get("OPTIONS", {}), config.get("KEY_PREFIX", "")
    )


def _misconfiguration_hint() -> str:
    # A plain client on a cluster node gets a redirection for most keys: say what to set.
    if isinstance(sys.exc_info()[1], MovedError | AskError):
        return " (REDIS_URL is a node of a Redis Cluster: set REDIS_CLUSTER=1)"
    return ""


counter_store = CounterStore()
counters = counter_store.get
note_unavailable = counter_store.note_unavailable


@receiver(setting_changed)
def _cache_settings_changed(*, setting: str, **kwargs) -> None:
    if setting == "CACHES":
        counter_store.forget()
