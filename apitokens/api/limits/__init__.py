"""Hourly request limit per account, bad-credential limit per client IP.

`count_authenticated` is what the API path calls: it runs the token lookup it is given and,
when the lookup accepts the token, counts the request against the owner's hourly limit. On
Redis the count and the lookup overlap: this process remembers which account a token digest
authenticated for, sends that account's count before the lookup and reads it after; when
the lookup refuses the token or fails, the count is given back and the digest forgotten, so
the counters end exact. The lookup still decides every request (this is not a token cache).

Counters live in Redis when the default cache is Redis (every process shares them: see
`redis.RedisCounters`, and `redis.ClusterCounters` on Redis Cluster), else in this process's
memory, as the local-memory cache would keep them (`local.MemoryCounters`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.dispatch import receiver
from django.test.signals import setting_changed
from redis.exceptions import AskError, MovedError

from apitokens.api.limits.local import MemoryCounters
from apitokens.api.limits.redis import (
    WINDOW_SECONDS,
    ClusterCounters,
    PendingHit,
    RedisCounters,
)
from apitokens.api.lookup import AuthResult
from common.clientip import rate_limit_key

logger = logging.getLogger(__name__)

_ERROR_LOG_INTERVAL_SECONDS = 60.0
_last_error_logged = -_ERROR_LOG_INTERVAL_SECONDS
_REDIS_BACKENDS = {
    "django.core.cache.backends.redis.RedisCache": RedisCounters,
    "common.redis_cluster.RedisClusterCache": ClusterCounters,
}


class RateLimitUnavailable(Exception):
    """The store holding the counters did not answer."""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """An account's position in its hourly window.

    `blocked_for` is set instead when the request's address is over its bad-credential
    allowance (seconds to wait); nothing was counted then.

    `used` counts every request of the window, refused ones included; `reset_at` is the
    epoch second the window ends (for an account with no window yet: one hour from now).
    """

    limit: int
    used: int
    reset_at: int
    blocked_for: int | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    @property
    def reset_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.reset_at, tz=UTC)

    def seconds_to_reset(self, now: float) -> int:
        return max(1, int(self.reset_at - now + 0.999))

    def headers(self, now: float) -> dict[str, str]:
        """GitHub-style X-RateLimit-* headers plus the IETF draft RateLimit fields."""
        limit = self.limit
        remaining = max(0, limit - self.used)
        seconds = self.seconds_to_reset(now)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(min(self.used, limit)),
            "X-RateLimit-Reset": str(self.reset_at),
            "RateLimit-Policy": f'"hourly";q={limit};w={WINDOW_SECONDS}',
            "RateLimit": f'"hourly";r={remaining};t={seconds}',
        }


@dataclass(frozen=True, slots=True)
class Counted:
    """What `count_authenticated` found: the lookup's result and, for an accepted token,
    the owner's hourly state (None with `unavailable` when the counters did not answer)."""

    result: AuthResult
    state: RateLimitState | None = None
    unavailable: bool = False


def hourly_limit_for(user) -> int:
    """The account's own limit when staff set one, else QUICKBOT_API_HOURLY_LIMIT."""
    override = getattr(user, "api_hourly_limit", None)
    return override if override is not None else settings.QUICKBOT_API_HOURLY_LIMIT


_counters: RedisCounters | MemoryCounters | None = None


def counters() -> RedisCounters | MemoryCounters:
    """The counter store for the default cache's configuration (built once)."""
    global _counters
    if _counters is None:
        config = settings.CACHES["default"]
        redis_counters = _REDIS_BACKENDS.get(config["BACKEND"])
        if redis_counters is not None:
            location = config["LOCATION"]
            if not isinstance(location, str):
                location = location[0]
            _counters = redis_counters(
                location.split(",")[0], config.get("OPTIONS", {}), config.get("KEY_PREFIX", "")
            )
        else:
            _counters = MemoryCounters()
    return _counters


def counters_forget() -> None:
    """Build the counter store anew on next use: without Redis that forgets every count
    (tests start from zero); Redis keeps its keys."""
    global _counters
    _counters = None


@receiver(setting_changed)
def _cache_settings_changed(*, setting: str, **kwargs) -> None:
    if setting == "CACHES":
        counters_forget()


