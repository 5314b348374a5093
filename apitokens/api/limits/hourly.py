"""The hourly request limit per account, counted in two steps around the token lookup.

`hourly_start` is what the API path calls before the lookup; once the lookup has decided,
the returned `HourlyCount` is admitted (`admit(owner)`: the owner's `RateLimitState`) or
cancelled (`cancel()`). On Redis the count and the lookup overlap: this process remembers
which account a token digest authenticated for (`OwnerMemo`), sends that account's count
before the lookup and reads it after; a refused token or a failed lookup gives the count
back and the counters end exact. The lookup still decides every request (this is not a token
cache). On Redis Cluster nothing leaves before the lookup (`redis.ClusterCounters`); without
Redis the count is made in `admit`.

The address's bad-credential count (`per_address`) is checked in the same round trip: an
address over its allowance is refused (`RateLimitState.blocked_for`) and nothing stays
counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from apitokens.api.limits.per_address import bad_auth_key, failure_batches
from apitokens.api.limits.redis import WINDOW_SECONDS, PendingHit, RedisCounters
from apitokens.api.limits.store import RateLimitUnavailable, counters, note_unavailable


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


def hourly_limit_for(user) -> int:
    """The account's own limit when staff set one, else QUICKBOT_API_HOURLY_LIMIT."""
    override = getattr(user, "api_hourly_limit", None)
    return override if override is not None else settings.QUICKBOT_API_HOURLY_LIMIT


class OwnerMemo:
    """Token digest → owner id, for tokens this process saw valid on Redis (an owner never
    changes). Bounded: past `max_size` digests it starts over."""

    __slots__ = ("by_digest", "max_size")

    def __init__(self, max_size: int = 10_000) -> None:
        self.by_digest: dict[str, int] = {}
        self.max_size = max_size

    def remember(self, digest: str, owner_id: int) -> None:
        """Note that the token with this digest belongs to this account."""
        if len(self.by_digest) >= self.max_size:
            self.by_digest.clear()
        self.by_digest[digest] = owner_id

    def forget(self, digest: str) -> None:
        self.by_digest.pop(digest, None)

    def reset(self) -> None:
        self.by_digest.clear()


owners = OwnerMemo()


class HourlyCount:
    """One request's count, started before its token lookup: `admit(owner)` once the lookup
    accepted the token, or `cancel()` once it refused it, exactly once. As a context manager,
    leaving the block without either (the lookup failed) gives back a count sent early, so
    no pooled connection keeps an unread reply."""

    __slots__ = ("store", "digest", "ip", "now", "sent")

    def __init__(self, store, digest: str, ip: str | None, now: float, sent) -> None:
        self.store = store
        self.digest = digest
        self.ip = ip
        self.now = now
        self.sent: PendingHit | None = sent  # the count already on its way to Redis

    def __enter__(self) -> HourlyCount:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.sent is not None:
            sent, self.sent = self.sent, None
            _give_back(sent)  # the digest's owner stays remembered: the token was not refused

    def admit(self, owner) -> RateLimitState | None:
        """Count the request against `owner`'s hourly limit: the new state (check `.allowed`
        and `.blocked_for`), or None when the counters did not answer (logged)."""
        store = self.store
        sent, self.sent = self.sent, None
        user_id = owner.pk
        limit = hourly_limit_for(owner)
        try:
            if sent is None or sent.user_id != user_id:
                _give_back(sent)
                counts = _hit(store, user_id, self.now, self.ip)
            else:
                counts = sent.read()
            state = _state(store, user_id, limit, self.now, self.ip, counts)
        except Exception:
            note_unavailable()
            return None
        if isinstance(store, RedisCounters):
            owners.remember(self.digest, user_id)
        return state

    def cancel(self) -> None:
        """The lookup refused the token: give back a count sent early and forget the
        digest's owner (no more counting ahead for it)."""
        sent, self.sent = self.sent, None
        _give_back(sent)
        owners.forget(self.digest)


def hourly_start(*, digest: str, ip: str | None, now: float) -> HourlyCount:
    """Start counting a request whose token (by its digest) is about to be looked up. On
    Redis, for a digest whose owner this process knows, the count and the read of the
    address's failures leave now, in one write, and are read by `admit`."""
    store = counters()
    sent = None
    if isinstance(store, RedisCounters):
        owner_id = owners.by_digest.get(digest)
        if owner_id is not None:
            sent = _send(store, owner_id, now, ip)
    return HourlyCount(store, digest, ip, now, sent)


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
        note_unavailable()
        raise RateLimitUnavailable from error


def usage_for(user, now: float | None = None) -> RateLimitState:
    """The account's limit, requests used this window and when it resets, without counting.

    When the counters are down the state shows nothing used (the page still renders).
    """
    second = int(time.time() if now is None else now)
    try:
        start, used = counters().usage(user.pk, second)
    except Exception:
        note_unavailable()
        start, used = None, 0
    reset_at = (second if start is None else start) + WINDOW_SECONDS
    return RateLimitState(limit=hourly_limit_for(user), used=used, reset_at=reset_at)


def _send(store: RedisCounters, user_id: int, now: float, ip: str | None) -> PendingHit | None:
    try:
        return store.send_hit(user_id, int(now), bad_auth_key(ip, now)[0])
    except Exception:
        return None  # counted the sequential way after the lookup, which reports a failure


def _give_back(sent: PendingHit | None) -> None:
    """Give back a count sent before a lookup that refused the token or failed."""
    if sent is None:
        return
    try:
        sent.discard()
    except Exception:
        note_unavailable()


def _hit(
    store, user_id: int, now: float, ip: str | None, *, check_failures: bool = True
) -> tuple[int, int, int]:
    # Redis checks the address's failures in the same round trip; other stores only for
    # an address this process saw failing (they are per process anyway).
    failures_key = ""
    if check_failures and (failure_batches.entries or isinstance(store, RedisCounters)):
        key = bad_auth_key(ip, now)[0]
        if isinstance(store, RedisCounters) or key in failure_batches.entries:
            failures_key = key
    if isinstance(store, RedisCounters):
        return store.send_hit(user_id, int(now), failures_key).read()
    return store.hit(user_id, int(now), failures_key)


def _state(store, user_id: int, limit: int, now: float, ip, counts) -> RateLimitState:
    failures, start, used = counts
    if failures >= settings.QUICKBOT_BAD_AUTH_LIMIT:
        store.give_back(user_id, start)
        retry_after = bad_auth_key(ip, now)[1]
        return RateLimitState(limit=limit, used=0, reset_at=0, blocked_for=retry_after)
    return RateLimitState(limit=limit, used=used, reset_at=start + WINDOW_SECONDS)
