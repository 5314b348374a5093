"""Work a request hands over so that its answer never waits for it, on one background
thread per process.

Emails (`common.mail`) and the processing of leak reports run here, so a response's timing
never depends on what the work finds (an account, a matching token). A job deferred during
a request (`background_after_response`) starts once the response has been sent (Django's
`request_finished`, sent when the server closes the response); outside a request (a
management command, a shell) it starts after the current transaction commits.
`QUICKBOT_EMAIL_ASYNC` off (the tests) runs each job in the calling thread at that same
moment. A job that fails is logged and swallowed: it never reaches the request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction

logger = logging.getLogger(__name__)

# The thread's name; tests check mails leave from it ("quickbot-mail_0").
THREAD_NAME_PREFIX = "quickbot-mail"

Job = Callable[[], object]


class BackgroundWorker:
    """The process's background thread (started on first use), the jobs each request
    thread deferred until its response is sent, and how many jobs are still queued."""

    def __init__(self, *, thread_name_prefix: str) -> None:
        self.thread_name_prefix = thread_name_prefix
        self._mutex = threading.Lock()
        self._idle = threading.Condition(self._mutex)
        self._executor: ThreadPoolExecutor | None = None
        self._queued = 0
        self._requests = threading.local()

    def submit(self, job: Job, *, kind: str) -> None:
        """Run `job` on the background thread as soon as it is free (in this thread when
        `QUICKBOT_EMAIL_ASYNC` is off); never raises."""
        self._begin()
        self._start(job, kind)

    def after_response(self, job: Job, *, kind: str) -> None:
        """Run `job` once this thread's response has been sent, or, outside a request,
        after the current transaction commits. Give it plain values: the request is over."""
        deferred = getattr(self._requests, "deferred", None)
        if deferred is None:
            transaction.on_commit(lambda: self.submit(job, kind=kind), robust=True)
        else:
            self._begin()  # waiting for idle covers it from now on
            deferred.append((job, kind))

    def wait_for_idle(self, timeout: float = 10) -> None:
        """Block until every job queued or deferred so far (and any job those queued) has
        run, whichever thread runs it; TimeoutError after `timeout` seconds."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._queued == 0, timeout=timeout):
                raise TimeoutError(f"background jobs still queued after {timeout} s")

    def shutdown(self) -> None:
        """Finish the queued jobs and stop the thread (a later job starts a new one)."""
        with self._mutex:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def reset(self) -> None:
        """Drop the jobs this thread deferred to a response never sent, then finish the
        queued jobs and stop the thread (between tests)."""
        deferred = getattr(self._requests, "deferred", None) or ()
        self._requests.deferred = None
        for _job in deferred:
            self._done()  # counted when deferred; it will never run
        self.shutdown()

    # --- Request boundaries (connected by `background_connect_signals`) -------------------

    def request_started(self, **kwargs) -> None:
        self._flush()  # a request that never finished (should not happen) loses nothing
        self._requests.deferred = []

    def request_finished(self, **kwargs) -> None:
        self._flush()

    def _flush(self) -> None:
        deferred = getattr(self._requests, "deferred", None)
        self._requests.deferred = None
        for job, kind in deferred or ():
            self._start(job, kind)

    def _begin(self) -> None:
        with self._mutex:
            self._queued += 1

    def _start(self, job: Job, kind: str) -> None:
        # Counted by _begin; _done uncounts it once it has run (or could not be queued).
        if not getattr(settings, "QUICKBOT_EMAIL_ASYNC", True):
            try:
                _run_logged(job, kind)
            finally:
                self._done()
            return
        with self._mutex:
            if self._executor is None:
                # One thread: jobs run in order and SMTP never gets a burst of connections.
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=self.thread_name_prefix
                )
            executor = self._executor
        try:
            executor.submit(self._run_queued, job, kind)
        except Exception:
            self._done()
            logger.exception("Could not queue the %s job", kind)

    def _run_queued(self, job: Job, kind: str) -> None:
        # The thread's own database connection, checked and recycled like a request's.
        try:
            close_old_connections()
            _run_logged(job, kind)
        finally:
            close_old_connections()
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._queued -= 1
            if self._queued == 0:
                self._idle.notify_all()


def _run_logged(job: Job, kind: str) -> None:
    try:
        job()
    except Exception:
        logger.exception("The %s background job failed", kind)


worker = BackgroundWorker(thread_name_prefix=THREAD_NAME_PREFIX)


def background_after_response(job: Job, *, kind: str) -> None:
    """Run `job` on the background thread after this request's response is sent (see
    `BackgroundWorker.after_response`); never raises."""
    worker.after_response(job, kind=kind)


def background_connect_signals() -> None:
    """Track request boundaries, so jobs deferred in a request wait for its response
    (called once from an AppConfig.ready, before the first request)."""
    request_started.connect(worker.request_started, dispatch_uid="common.background.started")
    request_finished.connect(worker.request_finished, dispatch_uid="common.background.finished")
