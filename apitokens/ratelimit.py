"""Hourly request limit per account and the bad-credential limit per client IP.

Counters live in Django's cache (Redis in production, so every process shares them) and
move only by atomic `add` + `incr`. The hourly window starts with an account's first
request, as GitHub's does: a window-start key fixes when it began, and the counter key
carries that start in its name, so a counter can never leak into the next window.
"""

from __future__ import annotations

import ipaddress
import logging
import pickle
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import NoScriptError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
# Counter keys outlive their window-start key, so a request that read the start just
# before it expired still increments an existing counter (never a fresh, TTL-less one).
_COUNTER_GRACE_SECONDS = 120
_ERROR_LOG_INTERVAL_SECONDS = 60.0
_last_error_logged = -_ERROR_LOG_INTERVAL_SECONDS


class RateLimitUnavailable(Exception):
    """The cache holding the counters did not answer."""


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
        return dict(self.header_items(now))

    def header_items(self, now: float) -> tuple[tuple[str, str], ...]:
        """`headers` as (name, value) pairs: ASCII only, no line breaks."""
        limit = self.limit
        remaining = max(0, limit - self.used)
        seconds = self.seconds_to_reset(now)
        return (
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Used", str(min(self.used, limit))),
            ("X-RateLimit-Reset", str(self.reset_at)),
            ("RateLimit-Policy", f'"hourly";q={limit};w={WINDOW_SECONDS}'),
            ("RateLimit", f'"hourly";r={remaining};t={seconds}'),
        )


def hourly_limit_for(user) -> int:
    """The account's own limit when staff set one, else QUICKBOT_API_HOURLY_LIMIT."""
    override = getattr(user, "api_hourly_limit", None)
    return override if override is not None else settings.QUICKBOT_API_HOURLY_LIMIT


def _start_key(user_id: int) -> str:
    return f"qb:rl:{user_id}:start"


_UNREAD = object()


def _window_start(store, user_id: int, now: int, *, create: bool, start=_UNREAD) -> int | None:
    """The current window's start (epoch seconds); opens one when `create` and none runs.

    `start` is the start key's value when the caller already read it (in one round trip
    with other keys)."""
    key = _start_key(user_id)
    if start is _UNREAD:
        start = store.get(key)
    if start is not None and now < start + WINDOW_SECONDS:
        return start
    if not create:
        return None
    if start is None:
        store.add(key, now, WINDOW_SECONDS)
    else:
        # The window ran out before its key expired (the clock, not the TTL, decides):
        # the first process to `add` the successor key picks the new start for everyone.
        store.add(f"{key}:after:{start}", now, WINDOW_SECONDS + _COUNTER_GRACE_SECONDS)
        successor = store.get(f"{key}:after:{start}", now)
        store.set(key, successor, WINDOW_SECONDS)
    start = store.get(key)
    return now if start is None else start


def _incr(store, key: str, timeout: int, delta: int = 1) -> int:
    """Atomic increment that creates the key (with its expiry) when missing."""
    try:
        return store.incr(key, delta)
    except ValueError:
        store.add(key, 0, timeout)
        return store.incr(key, delta)


def _note_cache_failure() -> None:
    """Log that the cache is down, at most once a minute per process."""
    global _last_error_logged
    moment = time.monotonic()
    if moment - _last_error_logged >= _ERROR_LOG_INTERVAL_SECONDS:
        _last_error_logged = moment
        logger.error(
            "Rate-limit cache unavailable; API requests are %s",
            "refused (QUICKBOT_RATELIMIT_FAIL_CLOSED)"
            if settings.QUICKBOT_RATELIMIT_FAIL_CLOSED
            else "served without counting",
            exc_info=True,
        )


# --- Redis: one round trip per request ---------------------------------------------------
# Django's RedisCache builds a client object per call and implements `incr` as EXISTS +
# INCR: three to four round trips and ~400 us per API request. When the cache is Django's
# RedisCache with the default key function, the same keys are driven by two Lua scripts
# instead (atomic in Redis, one round trip each); values stay readable through the cache API
# (Django stores integers unpickled), so `usage_for` and the generic path see the same data.

_HIT_SCRIPT = """
local bad_key = KEYS[2]
if bad_key ~= nil and bad_key ~= '' then
  local bad = tonumber(redis.call('GET', bad_key) or '0')
  if bad >= tonumber(ARGV[1]) then return {-1, 0} end
end
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local start = tonumber(redis.call('GET', KEYS[1]) or '-1')
if start < 0 or now >= start + window then
  start = now
  redis.call('SET', KEYS[1], start, 'EX', window)
end
local counter = ARGV[5] .. start
local used = redis.call('INCR', counter)
if used == 1 then redis.call('EXPIRE', counter, window + tonumber(ARGV[4])) end
return {start, used}
"""

