import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import task_backends
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apitokens.models import SecurityEvent, WebhookDelivery, WebhookEndpoint
from apitokens.webhooks.delivery import (
    webhook_deliver,
    webhook_deliveries_due_send,
    webhook_delivery_attempt,
)
from apitokens.webhooks.events import webhook_event_emit
from tests.apitokens.webhooks.conftest import make_endpoint
from tests.apitokens.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db


def emit(user, capture, *, now=None):
    with capture(execute=True):
        (delivery,) = webhook_event_emit(
            event_type="token.created", account=user, data={"token": {"id": "x"}}, now=now
        )
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_is_posted_signed_once_the_transaction_commits(
    user, receiver, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(owner=user, url=receiver.url)
    delivery = emit(user, django_capture_on_commit_callbacks)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert (delivery.attempts, delivery.status_code) == (1, 200)
    assert delivery.response_ms is not None
    (request,) = receiver.received
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["Content-Type"] == "application/json"
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "token.created"


def test_a_receiver_answering_500_then_200_succeeds_on_the_retry(
    user, local_receivers, django_capture_on_commit_callbacks
):
    with Receiver(statuses=[500, 200]) as receiver:
        make_endpoint(owner=user, url=receiver.url)
        now = timezone.now()
        delivery = emit(user, django_capture_on_commit_callbacks, now=now)
        assert delivery.status == WebhookDelivery.Status.RETRYING
        assert delivery.status_code == 500
        due = delivery.next_attempt_at
        assert now + timedelta(minutes=1) <= due <= timezone.now() + timedelta(minutes=1)
        # The immediate backend cannot defer: cron's command sends what is due.
        assert webhook_deliveries_due_send(now=due - timedelta(seconds=1)) == 0
        assert webhook_deliveries_due_send(now=due) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert (delivery.attempts, delivery.status_code, delivery.error) == (2, 200, "")
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    user, local_receivers, settings
):
    with Receiver(delay=3) as receiver:
        endpoint = make_endpoint(owner=user, url=receiver.url)
        (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={})
        status = webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert status == delivery.status == WebhookDelivery.Status.RETRYING
    assert delivery.status_code is None
    assert delivery.error == "No answer within 1 seconds."
    assert 900 <= delivery.response_ms < 2900
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None


def test_a_redirect_is_not_followed(user, local_receivers):
    with Receiver(statuses=[302]) as receiver:
        make_endpoint(owner=user, url=receiver.url)
        (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={})
        webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status_code == 302
    assert "redirects are not followed" in delivery.error
    assert len(receiver.received) == 1


def test_a_url_that_resolves_to_loopback_after_it_was_saved_is_refused_and_logged(
    user, receiver, settings, monkeypatch, caplog
):
    settings.QUICKBOT_WEBHOOKS_ALLOW_PRIVATE = False
    make_endpoint(owner=user, url="https://hooks.example.com/in")
    (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={})
    monkeypatch.setattr(
        "apitokens.webhooks.addresses.system_resolve", lambda host, port: ["127.0.0.1"]
    )
    with caplog.at_level(logging.WARNING, logger="apitokens.webhooks.delivery"):
        status = webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert status == WebhookDelivery.Status.RETRYING
    assert delivery.error.startswith("Refused: ")
    assert "loopback" in delivery.error
    assert "refused" in caplog.text
    assert receiver.received == []


def test_the_connection_goes_to_the_address_that_was_checked(user, receiver, monkeypatch):
    """The host name is looked up once, by the check; the request goes to that address
    (no second lookup an attacker's DNS could answer differently)."""
    port = receiver.server.server_address[1]
    make_endpoint(owner=user, url=f"http://hooks.quickbot.test:{port}/in")
    (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={})
    lookups = []
    monkeypatch.setattr(
        "apitokens.webhooks.addresses.system_resolve",
        lambda host, port: lookups.append(host) or ["127.0.0.1"],
    )
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == WebhookDelivery.Status.SUCCEEDED
    assert lookups == ["hooks.quickbot.test"]
    assert receiver.received[0].headers["Host"] == f"hooks.quickbot.test:{port}"


def test_retries_stop_24_hours_after_the_event(user, local_receivers):
    with Receiver(statuses=[503]) as receiver:
        make_endpoint(owner=user, url=receiver.url)
        start = timezone.now()
        (delivery,) = webhook_event_emit(
            event_type="token.created", account=user, data={}, now=start
        )
        moment = start
        for _ in range(20):
            if webhook_deliveries_due_send(now=moment) == 0:
                break
            delivery.refresh_from_db()
            moment = delivery.next_attempt_at or moment
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.last_attempt_at <= start + timedelta(hours=24)
    assert delivery.attempts == len(receiver.received) == 7


def test_an_endpoint_failing_for_3_days_is_disabled_and_its_owner_emailed(
    user, local_receivers, mailoutbox, django_capture_on_commit_callbacks
):
    with Receiver(statuses=[500]) as receiver:
        endpoint = make_endpoint(owner=user, url=receiver.url)
        start = timezone.now()
        webhook_event_emit(event_type="token.created", account=user, data={}, now=start)
        webhook_deliveries_due_send(now=start)
        endpoint.refresh_from_db()
        assert endpoint.failing_since == start and endpoint.enabled
        later = start + timedelta(days=3)
        webhook_event_emit(event_type="token.created", account=user, data={}, now=later)
        with django_capture_on_commit_callbacks(execute=True):
            webhook_deliveries_due_send(now=later)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_at == later
    assert (
        WebhookEndpoint.objects.get(pk=endpoint.pk)
        .deliveries.filter(status=WebhookDelivery.Status.RETRYING)
        .count()
        == 0
    )
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert "disabled" in message.subject
    assert "could not deliver any webhook" in message.body
    assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.WEBHOOK_DISABLED).count() == 1
    # A disabled endpoint gets no new events.
    assert webhook_event_emit(event_type="token.created", account=user, data={}) == []


def test_a_success_clears_the_failing_streak(user, local_receivers):
    with Receiver(statuses=[500, 200]) as receiver:
        endpoint = make_endpoint(owner=user, url=receiver.url)
        now = timezone.now()
        webhook_event_emit(event_type="token.created", account=user, data={}, now=now)
        webhook_deliveries_due_send(now=now)
        webhook_deliveries_due_send(now=now + timedelta(minutes=1))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_an_attempt_is_sent_once_though_the_task_and_the_command_both_pick_it(user, receiver):
    make_endpoint(owner=user, url=receiver.url)
    (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={})
    webhook_deliver.call(delivery_id=delivery.pk)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == WebhookDelivery.Status.SUCCEEDED
    call_command("deliver_webhooks", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert len(receiver.received) == 1


def test_a_backend_that_can_defer_gets_the_retry_with_run_after(user, local_receivers, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    with Receiver(statuses=[500]) as receiver:
        make_endpoint(owner=user, url=receiver.url)
        now = timezone.now()
        (delivery,) = webhook_event_emit(event_type="token.created", account=user, data={}, now=now)
        webhook_delivery_attempt(delivery_id=delivery.pk, now=now)
    (queued,) = task_backends["default"].results
    assert queued.task.run_after == now + timedelta(minutes=1)
    assert queued.kwargs == {"delivery_id": delivery.pk}