def _note_unavailable() -> None:
    """Log that the counters are down, at most once a minute per process."""
    global _last_error_logged
    moment = time.monotonic()
    if moment - _last_error_logged >= _ERROR_LOG_INTERVAL_SECONDS:
        _last_error_logged = moment
        logger.error(
            "Rate-limit counters unavailable; API requests are %s%s",
            "refused (QUICKBOT_RATELIMIT_FAIL_CLOSED)"
            if settings.QUICKBOT_RATELIMIT_FAIL_CLOSED
            else "served without counting",
            _misconfiguration_hint(),
            exc_info=True,
        )


def _misconfiguration_hint() -> str:
    # A plain client on a cluster node gets a redirection for most keys: say what to set.
    if isinstance(sys.exc_info()[1], MovedError | AskError):
        return " (REDIS_URL is a node of a Redis Cluster: set REDIS_CLUSTER=1)"
    return ""


# --- The hourly limit ----------------------------------------------------------------------

_OWNERS_MAX = 10_000
_owners: dict[str, int] = {}  # token digest -> owner id, for tokens seen valid here


def remember_owner(digest: str, owner_id: int) -> None:
    """Note that the token with this digest belongs to this account (bounded map)."""
    if len(_owners) >= _OWNERS_MAX:
        _owners.clear()
    _owners[digest] = owner_id


def count_authenticated(
    *, digest: str, ip: str | None, now: float, authenticate: Callable[[], AuthResult]
) -> Counted:
    """Run `authenticate` (the token lookup) and count an accepted request against its
    owner's hourly limit. The lookup's exceptions propagate; nothing stays counted then."""
    store = counters()
    pending = None
    owner_id = _owners.get(digest)
    if owner_id is not None and isinstance(store, RedisCounters):
        pending = _send(store, owner_id, now, ip)
    try:
        result = authenticate()
    except BaseException:
        _discard(pending)
        raise
    if not result.ok:
        _discard(pending)
        _owners.pop(digest, None)
        return Counted(result)
    owner = result.token.owner
    limit = hourly_limit_for(owner)
    try:
        if pending is None or pending.user_id != owner.pk:
            _discard(pending)
            pending = None
            counts = _hit(store, owner.pk, now, ip)
        else:
            counts = pending.read()
        state = _state(store, owner.pk, limit, now, ip, counts)
    except Exception:
        _note_unavailable()
        return Counted(result, unavailable=True)
    if isinstance(store, RedisCounters):
        remember_owner(digest, owner.pk)
    return Counted(result, state)


def rate_limit_hit(
    *, user_id: int, limit: int, now: float | None = None, ip: str | None = None
) -> RateLimitState:
    """Count one request for the account and return the new state (check `.allowed`).

    With `ip`, an address over its bad-credential allowance is refused (`.blocked_for`)
    and nothing stays counted. Raises RateLimitUnavailable when the counters do not answer.
    """
    moment = time.time() if now is None else now
    store = counters()
    try:
        counts = _hit(store, user_id, moment, ip, check_failures=ip is not None)
        return _state(store, user_id, limit, moment, ip, counts)
    except Exception as error:
        _note_unavailable()
        raise RateLimitUnavailable from error


def _send(store: RedisCounters, user_id: int, now: float, ip: str | None) -> PendingHit | None:
    try:
        return store.send_hit(user_id, int(now), _bad_auth_key(ip, now)[0])
    except Exception:
        return None  # counted the sequential way after the lookup, which reports a failure


def _discard(pending: PendingHit | None) -> None:
    """Give back a count sent before a lookup that refused the token or failed."""
    if pending is None:
        return
    try:
        pending.discard()
    except Exception:
        _note_unavailable()


def _hit(
    store, user_id: int, now: float, ip: str | None, *, check_failures: bool = True
) -> tuple[int, int, int]:
    # Redis checks the address's failures in the same round trip; other stores only for
    # an address this process saw failing (they are per process anyway).
    failures_key = ""
    if check_failures and (_local_failures or isinstance(store, RedisCounters)):
        key = _bad_auth_key(ip, now)[0]
        if isinstance(store, RedisCounters) or key in _local_failures:
            failures_key = key
    if isinstance(store, RedisCounters):
        return store.send_hit(user_id, int(now), failures_key).read()
    return store.hit(user_id, int(now), failures_key)


