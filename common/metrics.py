"""QuickBot's Prometheus metrics (prometheus-client), defined once for every layer.

Under gunicorn set PROMETHEUS_MULTIPROC_DIR (an empty directory shared by the web workers
and the task worker): each process then writes its values to files there and /metrics
(quickbot/metrics.py) sums them. Rare events (e-mails, task failures, counter-store
outages) increment their metric at once. The API path does not: a Counter.inc or a
Histogram.observe costs about 10,000 and 20,000 instructions in multiprocess mode, so each
request adds to plain counts in memory (`api_tally`) that a thread publishes once a second.
"""

from __future__ import annotations

import atexit
import bisect
import os
import threading

from prometheus_client import Counter, Gauge, Histogram

# Buckets of the API's authentication time: the lookup is a fraction of a millisecond,
# a slow database or Redis shows up in the tens of milliseconds.
AUTH_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
WRITE_LAG_SECONDS_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# How often the publisher thread moves the API's counts to the metrics.
PUBLISH_SECONDS = 1.0


class BatchHistogram(Histogram):
    """A Histogram that also takes many observations at once, already sorted into its
    buckets (`observe_counts`). It uses the parent's `_upper_bounds`, `_buckets` and `_sum`
    (prometheus-client's internals, tested against `observe` in tests/common/test_metrics.py)."""

    def observe_counts(self, counts: list[int], total: float) -> None:
        """Add `counts[i]` observations to bucket i (in `upper_bounds` order, +Inf last)
        and `total` to the sum."""
        self._raise_if_not_observable()
        for bucket, count in zip(self._buckets, counts, strict=True):
            if count:
                bucket.inc(count)
        self._sum.inc(total)

    @property
    def upper_bounds(self) -> list[float]:
        return list(self._upper_bounds)


api_requests = Counter(
    "quickbot_api_requests",
    "API requests with a token view or a token in the URL, by outcome: ok, limited (the "
    "hourly limit), or the reason the credentials were refused",
    ["outcome"],
)
api_auth_seconds = BatchHistogram(
    "quickbot_api_auth_seconds",
    "Time to authenticate an API request's bearer token (header, counters, lookup, allowlist)",
    buckets=AUTH_SECONDS_BUCKETS,
)
activity_buffer_rows = Gauge(
    "quickbot_activity_buffer_rows",
    "API activity rows waiting in memory to be written, summed over live processes",
    multiprocess_mode="livesum",
)
activity_write_lag_seconds = Histogram(
    "quickbot_activity_write_lag_seconds",
    "Age of the oldest row of each batch of API activity rows when the batch is written",
    buckets=WRITE_LAG_SECONDS_BUCKETS,
)
counter_store_fail_opens = Counter(
    "quickbot_counter_store_fail_opens",
    "Times the rate-limit counters did not answer and the API went on without counting",
)
task_failures = Counter(
    "quickbot_task_failures",
    "Background tasks that raised: retried later, or given up after their last attempt",
    ["task", "outcome"],
)
emails = Counter(
    "quickbot_emails",
    "E-mails handed to the mail server (sent) or refused by it (failed), by kind",
    ["kind", "outcome"],
)


class RequestTally:
    """This process's API outcomes and authentication times, counted in plain memory and
    published to `counter` and `histogram` by a thread at most PUBLISH_SECONDS later, at
    exit, or when a scrape asks (`publish`).

    Lifecycle: the thread starts on the first count of each process (threads do not
    survive fork); `reset()` stops it and forgets what was not published."""

    def __init__(self, *, counter: Counter, histogram: BatchHistogram) -> None:
        self._counter = counter
        self._histogram = histogram
        self._bounds = histogram.upper_bounds
        self._mutex = threading.Lock()
        self._outcomes: dict[str, int] = {}
        self._buckets = [0] * len(self._bounds)
        self._seconds = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._pid = os.getpid()  # kept current across fork (no syscall per request)

    def count(self, outcome: str, auth_seconds: float | None = None) -> None:
        """Count one API request's outcome and, when it was authenticated, the time taken."""
        with self._mutex:
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1
            if auth_seconds is not None:
                self._buckets[bisect.bisect_left(self._bounds, auth_seconds)] += 1
                self._seconds += auth_seconds
        if self._thread_pid != self._pid:
            self._start()

    def publish(self) -> None:
        """Move the counts so far to the Prometheus metrics."""
        with self._mutex:
            if not self._outcomes:
                return
            outcomes, self._outcomes = self._outcomes, {}
            buckets, self._buckets = self._buckets, [0] * len(self._bounds)
            seconds, self._seconds = self._seconds, 0.0
        for outcome, count in outcomes.items():
            self._counter.labels(outcome=outcome).inc(count)
        if any(buckets):
            self._histogram.observe_counts(buckets, seconds)

    def reset(self) -> None:
        """Stop the thread and forget the counts not yet published (between tests)."""
        with self._mutex:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._thread_pid = 0
            self._outcomes = {}
            self._buckets = [0] * len(self._bounds)
            self._seconds = 0.0
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(PUBLISH_SECONDS * 2)

    def after_fork_in_child(self) -> None:
        self._pid = os.getpid()

    def _start(self) -> None:
        with self._mutex:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name="quickbot-metrics", daemon=True
            )
            self._thread.start()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(PUBLISH_SECONDS):
            self.publish()


api_tally = RequestTally(counter=api_requests, histogram=api_auth_seconds)
os.register_at_fork(after_in_child=api_tally.after_fork_in_child)
atexit.register(api_tally.publish)


def multiprocess_enabled() -> bool:
    """Whether this process writes its values to PROMETHEUS_MULTIPROC_DIR (set before start)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
