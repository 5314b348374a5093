"""Fixed-window counters and locks in Django's default cache, shared by every app server when
the cache is Redis.

A counter's window opens with its first event and lasts `window` seconds (the key's expiry);
a lock holds a key shut until a moment. The callers (sign-in, sign-up and e-mail limits)
decide what is over a limit; a cache that does not answer must never stop them, so they run
their calls inside `failing_open`, which logs the error and lets them allow the action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

# Locks outlive their end by a little so a slow clock between servers cannot drop one early.
LOCK_GRACE_SECONDS = 60


class FixedWindowCounter:
    """Counters and locks in the default cache; errors are logged to `logger`."""

    __slots__ = ("logger",)

    def __init__(self, *, logger: logging.Logger) -> None:
        self.logger = logger

    def hit(self, key: str, *, window: int) -> int:
        """Count one event for `key`: the events in its window, this one included."""
        cache.add(key, 0, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # the counter expired between add() and incr()
            cache.set(key, 1, timeout=window)
            return 1

    def lock(self, lock_key: str, *, until: float, seconds: int, count_key: str) -> None:
        """Hold `lock_key` shut until `until` (`seconds` from now) and start `count_key`'s
        window afresh."""
        cache.set(lock_key, until, seconds + LOCK_GRACE_SECONDS)
        cache.delete(count_key)

    def locked_for(self, lock_keys: list[str], *, now: float) -> float:
        """Seconds until the last of these locks opens; 0 or less when none holds."""
        locked_until = cache.get_many(lock_keys)
        return max((until - now for until in locked_until.values()), default=0)

    def forget(self, keys: list[str]) -> None:
        """Drop these counters and locks."""
        cache.delete_many(keys)

    @contextmanager
    def failing_open(self, message: str) -> Iterator[None]:
        """Run the block; when the cache fails, log `message` with the error and carry on
        after the block (where the caller allows the action)."""
        try:
            yield
        except Exception:  # a cache outage must not stop people signing in or up
            self.logger.exception(message)
