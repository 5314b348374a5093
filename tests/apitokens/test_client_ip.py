"""The security log and the owner's emails record the client's address behind a proxy,
the same one the login limiter and the API see (common.clientip)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apitokens.models import SecurityEvent
from tests.accounts.factories import UserFactory
from tests.apitokens.factories import create_token

pytestmark = pytest.mark.django_db

BEHIND_PROXY = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
CLIENT_IP = "203.0.113.9"


@pytest.fixture(autouse=True)
def _one_trusted_proxy(settings):
    settings.QUICKBOT_TRUSTED_PROXY_COUNT = 1


def body(message) -> str:
    return " ".join(message.body.split())


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