_INCR_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _redis_scripts(store):
    """(hit, incr) Lua scripts bound to the cache's Redis, or None for other caches."""
    scripts = store.__dict__.get("_quickbot_scripts", _UNREAD)
    if scripts is not _UNREAD:
        return scripts
    scripts = None
    try:
        from django.core.cache.backends.base import default_key_func
        from django.core.cache.backends.redis import RedisCache

        if isinstance(store, RedisCache) and store.key_func is default_key_func:
            backend = store._cache
            client = backend._client(connection_pool=backend._get_connection_pool(True))
            scripts = (client.register_script(_HIT_SCRIPT), client.register_script(_INCR_SCRIPT))
    except (ImportError, AttributeError):  # another Django version: use the generic path
        scripts = None
    store.__dict__["_quickbot_scripts"] = scripts
    return scripts


def _hit_arguments(store, user_id: int, second: int, bad_key: str) -> tuple[list, list]:
    """KEYS and ARGV of `_HIT_SCRIPT` (no per-IP check when `bad_key` is empty)."""
    keys = [store.make_key(_start_key(user_id)), store.make_key(bad_key) if bad_key else ""]
    args = [
        settings.QUICKBOT_BAD_AUTH_LIMIT,
        second,
        WINDOW_SECONDS,
        _COUNTER_GRACE_SECONDS,
        store.make_key(f"qb:rl:{user_id}:"),
    ]
    return keys, args


def rate_limit_hit(
    *,
    user_id: int,
    limit: int,
    now: float | None = None,
    ip: str | None | object = _UNREAD,
    digest: str | None = None,
) -> RateLimitState:
    """Count one request for the account and return the new state (check `.allowed`).

    With `ip`, first checks in the same cache read whether that address used up its
    bad-credential allowance: then nothing is counted and `.blocked_for` says how long
    the address must wait. With `digest` (of the token that just authenticated), on
    Redis, the process remembers the token's account for `rate_limit_begin`. Raises
    RateLimitUnavailable when the cache does not answer.
    """
    moment = time.time() if now is None else now
    second = int(moment)
    start_key = _start_key(user_id)
    try:
        store = caches["default"]
        scripts = _redis_scripts(store)
        # Without Redis the failure count only matters for an address this process saw
        # failing (see below): with no failure seen at all, the key is not even built.
        if ip is _UNREAD or (scripts is None and not _local_failures):
            bad_key, retry_after = "", 0
        else:
            bad_key, retry_after = _bad_auth_key(ip, moment)
        if scripts is not None:
            keys, args = _hit_arguments(store, user_id, second, bad_key)
            start, used = scripts[0](keys=keys, args=args)
            if digest is not None:
                remember_owner(digest, user_id)
            if start < 0:
                return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=retry_after)
            return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)
        # Without Redis, the shared failure count is read only for addresses this process
        # saw failing: a local cache is per process anyway, and it saves a read per request.
        seen_failing = bool(bad_key) and bad_key in _local_failures
        if _is_plain_locmem(store):
            counted = _locmem_hit(store, user_id, second, bad_key if seen_failing else "")
            if counted is _BLOCKED:
                return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=retry_after)
            if counted is not None:
                start, used = counted
                return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)
        if not seen_failing:
            start = store.get(start_key)
        else:
            found = store.get_many([start_key, bad_key])
            if found.get(bad_key, 0) >= settings.QUICKBOT_BAD_AUTH_LIMIT:
                return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=retry_after)
            start = found.get(start_key)
        start = _window_start(store, user_id, second, create=True, start=start)
        used = _incr(store, f"qb:rl:{user_id}:{start}", WINDOW_SECONDS + _COUNTER_GRACE_SECONDS)
    except Exception as error:
        _note_cache_failure()
        raise RateLimitUnavailable from error
    return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)


# --- Redis: the count sent before the token lookup, its answer read after it ------------
# On PostgreSQL + Redis a successful request makes two round trips: the token lookup and
# the count. They need not wait for each other when the account is known before the
# lookup: a process remembers which account a token digest belonged to when it last
# authenticated (an owner never changes), sends the count for that account, runs the
# lookup while Redis answers, then reads the count. The lookup still decides every
# request (this is not a token cache): when it refuses the token, the count is given back
# (`PendingHit.cancel`) and the digest forgotten, so the counters end exact. A digest not
# seen here before (an unknown token, a first request) takes the sequential path.

