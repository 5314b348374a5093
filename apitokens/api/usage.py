"""Usage tracking for API requests: activity rows, the throttled `last_used_at`, and the
per-address trace of unknown tokens.

Activity rows are buffered per process and written with one multi-row INSERT by a
background thread when the buffer holds QUICKBOT_ACTIVITY_BUFFER_SIZE rows or its oldest
row is older than QUICKBOT_ACTIVITY_FLUSH_SECONDS, and by the process itself when it exits
normally (`atexit`, and gunicorn's `worker_exit` hook: `gunicorn_worker_exit`). Should the
thread fall behind (ten buffers' worth), the request thread writes inline.
QUICKBOT_ACTIVITY_BUFFER_SIZE=0 writes each row inside its request (the tests use it).
Why: an INSERT and a commit per request would cost more than the rest of the API path.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from apitokens import services
from apitokens.models import APIToken, TokenActivity

logger = logging.getLogger(__name__)


def request_record(request: HttpRequest, response: HttpResponse, call, started: float) -> None:
    """Record an API request made with a known token (`call` is the request's
    `auth.ApiCall`): its activity row and, for an accepted token, its last use."""
    token = call.token
    if token is None:
        return
    try:
        activity_record(
            token_id=token.pk,
            owner_id=token.owner_id,
            method=request.method or "",
            path=request.path,
            status=response.status_code,
            ip=call.ip,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            duration_ms=int((time.perf_counter() - started) * 1000),
            flagged=call.flagged,
            used_previous_value=call.used_previous_value,
            now=call.now,
        )
        if call.ok:
            last_used_touch(token=token, ip=call.ip, now=call.now)
    except DatabaseError:
        logger.exception("Could not record API usage for token %s", token.public_id)


_lock = threading.Lock()
_buffer: list[tuple] = []
_oldest = 0.0  # monotonic time of the oldest buffered row
_flusher_pid = 0  # the process whose flusher thread is running (threads do not survive fork)
_pid = os.getpid()  # this process's id, kept current across fork (no syscall per request)


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)
# A database outage must not grow the buffer without bound: past this, rows are dropped
# (and the drop is logged) rather than taking the worker down.
_MAX_BUFFERED_FACTOR = 50
# Past this many buffers' worth of rows the request thread stops waiting for the flusher.
_INLINE_FACTOR = 10
_wake = threading.Event()


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
    # A plain tuple in _COLUMNS order: building a model instance per request costs more
    # than the INSERT's share per row.
    row = (
        token_id,
        owner_id,
        now,
        method[:10],
        path[:512].replace("\x00", ""),  # PostgreSQL text cannot hold NUL
        status,
        ip,
        user_agent[:256].replace("\x00", ""),
        duration_ms,
        flagged,
        used_previous_value,
    )
    size = settings.QUICKBOT_ACTIVITY_BUFFER_SIZE
    if size <= 1:
        write_rows([row])
        return
    global _oldest
    with _lock:
        if not _buffer and not _unknown:
            _oldest = time.monotonic()
        _buffer.append(row)
        pending = len(_buffer)
    if _flusher_pid != _pid:
        _start_flusher()
    if pending >= size:
        if pending >= size * _INLINE_FACTOR:
            activity_flush()
        else:
            _wake.set()


def activity_flush() -> int:
    """Write every buffered row (and unknown-token trace) now; returns how many rows."""
    global _buffer
    if _unknown:
        _unknown_flush()
    with _lock:
        rows, _buffer = _buffer, []
    if not rows:
        return 0
    try:
        write_rows(rows)
    except Exception:
        written = _write_one_by_one(rows) if len(rows) > 1 else 0
        if written:
            return written
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


def _write_one_by_one(rows: list[tuple]) -> int:
    """After a failed batch: write rows singly, so one bad row (its token deleted from the
    database meanwhile) cannot hold the others back. Returns 0 when none could be written
    (the database is down: the caller keeps them all)."""
    written, rejected = 0, 0
    for row in rows:
        try:
            write_rows([row])
        except Exception:
            rejected += 1
        else:
            written += 1
    if written and rejected:
        logger.error("Dropped %d API activity rows the database refused", rejected)
    return written


def activity_pending() -> int:
    """How many rows wait in this process's buffer."""
    return len(_buffer)


_COLUMNS = (
    "token_id",
    "owner_id",
    "created_at",
    "method",
    "path",
    "status",
    "ip",
    "user_agent",
    "duration_ms",
    "flagged",
    "used_previous_value",
)
_CREATED_AT = _COLUMNS.index("created_at")
_IP = _COLUMNS.index("ip")
_BATCH_ROWS = 500