def _state(store, user_id: int, limit: int, now: float, ip, counts) -> RateLimitState:
    failures, start, used = counts
    if failures >= settings.QUICKBOT_BAD_AUTH_LIMIT:
        store.give_back(user_id, start)
        retry_after = _bad_auth_key(ip, now)[1]
        return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=retry_after)
    return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)


def usage_for(user, now: float | None = None) -> RateLimitState:
    """The account's limit, requests used this window and when it resets, without counting.

    When the counters are down the state shows nothing used (the page still renders).
    """
    second = int(time.time() if now is None else now)
    try:
        start, used = counters().usage(user.pk, second)
    except Exception:
        _note_unavailable()
        start, used = None, 0
    reset_at = (second if start is None else start) + WINDOW_SECONDS
    return RateLimitState(limit=hourly_limit_for(user), used=used, reset_at=reset_at)


# --- Bad credentials, per client IP ------------------------------------------------------


def _bad_auth_key(ip: str | None, now: float) -> tuple[str, int]:
    """The address's failure counter for this window (an IPv6 client's /64: see
    `rate_limit_key`), and seconds until the window ends."""
    window = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS
    slot = int(now // window)
    return f"qb:badauth:{rate_limit_key(ip) or '-'}:{slot}", int((slot + 1) * window - now) + 1


# Failures are counted in the process first and added to the shared counter in batches
# whose size shrinks as the shared count nears the limit (a tenth of the distance left):
# a mistyped token costs no round trip, while near the limit every failure is synced, so
# the limit holds within a few requests per worker process.
_SYNC_FRACTION = 10
_LOCAL_MAX_KEYS = 10_000
_local_lock = threading.Lock()
_local_failures: dict[str, list[int]] = {}  # key -> [unsynced count, last shared total]


def reset_local_counters() -> None:
    """Forget this process's unsynced failure counts and the owners it remembers."""
    with _local_lock:
        _local_failures.clear()
    _owners.clear()


def bad_auth_hit(ip: str | None, now: float | None = None) -> int | None:
    """Count one request with bad credentials; seconds to wait when over the limit.

    Counters that do not answer never block."""
    now = time.time() if now is None else now
    key, retry_after = _bad_auth_key(ip, now)
    limit = settings.QUICKBOT_BAD_AUTH_LIMIT
    with _local_lock:
        entry = _local_failures.get(key)
        if entry is None:
            if len(_local_failures) >= _LOCAL_MAX_KEYS:
                _local_failures.clear()
            entry = _local_failures[key] = [0, 0]
        entry[0] += 1
        pending, known = entry
        must_sync = known + pending > limit or pending >= max(1, (limit - known) // _SYNC_FRACTION)
        if must_sync:
            entry[0] = 0
    if not must_sync:
        return None
    try:
        count = counters().add(key, pending, settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS + 1)
    except Exception:
        _note_unavailable()
        return None
    with _local_lock:
        entry[1] = count
    return retry_after if count > limit else None


def bad_auth_count(ip: str | None, now: float | None = None) -> int:
    """The address's shared failure count in the current window (what staff and tests see)."""
    return counters().get_int(_bad_auth_key(ip, time.time() if now is None else now)[0])


# --- Reports to the credential revocation endpoint, per client IP -------------------------


def credential_report_hit(ip: str | None, now: float | None = None) -> int | None:
    """Count one request to the revocation endpoint from `ip` (an IPv6 client by its /64);
    seconds to wait when the address sent more than QUICKBOT_CREDENTIAL_REPORT_LIMIT in its
    window.

    Counters that do not answer never block (a report of a leak must get through)."""
    now = time.time() if now is None else now
    window = settings.QUICKBOT_CREDENTIAL_REPORT_WINDOW_SECONDS
    slot = int(now // window)
    try:
        count = counters().add(f"qb:leakreport:{rate_limit_key(ip) or '-'}:{slot}", 1, window + 1)
    except Exception:
        _note_unavailable()
        return None
    if count > settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT:
        return int((slot + 1) * window - now) + 1
    return None
