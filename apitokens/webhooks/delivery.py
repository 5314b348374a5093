"""Sending a delivery: the django.tasks task, one HTTP attempt to the checked address, the
retry schedule, and disabling an endpoint that has failed for three days.

A failed attempt is retried with exponential backoff (1 min, 4 min, 16 min, … ×4) for 24
hours after the event. The retry is a task enqueued with `run_after` when the task backend
can defer; otherwise (the immediate backend) `manage.py deliver_webhooks`, run from cron
each minute, sends what is due. Either way each attempt first claims the delivery with a
guarded UPDATE, so a task and the command never send one attempt twice.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.tasks import task, task_backends
from django.utils import timezone

from apitokens.models import WebhookDelivery, WebhookEndpoint
from apitokens.webhooks.addresses import UnsafeWebhookURL, WebhookTarget, webhook_url_check
from apitokens.webhooks.signing import webhook_headers

logger = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(minutes=1)
BACKOFF_FACTOR = 4
# An endpoint whose deliveries have failed without a success for this long is disabled.
DISABLE_AFTER = timedelta(days=3)
USER_AGENT = "QuickBot-Webhooks/1"
ERROR_MAX_LENGTH = WebhookDelivery._meta.get_field("error").max_length


def timeout_seconds() -> float:
    return float(getattr(settings, "QUICKBOT_WEBHOOKS_TIMEOUT_SECONDS", 5))


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one HTTP attempt went: a status code, or an error, and how long it took."""

    status_code: int | None
    response_ms: int
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP (local receivers only) to the address that was checked."""

    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the address that was checked, the certificate verified for the host name
    (so a DNS answer that changes after the check cannot move the request elsewhere)."""

    def __init__(self, target: WebhookTarget, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_post(*, target: WebhookTarget, body: str, headers: dict[str, str]) -> AttemptResult:
    """POST `body` to the checked target once: no redirect followed, a timeout on every
    step. Never raises for a network failure; the result says what happened."""
    timeout = timeout_seconds()
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    started = time.monotonic()
    data = body.encode()
    try:
        connection.request(
            "POST",
            target.path,
            body=data,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        response = connection.getresponse()
        response.read(64 * 1024)  # the body is not kept; read a little so the peer is not cut
        status: int | None = response.status
        error = ""
        if 300 <= response.status < 400:
            error = f"Answered {response.status}: redirects are not followed."
        elif not 200 <= response.status < 300:
            error = f"Answered {response.status}."
    except TimeoutError:
        status, error = None, f"No answer within {timeout:g} seconds."
    except ssl.SSLError as failure:
        status, error = None, f"TLS failed: {failure.reason or failure}"
    except (OSError, http.client.HTTPException) as failure:
        status, error = None, f"Could not deliver: {failure.__class__.__name__}: {failure}"
    finally:
        connection.close()
    elapsed = int((time.monotonic() - started) * 1000)
    return AttemptResult(status_code=status, response_ms=elapsed, error=error[:ERROR_MAX_LENGTH])


def retry_at(*, delivery: WebhookDelivery, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None once the next try would
    fall outside the 24 hours after the event."""
    delay = FIRST_RETRY * BACKOFF_FACTOR ** (attempts - 1)
    moment = now + delay
    return moment if moment <= delivery.created_at + RETRY_WINDOW else None


# --- The task and the queue -------------------------------------------------------------------


@task
def webhook_deliver(delivery_id: int) -> str:
    """The task: attempt one delivery (it returns the delivery's status)."""
    return webhook_delivery_attempt(delivery_id=delivery_id)


def backend_defers() -> bool:
    return bool(task_backends[webhook_deliver.backend].supports_defer)


def webhook_deliveries_enqueue(*, delivery_ids: Iterable[int]) -> None:
    """Hand each delivery to the task queue (called once the event's transaction commits).
    A queue that cannot take it leaves it to `deliver_webhooks`."""
    for delivery_id in delivery_ids:
        try:
            webhook_deliver.enqueue(delivery_id=delivery_id)
        except Exception:
            logger.exception("Could not enqueue webhook delivery %s", delivery_id)


def _retry_enqueue(*, delivery_id: int, when: datetime) -> None:
    if not backend_defers():
        return  # `deliver_webhooks` (cron) picks it up when it is due
    try:
        webhook_deliver.using(run_after=when).enqueue(delivery_id=delivery_id)
    except Exception:
        logger.exception("Could not schedule the retry of webhook delivery %s", delivery_id)


def webhook_deliveries_due_send(*, now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every delivery that is due (the cron command); returns how many."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status__in=(WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING),
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_delivery_attempt(delivery_id=delivery_id, now=now)
    return len(due)


# --- One attempt ----------------------------------------------------------------------------


def webhook_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Claim the delivery, check its endpoint's URL again, POST it signed, and record the
    outcome: delivered, retried later, or failed for good. Returns the new status."""
    now = now or timezone.now()
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "endpoint__owner")
        .filter(pk=delivery_id)
        .first()
    )
    open_statuses = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING)
    if delivery is None or delivery.status not in open_statuses:
        return delivery.status if delivery else "missing"
    # Claim this attempt: a task and the cron command that both picked it send it once.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, status__in=open_statuses
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None)
    if not claimed:
        return "claimed elsewhere"
    delivery.attempts += 1
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return _finish(
            delivery,
            status=WebhookDelivery.Status.FAILED,
            result=AttemptResult(None, 0, "The endpoint is disabled."),
        )
    try:
        target = webhook_url_check(endpoint.url)
    except UnsafeWebhookURL as refusal:
        logger.warning(
            "Webhook delivery %s refused: endpoint %s: %s", delivery.pk, endpoint.pk, refusal
        )
        result = AttemptResult(None, 0, f"Refused: {refusal}"[:ERROR_MAX_LENGTH])
    else:
        headers = webhook_headers(
            secret=endpoint.secret, message_id=delivery.message_id, body=delivery.body, now=now
        )
        result = http_post(target=target, body=delivery.body, headers=headers)
    if result.succeeded:
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return _finish(delivery, status=WebhookDelivery.Status.SUCCEEDED, result=result)
    logger.info(
        "Webhook delivery %s to endpoint %s failed (attempt %s): %s",
        delivery.pk,
        endpoint.pk,
        delivery.attempts,
        result.error,
    )
    _endpoint_failure_record(endpoint=endpoint, now=now)
    endpoint.refresh_from_db(fields=["enabled"])
    when = retry_at(delivery=delivery, attempts=delivery.attempts, now=now)
    if when is None or not endpoint.enabled:
        return _finish(delivery, status=WebhookDelivery.Status.FAILED, result=result)
    status = _finish(delivery, status=WebhookDelivery.Status.RETRYING, result=result, when=when)
    _retry_enqueue(delivery_id=delivery.pk, when=when)
    return status


def _finish(
    delivery: WebhookDelivery,
    *,
    status: str,
    result: AttemptResult,
    when: datetime | None = None,
) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        status_code=result.status_code,
        response_ms=result.response_ms,
        error=result.error,
        next_attempt_at=when,
    )
    return status


def _endpoint_failure_record(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Note a failure; an endpoint failing for `DISABLE_AFTER` is disabled and its owner
    (staff: the address that added it, else the site's admins) told by email."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    disabled = WebhookEndpoint.objects.filter(
        Q(failing_since__lte=now - DISABLE_AFTER), pk=endpoint.pk, enabled=True
    ).update(
        enabled=False,
        disabled_at=now,
        disabled_reason="Every delivery failed for 3 days.",
    )
    if disabled:
        # Imported here: the security log's writer queues webhooks through this module.
        from apitokens.models import SecurityEvent
        from apitokens.services.audit import security_event_record
        from apitokens.webhooks.events import subscription_memo
        from apitokens.webhooks.notify import endpoint_disabled_notify

        subscription_memo.reset()
        endpoint.refresh_from_db()
        logger.warning("Webhook endpoint %s disabled after 3 days of failures", endpoint.pk)
        security_event_record(
            kind=SecurityEvent.Kind.WEBHOOK_DISABLED,
            account=endpoint.owner,
            actor_kind=SecurityEvent.Actor.SYSTEM,
            detail=endpoint.url,
            now=now,
        )
        endpoint_disabled_notify(endpoint=endpoint, now=now)
