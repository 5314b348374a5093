import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountEvent
from accounts.services import account_event_record
from apitokens import services, tokens
from apitokens.models import APIToken, SecurityEvent, WebhookDelivery
from apitokens.notifications.reminders import send_expiry_reminders
from apitokens.services.audit import NO_CLIENT, security_event_record
from apitokens.services.exposure import LeakReport, leak_report_process
from tests.apitokens.factories import create_token
from tests.apitokens.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db
ALL_TOKEN_EVENTS = (
    "token.created",
    "token.regenerated",
    "token.paused",
    "token.resumed",
    "token.deleted",
    "token.expiring",
    "token.reported_leaked",
    "token.used_from_new_address",
)


def sent(event_type):
    return [json.loads(d.body) for d in WebhookDelivery.objects.filter(event_type=event_type)]


@pytest.fixture
def endpoint(user):
    return make_endpoint(
        owner=user, url="https://hooks.example.com/x", event_types=ALL_TOKEN_EVENTS
    )


def test_created_regenerated_and_deleted_are_emitted_with_the_token_but_never_its_value(
    user, endpoint
):
    token, value = create_token(user, name="CI deploy")
    token, new_value = services.api_token_regenerate(token=token, actor=user, overlap=timedelta(0))
    services.api_token_revoke(token=token, actor=user)
    for event_type in ("token.created", "token.regenerated", "token.deleted"):
        (payload,) = sent(event_type)
        assert payload["type"] == event_type
        assert payload["data"]["token"]["id"] == token.public_id
        assert payload["data"]["token"]["name"] == "CI deploy"
    assert sent("token.deleted")[0]["data"]["reason"] == "owner"
    bodies = "".join(WebhookDelivery.objects.values_list("body", flat=True))
    assert value not in bodies and new_value not in bodies and token.digest not in bodies


@pytest.mark.parametrize(
    ("kind", "event_type"),
    [(SecurityEvent.Kind.PAUSED, "token.paused"), (SecurityEvent.Kind.RESUMED, "token.resumed")],
)
def test_pause_and_resume_follow_the_security_log_kind(user, endpoint, kind, event_type):
    token, _ = create_token(user)
    security_event_record(
        kind=kind, account=user, actor_kind=SecurityEvent.Actor.USER, actor=user, token=token
    )
    (payload,) = sent(event_type)
    assert payload["data"]["token"]["id"] == token.public_id


def test_a_reported_leak_is_emitted_as_deleted_and_reported_leaked(user, endpoint):
    token, value = create_token(user)
    leak_report_process(
        report=LeakReport(
            submitted=1,
            well_formed=1,
            digests=(tokens.token_digest(value),),
            client=NO_CLIENT,
            received_at=timezone.now(),
        )
    )
    (payload,) = sent("token.reported_leaked")
    assert payload["data"]["reason"] == APIToken.RevokedBy.LEAKED
    assert len(sent("token.deleted")) == 1


def test_expiry_reminders_emit_token_expiring_once(user, endpoint):
    now = timezone.now()
    token, _ = create_token(user, now=now - timedelta(days=20), expires_at=now + timedelta(days=6))
    send_expiry_reminders(now=now)
    send_expiry_reminders(now=now)
    (payload,) = sent("token.expiring")
    assert payload["data"]["reminder"] == "7d"
    assert payload["data"]["token"]["id"] == token.public_id


def test_a_request_from_a_new_address_is_emitted_once_per_address(user, endpoint, client, settings):
    settings.QUICKBOT_ACTIVITY_BUFFER_SIZE = 0
    token, value = create_token(user)
    headers = {"Authorization": f"Bearer {value}"}
    client.get("/api/v1/me/", headers=headers, REMOTE_ADDR="203.0.113.7")
    client.get("/api/v1/me/", headers=headers, REMOTE_ADDR="203.0.113.7")
    client.get("/api/v1/me/", headers=headers, REMOTE_ADDR="2001:db8::9")
    payloads = sent("token.used_from_new_address")
    assert sorted(p["data"]["ip"] for p in payloads) == ["2001:db8::9", "203.0.113.7"]


def test_only_subscribed_events_are_queued(user):
    make_endpoint(owner=user, url="https://hooks.example.com/x", event_types=("token.deleted",))
    token, _ = create_token(user)
    assert not WebhookDelivery.objects.exists()
    services.api_token_revoke(token=token, actor=user)
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["token.deleted"]


def test_an_owner_endpoint_gets_only_its_owners_events(user, other_user, endpoint):
    create_token(other_user)
    assert not WebhookDelivery.objects.exists()


def test_a_disabled_endpoint_gets_nothing(user, endpoint):
    endpoint.enabled = False
    endpoint.save()
    create_token(user)
    assert not WebhookDelivery.objects.exists()


def test_staff_endpoints_get_every_accounts_events_and_the_audit_stream(user, other_user):
    staff = make_endpoint(
        owner=None,
        url="https://siem.example.com/in",
        event_types=("token.created", "audit.security_event", "audit.account_event"),
    )
    create_token(other_user)
    account_event_record(user=user, kind=AccountEvent.Kind.PASSWORD_CHANGED)
    types = sorted(staff.deliveries.values_list("event_type", flat=True))
    assert types == ["audit.account_event", "audit.security_event", "token.created"]
    (audit,) = sent("audit.security_event")
    assert audit["data"]["kind"] == "created"
    assert audit["data"]["account"] == {"email": other_user.email}
    (account,) = sent("audit.account_event")
    assert account["data"]["kind"] == "password_changed"


def test_an_owner_endpoint_never_streams_the_audit_log(user):
    make_endpoint(
        owner=user,
        url="https://hooks.example.com/x",
        event_types=("audit.security_event", "audit.account_event"),
    )
    create_token(user)
    account_event_record(user=user, kind=AccountEvent.Kind.PASSWORD_CHANGED)
    assert not WebhookDelivery.objects.exists()


def test_leak_reports_reach_the_audit_stream(user):
    make_endpoint(
        owner=None, url="https://siem.example.com/in", event_types=("audit.security_event",)
    )
    leak_report_process(
        report=LeakReport(
            submitted=2, well_formed=0, digests=(), client=NO_CLIENT, received_at=timezone.now()
        )
    )
    (payload,) = sent("audit.security_event")
    assert payload["data"]["kind"] == "leak_report"
    assert payload["data"]["count"] == 2


def test_a_webhook_failure_never_loses_the_security_log_row(user, endpoint, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("queue down")

    monkeypatch.setattr("apitokens.services.audit.security_event_webhooks_emit", broken)
    token, _ = create_token(user)
    assert SecurityEvent.objects.filter(token=token, kind=SecurityEvent.Kind.CREATED).exists()
