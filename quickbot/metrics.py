"""`/metrics`: QuickBot's Prometheus metrics in the text format, for the addresses in
QUICKBOT_METRICS_ALLOWED_IPS only (allowlist syntax; the client's address as
`common.clientip` decides it, so a proxy header counts only behind a trusted proxy). Any
other client gets the site's 404, as for a page that does not exist.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn), the answer sums every process's files there
(the web workers' and the task worker's); without, it is this process's registry. The task
queue's depth is read from the task table at each scrape.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from apitokens.activity.buffer import activity_buffer
from apitokens.allowlist import AllowlistError, address_allowed, allowlist_normalize
from common import metrics
from common.clientip import client_ip
from common.tasks import tasks_queue_depth

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def metrics_allowlist(setting: str) -> str:
    """The stored form of QUICKBOT_METRICS_ALLOWED_IPS ("" when it is empty or unreadable:
    then no address may scrape)."""
    try:
        return allowlist_normalize(setting)
    except AllowlistError:
        logger.error("QUICKBOT_METRICS_ALLOWED_IPS is not a valid allowlist: /metrics is closed")
        return ""


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether this request's client may read the metrics."""
    allowed = metrics_allowlist(settings.QUICKBOT_METRICS_ALLOWED_IPS)
    return bool(allowed) and address_allowed(allowed, client_ip(request))


class TaskQueueCollector:
    """The number of tasks waiting in each queue, read from the task table when scraped."""

    def collect(self):
        depth = GaugeMetricFamily(
            "quickbot_task_queue_depth",
            "Tasks waiting to run (due now or retrying later), by queue",
            labels=["queue"],
        )
        try:
            queues = tasks_queue_depth()
        except DatabaseError:
            logger.exception("Could not read the task queue's depth")
            return
        for queue, count in sorted(queues.items()):
            depth.add_metric([queue], count)
        yield depth


def metrics_text() -> bytes:
    """Every metric, in Prometheus' text format."""
    metrics.api_tally.publish()
    metrics.activity_buffer_rows.set(activity_buffer.pending())
    registry = CollectorRegistry()
    if metrics.multiprocess_enabled():
        MultiProcessCollector(registry)
        collectors = [registry]
    else:
        collectors = [REGISTRY]
    queue = CollectorRegistry()
    queue.register(TaskQueueCollector())
    return b"".join(generate_latest(collector) for collector in [*collectors, queue])


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics for an allowed address; the site's 404 for any other, whatever the method
    (a 405 would tell that the page exists)."""
    if not metrics_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
