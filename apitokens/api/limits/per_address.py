"""The API's per-address limits: requests with bad credentials, and leak reports.

Both count a client by `common.clientip.rate_limit_key` (an IPv6 client by its /64) in fixed
windows aligned to the clock (`now // window`), in the counter store (`store.counters()`),
where the hourly count's round trip can read the failures too. Counters that do not answer
never block.

Failures are counted in the process first and added to the shared counter in batches
(`FailureBatches`): a mistyped token costs no round trip.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from apitokens.api.limits.store import counters, note_unavailable
from common.clientip import rate_limit_key

# A batch is a tenth of the distance left to the limit: near the limit every failure is
# synced, so the limit holds within a few requests per worker process.
_SYNC_FRACTION = 10
_LOCAL_MAX_KEYS = 10_000


def bad_auth_key(ip: str | None, now: float) -> tuple[str, int]:
    """The address's failure counter for this window, and seconds until the window ends."""
    window = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS
    slot = int(now // window)
    return f"qb:badauth:{rate_limit_key(ip) or '-'}:{slot}", int((slot + 1) * window - now) + 1


class FailureBatches:
    """This process's failures not yet added to the shared counters, by counter key."""

    __slots__ = ("lock", "entries")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, list[int]] = {}  # key -> [unsynced count, last shared total]

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()

    def add(self, key: str, limit: int) -> tuple[list[int], int] | None:
        """Count one failure; (the key's entry, the amount to add to the shared counter)
        when the batch must be synced now, else None."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                if len(self.entries) >= _LOCAL_MAX_KEYS:
                    self.entries.clear()
                entry = self.entries[key] = [0, 0]
            entry[0] += 1
            pending, known = entry
            if known + pending > limit or pending >= max(1, (limit - known) // _SYNC_FRACTION):
                entry[0] = 0
                return entry, pending
        return None

    def synced(self, entry: list[int], count: int) -> None:
        """Note the shared total the last sync of `entry` returned."""
        with self.lock:
            entry[1] = count


failure_batches = FailureBatches()


def bad_auth_hit(ip: str | None, now: float | None = None) -> int | None:
    """Count one request with bad credentials; seconds to wait when over the limit."""
    now = time.time() if now is None else now
    key, retry_after = bad_auth_key(ip, now)
    limit = settings.QUICKBOT_BAD_AUTH_LIMIT
    batch = failure_batches.add(key, limit)
    if batch is None:
        return None
    entry, pending = batch
    try:
        count = counters().add(key, pending, settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS + 1)
    except Exception:
        note_unavailable()
        return None
    failure_batches.synced(entry, count)
    return retry_after if count > limit else None


def bad_auth_blocked(ip: str | None, now: float | None = None) -> int | None:
    """Seconds to wait when the address is over its bad-credential allowance, without
    counting a failure (near the limit every failure is synced, so the shared count holds);
    None when it is not, or the counters do not answer."""
    now = time.time() if now is None else now
    key, retry_after = bad_auth_key(ip, now)
    try:
        count = counters().get_int(key)
    except Exception:
        note_unavailable()
        return None
    return retry_after if count > settings.QUICKBOT_BAD_AUTH_LIMIT else None


def bad_auth_count(ip: str | None, now: float | None = None) -> int:
    """The address's shared failure count in the current window (what staff and tests see)."""
    return counters().get_int(bad_auth_key(ip, time.time() if now is None else now)[0])


def credential_report_hit(ip: str | None, now: float | None = None) -> int | None:
    """Count one request to the revocation endpoint from `ip`; seconds to wait when the
    address sent more than QUICKBOT_CREDENTIAL_REPORT_LIMIT in its window (a report of a
    leak must get through: counters that do not answer never block)."""
    now = time.time() if now is None else now
    window = settings.QUICKBOT_CREDENTIAL_REPORT_WINDOW_SECONDS
    slot = int(now // window)
    try:
        count = counters().add(f"qb:leakreport:{rate_limit_key(ip) or '-'}:{slot}", 1, window + 1)
    except Exception:
        note_unavailable()
        return None
    if count > settings.QUICKBOT_CREDENTIAL_REPORT_LIMIT:
        return int((slot + 1) * window - now) + 1
    return None
