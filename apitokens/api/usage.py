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
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse

from apitokens import services
from apitokens.models import APIToken, TokenActivity, TokenAddress, TokenUsageHour
from apitokens.tokens import redact_tokens

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
        # PostgreSQL text cannot hold NUL; a token in the path (even percent-encoded, or
        # split by a NUL) is stored as its identifier only.
        redact_tokens(path.replace("\x00", ""))[:512],
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
    """Write activity rows now, with their hourly rollups and address facts in the same
    transaction (`rollups_add`), so the counts always agree with the rows: a multi-row
    INSERT per batch of up to 500 rows (cheaper to prepare than the ORM's bulk_create); on
    PostgreSQL a COPY."""
    # savepoint=False: no SAVEPOINT round trips; outside a transaction it is one.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            _copy(rows)
        else:
            _insert(rows)
        rollups_add(rows)


def _insert(rows: list[tuple]) -> None:
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


# --- Rollups: what every chart and count reads ---------------------------------------------
# Hour rows are keyed (token, UTC hour); counters in this order after token, owner, hour.
_COUNTERS = (
    "requests",
    "status_2xx",
    "status_401",
    "status_403",
    "status_429",
    "status_4xx_other",
    "status_5xx",
)
_TOKEN, _OWNER = _COLUMNS.index("token_id"), _COLUMNS.index("owner_id")
_STATUS = _COLUMNS.index("status")


def status_counter(status: int) -> int | None:
    """Index in `_COUNTERS` of the status class `status` adds to (besides `requests`)."""
    if 200 <= status < 300:
        return 1
    if status in (401, 403, 429):
        return {401: 2, 403: 3, 429: 4}[status]
    if 400 <= status < 500:
        return 5
    if 500 <= status < 600:
        return 6
    return None  # 1xx/3xx: counted in `requests` only


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in (the rollups' key)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def activity_rows(activities) -> list[tuple]:
    """TokenActivity instances as `write_rows` tuples (for rows written another way, such
    as the demo's bulk_create, whose rollups `rollups_add` then adds)."""
    return [tuple(getattr(activity, name) for name in _COLUMNS) for activity in activities]


def rollups_add(rows: list[tuple]) -> None:
    """Add activity rows (tuples in `_COLUMNS` order) to the hourly rollups and the
    per-address facts: one upsert statement per table and chunk, whatever the row count."""
    hour_rows, address_rows = _rollup_rows(rows)
    usage_hours_upsert(hour_rows, replace=False)
    token_addresses_upsert(address_rows)


def _rollup_rows(rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The rollup rows of activity rows (in `_COLUMNS` order as far as status and ip):
    (token, owner, hour, *counters) and (token, ip, first, last)."""
    hours: dict[tuple[int, datetime], list] = {}
    addresses: dict[tuple[int, str], list] = {}
    for row in rows:
        moment = row[_CREATED_AT]
        key = (row[_TOKEN], hour_of(moment))
        counts = hours.get(key)
        if counts is None:
            counts = hours[key] = [row[_OWNER], 0, 0, 0, 0, 0, 0, 0]
        counts[1] += 1
        index = status_counter(row[_STATUS])
        if index is not None:
            counts[1 + index] += 1
        if row[_IP]:
            seen = addresses.get((row[_TOKEN], row[_IP]))
            if seen is None:
                addresses[(row[_TOKEN], row[_IP])] = [moment, moment]
            else:
                seen[0], seen[1] = min(seen[0], moment), max(seen[1], moment)
    hour_rows = [
        (token_id, counts[0], hour, *counts[1:]) for (token_id, hour), counts in hours.items()
    ]
    address_rows = [
        (token_id, ip, first, last) for (token_id, ip), (first, last) in addresses.items()
    ]
    return hour_rows, address_rows


def _chunks(rows: list[tuple], width: int):
    limit = connection.features.max_query_params or width * _BATCH_ROWS
    size = max(1, min(_BATCH_ROWS, limit // width))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def usage_hours_upsert(rows: list[tuple], *, replace: bool) -> None:
    """Upsert (token_id, owner_id, hour, *counters) rows into the hourly rollups: added to
    what is there, or replacing it (`replace`, for a rebuild from the raw rows)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = TokenUsageHour._meta
    names = ("token_id", "owner_id", "hour", *_COUNTERS)
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    table = quote(meta.db_table)
    token, hour = quote(meta.get_field("token").column), quote(meta.get_field("hour").column)
    updates = ", ".join(
        f"{quote(name)} = EXCLUDED.{quote(name)}"
        if replace
        else f"{quote(name)} = {table}.{quote(name)} + EXCLUDED.{quote(name)}"
        for name in _COUNTERS
    )
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(names)):
            params = []
            for row in chunk:
                params.extend((row[0], row[1], adapt(row[2]), *row[3:]))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(chunk))} "
                f"ON CONFLICT ({token}, {hour}) DO UPDATE SET {updates}",
                params,
            )


def token_addresses_upsert(rows: list[tuple]) -> None:
    """Upsert (token_id, ip, first_seen_at, last_seen_at) rows: the earliest first and the
    latest last request win, so adding the same rows twice changes nothing."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = TokenAddress._meta
    names = ("token_id", "ip", "first_seen_at", "last_seen_at")
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    table = quote(meta.db_table)
    token, ip, first, last = (quote(meta.get_field(name).column) for name in names)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    adapt = connection.ops.adapt_datetimefield_value
    adapt_ip = connection.ops.adapt_ipaddressfield_value
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(names)):
            params = []
            for token_id, address, first_seen, last_seen in chunk:
                params.extend((token_id, adapt_ip(address), adapt(first_seen), adapt(last_seen)))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(chunk))} "
                f"ON CONFLICT ({token}, {ip}) DO UPDATE SET "
                f"{first} = {least}({table}.{first}, EXCLUDED.{first}), "
                f"{last} = {greatest}({table}.{last}, EXCLUDED.{last})",
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


def rollups_rebuild(*, start: datetime, end: datetime) -> tuple[int, int]:
    """Recompute the hourly rollups of the whole UTC hours in [start, end) from the raw
    activity rows, and merge their address facts; returns (activity rows read, hour rows
    written). One transaction; idempotent; safe while the writer runs: on PostgreSQL the
    rollup tables are locked against other writers (not readers) until it commits, so a
    batch the writer commits meanwhile is either read here or added after."""
    start, end = hour_of(start), hour_of(end)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {quote(TokenUsageHour._meta.db_table)}, "
                    f"{quote(TokenAddress._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE"
                )
        # On SQLite this DELETE takes the database's write lock first, with the same effect.
        TokenUsageHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        fields = ("token_id", "owner_id", "created_at", "status", "ip")
        rows = [
            (token_id, owner_id, created_at, None, None, status, ip)
            for token_id, owner_id, created_at, status, ip in TokenActivity.objects.filter(
                created_at__gte=start, created_at__lt=end
            )
            .order_by()
            .values_list(*fields)
            .iterator(chunk_size=5000)
        ]
        hour_rows, address_rows = _rollup_rows(rows)
        usage_hours_upsert(hour_rows, replace=True)
        token_addresses_upsert(address_rows)
    return len(rows), len(hour_rows)


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
