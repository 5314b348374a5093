"""The security log (apitokens/services/audit.py): where an action came from (ClientInfo, the
forwarded address behind a proxy), and dead-token uses."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from unittest import mock

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apitokens import services
from apitokens.models import SecurityEvent
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db


BEHIND_PROXY = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}


CLIENT_IP = "203.0.113.9"


@pytest.fixture
def _one_trusted_proxy(settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1


def body(message) -> str:
    return " ".join(message.body.split())


@pytest.mark.usefixtures("_one_trusted_proxy")
def test_token_created_in_the_portal_records_the_forwarded_address(
    user_client, user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            "/account/tokens/new/",
            {"name": "Behind the proxy", "expiry": "90", "scopes": ["read"]},
            **BEHIND_PROXY,
        )

    assert response.status_code == HTTPStatus.OK
    event = SecurityEvent.objects.get(account=user, kind=SecurityEvent.Kind.CREATED)
    assert event.ip == CLIENT_IP
    (message,) = mailoutbox
    assert f"IP address: {CLIENT_IP}" in body(message)
    assert "10.0.0.1" not in body(message)


@pytest.mark.usefixtures("_one_trusted_proxy")
@pytest.mark.parametrize("location", ["changelist", "change page"])
def test_token_revoked_in_the_admin_records_the_forwarded_address(
    client, user, mailoutbox, django_capture_on_commit_callbacks, location
):
    token, _raw = create_token(user, "Revoked by staff")
    mailoutbox.clear()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    if location == "changelist":
        url = reverse("admin:apitokens_apitoken_changelist")
        data = {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [token.pk], "post": "yes"}
    else:
        url = reverse("admin:apitokens_apitoken_change", args=[token.pk])
        data = {"CHANGE_FORM-action": "revoke_selected", ACTION_CHECKBOX_NAME: [token.pk]}
        data["post"] = "yes"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data, **BEHIND_PROXY)

    assert response.status_code == HTTPStatus.FOUND
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.DELETED)
    assert event.ip == CLIENT_IP
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert f"IP address: {CLIENT_IP}" in body(message)


CLIENT = services.ClientInfo(ip="203.0.113.7", user_agent="curl/8.5.0")


@pytest.fixture
def deleted_token(user):
    token, _raw = create_token(user, "CI runner")
    services.api_token_revoke(token=token, actor=user)
    return token


def _dead_uses(token):
    return SecurityEvent.objects.filter(
        token=token,
        kind__in=[SecurityEvent.Kind.DELETED_TOKEN_USED, SecurityEvent.Kind.EXPIRED_TOKEN_USED],
    ).order_by("created_at")


def test_first_use_of_a_deleted_token_writes_one_event(user, deleted_token):
    now = timezone.now()
    services.api_token_dead_use_record(token=deleted_token, client=CLIENT, now=now)
    event = _dead_uses(deleted_token).get()
    assert event.kind == SecurityEvent.Kind.DELETED_TOKEN_USED
    assert event.account == user
    assert event.actor_kind == SecurityEvent.Actor.TOKEN
    assert event.actor is None
    assert (event.ip, event.user_agent) == ("203.0.113.7", "curl/8.5.0")
    assert (event.token_name, event.token_identifier) == ("CI runner", deleted_token.identifier)
    assert event.count == 1
    assert event.created_at == event.last_seen_at == now


def test_further_uses_within_the_hour_bump_the_count(deleted_token):
    start = timezone.now()
    for minutes in (0, 10, 59):
        services.api_token_dead_use_record(
            token=deleted_token, client=CLIENT, now=start + timedelta(minutes=minutes)
        )
    event = _dead_uses(deleted_token).get()
    assert event.count == 3
    assert event.created_at == start
    assert event.last_seen_at == start + timedelta(minutes=59)


def test_a_use_after_the_hour_starts_a_new_event(deleted_token):
    start = timezone.now()
    services.api_token_dead_use_record(token=deleted_token, client=CLIENT, now=start)
    services.api_token_dead_use_record(
        token=deleted_token, client=CLIENT, now=start + timedelta(hours=1)
    )
    services.api_token_dead_use_record(
        token=deleted_token, client=CLIENT, now=start + timedelta(hours=1, minutes=5)
    )
    assert [event.count for event in _dead_uses(deleted_token)] == [1, 2]


def test_events_are_per_token(user, deleted_token):
    other, _raw = create_token(user, "Staging deploy")
    services.api_token_revoke(token=other, actor=user)
    now = timezone.now()
    services.api_token_dead_use_record(token=deleted_token, client=CLIENT, now=now)
    services.api_token_dead_use_record(token=other, client=CLIENT, now=now)
    assert _dead_uses(deleted_token).get().count == 1
    assert _dead_uses(other).get().count == 1


def test_an_expired_token_gets_an_expired_event(user):
    now = timezone.now()
    token, _raw = create_token(user, "Nightly export", expires_at=now - timedelta(days=1))
    services.api_token_dead_use_record(token=token, client=CLIENT, now=now)
    event = _dead_uses(token).get()
    assert event.kind == SecurityEvent.Kind.EXPIRED_TOKEN_USED
    assert event.detail == ""


def test_a_replaced_value_after_its_overlap_is_logged_as_expired_use(user):
    token, _raw = create_token(user, "Rotated integration")
    services.api_token_dead_use_record(
        token=token, client=CLIENT, now=timezone.now(), used_previous_value=True
    )
    event = _dead_uses(token).get()
    assert event.kind == SecurityEvent.Kind.EXPIRED_TOKEN_USED
    assert "Regenerate" in event.detail


def test_owner_is_notified_once_per_new_event_not_on_every_use(deleted_token):
    start = timezone.now()
    with mock.patch("apitokens.notifications.notify_dead_token_used") as notify:
        for minutes in (0, 1, 2):
            services.api_token_dead_use_record(
                token=deleted_token, client=CLIENT, now=start + timedelta(minutes=minutes)
            )
    notify.assert_called_once_with(
        token=deleted_token, client=CLIENT, now=start, used_previous_value=False
    )


def test_a_failing_notification_does_not_break_the_request(deleted_token):
    with mock.patch(
        "apitokens.notifications.notify_dead_token_used", side_effect=RuntimeError("smtp down")
    ):
        services.api_token_dead_use_record(token=deleted_token, client=CLIENT)
    assert _dead_uses(deleted_token).count() == 1


def test_a_repeat_use_costs_one_query(deleted_token, django_assert_num_queries):
    now = timezone.now()
    services.api_token_dead_use_record(token=deleted_token, client=CLIENT, now=now)
    with django_assert_num_queries(1):
        services.api_token_dead_use_record(
            token=deleted_token, client=CLIENT, now=now + timedelta(minutes=1)
        )


def test_staff_revoke_is_logged_with_the_staff_member(user):
    from tests.apitokens.activity_factories import staff_user

    staff = staff_user()
    token, _raw = create_token(user, "Production Website Integration")
    services.api_token_revoke(token=token, actor=staff, reason="staff")
    event = SecurityEvent.objects.get(token=token, kind=SecurityEvent.Kind.DELETED)
    assert (event.actor_kind, event.actor, event.account) == ("staff", staff, user)


def test_client_info_from_a_request_keeps_what_the_log_stores(rf, settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 0
    request = rf.get("/", HTTP_USER_AGENT="x" * 300, REMOTE_ADDR="192.0.2.1")
    client = services.ClientInfo.from_request(request)
    assert (client.ip, client.user_agent) == ("192.0.2.1", "x" * 256)
    # The API path passes the address it already decided for the request.
    assert services.ClientInfo.from_request(request, ip="203.0.113.9").ip == "203.0.113.9"
    assert len(services.ClientInfo(user_agent="y" * 300).user_agent) == 256
