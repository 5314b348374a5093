"""The process's activity buffer: API activity rows and unknown-token traces kept in
memory and written in batches by one flusher thread (`ActivityBuffer`; the process's one
is `activity_buffer`).

Rows are written (`writer.write_rows`) when the buffer holds QUICKBOT_ACTIVITY_BUFFER_SIZE
rows or its oldest row is older than QUICKBOT_ACTIVITY_FLUSH_SECONDS, and when the process
exits normally (`atexit`, and gunicorn's `worker_exit` hook: `gunicorn_worker_exit`).
Should the thread fall behind (ten buffers' worth), the request thread writes inline.
QUICKBOT_ACTIVITY_BUFFER_SIZE=0 writes each row inside its request (the tests use it).
Why: an INSERT and a commit per request would cost more than the rest of the API path.

Lifecycle: the flusher thread starts on the first buffered row or trace of each process
(threads do not survive fork); `stop()` ends it and writes what is left; `reset()`
forgets everything (between tests).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import connection

from apitokens.activity.rows import activity_row
from apitokens.activity.traces import (
    UnknownTokenTraces,
    trace_window,
    traces_write,
    traces_write_logged,
)
from apitokens.activity.writer import write_rows
from common import metrics

logger = logging.getLogger(__name__)

# A database outage must not grow the buffer without bound: past this, rows are dropped
# (and the drop is logged) rather than taking the worker down.
_MAX_BUFFERED_FACTOR = 50
# Past this many buffers' worth of rows the request thread stops waiting for the flusher.
_INLINE_FACTOR = 10
# The flusher keeps its connection between batches (reconnecting costs more than a batch),
# closing it when Django would, when idle this long, and every few batches (the driver
# caches a statement per distinct multi-row INSERT, which would grow the process).
_IDLE_CLOSE_SECONDS = 30.0
_BATCHES_PER_CONNECTION = 10
# How long stopping waits for a batch the flusher is writing.
_STOP_TIMEOUT_SECONDS = 5.0


class ActivityBuffer:
    """This process's buffered activity rows and unknown-token traces, and the flusher
    thread that writes them."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._rows: list[tuple] = []
        self._traces = UnknownTokenTraces()
        self._oldest = 0.0  # monotonic time of the oldest buffered row or trace
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()  # the running flusher's: each thread gets its own
        self._flusher_pid = 0  # the process whose flusher thread is running
        self._pid = os.getpid()  # this process's id, kept current across fork (no syscall)

    # --- Filling -------------------------------------------------------------------------

    def add(self, row: tuple) -> None:
        """Buffer one activity row (written now when the buffer is off)."""
        size = settings.QUICKBOT_ACTIVITY_BUFFER_SIZE
        if size <= 1:
            write_rows([row])
            return
        with self._mutex:
            if not self._rows and not self._traces:
                self._oldest = time.monotonic()
            self._rows.append(row)
            pending = len(self._rows)
        if self._flusher_pid != self._pid:
            self._start()
        if pending >= size:
            if pending >= size * _INLINE_FACTOR:
                self.flush()
            else:
                self._wake.set()

    def unknown_token_seen(self, *, ip: str | None, now: datetime) -> None:
        """Count one request with a well-formed token that matches no token at all."""
        key = (ip, trace_window(now))
        if settings.QUICKBOT_ACTIVITY_BUFFER_SIZE <= 1:
            traces_write({key: [1, now]})
            return
        with self._mutex:
            empty = not self._rows and not self._traces
            if not self._traces.add(key, now):
                return  # counted in its trace, or the flusher is behind
            if empty:
                self._oldest = time.monotonic()
        if self._flusher_pid != self._pid:
            self._start()

    def pending(self) -> int:
        """How many rows wait in this buffer."""
        return len(self._rows)

    # --- Writing -------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every buffered row (and unknown-token trace) now; returns how many rows."""
        if self._traces:
            with self._mutex:
                traces = self._traces.drain()
            traces_write_logged(traces)
        with self._mutex:
            rows, self._rows = self._rows, []
            oldest = self._oldest
        if not rows:
            return 0
        try:
            write_rows(rows)
        except Exception:
            written = _write_one_by_one(rows) if len(rows) > 1 else 0
            if written:
                return written
            logger.exception(
                "Could not write %d API activity rows; keeping them for retry", len(rows)
            )
            with self._mutex:
                kept = rows + self._rows
                limit = max(1, settings.QUICKBOT_ACTIVITY_BUFFER_SIZE) * _MAX_BUFFERED_FACTOR
                dropped = len(kept) - limit
                self._rows = kept[-limit:]
            if dropped > 0:
                logger.error("Dropped %d API activity rows: database unavailable", dropped)
            return 0
        metrics.activity_write_lag_seconds.observe(max(0.0, time.monotonic() - oldest))
        return len(rows)

    # --- Lifecycle -----------------------------------------------------------------------

    def stop(self) -> int:
        """End this process's flusher thread and write what is left (worker or interpreter
        exit); a later row starts a new thread. Returns how many rows it wrote."""
        self._stop_flusher()
        return self.flush()

    def reset(self) -> None:
        """End the flusher thread and forget every row and trace unwritten (between tests:
        the database they belong to is gone)."""
        self._stop_flusher()
        with self._mutex:
            self._rows = []
            self._traces.reset()
            self._oldest = 0.0

    def after_fork_in_child(self) -> None:
        self._pid = os.getpid()

    def _start(self) -> None:
        with self._mutex:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._stop = threading.Event()
            self._flusher = threading.Thread(
                target=self._flush_loop,
                args=(self._stop,),
                name="quickbot-activity-flush",
                daemon=True,
            )
            self._flusher.start()

    def _stop_flusher(self) -> None:
        with self._mutex:
            thread, self._flusher = self._flusher, None
            self._stop.set()
            self._flusher_pid = 0
        if thread is None:
            return
        self._wake.set()
        # A parent's thread is not alive in a forked child (threads do not survive fork).
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(_STOP_TIMEOUT_SECONDS)

    def _flush_loop(self, stop: threading.Event) -> None:
        last_flush = 0.0
        batches = 0
        try:
            while not stop.is_set():
                self._wake.wait(min(1.0, max(0.1, settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS / 2)))
                self._wake.clear()
                if stop.is_set():
                    break
                metrics.activity_buffer_rows.set(len(self._rows))
                pending = len(self._rows) + len(self._traces)
                if not pending:
                    if time.monotonic() - last_flush >= _IDLE_CLOSE_SECONDS:
                        connection.close()  # a no-op when already closed
                    continue
                due = time.monotonic() - self._oldest >= settings.QUICKBOT_ACTIVITY_FLUSH_SECONDS
                if due or pending >= settings.QUICKBOT_ACTIVITY_BUFFER_SIZE:
                    try:
                        self.flush()
                    finally:
                        last_flush = time.monotonic()
                        batches += 1
                        if batches >= _BATCHES_PER_CONNECTION:
                            batches = 0
                            connection.close()
                        else:
                            connection.close_if_unusable_or_obsolete()
        finally:
            connection.close()


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


activity_buffer = ActivityBuffer()
os.register_at_fork(after_in_child=activity_buffer.after_fork_in_child)
atexit.register(activity_buffer.stop)


def activity_record(**fields) -> None:
    """Record one API request made with a known token (`activity_row`'s fields), buffered
    unless the buffer is off."""
    activity_buffer.add(activity_row(**fields))


def activity_flush() -> int:
    """Write every row and trace this process has buffered; returns how many rows."""
    return activity_buffer.flush()


def activity_pending() -> int:
    """How many rows wait in this process's buffer."""
    return activity_buffer.pending()


def unknown_token_seen(*, ip: str | None, now: datetime) -> None:
    """Count one request with a well-formed token that matches no token at all."""
    activity_buffer.unknown_token_seen(ip=ip, now=now)


def gunicorn_worker_exit(server, worker) -> None:
    """gunicorn `worker_exit` hook: write the worker's buffered activity before it exits."""
    activity_buffer.stop()
