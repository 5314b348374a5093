"""The counters through Django's cache API: for caches other than Redis (local memory on a
laptop, where every process counts for itself).

Counters move only by atomic `add` + `incr`. The hourly window starts with an account's
first request, as GitHub's does: a window-start key fixes when it began, and the counter key
carries that start in its name, so a counter can never leak into the next window.
"""

from __future__ import annotations

from django.core.cache import caches

from apitokens.api.limits.redis import COUNTER_GRACE_SECONDS, WINDOW_SECONDS


def _start_key(user_id: int) -> str:
    return f"qb:rl:{{{user_id}}}:start"


def _counter_key(user_id: int, start: int) -> str:
    return f"qb:rl:{{{user_id}}}:{start}"


class CacheCounters:
    """Hourly and failure counters in the default cache, whatever its backend."""

    def hit(self, user_id: int, second: int, failures_key: str) -> tuple[int, int, int]:
        """Count one request; (failures of the address, window start, requests counted)."""
        store = caches["default"]
        start_key = _start_key(user_id)
        failures = 0
        if failures_key:
            found = store.get_many([start_key, failures_key])
            failures, start = found.get(failures_key, 0), found.get(start_key)
        else:
            start = store.get(start_key)
        start = self._window_start(store, user_id, second, start)
        used = self._incr(
            store, _counter_key(user_id, start), 1, WINDOW_SECONDS + COUNTER_GRACE_SECONDS
        )
        return failures, start, used

    def give_back(self, user_id: int, start: int) -> None:
        store = caches["default"]
        self._incr(store, _counter_key(user_id, start), -1, WINDOW_SECONDS + COUNTER_GRACE_SECONDS)

    def add(self, name: str, amount: int, timeout: int) -> int:
        return self._incr(caches["default"], name, amount, timeout)

    def get_int(self, name: str) -> int:
        return caches["default"].get(name, 0)

    def usage(self, user_id: int, second: int) -> tuple[int | None, int]:
        store = caches["default"]
        start = store.get(_start_key(user_id))
        if start is None or second >= start + WINDOW_SECONDS:
            return None, 0
        return start, store.get(_counter_key(user_id, start), 0)

    @staticmethod
    def _window_start(store, user_id: int, now: int, start: int | None) -> int:
        """The running window's start (epoch seconds), opening one when none runs."""
        if start is not None and now < start + WINDOW_SECONDS:
            return start
        key = _start_key(user_id)
        if start is None:
            store.add(key, now, WINDOW_SECONDS)
        else:
            # The window ran out before its key expired (the clock, not the TTL, decides):
            # the first process to `add` the successor key picks the new start for everyone.
            successor_key = f"{key}:after:{start}"
            store.add(successor_key, now, WINDOW_SECONDS + COUNTER_GRACE_SECONDS)
            store.set(key, store.get(successor_key, now), WINDOW_SECONDS)
        start = store.get(key)
        return now if start is None else start

    @staticmethod
    def _incr(store, key: str, delta: int, timeout: int) -> int:
        """Atomic increment that creates the key (with its expiry) when missing."""
        try:
            return store.incr(key, delta)
        except ValueError:
            store.add(key, 0, timeout)
            return store.incr(key, delta)