_OWNERS_MAX = 10_000
_owners: dict[str, int] = {}  # token digest -> owner id, for tokens seen valid here


def owner_hint(digest: str) -> int | None:
    """The account this process last saw the token with this digest authenticate for."""
    return _owners.get(digest)


def remember_owner(digest: str, owner_id: int) -> None:
    if len(_owners) >= _OWNERS_MAX:
        _owners.clear()
    _owners[digest] = owner_id


def forget_owner(digest: str) -> None:
    _owners.pop(digest, None)


class PendingHit:
    """An hourly-limit count sent to Redis whose answer is read later.

    Exactly one of `finish` (the request goes on) or `cancel` (it was refused) must be
    called: until then the pool's connection is held with an unread reply.
    """

    __slots__ = ("user_id", "_moment", "_ip", "_retry_after", "_pool", "_connection")

    def __init__(self, user_id, moment, ip, retry_after, pool, connection) -> None:
        self.user_id = user_id
        self._moment = moment
        self._ip = ip
        self._retry_after = retry_after
        self._pool = pool
        self._connection = connection

    @property
    def open(self) -> bool:
        return self._connection is not None

    def _reply(self):
        """The script's answer; None when it must run again through the Script object
        (Redis lost the script). The connection goes back to the pool, or is dropped on
        any error so that no other caller can read this reply."""
        connection, self._connection = self._connection, None
        try:
            reply = connection.read_response()
        except NoScriptError:
            self._pool.release(connection)
            return None
        except BaseException:
            connection.disconnect()
            self._pool.release(connection)
            raise
        self._pool.release(connection)
        return reply

    def finish(self, limit: int) -> RateLimitState:
        """The account's state after this request was counted (see `rate_limit_hit`)."""
        try:
            reply = self._reply()
        except Exception as error:
            _note_cache_failure()
            raise RateLimitUnavailable from error
        if reply is None:
            return rate_limit_hit(user_id=self.user_id, limit=limit, now=self._moment, ip=self._ip)
        start, used = reply
        if start < 0:
            return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=self._retry_after)
        return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)

    def cancel(self) -> None:
        """Give back the count (the lookup refused the token, or failed). Never raises."""
        if self._connection is None:
            return
        try:
            reply = self._reply()
            if reply is None or reply[0] < 0:
                return  # nothing was counted
            store = caches["default"]
            _redis_scripts(store)[1](
                keys=[store.make_key(f"qb:rl:{self.user_id}:{reply[0]}")],
                args=[WINDOW_SECONDS + _COUNTER_GRACE_SECONDS, -1],
            )
        except Exception:
            _note_cache_failure()


def rate_limit_begin(*, user_id: int, now: float, ip: str | None) -> PendingHit | None:
    """Send `rate_limit_hit`'s count to Redis without waiting for the answer.

    None when the cache is not Redis driven by our scripts, or the command could not be
    sent: the caller then counts the sequential way (which reports a cache failure)."""
    store = caches["default"]
    scripts = _redis_scripts(store)
    if scripts is None:
        return None
    bad_key, retry_after = _bad_auth_key(ip, now)
    script = scripts[0]
    pool = script.registered_client.connection_pool
    connection = None
    try:
        connection = pool.get_connection()
        keys, args = _hit_arguments(store, user_id, int(now), bad_key)
        connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except Exception:
        if connection is not None:
            connection.disconnect()
            pool.release(connection)
        return None
    return PendingHit(user_id, now, ip, retry_after, pool, connection)


# --- Local-memory cache: the running window's count under one lock -----------------------
# For the common case (a window runs and its counter exists) the start read and the
# increment are done in one hold of LocMemCache's lock, on its own storage and format
# (pickled values, expiry map): the cache API's key validation, two lock round trips and
# expiry bookkeeping cost more than the count itself. Anything else (no window yet, a
# window to roll, an expired key) takes the generic path above.


def _is_plain_locmem(store) -> bool:
    plain = store.__dict__.get("_quickbot_plain_locmem")
    if plain is None:
        try:
            from django.core.cache.backends.base import default_key_func
            from django.core.cache.backends.locmem import LocMemCache

            plain = (
                type(store) is LocMemCache
                and store.key_func is default_key_func
                and isinstance(getattr(store, "_cache", None), dict)
                and isinstance(getattr(store, "_expire_info", None), dict)
                and hasattr(store, "_lock")
            )
        except ImportError:
            plain = False
        store.__dict__["_quickbot_plain_locmem"] = plain
    return plain


