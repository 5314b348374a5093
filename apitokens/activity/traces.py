"""Unknown-token traces: a spray of well-formed tokens that match no account, counted per
client address and bad-credential window in the process, and written as one security
event per address and window (`services.unknown_tokens_record`), never a row per request.

The activity buffer owns the traces of its process (`ActivityBuffer.unknown_token_seen`)
and writes them when it flushes its rows.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings

from apitokens import services

logger = logging.getLogger(__name__)

# Past this many addresses the flusher is behind: the per-IP limit still refuses the sprayer.
MAX_ADDRESSES = 10_000

TraceKey = tuple[str | None, int]  # (ip, window number)


class UnknownTokenTraces:
    """Counts of unknown-token requests per (ip, window), bounded, not thread-safe on their
    own: the buffer that owns them calls `add` and `drain` under its lock."""

    def __init__(self) -> None:
        self._traces: dict[TraceKey, list] = {}  # (ip, window) -> [count, last seen]

    def __len__(self) -> int:
        return len(self._traces)

    def add(self, key: TraceKey, now: datetime) -> bool:
        """Count one request; returns True when it opened a new trace."""
        entry = self._traces.get(key)
        if entry is not None:
            entry[0] += 1
            entry[1] = now
            return False
        if len(self._traces) >= MAX_ADDRESSES:
            return False
        self._traces[key] = [1, now]
        return True

    def drain(self) -> dict[TraceKey, list]:
        """Every trace counted so far, leaving none."""
        traces, self._traces = self._traces, {}
        return traces

    def reset(self) -> None:
        """Forget every trace without writing it (between tests)."""
        self._traces = {}


def trace_window(now: datetime) -> int:
    """The number of the bad-credential window `now` falls in."""
    return int(now.timestamp() // settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS)


def traces_write(traces: dict[TraceKey, list]) -> None:
    """Record each trace as its address's security event for its window."""
    window = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS
    for (ip, slot), (count, last_seen) in traces.items():
        services.unknown_tokens_record(
            ip=ip,
            window_start=datetime.fromtimestamp(slot * window, tz=UTC),
            count=count,
            now=last_seen,
        )


def traces_write_logged(traces: dict[TraceKey, list]) -> None:
    """`traces_write`, logging (not raising) a failure: the flusher goes on with the rows."""
    try:
        traces_write(traces)
    except Exception:
        logger.exception("Could not record %d unknown-token traces", len(traces))
