"""Usage tracking for API requests: activity rows and the throttled `last_used_at`.

Activity rows are buffered per process and written with one multi-row INSERT when the
buffer holds QUICKBOT_ACTIVITY_BUFFER_SIZE rows, when its oldest row is older than
QUICKBOT_ACTIVITY_FLUSH_SECONDS (a daemon thread checks), and when the process exits
normally (`atexit`, and gunicorn's `worker_exit` hook: `gunicorn_worker_exit`).
QUICKBOT_ACTIVITY_BUFFER_SIZE=0 writes each row inside its request (the tests use it).
Why: one INSERT + commit per request costs more than the rest of the API path together
(docs/performance.md); a batch of 200 rows costs about as much as three single rows.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from apitokens.models import APIToken, TokenActivity

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_buffer: list[TokenActivity] = []
_oldest = 0.0  # monotonic time of the oldest buffered row
_flusher_pid = 0  # the process whose flusher thread is running (threads do not survive fork)
# A database outage must not grow the buffer without bound: past this, rows are dropped
# (and the drop is logged) rather than taking the worker down.
_MAX_BUFFERED_FACTOR = 50


def activity_record(
    *,
    token_id: int,
    owner_id: int,
    method: str,
    path: str,
    status: int,
    ip: str | None,
    user_agent: str,
    duration_ms: int,
    flagged: bool = False,
    used_previous_value: bool = False,
    now: datetime,
) -> None:
    """Record one API request made with a known token (buffered unless the buffer is off)."""
    row = TokenActivity(
        token_id=token_id,
        owner_id=owner_id,
        created_at=now,
        method=method[:10],
        path=path[:512],
        status=status,
        ip=ip,
        user_agent=user_agent[:256],
        duration_ms=duration_ms,
        flagged=flagged,
        used_previous_value=used_previous_value,
    )
    size = settings.QUICKBOT_ACTIVITY_BUFFER_SIZE
    if size <= 1:
        _write([row])
        return
    global _oldest
    with _lock:
        if not _buffer:
            _oldest = time.monotonic()
        _buffer.append(row)
        full = len(_buffer) >= size
    if full:
        activity_flush()
    elif _flusher_pid != os.getpid():
        _start_flusher()


def activity_flush() -> int:
    """Write every buffered row now; returns how many were written."""
    global _buffer
    with _lock:
        rows, _buffer = _buffer, []
    if not rows:
        return 0
    try:
        _write(rows)
    except Exception:
        logger.exception("Could not write %d API activity rows; keeping them for retry", len(rows))
        with _lock:
            kept = rows + _buffer
            limit = max(1, settings.QUICKBOT_ACTIVITY_BUFFER_SIZE) * _MAX_BUFFERED_FACTOR
            dropped = len(kept) - limit
            _buffer = kept[-limit:]
        if dropped > 0:
            logger.error("Dropped %d API activity rows: database unavailable", dropped)
        return 0
    return len(rows)


def activity_pending() -> int:
    """How many rows wait in this process's buffer."""
    return len(_buffer)


def _write(rows: list[TokenActivity]) -> None:
    TokenActivity.objects.bulk_create(rows, batch_size=500)


def _flush_loop() -> None:
    while True:
        time.sleep(min(1.0, max(0.1, settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS / 2)))
        if _buffer and time.monotonic() - _oldest >= settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS:
            try:
                activity_flush()
            finally:
                # This thread's own connection: closed after each flush, so it never
                # lingers (idle flushes are rare; reconnecting is cheap next to a batch).
                connection.close()


def _start_flusher() -> None:
    global _flusher_pid
    with _lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_loop, name="quickbot-activity-flush", daemon=True).start()


def gunicorn_worker_exit(server, worker) -> None:
    """gunicorn `worker_exit` hook: write the worker's buffered activity before it exits."""
    activity_flush()


atexit.register(activity_flush)


# --- last_used_at ---------------------------------------------------------------------------


def last_used_touch(*, token: APIToken, ip: str | None, now: datetime) -> bool:
    """Set the token's last use, at most once per QUICKBOT_LAST_USED_INTERVAL_SECONDS.

    Decided from the row just read (no extra query when recent) and written with a
    conditional UPDATE, so concurrent processes write once and a token deleted meanwhile
    stays deleted. Returns True when it wrote.
    """
    interval = timedelta(seconds=settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < interval:
        return False
    threshold = now - interval
    queryset = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True)
    if token.last_used_at is not None:
        queryset = queryset.filter(last_used_at__lte=threshold)
    else:
        queryset = queryset.filter(last_used_at__isnull=True)
    written = queryset.update(last_used_at=now, last_used_ip=ip) > 0
    if written:
        token.last_used_at, token.last_used_ip = now, ip
    return written