_BLOCKED = object()


def _locmem_hit(store, user_id: int, second: int, bad_key: str):
    """(window start, count after this request); _BLOCKED when `bad_key`'s failure count
    reached the bad-credential limit (nothing counted); None to take the generic path."""
    start_key = store.make_key(_start_key(user_id))
    cache, expiry = store._cache, store._expire_info
    with store._lock:
        moment = time.time()
        if bad_key:
            bad_key = store.make_key(bad_key)
            expires = expiry.get(bad_key, -1)
            if expires is None or expires > moment:
                cache.move_to_end(bad_key, last=False)
                if pickle.loads(cache[bad_key]) >= settings.QUICKBOT_BAD_AUTH_LIMIT:
                    return _BLOCKED
        expires = expiry.get(start_key, -1)
        if expires is not None and expires <= moment:
            return None  # missing or expired: the generic path opens the window
        start = pickle.loads(cache[start_key])
        if not isinstance(start, int) or second >= start + WINDOW_SECONDS:
            return None
        counter_key = store.make_key(f"qb:rl:{user_id}:{start}")
        expires = expiry.get(counter_key, -1)
        if expires is not None and expires <= moment:
            return None
        used = pickle.loads(cache[counter_key]) + 1
        cache[counter_key] = pickle.dumps(used, store.pickle_protocol)
        cache.move_to_end(counter_key, last=False)
        cache.move_to_end(start_key, last=False)
    return start, used


def usage_for(user, now: float | None = None) -> RateLimitState:
    """The account's limit, requests used this window and when it resets, without counting.

    When the cache is down the state shows nothing used (the page still renders).
    """
    second = int(time.time() if now is None else now)
    limit = hourly_limit_for(user)
    try:
        store = caches["default"]
        start = _window_start(store, user.pk, second, create=False)
        used = 0 if start is None else store.get(f"qb:rl:{user.pk}:{start}", 0)
    except Exception:
        _note_cache_failure()
        start, used = None, 0
    reset_at = (second if start is None else start) + WINDOW_SECONDS
    return RateLimitState(limit=limit, used=used, reset_at=reset_at)


# --- Bad credentials, per client IP ------------------------------------------------------


def _bad_auth_key(ip: str | None, now: float) -> tuple[str, int]:
    window = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS
    slot = int(now // window)
    return f"qb:badauth:{ip or '-'}:{slot}", int((slot + 1) * window - now) + 1


# Failures are counted in the process first and added to the shared counter in batches
# whose size shrinks as the shared count nears the limit (a tenth of the distance left):
# a mistyped token costs no cache round trip, while near the limit every failure is
# synced, so the limit holds within a few requests per worker process.
_SYNC_FRACTION = 10
_LOCAL_MAX_KEYS = 10_000
_local_lock = threading.Lock()
_local_failures: dict[str, list[int]] = {}  # key -> [unsynced count, last shared total]


def reset_local_counters() -> None:
    """Forget this process's unsynced failure counts and the owners it remembers (tests
    call it with `cache.clear()`)."""
    with _local_lock:
        _local_failures.clear()
    _owners.clear()


def bad_auth_hit(ip: str | None, now: float | None = None) -> int | None:
    """Count one request with bad credentials; seconds to wait when over the limit.

    A cache failure never blocks."""
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
    timeout = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS + 1
    try:
        store = caches["default"]
        scripts = _redis_scripts(store)
        if scripts is not None:
            count = scripts[1](keys=[store.make_key(key)], args=[timeout, pending])
        else:
            count = _incr(store, key, timeout, pending)
    except Exception:
        _note_cache_failure()
        return None
    with _local_lock:
        entry[1] = count
    return retry_after if count > limit else None


# --- Client IP ------------------------------------------------------------------------------


def client_ip_from(meta: dict, trusted_proxy_count: int) -> str | None:
    """REMOTE_ADDR, or with N trusted proxies in front, the Nth X-Forwarded-For entry
    from the right (the address the outermost trusted proxy saw). Spoofed entries to the
    left are ignored; an unusable header falls back to REMOTE_ADDR."""
    remote = meta.get("REMOTE_ADDR") or None
    if trusted_proxy_count <= 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < trusted_proxy_count:
        return remote
    candidate = hops[-trusted_proxy_count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def client_ip(request) -> str | None:
    """The client's IP for rate limiting and activity rows (see `client_ip_from`)."""
    return client_ip_from(request.META, settings.QUICKBOT_TRUSTED_PROXY_COUNT)
