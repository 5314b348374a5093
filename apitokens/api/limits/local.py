"""The counters in this process's memory: the store when the default cache is not Redis.

Without Redis the cache is local memory, private to each process (the embedded setup: one
`runserver` process on a laptop), so counters kept in it were per process anyway. A dict
under a lock counts the same way without the cache API's per-call key checks and pickling,
which cost about 5 % of the full pipeline (docs/performance.md).

The hourly window starts with an account's first request, as GitHub's does. Named counters
(failures per address, reports per address) expire `timeout` seconds after their first count.
Both maps are bounded: past `MAX_KEYS` entries, ended windows and expired counters are dropped.
"""

from __future__ import annotations

import threading
import time

from apitokens.api.limits.redis import WINDOW_SECONDS

MAX_KEYS = 10_000


class MemoryCounters:
    """Hourly and named counters of this process."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._windows: dict[int, list[int]] = {}  # account -> [window start, requests counted]
        self._named: dict[str, list[float]] = {}  # name -> [count, expiry (epoch seconds)]

    def hit(self, user_id: int, second: int, failures_key: str) -> tuple[int, int, int]:
        """Count one request; (failures of the address, window start, requests counted)."""
        with self._mutex:
            window = self._windows.get(user_id)
            if window is None or second >= window[0] + WINDOW_SECONDS:
                if len(self._windows) >= MAX_KEYS:
                    _prune(self._windows, lambda kept: second >= kept[0] + WINDOW_SECONDS)
                window = self._windows[user_id] = [second, 0]
            window[1] += 1
            failures = self._current(failures_key, time.time()) if failures_key else 0
            return failures, window[0], window[1]

    def give_back(self, user_id: int, start: int) -> None:
        """Take back one count of the account's window that started at `start`."""
        with self._mutex:
            window = self._windows.get(user_id)
            if window is not None and window[0] == start:
                window[1] -= 1

    def add(self, name: str, amount: int, timeout: int) -> int:
        """Add `amount` to a counter that expires `timeout` seconds after its creation."""
        now = time.time()
        with self._mutex:
            entry = self._named.get(name)
            if entry is None or entry[1] <= now:
                if len(self._named) >= MAX_KEYS:
                    _prune(self._named, lambda kept: kept[1] <= now)
                entry = self._named[name] = [0, now + timeout]
            entry[0] += amount
            return int(entry[0])

    def get_int(self, name: str) -> int:
        with self._mutex:
            return self._current(name, time.time())

    def usage(self, user_id: int, second: int) -> tuple[int | None, int]:
        """(window start or None, requests counted in it), without counting."""
        with self._mutex:
            window = self._windows.get(user_id)
            if window is None or second >= window[0] + WINDOW_SECONDS:
                return None, 0
            return window[0], window[1]

    def _current(self, name: str, now: float) -> int:
        entry = self._named.get(name)
        return int(entry[0]) if entry is not None and entry[1] > now else 0


def _prune(entries: dict, ended) -> None:
    """Drop the entries `ended` says are over; when all are live, the oldest half."""
    for key in [key for key, kept in entries.items() if ended(kept)]:
        del entries[key]
    if len(entries) >= MAX_KEYS:
        for key in list(entries)[: MAX_KEYS // 2]:
            del entries[key]