def write_rows(rows: list[tuple]) -> None:
    """Write activity rows now: a multi-row INSERT per batch of up to 500 rows (cheaper to
    prepare than the ORM's bulk_create); on PostgreSQL a COPY."""
    if connection.vendor == "postgresql":
        _copy(rows)
        return
    operations = connection.ops
    limit = connection.features.max_query_params or len(_COLUMNS) * _BATCH_ROWS
    batch = max(1, min(_BATCH_ROWS, limit // len(_COLUMNS)))
    table, columns = _quoted_target()
    one_row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = []
            for row in chunk:
                values = list(row)
                values[_CREATED_AT] = operations.adapt_datetimefield_value(values[_CREATED_AT])
                values[_IP] = operations.adapt_ipaddressfield_value(values[_IP])
                params.extend(values)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(chunk))}",
                params,
            )


def _quoted_target() -> tuple[str, str]:
    """The activity table and its `_COLUMNS`, quoted for this connection's SQL."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(TokenActivity._meta.get_field(name).column) for name in _COLUMNS)
    return quote(TokenActivity._meta.db_table), columns


def _copy(rows: list[tuple]) -> None:
    """PostgreSQL: the rows through COPY ... FROM STDIN, which skips parsing and planning a
    multi-row INSERT with thousands of parameters. All rows or none, like the INSERT."""
    table, columns = _quoted_target()
    # Django's cursor wrapper hands `copy` to psycopg (its debug wrapper logs it too).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


# The flusher keeps its connection between batches (reconnecting costs more than a batch),
# closing it when Django would, when idle this long, and every few batches (the driver
# caches a statement per distinct multi-row INSERT, which would grow the process).
_IDLE_CLOSE_SECONDS = 30.0
_BATCHES_PER_CONNECTION = 10


def _flush_loop() -> None:
    last_flush = 0.0
    batches = 0
    while True:
        _wake.wait(min(1.0, max(0.1, settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS / 2)))
        _wake.clear()
        pending = len(_buffer) + len(_unknown)
        if not pending:
            if time.monotonic() - last_flush >= _IDLE_CLOSE_SECONDS:
                connection.close()  # a no-op when already closed
            continue
        due = time.monotonic() - _oldest >= settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS
        if due or pending >= settings.QUICKBOT_ACTIVITY_BUFFER_SIZE:
            try:
                activity_flush()
            finally:
                last_flush = time.monotonic()
                batches += 1
                if batches >= _BATCHES_PER_CONNECTION:
                    batches = 0
                    connection.close()
                else:
                    connection.close_if_unusable_or_obsolete()


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


# --- Unknown tokens: one trace per client address and window ------------------------------
# A spray of well-formed tokens that match no account is counted per address in the process
# and written by the flusher as one security event per address and bad-credential window
# (`services.unknown_tokens_record`), never a row per request.

_UNKNOWN_MAX_KEYS = 10_000
_unknown: dict[tuple[str | None, int], list] = {}  # (ip, window) -> [count, last seen]


def unknown_token_seen(*, ip: str | None, now: datetime) -> None:
    """Count one request with a well-formed token that matches no token at all."""
    window = int(now.timestamp() // settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS)
    if settings.QUICKBOT_ACTIVITY_BUFFER_SIZE <= 1:
        _unknown_write({(ip, window): [1, now]})
        return
    global _oldest
    with _lock:
        entry = _unknown.get((ip, window))
        if entry is not None:
            entry[0] += 1
            entry[1] = now
            return
        if len(_unknown) >= _UNKNOWN_MAX_KEYS:
            return  # the flusher is behind: the per-IP limit still refuses the sprayer
        if not _buffer and not _unknown:
            _oldest = time.monotonic()
        _unknown[(ip, window)] = [1, now]
    if _flusher_pid != _pid:
        _start_flusher()


def _unknown_flush() -> None:
    global _unknown
    with _lock:
        traces, _unknown = _unknown, {}
    try:
        _unknown_write(traces)
    except Exception:
        logger.exception("Could not record %d unknown-token traces", len(traces))


def _unknown_write(traces: dict[tuple[str | None, int], list]) -> None:
    window = settings.QUICKBOT_BAD_AUTH_WINDOW_SECONDS
    for (ip, slot), (count, last_seen) in traces.items():
        services.unknown_tokens_record(
            ip=ip,
            window_start=datetime.fromtimestamp(slot * window, tz=UTC),
            count=count,
            now=last_seen,
        )


# --- last_used_at ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _interval(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def last_used_touch(*, token: APIToken, ip: str | None, now: datetime) -> bool:
    """Set the token's last use, at most once per QUICKBOT_LAST_USED_INTERVAL_SECONDS.

    Decided from the row just read (no extra query when recent) and written with a
    conditional UPDATE, so concurrent processes write once and a token deleted meanwhile
    stays deleted. Returns True when it wrote.
    """
    interval = _interval(settings.QUICKBOT_LAST_USED_INTERVAL_SECONDS)
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
